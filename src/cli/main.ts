// `agent-spend`: the engine from a terminal. `report` runs the engine in this process (a one-shot scan has no UI
// to keep responsive); `watch` runs it in its worker thread, exactly as the extension does.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Engine, type AgentSettings, type EngineOptions, type ScanProgress } from '../core/engine';
import { EngineClient } from '../core/engineClient';
import { parsePriceOverrides, type PriceOverrides } from '../core/pricing/pricing';
import type { Report, ReportQuery } from '../core/report';
import { ALL_SOURCES } from '../core/sources/registry';
import { defaultCacheDir, defaultStateDir } from '../core/stateStore';
import { localTimeZoneName } from '../core/localTime';
import { formatReport } from './format';
import { readCachedReport, reportCacheKey, writeCachedReport } from './reportCache';
import { parseArgs, UsageError, USAGE, type CliOptions } from './args';
import { version } from '../../package.json';

function fail(message: string, code: number): never {
  process.stderr.write(`agent-spend: ${message}\n`);
  process.exit(code);
}

function loadPrices(options: CliOptions): PriceOverrides | undefined {
  const file = options.pricesFile ?? process.env.AGENT_SPEND_PRICES;
  if (!file) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    fail(`cannot read price overrides: ${(error as Error).message}`, 2);
  }
  try {
    return parsePriceOverrides(text, options.pricesFile ? file : `${file} (from AGENT_SPEND_PRICES)`);
  } catch (error) {
    fail((error as Error).message, 2);
  }
}

function stateDirOf(options: CliOptions): string | null {
  if (options.noState) return null;
  return options.stateDir ?? defaultStateDir(process.env);
}

/** Progress only when a scan takes long enough to wonder about it. */
function progressReporter(): { onProgress: (p: ScanProgress) => void; done: () => void } {
  const started = Date.now();
  let lastPrinted = 0;
  let printed = false;
  const tty = process.stderr.isTTY;
  return {
    onProgress(p) {
      const now = Date.now();
      if (now - started < 1000 || now - lastPrinted < (tty ? 200 : 5000)) return;
      lastPrinted = now;
      printed = true;
      const mb = (n: number) => (n / 1048576).toFixed(0);
      const line = `scanning logs: ${p.filesDone}/${p.filesTotal} files, ${mb(p.bytesDone)} MB read`;
      process.stderr.write(tty ? `\r${line}\u001b[K` : `${line}\n`);
    },
    done() {
      if (printed && tty) process.stderr.write('\r\u001b[K');
    },
  };
}

function noLogsMessage(roots: string[]): string {
  const shown = roots.length > 6 ? [...roots.slice(0, 6), `and ${roots.length - 6} more (see \`agent-spend agents\`)`] : roots;
  return `no logs found under ${shown.join(', ')} (if your agents keep them elsewhere: CLAUDE_CONFIG_DIR, CODEX_HOME, ... or --dir)`;
}

/** What the agent flags ask for, as the engine's per-agent settings. */
function agentSettings(options: CliOptions): Pick<EngineOptions, 'agents' | 'workspaceFolders'> {
  const agents: Record<string, AgentSettings> = {};
  for (const source of ALL_SOURCES) {
    const enabled = (options.onlyAgents ? options.onlyAgents.includes(source.agent) : true) && !options.skipAgents.includes(source.agent);
    agents[source.agent] = { enabled, folders: options.dirs[source.agent]?.map((dir) => path.resolve(dir)) };
  }
  return { agents, workspaceFolders: (options.projects.length > 0 ? options.projects : [process.cwd()]).map((dir) => path.resolve(dir)) };
}

/**
 * The question a report answers. With `--agent` / `--no-agent`, only the agents read count: the state holds what
 * earlier runs read of every agent.
 */
function reportQuery(options: CliOptions): ReportQuery {
  const query: ReportQuery = { sinceDay: options.sinceDay, untilDay: options.untilDay, by: options.by };
  if (options.onlyAgents || options.skipAgents.length > 0) {
    const { agents } = agentSettings(options);
    query.agents = Object.keys(agents!).filter((agent) => agents![agent].enabled);
  }
  return query;
}

/**
 * AGENT_SPEND_TIMING=1 prints, for each phase, the ms since the process started and the page faults taken so far
 * (for the benchmark: on some virtual machines a fault costs ~12 µs, and they add up).
 */
function phase(name: string): void {
  if (!process.env.AGENT_SPEND_TIMING) return;
  process.stderr.write(`timing ${name} ${performance.now().toFixed(1)}\nfaults ${name} ${process.resourceUsage().minorPageFault}\n`);
}

/** Saves; a state folder that cannot be written costs the next run time, not this run its report. */
function saveOrWarn(engine: Engine): void {
  try {
    engine.save();
  } catch (error) {
    process.stderr.write(`agent-spend: could not save state: ${(error as Error).message}\n`);
  }
}

async function runReport(options: CliOptions): Promise<void> {
  phase('start');
  const engine = new Engine({
    env: process.env,
    stateDir: stateDirOf(options),
    cacheDir: options.noState ? null : defaultCacheDir(process.env),
    priceOverrides: loadPrices(options),
    log: process.env.AGENT_SPEND_DEBUG ? (line) => process.stderr.write(`${line}\n`) : undefined,
    ...agentSettings(options),
  });
  // The records are read only if this run adds any or must build its report (an unchanged ledger's report is cached).
  engine.open({ deferRecords: true });
  await engine.prepare();
  phase('loaded');
  const progress = progressReporter();
  const scan = engine.scan(undefined, progress.onProgress);
  progress.done();
  // Aider and Crush look inside the project folder, which always exists: what matters is whether any log was found.
  if (scan.filesSeen === 0 && engine.ledger.size === 0) process.stderr.write(`agent-spend: ${noLogsMessage(engine.watchRoots())}\n`);
  phase('scanned');
  saveOrWarn(engine);
  phase('saved');
  const query = reportQuery(options);
  const stateDir = stateDirOf(options);
  const generation = engine.savedGeneration();
  // `--json` output of a ledger that has not changed since the last run is served from the report cache.
  const cacheKey =
    options.json && stateDir && generation
      ? reportCacheKey({ version, generation, query, timeZone: localTimeZoneName(), prices: engine.prices.version, warnings: engine.warnings() })
      : null;
  const cached = cacheKey ? readCachedReport(stateDir!, cacheKey, new Date()) : null;
  // The cached report's pieces are written as they are: joining them would copy (and fault in) another 400 KB.
  let output: Array<string | Buffer>;
  let warnings: string[];
  if (cached) {
    output = [...cached, '\n'];
    warnings = engine.warnings();
  } else {
    // Reading the records may find them damaged: then every log is read again (and saved) before the report.
    const report = engine.report(query);
    const text = options.json ? JSON.stringify(report) : formatReport(report);
    output = [`${text}\n`];
    warnings = report.warnings;
    if (engine.savedGeneration() === generation) {
      if (cacheKey) writeCachedReport(stateDir!, cacheKey, report, text);
    } else {
      saveOrWarn(engine);
    }
  }
  phase('reported');
  // A table lists the warnings under it; beside JSON (read by a script) they go to stderr for whoever is watching.
  if (options.json) for (const warning of warnings) process.stderr.write(`agent-spend: warning: ${warning}\n`);
  // Exit as soon as the output is flushed: everything is saved, and tearing down a large heap only costs time.
  // Corked: one write of all the pieces where stdout is a pipe or socket (a file or TTY takes them one by one).
  exitOnOutputError();
  process.stdout.cork();
  for (let i = 0; i < output.length - 1; i++) process.stdout.write(output[i]);
  process.stdout.write(output[output.length - 1], (error) => {
    if (error) return; // the stream's 'error' handler says why and exits (exitOnOutputError)
    phase('printed');
    process.exit(0);
  });
  process.stdout.uncork();
}

function runWatch(options: CliOptions): void {
  const tty = process.stdout.isTTY && !options.json;
  let lastWarnings = '';
  const probe = new Engine({ env: process.env, stateDir: null, ...agentSettings(options) });
  if (probe.discover().length === 0) {
    process.stderr.write(`agent-spend: ${noLogsMessage(probe.watchRoots())}; waiting for them to appear\n`);
  }
  const client = new EngineClient(
    {
      env: { ...process.env },
      ...agentSettings(options),
      stateDir: stateDirOf(options),
      cacheDir: options.noState ? null : defaultCacheDir(process.env),
      priceOverrides: loadPrices(options),
      query: reportQuery(options),
      watch: true,
    },
    {
      onSnapshot({ report }: { report: Report }) {
        if (options.json) {
          process.stdout.write(`${JSON.stringify(report)}\n`);
        } else {
          const rows = tty ? Math.max(5, (process.stdout.rows ?? 40) - 14) : Infinity;
          const text = formatReport(report, rows);
          process.stdout.write(tty ? `\u001b[H\u001b[2J${text}\n\nWatching for changes; Ctrl+C to quit.\n` : `${text}\n\n`);
        }
        // As for report: the table shows its warnings; beside JSON, each new set goes to stderr once.
        const warnings = report.warnings.join('\n');
        if (options.json && warnings && warnings !== lastWarnings) process.stderr.write(`agent-spend: warning: ${warnings}\n`);
        lastWarnings = warnings;
      },
      onLog(message) {
        if (process.env.AGENT_SPEND_DEBUG) process.stderr.write(`${message}\n`);
      },
      onError(message) {
        process.stderr.write(`agent-spend: ${message}\n`);
      },
      onExit(code) {
        // Showing the last totals forever as if they were live would be worse than quitting.
        process.stderr.write(`agent-spend: the engine stopped unexpectedly (exit code ${code})\n`);
        process.exit(1);
      },
    },
  );
  const quit = () => void client.stop().then(() => process.exit(0));
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  // The reader went away (`agent-spend watch --json | head -1`): save and quit quietly, as on SIGPIPE.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') quit();
    else throw error;
  });
}

/** `agent-spend agents`: every agent, whether it is read, and the folders it is read from (found or not). */
function runAgents(options: CliOptions): void {
  const settings = agentSettings(options);
  const engine = new Engine({ env: process.env, stateDir: null, ...settings, agents: { ...settings.agents } });
  const read = new Map(engine.agents().map((a) => [a.agent, a]));
  const rows = ALL_SOURCES.map((source) => {
    const roots = read.get(source.agent)?.roots ?? [];
    return {
      agent: source.agent,
      label: source.label,
      enabled: read.has(source.agent),
      folders: roots.map((dir) => ({ path: dir, exists: fs.existsSync(dir) })),
    };
  });
  exitOnOutputError();
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ agents: rows })}\n`);
    return;
  }
  const lines: string[] = [];
  for (const row of rows) {
    lines.push(`${row.label} (${row.agent})${row.enabled ? '' : ': off'}`);
    for (const folder of row.folders) lines.push(`  ${folder.exists ? 'found  ' : 'missing'} ${folder.path}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Output that cannot be written is a failure, not a success with an empty file (`report --json > out` on a full
 * disk); a reader that went away early (`| head`) wanted no more. Called just before the output: making
 * process.stdout any earlier puts its cost before the work (`watch` saves before it quits instead: see runWatch).
 */
function exitOnOutputError(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    process.stderr.write(`agent-spend: could not write the output: ${error.message}\n`);
    process.exit(1);
  });
}

/** A folder named with --dir that is not there is most likely a typo: said, then read as empty. */
function warnMissingDirs(options: CliOptions): void {
  for (const [agent, dirs] of Object.entries(options.dirs)) {
    for (const dir of dirs) {
      if (!fs.existsSync(dir)) process.stderr.write(`agent-spend: warning: --dir ${agent}=${dir}: no such folder\n`);
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`agent-spend: ${error.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (options.command === 'report' || options.command === 'watch') warnMissingDirs(options);
  switch (options.command) {
    case 'help':
      exitOnOutputError();
      process.stdout.write(`${USAGE}\n`);
      return;
    case 'version':
      exitOnOutputError();
      process.stdout.write(`${version}\n`);
      return;
    case 'report':
      return runReport(options);
    case 'watch':
      return runWatch(options);
    case 'agents':
      return runAgents(options);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`agent-spend: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
