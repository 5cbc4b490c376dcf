// The engine's thread. Parsing megabytes of logs must never block the extension host (or the CLI's redraws):
// this worker owns the Engine, watches the log folders with chokidar, and posts a snapshot after every change.

import { watch, type FSWatcher } from 'chokidar';
import * as fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { Engine, type ScanResult } from './engine';
import type { EngineWorkerOptions, FromWorker, ToWorker } from './engineProtocol';
import { buildMeter } from './meter';
import type { ReportQuery } from './report';

const port = parentPort;
if (!port) throw new Error('engineWorker must run in a worker thread');

function post(message: FromWorker): void {
  port!.postMessage(message);
}

let engine: Engine | null = null;
let query: ReportQuery = {};
/** One watcher per depth: a project folder (Aider, Crush) is watched alone, an agent's log tree in depth. */
const watchers = new Map<number, FSWatcher>();
let lastPostedRevision = -1;
let pending = new Set<string>();
let debounceTimer: NodeJS.Timeout | null = null;
let saveTimer: NodeJS.Timeout | null = null;
let rescanTimer: NodeJS.Timeout | null = null;
let rootPoll: NodeJS.Timeout | null = null;
let tick: NodeJS.Timeout | null = null;
let options: EngineWorkerOptions;

function summary(scan: ScanResult): Omit<ScanResult, 'unreadable'> & { unreadable: number } {
  return { ...scan, unreadable: scan.unreadable.length };
}

function publish(scan?: ScanResult, force = false): void {
  if (!engine) return;
  if (!force && engine.ledger.revision === lastPostedRevision) return;
  lastPostedRevision = engine.ledger.revision;
  post({
    type: 'snapshot',
    report: engine.report(query),
    ...(options.meter ? { meter: buildMeter(engine.ledger, options.meter) } : {}),
    ...(options.groups
      ? {
          groups: {
            byModel: engine.report({ ...query, by: 'model' }).groups?.rows ?? [],
            byProject: engine.report({ ...query, by: 'project' }).groups?.rows ?? [],
            byDay: engine.report({ ...query, by: 'day' }).groups?.rows ?? [],
            byHour: engine.report({ ...query, by: 'hour' }).groups?.rows ?? [],
            byAgent: engine.report({ ...query, by: 'agent' }).groups?.rows ?? [],
          },
        }
      : {}),
    ...(scan ? { scan: summary(scan) } : {}),
  });
}

function scheduleSave(): void {
  if (saveTimer) return;
  // Saving is a full rewrite of the state file: batch it, the logs are the source of truth meanwhile.
  saveTimer = setTimeout(() => {
    saveTimer = null;
    safely(() => engine?.save());
  }, 2000);
}

function safely(action: () => void): void {
  try {
    action();
  } catch (error) {
    post({ type: 'error', message: (error as Error).stack ?? String(error) });
  }
}

function flush(): void {
  debounceTimer = null;
  if (!engine) return;
  const paths = [...pending];
  pending = new Set();
  safely(() => {
    const scan = engine!.scan(paths);
    publish(scan);
    scheduleSave();
    deferAgain(scan);
  });
}

/** Files read too recently to read again yet (SQLite): one trailing read when their interval is over. */
let deferredTimer: NodeJS.Timeout | null = null;
function deferAgain(scan: ScanResult): void {
  if (scan.deferred.length === 0 || deferredTimer) return;
  const wait = Math.max(...scan.deferred.map((d) => d.inMs)) + 10;
  const files = scan.deferred.map((d) => d.file);
  deferredTimer = setTimeout(() => {
    deferredTimer = null;
    for (const file of files) pending.add(file);
    if (!debounceTimer) debounceTimer = setTimeout(flush, 0);
  }, wait);
}

function onFileEvent(file: string): void {
  let wanted = false;
  safely(() => {
    wanted = !!engine?.route(file);
  });
  if (!wanted) return; // not a log file of an enabled agent
  pending.add(file);
  if (!debounceTimer) debounceTimer = setTimeout(flush, options.debounceMs ?? 40);
}

function fullRescan(): void {
  safely(() => {
    const scan = engine!.scan();
    publish(scan);
    scheduleSave();
    deferAgain(scan);
  });
}

/** The roots being watched, by depth. A root deleted while watched is dropped, and watched again once it is back. */
const watchedRoots = new Map<string, number>();
let stopping = false;

function startWatching(): void {
  const targets = engine!.watchTargets();
  const fresh = targets.filter(({ root }) => !watchedRoots.has(root) && fs.existsSync(root));
  const byDepth = new Map<number, string[]>();
  for (const { root, depth } of fresh) byDepth.set(depth, [...(byDepth.get(depth) ?? []), root]);
  for (const [depth, roots] of byDepth) {
    for (const root of roots) watchedRoots.set(root, depth);
    const existing = watchers.get(depth);
    if (existing) {
      existing.add(roots);
      continue;
    }
    // Folders no agent reads (tool outputs, checkpoints, OpenCode's part store) are never watched: tens of thousands
    // of them would exhaust the system's watches and break live updates for every agent.
    const ignored = (file: string) => engine!.isIgnoredByWatch(file, targets);
    const watcher = watch(roots, { ignoreInitial: true, persistent: true, depth, ignored });
    watcher.on('add', onFileEvent).on('change', onFileEvent);
    watcher.on('error', (error) => post({ type: 'log', message: `watcher: ${String(error)}` }));
    // Changes made while chokidar was still setting up produce no event: look once more when it is ready.
    watcher.on('ready', fullRescan);
    watchers.set(depth, watcher);
  }
  // An agent that has never run has no folder yet, and a folder can be deleted and made again (chokidar does not
  // follow a watched root that vanishes): look now and then, and (re)watch a folder once it is there.
  rootPoll ??= setInterval(pollRoots, options.rootPollMs ?? 5000);
  rescanTimer ??= setInterval(fullRescan, options.rescanIntervalMs ?? 60_000);
  if (options.meter) startTick();
}

let polling = false;
function pollRoots(): void {
  if (polling || stopping || !engine) return;
  let appeared = false;
  for (const { root } of engine.watchTargets()) {
    const exists = fs.existsSync(root);
    const depth = watchedRoots.get(root);
    if (depth !== undefined && !exists) {
      watchers.get(depth)?.unwatch(root);
      watchedRoots.delete(root);
    } else if (depth === undefined && exists) appeared = true;
  }
  if (!appeared) return;
  polling = true;
  // A new agent's folder may need its reader loaded (SQLite) before the rescan.
  engine
    .prepare()
    .then(() => {
      if (stopping) return;
      safely(startWatching);
      fullRescan(); // after watching: nothing written meanwhile is missed
    })
    .catch((error: unknown) => post({ type: 'error', message: (error as Error).stack ?? String(error) }))
    .finally(() => (polling = false));
}

async function initialise(): Promise<void> {
  try {
    engine = new Engine({
      env: options.env,
      stateDir: options.stateDir,
      cacheDir: options.cacheDir,
      priceOverrides: options.priceOverrides,
      agents: options.agents,
      workspaceFolders: options.workspaceFolders,
      throttle: true,
      log: (line) => post({ type: 'log', message: line }),
    });
    engine.open();
    await engine.prepare();
    const scan = engine.scan(undefined, (progress) => post({ type: 'progress', progress }));
    publish(scan, true);
    safely(() => engine!.save()); // an unwritable state folder must not stop the live updates
    if (options.watch !== false && !stopping) startWatching();
  } catch (error) {
    post({ type: 'error', message: (error as Error).stack ?? String(error) });
  }
}

/** Re-sends the snapshot now and then even without log changes: windows roll over, burn rates decay. */
function startTick(): void {
  tick ??= setInterval(() => publish(undefined, true), options.tickMs ?? 30_000);
}

async function stop(): Promise<void> {
  stopping = true;
  for (const timer of [debounceTimer, saveTimer, deferredTimer]) if (timer) clearTimeout(timer);
  for (const timer of [rescanTimer, rootPoll, tick]) if (timer) clearInterval(timer);
  await Promise.all([...watchers.values()].map((watcher) => watcher.close()));
  safely(() => engine?.save());
  post({ type: 'stopped' });
  port!.close();
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'init': {
      options = message.options;
      query = options.query ?? {};
      void initialise();
      break;
    }
    case 'query':
      query = message.query;
      publish(undefined, true);
      break;
    case 'meter':
      options.meter = message.meter;
      startTick();
      publish(undefined, true);
      break;
    case 'refresh':
      fullRescan();
      break;
    case 'stop':
      void stop();
      break;
  }
});
