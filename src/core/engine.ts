// The engine wires discovery -> tail -> source -> ledger -> report, and owns persistence. It is synchronous and
// knows nothing of threads: engineWorker.ts runs it off the extension host's thread, the CLI's `report` runs it
// directly.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { statFile, type StatFields } from './fastStat';
import { FolderIndex, hasUndecodableName, listingKey, UNDECODABLE_NAME, unchangedBelow, type QuickIndex } from './folderIndex';
import { Ledger } from './ledger';
import { PriceBook, type PriceOverrides } from './pricing/pricing';
import { buildReport, type Report, type ReportQuery } from './report';
import { CLAUDE_CODE } from './sources/claudeCode';
import { ALL_SOURCES } from './sources/registry';
import { newReadCounts, type ReadContext, type ReadCounts, type Source, type SourceRead } from './sources/source';
import { isReadError, StateStore, type DeferredState, type FileIdentity } from './stateStore';
import { DEFAULT_COMPACT_LIMIT, isUnchanged, type FileCursor, type TailOptions } from './tail';
import type { UsageEvent } from './usage';

/** Per agent: whether to read it at all, and folders to read beyond its defaults. */
export interface AgentSettings {
  enabled?: boolean;
  folders?: string[];
}

export interface EngineOptions {
  env: NodeJS.ProcessEnv;
  /** Where the ledger persists; null keeps everything in memory (`--no-state`). */
  stateDir: string | null;
  /** Where caches that only save time live (the price table's answers); none when absent. */
  cacheDir?: string | null;
  priceOverrides?: PriceOverrides;
  tail?: TailOptions;
  /** Receives one line per notable event (what was scanned, skipped and why). */
  log?: (message: string) => void;
  /** The agents' adapters (default: every agent Agent Spend knows). */
  sources?: readonly Source[];
  /** Per agent id: enabled or not, extra folders. Agents not named are enabled with their default folders. */
  agents?: Record<string, AgentSettings>;
  /** Folders the user works in, for agents that log inside projects (Aider, Crush). */
  workspaceFolders?: string[];
  /** Honour sources' `minReadIntervalMs` (the live worker; a one-shot report reads everything at once). */
  throttle?: boolean;
}

interface ScanPlan {
  started: number;
  result: ScanResult;
  pending: Array<{ file: string; source: Source; bytes: number }>;
  progress: ScanProgress;
}

export interface ScanProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  /** New bytes known before opening (files never read before count once opened). */
  bytesTotal: number;
}

export interface ScanResult extends ReadCounts {
  filesSeen: number;
  filesRead: number;
  filesRewritten: number;
  bytesRead: number;
  eventsAdded: number;
  eventsReplaced: number;
  unreadable: Array<{ path: string; error: string }>;
  /** Files that changed but were read too recently (SQLite databases): read them again after `inMs`. */
  deferred: Array<{ file: string; inMs: number }>;
  durationMs: number;
}

export class Engine {
  readonly prices: PriceBook;
  ledger: Ledger;
  private cursorMap = new Map<string, FileCursor>();
  private folderIndex = new FolderIndex();
  /** A deferred load's cursors and listings, until something needs them (see ensureReading()). */
  private pendingReading: DeferredState | null = null;
  /** The last deferred load, which holds the state file until it was read whole (see DeferredState.release). */
  private deferredLoad: DeferredState | null = null;
  private readonly store: StateStore | null;
  private generation: string | undefined;
  /** The state file open() read, to set aside only that one if it turns out damaged. */
  private loadedIdentity: FileIdentity | undefined;
  private readonly log: (message: string) => void;
  /** Problems worth showing the user, kept until they are fixed. */
  private readonly persistentWarnings = new Map<string, string>();
  private savedRevision = -1;
  private cursorsDirty = false;
  /** The enabled sources, each with its roots (resolved once: they depend on env and settings only). */
  private readonly sources: Array<{ source: Source; roots: string[] }>;
  /** Which source a discovered file belongs to. */
  private readonly owners = new Map<string, Source>();
  /** When each file was last read, for sources that must not be read more often than `minReadIntervalMs`. */
  private readonly lastReadAt = new Map<string, number>();
  /** Lines skipped as too large, per file, since this engine started. */
  private readonly oversized = new Map<string, number>();

  /** Where each file was read to (a deferred load's are read now, if they were not yet). */
  get cursors(): Map<string, FileCursor> {
    this.ensureReading();
    return this.cursorMap;
  }

  /** True while a deferred load's cursors and listings have not been needed (a start that found nothing new). */
  get readingDeferred(): boolean {
    return this.pendingReading !== null;
  }

  /** The folder listings (a deferred load's are read now, if they were not yet). */
  get folders(): FolderIndex {
    this.ensureReading();
    return this.folderIndex;
  }

  constructor(private readonly options: EngineOptions) {
    this.prices = new PriceBook(options.priceOverrides, options.cacheDir ? path.join(options.cacheDir, 'rate-cards.json') : undefined);
    this.ledger = new Ledger(this.prices);
    this.store = options.stateDir ? new StateStore(options.stateDir) : null;
    this.log = options.log ?? (() => undefined);
    this.sources = (options.sources ?? ALL_SOURCES)
      .filter((source) => options.agents?.[source.agent]?.enabled !== false)
      .map((source) => ({
        source,
        roots: unique(
          source.roots({
            env: options.env,
            extraDirs: options.agents?.[source.agent]?.folders?.map((dir) => path.resolve(dir)),
            workspaceFolders: options.workspaceFolders,
          }),
        ),
      }));
  }

  /**
   * Loads what the sources whose folders exist need before reading (the SQLite engine, asynchronously). Agents that
   * are not on this machine cost nothing; call again when a folder appears.
   */
  async prepare(): Promise<void> {
    for (const { source, roots } of this.sources) {
      if (!source.prepare || !roots.some((root) => fs.existsSync(root))) continue;
      try {
        await source.prepare();
      } catch (error) {
        this.persistentWarnings.set(`prepare:${source.agent}`, `${source.label}: ${(error as Error).message}`);
        this.log(`warning: ${source.label} cannot be read: ${(error as Error).message}`);
      }
    }
  }

  /** The agents being read, with where each looks. */
  agents(): Array<{ agent: string; label: string; roots: string[] }> {
    return this.sources.map(({ source, roots }) => ({ agent: source.agent, label: source.label, roots }));
  }

  /**
   * Loads the persisted ledger. A damaged state file is set aside and rebuilt from the logs, with a warning. With
   * `deferRecords` (the CLI), only what a start needs is read now; the records follow when something needs them.
   */
  open(options: { deferRecords?: boolean } = {}): void {
    if (!this.store) return;
    const outcome = this.store.load(this.prices, { deferRecords: options.deferRecords });
    this.loadedIdentity = 'identity' in outcome ? outcome.identity : undefined;
    // An earlier open()'s reading state, never needed: what is loaded now replaces it. Its records go too when the
    // ledger is replaced (else the ledger kept may still need them).
    const replacesLedger = outcome.kind === 'loaded' || outcome.kind === 'deferred';
    this.deferredLoad?.release(replacesLedger);
    this.deferredLoad = outcome.kind === 'deferred' ? outcome.state : null;
    this.pendingReading = null;
    if (outcome.kind === 'loaded' || outcome.kind === 'deferred') {
      this.ledger = outcome.state.ledger;
      this.generation = outcome.state.generation;
      this.savedRevision = this.ledger.revision;
      if (outcome.kind === 'loaded') {
        this.cursorMap = outcome.state.cursors;
        this.folderIndex = outcome.state.folders;
      } else {
        this.pendingReading = outcome.state;
        // Only a file with a quick index has anything to gain from waiting.
        if (!outcome.state.quick) this.ensureReading();
      }
      this.log(`loaded ${this.ledger.size} records from ${this.store.file}`);
    } else if (outcome.kind === 'corrupt') {
      this.setAside(outcome.reason);
    } else if (outcome.kind === 'unreadable') {
      // Left in place: the next save merges it if it can be read by then, and refuses to replace it otherwise.
      this.persistentWarnings.set('state', `${outcome.reason}; totals are read from the logs for now`);
      this.log(`warning: ${outcome.reason}`);
    }
  }

  /**
   * Makes sure the records are in memory (a deferred load reads them now). Their part of the state file may turn
   * out damaged only then: the file is set aside like any damaged state, and everything is read again from the logs
   * (false is returned). Reports and saves call this; so does a scan that has something to add.
   */
  ensureRecords(): boolean {
    return this.loadRecordsOrRebuild() === undefined;
  }

  /** Reads deferred records; when their part of the file is damaged, rebuilds from the logs and returns that scan. */
  private loadRecordsOrRebuild(): ScanResult | undefined {
    if (!this.ledger.recordsPending) return undefined;
    try {
      this.ledger.loadRecords();
      return undefined;
    } catch (error) {
      this.forgetDamagedState(error);
      return this.scan();
    }
  }

  /**
   * Reads the rest of a deferred reading state. When its part of the file is damaged, the file is set aside and the
   * cursors and listings forgotten: the scan that needed them then reads every log again. The records have a
   * checksum of their own: sound, they are kept (re-reading a log only meets them again, never adds to them), and
   * the sessions whose logs were deleted stay; damaged too, everything is forgotten.
   */
  private ensureReading(): void {
    const pending = this.pendingReading;
    if (!pending) return;
    let reading: ReturnType<DeferredState['reading']>;
    try {
      reading = pending.reading();
    } catch (error) {
      // A read that failed for a moment throws, and the deferred state stays for the next try.
      if (isReadError(error)) this.forgetDamagedState(error);
      try {
        this.ledger.loadRecords();
      } catch (recordsError) {
        this.forgetDamagedState(isReadError(recordsError) ? recordsError : error);
        return;
      }
      this.pendingReading = null;
      this.setAside(`${this.store?.file}: ${(error as Error).message}`, true);
      this.cursorMap = new Map();
      this.folderIndex = new FolderIndex();
      this.savedRevision = -1;
      this.cursorsDirty = true;
      return;
    }
    this.pendingReading = null;
    this.cursorMap = reading.cursors;
    this.folderIndex = reading.folders;
  }

  /**
   * After a part of the state file turned out damaged: sets the file aside and forgets everything it held (every log
   * is then read again). A file that could not be read just now (EIO, EMFILE...) is not damaged and is not replaced
   * (see open()): that throws instead.
   */
  private forgetDamagedState(error: unknown): void {
    if (isReadError(error)) throw new Error(`cannot read ${this.store?.file}: ${(error as Error).message}`);
    this.setAside(`${this.store?.file}: ${(error as Error).message}`);
    this.pendingReading = null;
    this.ledger = new Ledger(this.prices);
    this.cursorMap = new Map();
    this.folderIndex = new FolderIndex();
    this.generation = undefined;
    this.savedRevision = -1;
    this.cursorsDirty = true;
  }

  private setAside(reason: string, recordsKept = false): void {
    if (!this.store) return;
    const outcome = this.store.setAside(this.loadedIdentity);
    this.loadedIdentity = undefined;
    const where =
      'movedTo' in outcome
        ? `it was moved to ${outcome.movedTo}`
        : 'failed' in outcome
          ? `it could not be moved aside (${outcome.failed}) and is replaced at the next save`
          : 'another process has saved the state since, and what it saved is kept and merged';
    const lost = !('replaced' in outcome);
    const message = recordsKept
      ? `state file was damaged (${reason}); ${where}. Its records were sound and are kept; every log is being read again.`
      : `state file was damaged (${reason}); ${where}, and the totals are being rebuilt from the logs.${lost ? ' Sessions whose logs were deleted since cannot be recovered.' : ''}`;
    this.persistentWarnings.set('state', message);
    this.log(`warning: ${message}`);
  }

  /** The folders that hold (or will hold) the logs, for the watcher. */
  watchRoots(): string[] {
    return unique(this.sources.flatMap(({ roots }) => roots));
  }

  /**
   * What to watch: each root with the depth its agents' files lie at (Aider reads one file in a project folder: the
   * folder is watched, not the project below it), and the folder names below it that hold no logs (never watched).
   * A root that is a file (a database named by an environment variable) is watched through its folder, alone.
   */
  watchTargets(): Array<{ root: string; depth: number; skip: ReadonlySet<string> }> {
    const targets = new Map<string, { root: string; depth: number; skip: Set<string> }>();
    for (const { source, roots } of this.sources) {
      for (const root of roots) {
        const file = this.isFileRoot(root);
        const watched = file ? path.dirname(root) : root;
        const depth = file ? 0 : source.walk.maxDepth;
        const target = targets.get(watched);
        if (!target) targets.set(watched, { root: watched, depth, skip: new Set(source.walk.skipFolders) });
        else {
          target.depth = Math.max(target.depth, depth);
          // A name is skipped only when every agent reading this folder skips it.
          for (const name of target.skip) if (!source.walk.skipFolders.has(name) && !file) target.skip.delete(name);
        }
      }
    }
    return [...targets.values()];
  }

  /** Roots that are files, not folders (looked up once; a root that does not exist yet is a folder). */
  private readonly fileRoots = new Map<string, boolean>();
  private isFileRoot(root: string): boolean {
    let file = this.fileRoots.get(root);
    if (file === undefined) {
      try {
        file = fs.statSync(root).isFile();
      } catch {
        return false; // not there yet: ask again later
      }
      this.fileRoots.set(root, file);
    }
    return file;
  }

  /** Every log file of every enabled agent. Unreadable folders are reported and skipped. */
  discover(unreadable: Array<{ path: string; error: string }> = []): string[] {
    const files: string[] = [];
    const visited = new Set<string>();
    for (const { source, dir } of this.existingRoots()) {
      if (this.isFileRoot(dir)) {
        // A file named by the user or an environment variable: that file, not its folder.
        files.push(dir);
        this.owners.set(dir, source);
        continue;
      }
      const from = files.length;
      this.folders.walk(dir, source.walk, files, unreadable, visited, namespaceOf(source));
      for (let i = from; i < files.length; i++) this.owners.set(files[i], source);
    }
    this.folders.retainOnly(visited);
    return files;
  }

  /** Each enabled source's roots that exist, once per real path and source, in the order discover() walks them. */
  private *existingRoots(): Generator<{ source: Source; dir: string }> {
    for (const { source, roots } of this.sources) {
      const seen = new Set<string>();
      for (const dir of roots) {
        // Most agents' folders do not exist on a given machine: ask first, which costs less than a thrown error.
        if (!fs.existsSync(dir)) continue; // that agent has not run on this machine
        let real: string;
        try {
          real = fs.realpathSync(dir);
        } catch {
          continue; // gone since, or unreadable on the way
        }
        if (seen.has(real)) continue;
        seen.add(real);
        yield { source, dir };
      }
    }
  }


  /** True when the watcher need not look at `changed`: a folder below a root that no agent reading it looks into. */
  isIgnoredByWatch(changed: string, targets: ReadonlyArray<{ root: string; skip: ReadonlySet<string> }>): boolean {
    for (const { root, skip } of targets) {
      if (skip.size === 0 || !changed.startsWith(root + path.sep)) continue;
      const below = changed.slice(root.length + 1).split(path.sep);
      if (below.some((name) => skip.has(name))) return true;
    }
    return false;
  }

  /**
   * The file to read for a path the watcher reported, with its source; undefined when no enabled agent wants it.
   * The deepest root that holds the path decides (one agent's folder may sit inside another's).
   */
  route(changedPath: string): { file: string; source: Source } | undefined {
    let best: { file: string; source: Source } | undefined;
    let bestLength = -1;
    for (const { source, roots } of this.sources) {
      for (const root of roots) {
        if (root.length <= bestLength) continue;
        // A file root owns itself and its companions (`x.db-wal`); a folder root what lies below it.
        const inside = this.isFileRoot(root)
          ? changedPath.startsWith(root) && path.dirname(changedPath) === path.dirname(root)
          : changedPath === root || changedPath.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
        if (!inside) continue;
        const file = source.fileFor(changedPath);
        if (file === undefined) continue;
        best = { file, source };
        bestLength = root.length;
      }
    }
    return best;
  }

  /**
   * Reads what is new. With `paths`, only those files (from the watcher); otherwise everything discovered.
   */
  scan(paths?: string[], onProgress?: (progress: ScanProgress) => void): ScanResult {
    const started = Date.now();
    const unreadable: ScanResult['unreadable'] = [];
    let files: string[];
    if (paths) {
      files = [];
      for (const changed of paths) {
        const routed = this.route(changed);
        if (!routed || files.includes(routed.file)) continue;
        this.owners.set(routed.file, routed.source);
        files.push(routed.file);
      }
    } else {
      const quick = this.pendingReading?.quick;
      const seen = quick ? this.quickUnchanged(quick) : null;
      if (seen !== null) {
        const result = newScanResult(unreadable);
        result.filesSeen = seen;
        return this.finish({ started, result, pending: [], progress: { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 } });
      }
      files = this.discover(unreadable);
    }
    const plan = this.plan(started, files, unreadable, !paths);
    // New bytes will be merged with the records: read them now (a damaged record part means reading everything).
    const rebuilt = plan.pending.length > 0 ? this.loadRecordsOrRebuild() : undefined;
    if (rebuilt) return rebuilt;
    this.readHere(plan, plan.pending, onProgress);
    return this.finish(plan);
  }

  private readHere(plan: ScanPlan, files: ScanPlan['pending'], onProgress?: (progress: ScanProgress) => void): void {
    const context: ReadContext = {
      emit: (event) => this.ingest(plan.result, event),
      counts: plan.result,
      tail: this.options.tail,
      log: this.log,
    };
    for (const { file, source } of files) {
      if (source.minReadIntervalMs) this.lastReadAt.set(file, Date.now());
      const oversizedBefore = plan.result.oversizedLines;
      this.applyRead(plan, source.read(file, this.cursors.get(file), context));
      const oversized = plan.result.oversizedLines - oversizedBefore;
      if (oversized > 0) this.oversized.set(file, (this.oversized.get(file) ?? 0) + oversized);
      plan.progress.filesDone++;
      plan.progress.bytesDone = plan.result.bytesRead;
      onProgress?.(plan.progress);
    }
  }

  private ingest(result: ScanResult, event: UsageEvent): void {
    const outcome = this.ledger.upsert(event);
    if (outcome === 'added') result.eventsAdded++;
    else if (outcome === 'replaced') result.eventsReplaced++;
  }

  /**
   * A deferred start's check that nothing changed, on the stored listings and cursors as arrays (no path string or
   * object per file): what discover() and plan() would do, stat for stat. The number of files when every folder and
   * file is as recorded and every stored listing was reached; null otherwise (the scan then takes the usual way).
   */
  private quickUnchanged(index: QuickIndex): number | null {
    const visited = new Uint8Array(index.folderMtimes.length);
    let files = 0;
    for (const { source, dir } of this.existingRoots()) {
      // A file root (a database named by a setting or variable) takes the usual way.
      if (this.isFileRoot(dir)) return null;
      const folder = index.roots.get(listingKey(namespaceOf(source), dir));
      if (folder === undefined) return null;
      const count = unchangedBelow(index, folder, dir, 0, source.walk, visited, source.isUnchanged?.bind(source));
      if (count < 0) return null;
      files += count;
    }
    // A listing no walk reached would be dropped by discover(), and the state saved.
    return visited.includes(0) ? null : files;
  }

  /** Stats what there is to read: files whose size, mtime or inode changed since their cursor. */
  private plan(started: number, files: string[], unreadable: ScanResult['unreadable'], discovered: boolean): ScanPlan {
    const result = newScanResult(unreadable);
    result.filesSeen = files.length;
    const pending: ScanPlan['pending'] = [];
    let bytesTotal = 0;
    for (const file of files) {
      const source = this.owners.get(file);
      if (!source) continue;
      const cursor = this.cursors.get(file);
      if (!cursor && discovered) {
        // Never read and known to be a file: there is nothing to compare, and opening it will tell its size.
        pending.push({ file, source, bytes: 0 });
        continue;
      }
      let stat: StatFields;
      try {
        stat = statFile(file);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') result.unreadable.push({ path: file, error: (error as Error).message });
        else if (hasUndecodableName(file)) result.unreadable.push({ path: file, error: UNDECODABLE_NAME });
        continue;
      }
      if (!stat.isFile()) continue;
      if (cursor && (source.isUnchanged ? source.isUnchanged(file, cursor, stat) : isUnchanged(cursor, stat))) continue;
      if (cursor && source.minReadIntervalMs && this.options.throttle) {
        const since = started - (this.lastReadAt.get(file) ?? 0);
        if (since < source.minReadIntervalMs) {
          result.deferred.push({ file, inMs: source.minReadIntervalMs - since });
          continue;
        }
      }
      const bytes = Math.max(0, stat.size - (cursor?.offset ?? 0));
      pending.push({ file, source, bytes });
      bytesTotal += bytes;
    }
    return { started, result, pending, progress: { filesDone: 0, filesTotal: pending.length, bytesDone: 0, bytesTotal } };
  }

  private applyRead(plan: ScanPlan, read: SourceRead): void {
    if (!read.cursor) {
      // A file deleted since it was listed is simply gone (Claude Code's cleanup), not unreadable.
      if (read.errorCode !== 'ENOENT') plan.result.unreadable.push({ path: read.file, error: read.error ?? 'unreadable' });
      else if (hasUndecodableName(read.file)) plan.result.unreadable.push({ path: read.file, error: UNDECODABLE_NAME });
      return;
    }
    this.cursors.set(read.file, read.cursor);
    this.cursorsDirty = true;
    plan.result.filesRead++;
    plan.result.bytesRead += read.bytesRead;
    if (read.rewritten) {
      plan.result.filesRewritten++;
      this.log(`${read.file} was rewritten or replaced: read again from the start (totals kept)`);
    }
  }

  private finish(plan: ScanPlan): ScanResult {
    const { result } = plan;
    for (const { path: file, error } of result.unreadable) {
      this.log(`skipped unreadable ${file}: ${error}`);
    }
    this.persistentWarnings.delete('unreadable');
    if (result.unreadable.length > 0) {
      this.persistentWarnings.set(
        'unreadable',
        `could not read ${result.unreadable.length} path(s): ${result.unreadable
          .slice(0, 3)
          .map((u) => `${u.path} (${reasonOf(u)})`)
          .join(', ')}${result.unreadable.length > 3 ? ', ...' : ''}`,
      );
    }
    if (result.malformedLines > 0) {
      this.log(`skipped ${result.malformedLines} malformed line(s) (${result.recoveredLines} recovered from run-together records)`);
    }
    if (result.oversizedLines > 0) this.log(`skipped ${result.oversizedLines} line(s) too large to read`);
    if (this.oversized.size > 0) this.persistentWarnings.set('oversized', this.oversizedWarning());
    result.durationMs = Date.now() - plan.started;
    this.log(
      `scanned ${result.filesRead}/${result.filesSeen} file(s), ${result.bytesRead} bytes: +${result.eventsAdded} request(s), ${result.eventsReplaced} updated, in ${result.durationMs} ms`,
    );
    return result;
  }

  /** Lines skipped for their size are skipped for good (the cursor moves past them): said for as long as this runs. */
  private oversizedWarning(): string {
    let lines = 0;
    for (const count of this.oversized.values()) lines += count;
    const files = [...this.oversized.keys()];
    const limit = this.options.tail?.compactLimit ?? DEFAULT_COMPACT_LIMIT;
    const size = limit >= 1 << 20 ? `${Math.round(limit / (1 << 20))} MiB` : `${Math.round(limit / 1024)} KiB`;
    const one = lines === 1;
    return (
      `${lines} line${one ? '' : 's'} too large to read (over ${size} even without ${one ? 'its' : 'their'} long strings) in ` +
      `${files.slice(0, 3).join(', ')}${files.length > 3 ? `, and ${files.length - 3} more file(s)` : ''}: ` +
      `${one ? 'a request in it is' : 'any request in them is'} not counted`
    );
  }

  warnings(): string[] {
    return [...this.persistentWarnings.values()];
  }

  report(query: ReportQuery = {}): Report {
    this.ensureRecords();
    return buildReport(this.ledger, query, this.warnings());
  }

  /**
   * The state file's generation when the ledger in memory is exactly what that file holds (nothing added since it
   * was loaded or saved), else undefined: what the CLI's report cache is keyed by.
   */
  savedGeneration(): string | undefined {
    return this.store && this.ledger.revision === this.savedRevision ? this.generation : undefined;
  }

  /** Persists when anything changed since the last load or save. */
  save(): void {
    this.prices.persist();
    // Listings still waiting in a deferred load have not changed.
    const foldersChanged = !this.pendingReading && this.folderIndex.changed;
    if (!this.store || (this.ledger.revision === this.savedRevision && !this.cursorsDirty && !foldersChanged)) return;
    this.ensureReading();
    this.ensureRecords();
    this.generation = this.store.save(this.ledger, { cursors: this.cursors, folders: this.folders }, this.generation);
    this.savedRevision = this.ledger.revision;
    this.cursorsDirty = false;
    this.folders.changed = false;
  }
}

/** Claude Code's listings keep their historical, unprefixed keys in the state file; other agents' are namespaced. */
function namespaceOf(source: Source): string {
  return source.agent === CLAUDE_CODE ? '' : source.agent;
}

/** Why a path could not be read, without repeating the path (fs messages end with it: "EACCES: ..., open '/x'"). */
function reasonOf({ path: file, error }: { path: string; error: string }): string {
  const quoted = ` '${file}'`;
  return error.endsWith(quoted) ? error.slice(0, -quoted.length).replace(/,$/, '') : error;
}

function newScanResult(unreadable: ScanResult['unreadable']): ScanResult {
  return {
    ...newReadCounts(),
    filesSeen: 0,
    filesRead: 0,
    filesRewritten: 0,
    bytesRead: 0,
    eventsAdded: 0,
    eventsReplaced: 0,
    unreadable,
    deferred: [],
    durationMs: 0,
  };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
