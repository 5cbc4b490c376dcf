// What every agent adapter provides. The engine knows nothing of any agent's format: it asks each source where its
// logs are (roots + which files below them), and hands each changed file to the source that owns it. A source turns
// the file's new content into UsageEvents; the ledger deduplicates them by key, so a source may emit the same
// request again (a whole-file rewrite, a re-read after a rewrite) and it replaces rather than adds.
//
// Three container kinds share this interface:
//  - append-only line files (JSONL, Markdown): `readLines()` resumes from the cursor's offset;
//  - whole files rewritten in place (JSON): `readWholeFile()` re-parses the file when size, mtime or inode change;
//  - SQLite databases: the source reads rows changed since a watermark it keeps in the cursor's `context`.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StatFields } from '../fastStat';
import type { WalkOptions } from '../folderIndex';
import { tailFile, type CursorStamp, type FileCursor, type LineSink, type TailOptions } from '../tail';
import type { UsageEvent } from '../usage';

/** Where to look, beyond each agent's own defaults. */
export interface SourceOptions {
  env: NodeJS.ProcessEnv;
  /** Extra folders the user named for this agent (setting `agentSpend.agents.<id>.folders`, CLI `--dir id=PATH`). */
  extraDirs?: string[];
  /** Folders the user works in (VS Code's workspace folders; the CLI's cwd): for agents that log inside a project. */
  workspaceFolders?: string[];
  /** Whose defaults to use (tests check other platforms' folders); default `process.platform`. */
  platform?: NodeJS.Platform;
}

/**
 * The user's home as the environment says (tests set HOME / USERPROFILE; never the real one there). On Windows the
 * agents find their home through USERPROFILE (Node's os.homedir(), Go, Rust), even when an MSYS or Cygwin shell has
 * set HOME to something else, so USERPROFILE comes first there.
 */
export function homeOf(options: SourceOptions): string {
  if (platformOf(options) === 'win32') return options.env.USERPROFILE || options.env.HOME || os.homedir();
  return options.env.HOME || options.env.USERPROFILE || os.homedir();
}

export function platformOf(options: SourceOptions): NodeJS.Platform {
  return options.platform ?? process.platform;
}

/** Where applications keep per-user data: XDG data home, ~/Library/Application Support, %APPDATA%. */
export function userDataDir(options: SourceOptions): string {
  const home = homeOf(options);
  const platform = platformOf(options);
  if (platform === 'win32') return options.env.APPDATA || path.join(home, 'AppData', 'Roaming');
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support');
  return options.env.XDG_DATA_HOME?.trim() || path.join(home, '.local', 'share');
}

/** The XDG config home (Linux and macOS command-line tools use it too). */
export function xdgConfigHome(options: SourceOptions): string {
  return options.env.XDG_CONFIG_HOME?.trim() || path.join(homeOf(options), '.config');
}

/** The XDG data home, which Linux and macOS command-line tools (OpenCode, Goose) use on both. */
export function xdgDataHome(options: SourceOptions): string {
  return options.env.XDG_DATA_HOME?.trim() || path.join(homeOf(options), '.local', 'share');
}

/** Counts of what reading skipped, for the log and the report's warnings. */
export interface ReadCounts {
  malformedLines: number;
  recoveredLines: number;
  oversizedLines: number;
  syntheticLines: number;
  undatedLines: number;
}

export function newReadCounts(): ReadCounts {
  return { malformedLines: 0, recoveredLines: 0, oversizedLines: 0, syntheticLines: 0, undatedLines: 0 };
}

export interface ReadContext {
  emit(event: UsageEvent): void;
  counts: ReadCounts;
  tail?: TailOptions;
  /** One line for the output channel (what was skipped and why). */
  log(message: string): void;
}

export interface SourceRead {
  file: string;
  /** The new cursor, or undefined when the file could not be read (then `error` says why). */
  cursor?: FileCursor;
  bytesRead: number;
  /** The file was rewritten or replaced and read again from the start. */
  rewritten: boolean;
  error?: string;
  errorCode?: string;
}

export interface Source {
  /** Stable id, stored in the ledger and used in settings and flags: `claude-code`, `codex`, ... */
  readonly agent: string;
  /** What users call it: "Claude Code", "Codex CLI". */
  readonly label: string;
  /** The folders below which this agent's files are found (and watched), existing or not. */
  roots(options: SourceOptions): string[];
  /** Which files below a root are this agent's. */
  readonly walk: WalkOptions;
  /**
   * The file to read when `changedPath` (below one of the roots) changed, or undefined to ignore it. A SQLite source
   * maps `x.db-wal` to `x.db`.
   */
  fileFor(changedPath: string): string | undefined;
  /**
   * Read a changed file at most this often (ms). A SQLite database is read whole for every change, and agents write
   * to it many times a second while streaming; later changes wait and are read together.
   */
  readonly minReadIntervalMs?: number;
  /** Loads what reading needs and cannot load synchronously (the SQLite engine); called before a scan when a root exists. */
  prepare?(): Promise<void>;
  /** True when nothing changed since `cursor` (default: same size, mtime and inode). */
  isUnchanged?(file: string, cursor: CursorStamp, stat: StatFields): boolean;
  /** Reads what is new in `file` since `previous`; never throws for an unreadable file (returns `error`). */
  read(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead;
}

function failed(file: string, error: unknown): SourceRead {
  return {
    file,
    bytesRead: 0,
    rewritten: false,
    error: (error as Error).message,
    errorCode: (error as NodeJS.ErrnoException).code,
  };
}

/**
 * Append-only line files: feeds the lines after the cursor to the sink. A source keeps per-file state between reads
 * (the last cumulative counter, the current model) in the cursor's `context`: `open` gets it (undefined for a file
 * never read, and again when the file turns out rewritten) and `state()` returns it after the read.
 */
export function readLines(
  file: string,
  previous: FileCursor | undefined,
  context: ReadContext,
  open: (state: string | undefined) => LineSink & { state(): string | undefined },
): SourceRead {
  try {
    let sink = open(previous?.context);
    const outer: LineSink = {
      needle: sink.needle,
      line: (buf, start, end, offset) => sink.line(buf, start, end, offset),
      partialLine: (buf, start, end, offset) => sink.partialLine?.(buf, start, end, offset),
      oversizedLine: (offset, length) => sink.oversizedLine?.(offset, length),
      end: () => sink.end?.(),
      restart: () => {
        sink = open(undefined);
      },
    };
    const read = tailFile(file, previous, outer, context.tail);
    read.cursor.context = sink.state();
    return { file, cursor: read.cursor, bytesRead: read.bytesRead, rewritten: read.rewritten };
  } catch (error) {
    return failed(file, error);
  }
}

/** Whole files rewritten in place: re-parses the whole file whenever it changed. `parse` emits every request in it. */
export function readWholeFile(
  file: string,
  previous: FileCursor | undefined,
  context: ReadContext,
  parse: (data: Buffer, previousState: string | undefined, context: ReadContext) => string | undefined,
): SourceRead {
  try {
    const before = fs.statSync(file);
    const data = fs.readFileSync(file);
    const state = parse(data, previous?.context, context);
    return {
      file,
      cursor: { offset: data.length, size: before.size, mtimeMs: before.mtimeMs, ino: before.ino, tail: '', context: state },
      bytesRead: data.length,
      rewritten: previous !== undefined,
    };
  } catch (error) {
    return failed(file, error);
  }
}

/** Parses JSON text, or says why not (never throws): a file caught mid-rewrite is read again on its next change. */
export function parseJson(data: Buffer | string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(typeof data === 'string' ? data : data.toString('utf8')) };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}
