// A read-only view of a live SQLite database that never takes a lock and never sees a half-written transaction.
//
// OpenCode, Kilo CLI, Goose and Crush keep their usage in SQLite, in WAL mode, and write to it while we read.
// Opening their files with SQLite itself would need a native module built for VS Code's Electron (one per platform
// and Electron release), and even read-only connections write the shared-memory index and can hold checkpoints
// back. So the files are read with plain fs reads and the snapshot is assembled here:
//
//  - the main file and its `-wal` are read whole; stat before and after (size, mtime, inode) tells whether a
//    checkpoint or a rewrite happened meanwhile (then we read again, a few times, then give up for this round);
//  - the WAL's frames are checked the way SQLite's recovery does (salts equal to the header's, cumulative checksums
//    that chain from the header) and applied to the page image up to the LAST COMMIT FRAME only: a torn frame, an
//    uncommitted transaction and frames left over from before a WAL restart are all ignored;
//  - the header is rewritten to say "rollback journal" (bytes 18-19 = 1), and the image is opened in sql.js (SQLite
//    compiled to WebAssembly) in memory. Nothing is written anywhere.
//
// The engine is synchronous but sql.js starts asynchronously: `loadSqlite()` is awaited once at start-up, after
// which `openSnapshot()` works synchronously.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type initSqlJs from 'sql.js';
import type { StatFields } from './fastStat';
import type { CursorStamp, FileCursor } from './tail';
import { isUnchanged as sameFileStat } from './tail';
import type { ReadContext, SourceRead } from './sources/source';

export type SqlDatabase = initSqlJs.Database;
export type SqlValue = initSqlJs.SqlValue;

/** The biggest database (main file plus WAL) read into memory. Past it the file is skipped with a warning. */
export const MAX_SQLITE_BYTES = 512 * 1024 * 1024;
const READ_ATTEMPTS = 4;
const RETRY_PAUSE_MS = 15;

const WAL_HEADER_BYTES = 32;
const WAL_FRAME_HEADER_BYTES = 24;
const WAL_MAGIC_LITTLE_ENDIAN = 0x377f0682;
const WAL_MAGIC_BIG_ENDIAN = 0x377f0683;
const WAL_FORMAT_VERSION = 3007000;
const DB_HEADER_BYTES = 100;
const HOT_JOURNAL_MAGIC = Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);

export const SQLITE_NOT_LOADED = 'SQLite engine not loaded yet';

/** A database is read whole for every change: while an agent streams, read it at most this often. */
export const SQLITE_READ_INTERVAL_MS = 3000;

let engine: initSqlJs.SqlJsStatic | null = null;
let loading: Promise<void> | null = null;

/** Where the WebAssembly binary is: next to the bundle (the build copies it to dist/), else in node_modules. */
function wasmPath(): string {
  const bundled = path.join(__dirname, 'sql-wasm.wasm');
  if (fs.existsSync(bundled)) return bundled;
  // A variable, so that the bundler leaves this lookup to run time (tests and `npm start` from the checkout).
  const inPackage = 'sql.js/dist/sql-wasm.wasm';
  return require.resolve(inPackage);
}

/** Starts SQLite (WebAssembly). Idempotent; a failed start can be retried. */
export function loadSqlite(): Promise<void> {
  if (engine) return Promise.resolve();
  if (!loading) {
    loading = (async () => {
      const file = wasmPath();
      const binary = fs.readFileSync(file);
      // Required here, not imported: only machines with a SQLite agent pay for loading it (the bundles map
      // `sql.js` to dist/sql-wasm.js, copied beside them).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const init = require('sql.js') as typeof initSqlJs;
      engine = await init({
        wasmBinary: binary.buffer.slice(binary.byteOffset, binary.byteOffset + binary.byteLength) as ArrayBuffer,
        locateFile: () => file,
      });
    })().catch((error: unknown) => {
      loading = null;
      throw error;
    });
  }
  return loading;
}

/** A failure to read a database, with a code the caller can branch on. */
export class SqliteReadError extends Error {
  constructor(
    message: string,
    readonly code: 'ENOTLOADED' | 'EBUSY' | 'ETOOBIG' | 'ECORRUPT',
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The WAL

export interface WalResult {
  /** The database as of the last commit in the WAL (the main file itself when the WAL adds nothing). */
  image: Buffer;
  /** Frames applied (those up to and including the last valid commit frame). */
  framesApplied: number;
  /** Valid frames after the last commit: a transaction still being written. */
  framesPending: number;
}

function checksum(view: DataView, start: number, end: number, littleEndian: boolean, s: [number, number]): void {
  let s0 = s[0];
  let s1 = s[1];
  for (let i = start; i < end; i += 8) {
    s0 = (s0 + view.getUint32(i, littleEndian) + s1) >>> 0;
    s1 = (s1 + view.getUint32(i + 4, littleEndian) + s0) >>> 0;
  }
  s[0] = s0;
  s[1] = s1;
}

function validPageSize(size: number): boolean {
  return size >= 512 && size <= 65536 && (size & (size - 1)) === 0;
}

/** The page size the database header records (0 when the file is too short to say). */
function dbPageSize(db: Buffer): number {
  if (db.length < DB_HEADER_BYTES) return 0;
  const raw = db.readUInt16BE(16);
  return raw === 1 ? 65536 : raw;
}

/**
 * Applies the committed frames of `wal` to `db` (SQLite file format, section "The WAL file"). Frames count only up to
 * the last commit frame of the chain that starts at the header: the chain ends at the first frame whose salts differ
 * from the header's (left over from before a restart) or whose cumulative checksum does not match (torn, or never
 * finished). `db` may be modified in place; the image returned may share its memory.
 */
export function applyWal(db: Buffer, wal: Buffer | null): WalResult {
  const none: WalResult = { image: db, framesApplied: 0, framesPending: 0 };
  if (!wal || wal.length < WAL_HEADER_BYTES) return none;
  const view = new DataView(wal.buffer, wal.byteOffset, wal.byteLength);
  const magic = view.getUint32(0);
  if (magic !== WAL_MAGIC_LITTLE_ENDIAN && magic !== WAL_MAGIC_BIG_ENDIAN) return none;
  if (view.getUint32(4) !== WAL_FORMAT_VERSION) return none;
  const pageSize = view.getUint32(8);
  if (!validPageSize(pageSize)) return none;
  const littleEndian = magic === WAL_MAGIC_LITTLE_ENDIAN;
  const sum: [number, number] = [0, 0];
  checksum(view, 0, 24, littleEndian, sum);
  // A header whose checksum fails means SQLite itself would treat the WAL as empty.
  if (sum[0] !== view.getUint32(24) || sum[1] !== view.getUint32(28)) return none;
  const salt1 = view.getUint32(16);
  const salt2 = view.getUint32(20);
  const recorded = dbPageSize(db);
  if (recorded !== 0 && recorded !== pageSize) {
    throw new SqliteReadError(`WAL page size ${pageSize} differs from the database's ${recorded}`, 'ECORRUPT');
  }

  const frameBytes = WAL_FRAME_HEADER_BYTES + pageSize;
  let committedFrames = 0;
  let committedPages = 0;
  let frames = 0;
  for (let at = WAL_HEADER_BYTES; at + frameBytes <= wal.length; at += frameBytes) {
    const page = view.getUint32(at);
    if (page === 0 || view.getUint32(at + 8) !== salt1 || view.getUint32(at + 12) !== salt2) break;
    checksum(view, at, at + 8, littleEndian, sum);
    checksum(view, at + WAL_FRAME_HEADER_BYTES, at + frameBytes, littleEndian, sum);
    if (sum[0] !== view.getUint32(at + 16) || sum[1] !== view.getUint32(at + 20)) break;
    frames++;
    const dbPages = view.getUint32(at + 4);
    if (dbPages !== 0) {
      committedFrames = frames;
      committedPages = dbPages;
    }
  }
  if (committedFrames === 0) return { image: db, framesApplied: 0, framesPending: frames };

  const size = committedPages * pageSize;
  let image: Buffer;
  if (db.length >= size) {
    image = db.subarray(0, size);
  } else {
    image = Buffer.alloc(size);
    db.copy(image);
  }
  // Later frames of a page replace earlier ones: apply in order.
  for (let i = 0, at = WAL_HEADER_BYTES; i < committedFrames; i++, at += frameBytes) {
    const page = view.getUint32(at);
    if (page > committedPages) continue; // the database shrank in a later commit
    wal.copy(image, (page - 1) * pageSize, at + WAL_FRAME_HEADER_BYTES, at + frameBytes);
  }
  return { image, framesApplied: committedFrames, framesPending: frames - committedFrames };
}

/** Makes a WAL-mode header say "rollback journal", so that SQLite opens the image without looking for a WAL. */
export function markRollbackMode(image: Buffer): void {
  if (image.length < DB_HEADER_BYTES) return;
  if (image[18] === 2) image[18] = 1;
  if (image[19] === 2) image[19] = 1;
}

// ---------------------------------------------------------------------------------------------------------------
// Consistent reads

/** Size, mtime and inode of a file, or null when it does not exist. */
export type FileStamp = [size: number, mtimeMs: number, ino: number] | null;

function stampOf(stat: fs.Stats | null): FileStamp {
  return stat ? [stat.size, stat.mtimeMs, stat.ino] : null;
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  if (a === null || b === null) return a === b;
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function readOrNull(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function readHead(file: string, length: number): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const head = Buffer.alloc(length);
    const got = fs.readSync(fd, head, 0, length, 0);
    return head.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A rollback journal that starts with its magic is "hot": a writer is in the middle of a transaction (or crashed in
 * one), and the main file may hold half of it. (A finished journal is deleted, truncated or has its header zeroed.)
 */
function hasHotJournal(dbPath: string): boolean {
  const head = readHead(`${dbPath}-journal`, HOT_JOURNAL_MAGIC.length);
  return head !== null && head.length === HOT_JOURNAL_MAGIC.length && head.equals(HOT_JOURNAL_MAGIC);
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface SnapshotOptions {
  maxBytes?: number;
  attempts?: number;
  /** Tests: runs between the reads and the second stat, to play a writer that changes the files meanwhile. */
  afterRead?: (attempt: number) => void;
}

export interface SqliteSnapshot {
  db: SqlDatabase;
  /** The main file as stat'ed before it was read (goes into the cursor). */
  stat: fs.Stats;
  /** The `-wal` file as stat'ed before it was read (null: there was none). */
  wal: FileStamp;
  bytesRead: number;
  framesApplied: number;
  framesPending: number;
  /** Frees the WebAssembly memory the database holds. Call it as soon as the queries are done. */
  close(): void;
}

interface RawSnapshot {
  image: Buffer;
  stat: fs.Stats;
  wal: FileStamp;
  bytesRead: number;
  framesApplied: number;
  framesPending: number;
}

/** One attempt: undefined when a writer changed the files while they were read. */
function tryRead(dbPath: string, maxBytes: number, attempt: number, options: SnapshotOptions): RawSnapshot | undefined {
  const walPath = `${dbPath}-wal`;
  const before = fs.statSync(dbPath);
  const walBefore = statOrNull(walPath);
  const total = before.size + (walBefore?.size ?? 0);
  if (total > maxBytes) {
    throw new SqliteReadError(
      `database is ${Math.round(total / 1048576)} MB, more than the ${Math.round(maxBytes / 1048576)} MB Agent Spend reads into memory; skipped`,
      'ETOOBIG',
    );
  }
  if (hasHotJournal(dbPath)) return undefined;
  const db = fs.readFileSync(dbPath);
  const wal = walBefore ? readOrNull(walPath) : null;
  options.afterRead?.(attempt);
  const after = fs.statSync(dbPath);
  // The main file changes only in a checkpoint (WAL mode) or a write (rollback mode): either way, read again.
  if (!sameFileStat(before, after)) return undefined;
  if (db.length !== before.size || hasHotJournal(dbPath)) return undefined;
  if (wal) {
    // A WAL that only grew is fine (what we read is a prefix; its frames are immutable until a restart). One that
    // shrank, was replaced or restarted (new salts in its header) may have mixed generations: read again.
    const walAfter = statOrNull(walPath);
    if (!walAfter || walAfter.ino !== walBefore?.ino || walAfter.size < wal.length) return undefined;
    const head = readHead(walPath, WAL_HEADER_BYTES);
    if (!head || (wal.length >= WAL_HEADER_BYTES && !head.equals(wal.subarray(0, WAL_HEADER_BYTES)))) return undefined;
  }
  const applied = applyWal(db, wal);
  markRollbackMode(applied.image);
  return {
    image: applied.image,
    stat: before,
    wal: stampOf(walBefore),
    bytesRead: db.length + (wal?.length ?? 0),
    framesApplied: applied.framesApplied,
    framesPending: applied.framesPending,
  };
}

/** Reads a consistent image of the database and its WAL (see the top of this file). Throws SqliteReadError or fs errors. */
export function readSnapshotImage(dbPath: string, options: SnapshotOptions = {}): RawSnapshot {
  const maxBytes = options.maxBytes ?? MAX_SQLITE_BYTES;
  const attempts = options.attempts ?? READ_ATTEMPTS;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) pause(RETRY_PAUSE_MS * attempt);
    const snapshot = tryRead(dbPath, maxBytes, attempt, options);
    if (snapshot) return snapshot;
  }
  throw new SqliteReadError(`database kept changing while it was read (${attempts} tries); it will be read on its next change`, 'EBUSY');
}

/** Opens a consistent, in-memory, read-only snapshot of a live database. Synchronous: needs `loadSqlite()` first. */
export function openSnapshot(dbPath: string, options: SnapshotOptions = {}): SqliteSnapshot {
  const sql = engine;
  if (!sql) throw new SqliteReadError(SQLITE_NOT_LOADED, 'ENOTLOADED');
  const raw = readSnapshotImage(dbPath, options);
  let db: SqlDatabase;
  try {
    db = new sql.Database(raw.image);
  } catch (error) {
    throw new SqliteReadError(`not a readable SQLite database: ${(error as Error).message}`, 'ECORRUPT');
  }
  let open = true;
  return {
    db,
    stat: raw.stat,
    wal: raw.wal,
    bytesRead: raw.bytesRead,
    framesApplied: raw.framesApplied,
    framesPending: raw.framesPending,
    close: () => {
      if (open) db.close();
      open = false;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Queries

/** Runs a query and hands each row to `row` (values in column order). Statements are always freed. */
export function eachRow(db: SqlDatabase, sql: string, params: SqlValue[], row: (values: SqlValue[]) => void): void {
  const statement = db.prepare(sql);
  try {
    statement.bind(params);
    while (statement.step()) row(statement.get());
  } finally {
    statement.free();
  }
}

/** The columns of a table (empty when it does not exist): adapters read several schema versions. */
export function columnsOf(db: SqlDatabase, table: string): Set<string> {
  const columns = new Set<string>();
  eachRow(db, 'SELECT name FROM pragma_table_info(?)', [table], ([name]) => {
    if (typeof name === 'string') columns.add(name);
  });
  return columns;
}

/** A column value as text (undefined for NULL and blobs). */
export function textOf(value: SqlValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/** A column value as a finite number (undefined for NULL, text that is not a number, blobs). */
export function numberOf(value: SqlValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Sources

const SIDE_FILES = ['-wal', '-shm', '-journal'];

/** The database a changed path belongs to: `x.db-wal`, `x.db-shm` and `x.db-journal` map to `x.db`. */
export function sqliteFileFor(changedPath: string, isDatabaseName: (name: string) => boolean): string | undefined {
  for (const suffix of SIDE_FILES) {
    if (changedPath.endsWith(suffix)) {
      const db = changedPath.slice(0, -suffix.length);
      return isDatabaseName(path.basename(db)) ? db : undefined;
    }
  }
  return isDatabaseName(path.basename(changedPath)) ? changedPath : undefined;
}

interface CursorContext {
  /** The WAL's stamp when the database was last read. */
  w: FileStamp;
  /** The source's own state (a watermark). */
  s?: string;
}

function parseContext(context: string | undefined): CursorContext | undefined {
  if (!context) return undefined;
  try {
    const parsed = JSON.parse(context) as Partial<CursorContext>;
    const wal = parsed.w;
    const validWal = wal === null || (Array.isArray(wal) && wal.length === 3 && wal.every((n) => typeof n === 'number'));
    if (!validWal) return undefined;
    return { w: wal as FileStamp, s: typeof parsed.s === 'string' ? parsed.s : undefined };
  } catch {
    return undefined;
  }
}

/**
 * True when neither the database nor its WAL changed since `cursor` (while an agent streams, only the WAL changes).
 */
export function sqliteIsUnchanged(file: string, cursor: CursorStamp, stat: StatFields): boolean {
  if (!sameFileStat(cursor, stat)) return false;
  const context = parseContext(cursor.context);
  if (!context) return false;
  let wal: fs.Stats | null;
  try {
    wal = statOrNull(`${file}-wal`);
  } catch {
    return false;
  }
  return sameStamp(context.w, stampOf(wal));
}

/**
 * Reads a database for a source: opens a snapshot, hands it to `query` with the state the source kept last time
 * (undefined the first time and after the file was replaced), and stores the state it returns in the cursor with
 * the WAL's stamp. Never throws: every failure becomes the read's `error`, and the database is always closed.
 */
export function readSqlite(
  file: string,
  previous: FileCursor | undefined,
  context: ReadContext,
  query: (db: SqlDatabase, state: string | undefined, context: ReadContext) => string | undefined,
  options: SnapshotOptions = {},
): SourceRead {
  let snapshot: SqliteSnapshot;
  try {
    snapshot = openSnapshot(file, options);
  } catch (error) {
    const code = error instanceof SqliteReadError ? error.code : (error as NodeJS.ErrnoException).code;
    if (code === 'ETOOBIG') context.log(`warning: ${file}: ${(error as Error).message}`);
    return { file, bytesRead: 0, rewritten: false, error: (error as Error).message, errorCode: code };
  }
  try {
    const replaced = previous !== undefined && previous.ino !== snapshot.stat.ino;
    const state = replaced ? undefined : parseContext(previous?.context)?.s;
    const next = query(snapshot.db, state, context);
    const cursorContext: CursorContext = next === undefined ? { w: snapshot.wal } : { w: snapshot.wal, s: next };
    const { size, mtimeMs, ino } = snapshot.stat;
    return {
      file,
      cursor: { offset: size, size, mtimeMs, ino, tail: '', context: JSON.stringify(cursorContext) },
      bytesRead: snapshot.bytesRead,
      rewritten: replaced,
    };
  } catch (error) {
    return { file, bytesRead: snapshot.bytesRead, rewritten: false, error: `${file}: ${(error as Error).message}`, errorCode: 'ESQL' };
  } finally {
    snapshot.close();
  }
}
