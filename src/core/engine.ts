// The engine wires discovery -> tail -> source -> ledger -> report, and owns persistence. It is synchronous and
// knows nothing of threads: engineWorker.ts runs it off the extension host's thread, the CLI's `report` runs it
// directly.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Ledger } from './ledger';
import { PriceBook, type PriceOverrides } from './pricing/pricing';
import { buildReport, type Report, type ReportQuery } from './report';
import {
  claudeCodeProjectsDir,
  claudeCodeRoots,
  claudeTranscriptSink,
  isTranscriptPath,
  newReadCounts,
  sessionOfTranscript,
  type ReadCounts,
} from './sources/claudeCode';
import { StateStore } from './stateStore';
import { isUnchanged, tailFile, type FileCursor, type TailOptions } from './tail';

export interface EngineOptions {
  env: NodeJS.ProcessEnv;
  /** Where the ledger persists; null keeps everything in memory (`--no-state`). */
  stateDir: string | null;
  priceOverrides?: PriceOverrides;
  tail?: TailOptions;
  /** Receives one line per notable event (what was scanned, skipped and why). */
  log?: (message: string) => void;
}

export interface ScanProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
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

const MAX_DEPTH = 8;
const SKIPPED_DIRS = new Set(['tool-results', 'memory']);

export class Engine {
  readonly prices: PriceBook;
  ledger: Ledger;
  cursors = new Map<string, FileCursor>();
  private readonly store: StateStore | null;
  private generation: string | undefined;
  private readonly log: (message: string) => void;
  /** Problems worth showing the user, kept until they are fixed. */
  private readonly persistentWarnings = new Map<string, string>();
  private savedRevision = -1;
  private cursorsDirty = false;

  constructor(private readonly options: EngineOptions) {
    this.prices = new PriceBook(options.priceOverrides);
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
    return claudeCodeRoots(this.options.env).map(claudeCodeProjectsDir);
  }

  /** Every transcript file below the roots. Unreadable folders are reported and skipped. */
  discover(unreadable: Array<{ path: string; error: string }> = []): string[] {
    const files: string[] = [];
    const seen = new Set<string>();
    for (const dir of this.watchRoots()) {
      let real: string;
      try {
        real = fs.realpathSync(dir);
      } catch {
        continue; // not there: that agent has not run on this machine
      }
      if (seen.has(real)) continue;
      seen.add(real);
      walk(dir, 0, files, unreadable);
    }
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
    const result: ScanResult = {
      ...newReadCounts(),
      filesSeen: 0,
      filesRead: 0,
      filesRewritten: 0,
      bytesRead: 0,
      eventsAdded: 0,
      eventsReplaced: 0,
      unreadable: [],
      durationMs: 0,
    };
    const files = paths ?? this.discover(result.unreadable);
    result.filesSeen = files.length;

    // Stat first, so progress can be told in bytes.
    const pending: Array<{ file: string; stat: fs.Stats }> = [];
    let bytesTotal = 0;
    for (const file of files) {
      if (!isTranscriptPath(file)) continue;
      let stat: fs.Stats;
      try {
        stat = fs.statSync(file);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') result.unreadable.push({ path: file, error: (error as Error).message });
        continue;
      }
      if (!stat.isFile() || isUnchanged(this.cursors.get(file), stat)) continue;
      pending.push({ file, stat });
      bytesTotal += Math.max(0, stat.size - (this.cursors.get(file)?.offset ?? 0));
    }

    const hashLine = (buf: Buffer, start: number, end: number): string =>
      createHash('sha1').update(buf.subarray(start, end)).digest('base64');
    const progress: ScanProgress = { filesDone: 0, filesTotal: pending.length, bytesDone: 0, bytesTotal };
    for (const { file } of pending) {
      const previous = this.cursors.get(file);
      const session = sessionOfTranscript(file);
      const context = { ...session, cwd: previous?.context };
      const sink = claudeTranscriptSink(
        context,
        (event) => {
          const outcome = this.ledger.upsert(event);
          if (outcome === 'added') result.eventsAdded++;
          else if (outcome === 'replaced') result.eventsReplaced++;
        },
        result,
        hashLine,
      );
      try {
        const read = tailFile(file, previous, sink, this.options.tail);
        read.cursor.context = context.cwd;
        this.cursors.set(file, read.cursor);
        this.cursorsDirty = true;
        result.filesRead++;
        result.bytesRead += read.bytesRead;
        if (read.rewritten) {
          result.filesRewritten++;
          this.log(`${file} was rewritten or replaced: read again from the start (totals kept)`);
        }
      } catch (error) {
        result.unreadable.push({ path: file, error: (error as Error).message });
      }
      progress.filesDone++;
      progress.bytesDone = result.bytesRead;
      onProgress?.(progress);
    }

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
    result.durationMs = Date.now() - started;
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
    if (!this.store || (this.ledger.revision === this.savedRevision && !this.cursorsDirty)) return;
    this.generation = this.store.save(this.ledger, this.cursors, this.generation);
    this.savedRevision = this.ledger.revision;
    this.cursorsDirty = false;
  }
}

function walk(dir: string, depth: number, files: string[], unreadable: Array<{ path: string; error: string }>): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') unreadable.push({ path: dir, error: (error as Error).message });
    return;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (depth < MAX_DEPTH && !SKIPPED_DIRS.has(entry.name)) walk(full, depth + 1, files, unreadable);
    } else if ((entry.isFile() || entry.isSymbolicLink()) && entry.name.endsWith('.jsonl')) {
      files.push(full);
    }
  }
}
