// The engine wires discovery -> tail -> source -> ledger -> report, and owns persistence. It is synchronous and
// knows nothing of threads: engineWorker.ts runs it off the extension host's thread, the CLI's `report` runs it
// directly.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { FolderIndex, type WalkOptions } from './folderIndex';
import { Ledger } from './ledger';
import { PriceBook, type PriceOverrides } from './pricing/pricing';
import { buildReport, type Report, type ReportQuery } from './report';
import { readTranscript, type TranscriptRead } from './readTranscript';
import { claudeCodeProjectsDirs, isTranscriptPath, newReadCounts, type ReadCounts } from './sources/claudeCode';
import { StateStore } from './stateStore';
import { isUnchanged, type FileCursor, type TailOptions } from './tail';
import type { UsageEvent } from './usage';

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
}

interface ScanPlan {
  started: number;
  result: ScanResult;
  pending: Array<{ file: string; bytes: number }>;
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
  durationMs: number;
}

/** Transcripts below a projects folder: tool-results and memory hold no usage. */
const WALK: WalkOptions = {
  maxDepth: 8,
  skipFolders: new Set(['tool-results', 'memory']),
  isWanted: (name) => name.endsWith('.jsonl'),
};

export class Engine {
  readonly prices: PriceBook;
  ledger: Ledger;
  cursors = new Map<string, FileCursor>();
  folders = new FolderIndex();
  private readonly store: StateStore | null;
  private generation: string | undefined;
  private readonly log: (message: string) => void;
  /** Problems worth showing the user, kept until they are fixed. */
  private readonly persistentWarnings = new Map<string, string>();
  private savedRevision = -1;
  private cursorsDirty = false;

  constructor(private readonly options: EngineOptions) {
    this.prices = new PriceBook(options.priceOverrides, options.cacheDir ? path.join(options.cacheDir, 'rate-cards.json') : undefined);
    this.ledger = new Ledger(this.prices);
    this.store = options.stateDir ? new StateStore(options.stateDir) : null;
    this.log = options.log ?? (() => undefined);
  }

  /** Loads the persisted ledger. A damaged state file is set aside and rebuilt from the logs, with a warning. */
  open(): void {
    if (!this.store) return;
    const outcome = this.store.load(this.prices);
    if (outcome.kind === 'loaded') {
      this.ledger = outcome.state.ledger;
      this.cursors = outcome.state.cursors;
      this.folders = outcome.state.folders;
      this.generation = outcome.state.generation;
      this.savedRevision = this.ledger.revision;
      this.log(`loaded ${this.ledger.size} records and ${this.cursors.size} file cursors from ${this.store.file}`);
    } else if (outcome.kind === 'corrupt') {
      const kept = `${this.store.file}.corrupt-${Date.now()}`;
      try {
        fs.renameSync(this.store.file, kept);
      } catch {
        // Unreadable or already gone: nothing to keep.
      }
      const message = `state file was damaged (${outcome.reason}); it was moved to ${kept} and the totals are being rebuilt from the logs. Sessions whose logs were deleted since cannot be recovered.`;
      this.persistentWarnings.set('state', message);
      this.log(`warning: ${message}`);
    }
  }

  /** The folders that hold (or will hold) the logs, for the watcher. */
  watchRoots(): string[] {
    return claudeCodeProjectsDirs(this.options.env);
  }

  /** Every transcript file below the roots. Unreadable folders are reported and skipped. */
  discover(unreadable: Array<{ path: string; error: string }> = []): string[] {
    const files: string[] = [];
    const seen = new Set<string>();
    const visited = new Set<string>();
    for (const dir of this.watchRoots()) {
      let real: string;
      try {
        real = fs.realpathSync(dir);
      } catch {
        continue; // not there: that agent has not run on this machine
      }
      if (seen.has(real)) continue;
      seen.add(real);
      this.folders.walk(dir, WALK, files, unreadable, visited);
    }
    this.folders.retainOnly(visited);
    return files;
  }

  /** Which roots exist; when none does, the caller says where it looked. */
  existingRoots(): string[] {
    return this.watchRoots().filter((dir) => fs.existsSync(dir));
  }

  /**
   * Reads what is new. With `paths`, only those files (from the watcher); otherwise everything discovered.
   */
  scan(paths?: string[], onProgress?: (progress: ScanProgress) => void): ScanResult {
    const started = Date.now();
    const unreadable: ScanResult['unreadable'] = [];
    const plan = this.plan(started, paths ?? this.discover(unreadable), unreadable, !paths);
    this.readHere(plan, plan.pending, onProgress);
    return this.finish(plan);
  }

  private readHere(plan: ScanPlan, files: ScanPlan['pending'], onProgress?: (progress: ScanProgress) => void): void {
    for (const { file } of files) {
      this.applyRead(plan, readTranscript(file, this.cursors.get(file), (event) => this.ingest(plan.result, event), plan.result, this.options.tail));
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

  /** Stats what there is to read: files whose size, mtime or inode changed since their cursor. */
  private plan(started: number, files: string[], unreadable: ScanResult['unreadable'], discovered: boolean): ScanPlan {
    const result: ScanResult = {
      ...newReadCounts(),
      filesSeen: 0,
      filesRead: 0,
      filesRewritten: 0,
      bytesRead: 0,
      eventsAdded: 0,
      eventsReplaced: 0,
      unreadable,
      durationMs: 0,
    };
    result.filesSeen = files.length;
    const pending: ScanPlan['pending'] = [];
    let bytesTotal = 0;
    for (const file of files) {
      if (!isTranscriptPath(file)) continue;
      const cursor = this.cursors.get(file);
      if (!cursor && discovered) {
        // Never read and known to be a file: there is nothing to compare, and opening it will tell its size.
        pending.push({ file, bytes: 0 });
        continue;
      }
      let stat: fs.Stats;
      try {
        stat = fs.statSync(file);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') result.unreadable.push({ path: file, error: (error as Error).message });
        continue;
      }
      if (!stat.isFile() || isUnchanged(cursor, stat)) continue;
      const bytes = Math.max(0, stat.size - (cursor?.offset ?? 0));
      pending.push({ file, bytes });
      bytesTotal += bytes;
    }
    return { started, result, pending, progress: { filesDone: 0, filesTotal: pending.length, bytesDone: 0, bytesTotal } };
  }

  private applyRead(plan: ScanPlan, read: TranscriptRead): void {
    if (!read.cursor) {
      // A file deleted since it was listed is simply gone (Claude Code's cleanup), not unreadable.
      if (read.errorCode !== 'ENOENT') plan.result.unreadable.push({ path: read.file, error: read.error ?? 'unreadable' });
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
          .map((u) => u.path)
          .join(', ')}${result.unreadable.length > 3 ? ', ...' : ''}`,
      );
    }
    if (result.malformedLines > 0) {
      this.log(`skipped ${result.malformedLines} malformed line(s) (${result.recoveredLines} recovered from run-together records)`);
    }
    if (result.oversizedLines > 0) this.log(`skipped ${result.oversizedLines} line(s) too large to read`);
    result.durationMs = Date.now() - plan.started;
    this.log(
      `scanned ${result.filesRead}/${result.filesSeen} file(s), ${result.bytesRead} bytes: +${result.eventsAdded} request(s), ${result.eventsReplaced} updated, in ${result.durationMs} ms`,
    );
    return result;
  }

  warnings(): string[] {
    return [...this.persistentWarnings.values()];
  }

  report(query: ReportQuery = {}): Report {
    return buildReport(this.ledger, query, this.warnings());
  }

  /** Persists when anything changed since the last load or save. */
  save(): void {
    this.prices.persist();
    if (!this.store || (this.ledger.revision === this.savedRevision && !this.cursorsDirty && !this.folders.changed)) return;
    this.generation = this.store.save(this.ledger, { cursors: this.cursors, folders: this.folders }, this.generation);
    this.savedRevision = this.ledger.revision;
    this.cursorsDirty = false;
    this.folders.changed = false;
  }
}
