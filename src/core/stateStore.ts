// Persistence of the ledger and the file cursors in one binary file.
//
// Layout (format 4), in three parts with a CRC-32 each:
//  1. magic, header length, a small header JSON (record count, interned strings, price version, generation, section
//     sizes, the walk roots), then what a start needs to tell that nothing changed: each cursor's offset, size,
//     mtime, inode and context index; each folder listing's mtime and entry counts; for each listed name, the cursor
//     of that file or the listing of that subfolder (-1: none); the names, then the distinct contexts, as one UTF-8
//     text with each one's length (in UTF-16 units, for slicing);
//  2. the rest of the reading state: each cursor's path and tail, and each listing's key, as one text with their
//     lengths;
//  3. the records: their keys (newline separated), then each ledger column's raw bytes.
// Typed sections are 8-byte aligned in the file. The CLI's start reads part 1 only, and walks the listings by index
// to stat every folder and file (QuickIndex): when all of them are as recorded, nothing else is read, and no cursor
// or listing object is built; part 2 is read when something changed, part 3 when something is added or a report
// must be built. Format 3 (parts 1 and 2 as one, without the links) and format 2 (the reading state inside the
// header JSON, one checksum) are still read.
//
// Writes go to a temporary file that is renamed over the old one, so a reader sees either the old state or the new
// one. Writers on the same directory take a lock file and merge what another process wrote since they loaded, so
// two processes (two VS Code windows, the CLI beside the extension) never lose each other's records.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { allocateColumns, COLUMN_NAMES, Ledger, type LedgerColumns } from './ledger';
import type { PriceBook } from './pricing/pricing';
import { FolderIndex, splitListingKey, type FolderListing, type QuickIndex } from './folderIndex';
import type { FileCursor } from './tail';
import { makeDirectory } from './makeDirectory';

const MAGIC = Buffer.from('AGSPEND1', 'latin1');
const FORMAT_VERSION = 4;
/** The layout before: the whole reading state as one part, one text for every path and name. */
const FORMAT_ONE_READING_PART = 3;
/** The older layout this version still reads (the reading state inside the header JSON). */
const FORMAT_JSON_READING = 2;
export const STATE_FILE = 'ledger.bin';
const LOCK_FILE = 'ledger.lock';

/** A cursor as format 2 stored it. */
type StoredCursor = [file: string, offset: number, size: number, mtimeMs: number, ino: number, tail: string, context?: string];

interface Header {
  format: number;
  size: number;
  strings: string[];
  priceVersion: string;
  /** Changes on every write: a writer that sees another generation merges before it writes. */
  generation: string;
  keysBytes: number;
  /** Formats 3 and 4: how many cursors, distinct cursor contexts, folder listings, names in them. */
  cursorCount?: number;
  contextCount?: number;
  folderCount?: number;
  nameCount?: number;
  /** Format 3: the bytes of its one text. */
  textBytes?: number;
  /** Format 4: the bytes of part 1's text (names, then contexts) and of part 2's (paths, tails, listing keys). */
  namesBytes?: number;
  restBytes?: number;
  /** Format 4: the listings no other listing names as a subfolder (where walks start), by key. */
  walkRoots?: Array<[key: string, folder: number]>;
  /** Format 2: the reading state itself. */
  cursors?: StoredCursor[];
  folders?: Array<[string, ...FolderListing]>;
}

/** What is persisted beside the ledger: where each file was read to, and the folder listings. */
export interface ReadingState {
  cursors: Map<string, FileCursor>;
  folders: FolderIndex;
}

export interface LoadedState extends ReadingState {
  ledger: Ledger;
  generation: string;
}

/** A state loaded for the CLI: the records and the reading state are read when first needed. */
export interface DeferredState {
  ledger: Ledger;
  generation: string;
  /** Null for a format 3 file (whose reading state was read whole). */
  quick: QuickIndex | null;
  /** The cursors and listings; throws if their part of the file turns out damaged. */
  reading: () => ReadingState;
  /**
   * For a state dropped before it was read whole: `reading` will not be called (its hold on the file ends), or with
   * `everything`, neither will the records' loader (the file is closed). Calling either afterwards throws a read
   * error (code ERELEASED), never a damage.
   */
  release(everything: boolean): void;
}

/**
 * Which file was read (a save by another process renames a new one over it). The inode number alone does not tell:
 * once the file read is closed and replaced, its number is free, and a file system may give it to the next file
 * created (ext4 does), the temporary file of another save. Its size and modification time tell them apart.
 */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

function identityOf(stat: fs.Stats): FileIdentity {
  return { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs };
}

export type LoadOutcome =
  | { kind: 'loaded'; state: LoadedState; identity?: FileIdentity }
  | { kind: 'deferred'; state: DeferredState; identity?: FileIdentity }
  | { kind: 'missing' }
  /** The file is there but could not be read (permissions, EMFILE, EIO...): not damaged, and not to be replaced. */
  | { kind: 'unreadable'; reason: string }
  | { kind: 'corrupt'; reason: string; identity?: FileIdentity };

/**
 * True for an error of the system reading the file (EACCES, EMFILE, EIO, EISDIR...), as opposed to one of decoding
 * what was read (Node's own ERR_* codes, or none): the first says nothing about the file, the second that it is
 * damaged.
 */
export function isReadError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** The default state directory for the CLI: $XDG_STATE_HOME/agent-spend (or the OS equivalent). */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  if (env.AGENT_SPEND_HOME) return path.resolve(env.AGENT_SPEND_HOME);
  const home = env.HOME || env.USERPROFILE || os.homedir();
  if (process.platform === 'win32') {
    return path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'agent-spend');
  }
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'agent-spend');
  return path.join(absoluteOrNothing(env.XDG_STATE_HOME) || path.join(home, '.local', 'state'), 'agent-spend');
}

/** $AGENT_SPEND_CACHE_DIR, else the platform's per-user cache folder (caches only save time; safe to delete). */
export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  if (env.AGENT_SPEND_CACHE_DIR) return path.resolve(env.AGENT_SPEND_CACHE_DIR);
  const home = env.HOME || env.USERPROFILE || os.homedir();
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'agent-spend', 'cache');
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'agent-spend');
  return path.join(absoluteOrNothing(env.XDG_CACHE_HOME) || path.join(home, '.cache'), 'agent-spend');
}

/** An XDG base folder as the spec has it: a relative path is invalid and ignored (it would follow the current folder). */
function absoluteOrNothing(dir: string | undefined): string | undefined {
  return dir && path.isAbsolute(dir) ? dir : undefined;
}

const crcTable = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/**
 * CRC-32; zlib's native one where this Node has it (20.15+), else a table-driven fallback. Zero-length input never
 * reaches zlib: its crc32(data, value) answers 0 for a zero-length view of a zero-length buffer (an empty typed
 * array), whatever `value` was (Node 20.20).
 */
export function crc32(data: Uint8Array): number {
  if (data.length === 0) return 0;
  const native = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
  if (native) return native(data) >>> 0;
  let crc = -1;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** Each column's array type, read off a one-element allocation (so that the two can never disagree). */
const TYPES = Object.fromEntries(
  Object.entries(allocateColumns(1)).map(([name, column]) => [name, column.constructor as Float64ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor]),
) as Record<keyof LedgerColumns, Float64ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor>;

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** The state file's bytes, as the parts to write one after the other (no copy into one buffer). */
export function encodeState(ledger: Ledger, reading: ReadingState, generation: string): Buffer[] {
  const keys = ledger.serializeKeys();
  // The reading state: numbers in typed arrays, strings in two texts (lengths in UTF-16 units, for slicing).
  const cursorCount = reading.cursors.size;
  const cursorNumbers = new Float64Array(cursorCount * 4);
  const cursorContexts = new Int32Array(cursorCount);
  const paths: string[] = [];
  const tails: string[] = [];
  const contextIds = new Map<string, number>();
  const cursorOf = new Map<string, number>();
  let i = 0;
  for (const [file, c] of reading.cursors) {
    cursorOf.set(file, i);
    paths.push(file);
    tails.push(c.tail);
    cursorNumbers[i * 4] = c.offset;
    cursorNumbers[i * 4 + 1] = c.size;
    cursorNumbers[i * 4 + 2] = c.mtimeMs;
    cursorNumbers[i * 4 + 3] = c.ino;
    let context = -1;
    if (c.context !== undefined) {
      context = contextIds.get(c.context) ?? -1;
      if (context < 0) contextIds.set(c.context, (context = contextIds.size));
    }
    cursorContexts[i++] = context;
  }
  const folders = reading.folders.serialize();
  const folderOf = new Map<string, number>();
  folders.forEach(([key], f) => folderOf.set(key, f));
  const folderMtimes = new Float64Array(folders.length);
  const folderCounts = new Uint32Array(folders.length * 2);
  const folderKeys: string[] = [];
  const names: string[] = [];
  const links: number[] = [];
  const named = new Uint8Array(folders.length);
  folders.forEach(([key, mtimeMs, files, subfolders], f) => {
    folderKeys.push(key);
    folderMtimes[f] = mtimeMs;
    folderCounts[f * 2] = files.length;
    folderCounts[f * 2 + 1] = subfolders.length;
    // What FolderIndex's walk makes of this listing's names: its files' paths, its subfolders' keys.
    const { namespace, dir } = splitListingKey(key);
    const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
    for (const name of files) {
      names.push(name);
      links.push(cursorOf.get(prefix + name) ?? -1);
    }
    for (const name of subfolders) {
      names.push(name);
      const child = folderOf.get(namespace + prefix + name) ?? -1;
      if (child >= 0 && child !== f) named[child] = 1;
      links.push(child);
    }
  });
  const walkRoots: Array<[string, number]> = [];
  for (let f = 0; f < folders.length; f++) if (!named[f]) walkRoots.push([folderKeys[f], f]);
  const first = [...names, ...contextIds.keys()];
  const firstLengths = new Uint32Array(first.length);
  for (let n = 0; n < first.length; n++) firstLengths[n] = first[n].length;
  const firstText = Buffer.from(first.join(''), 'utf8');
  const rest = [...paths, ...tails, ...folderKeys];
  const restLengths = new Uint32Array(rest.length);
  for (let t = 0; t < rest.length; t++) restLengths[t] = rest[t].length;
  const restText = Buffer.from(rest.join(''), 'utf8');

  const header: Header = {
    format: FORMAT_VERSION,
    size: ledger.size,
    strings: ledger.strings.values,
    priceVersion: ledger.prices.version,
    generation,
    keysBytes: keys.length,
    cursorCount,
    contextCount: contextIds.size,
    folderCount: folders.length,
    nameCount: names.length,
    namesBytes: firstText.length,
    restBytes: restText.length,
    walkRoots,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const headerLength = Buffer.alloc(4);
  headerLength.writeUInt32LE(headerBytes.length, 0);
  const parts: Buffer[] = [MAGIC, headerLength, headerBytes];
  let offset = MAGIC.length + 4 + headerBytes.length;
  const push = (array: ArrayBufferView, count = array.byteLength): void => {
    const padding = align8(offset) - offset;
    if (padding) parts.push(Buffer.alloc(padding));
    offset += padding;
    const bytes = Buffer.from(array.buffer, array.byteOffset, count);
    parts.push(bytes);
    offset += bytes.length;
  };
  const checksum = (from: number): void => {
    const sum = Buffer.alloc(4);
    sum.writeUInt32LE(crc32Parts(parts.slice(from)), 0);
    parts.push(sum);
    offset += 4;
  };
  // Part one, what every start needs (QuickIndex), then its checksum.
  push(cursorNumbers);
  push(cursorContexts);
  push(folderMtimes);
  push(folderCounts);
  push(Int32Array.from(links));
  push(firstLengths);
  push(firstText);
  checksum(0);
  // Part two, the rest of the reading state, needed when something changed.
  const restFrom = parts.length;
  push(restLengths);
  push(restText);
  checksum(restFrom);
  // Part three, the records, needed only when something is added or a report is built: keys, columns, checksum.
  const recordsFrom = parts.length;
  parts.push(keys);
  offset += keys.length;
  for (const name of COLUMN_NAMES) {
    const column = ledger.columns[name];
    push(column, ledger.size * column.BYTES_PER_ELEMENT);
  }
  checksum(recordsFrom);
  return parts;
}

/** The CRC-32 of the concatenation of `parts`, without concatenating them. */
function crc32Parts(parts: Uint8Array[]): number {
  const native = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  // Empty parts (a section with nothing in it) are skipped: see crc32().
  if (native) return parts.reduce((crc, part) => (part.length === 0 ? crc : native(part, crc)), 0) >>> 0;
  return crc32(Buffer.concat(parts));
}

type TypedArrayType<T> = { new (buffer: ArrayBuffer, byteOffset: number, length: number): T; new (length: number): T; BYTES_PER_ELEMENT: number };

/**
 * Reads typed sections from `data` at 8-byte-aligned file offsets (`base` is the file offset of data[0]): views
 * into the bytes when they are aligned in memory, copies otherwise. Every read is checked against `end`.
 */
class Sections {
  /** Memory offsets keep the file's alignment: typed sections can be views. */
  readonly aligned: boolean;

  constructor(
    private readonly data: Buffer,
    public offset: number,
    private readonly end: number,
    private readonly base = 0,
  ) {
    this.aligned = (data.byteOffset - base) % 8 === 0;
  }

  next<T extends Float64Array | Int32Array | Uint32Array | Uint8Array>(Type: TypedArrayType<T>, count: number, into?: T): T {
    this.offset = align8(this.offset + this.base) - this.base;
    const byteLength = count * Type.BYTES_PER_ELEMENT;
    if (this.offset + byteLength > this.end) throw new Error('sections run past the end of the file');
    let array: T;
    if (this.aligned && !into) array = new Type(this.data.buffer as ArrayBuffer, this.data.byteOffset + this.offset, count);
    else {
      array = into ?? new Type(count);
      new Uint8Array(array.buffer, array.byteOffset, byteLength).set(this.data.subarray(this.offset, this.offset + byteLength));
    }
    this.offset += byteLength;
    return array;
  }

  /** Plain bytes (no alignment). */
  bytes(length: number): Buffer {
    if (this.offset + length > this.end) throw new Error('sections run past the end of the file');
    const bytes = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return bytes;
  }
}

/** Magic, header length and header; throws for anything that is not a state file this version reads. */
function parseHeader(data: Buffer): { header: Header; end: number } {
  if (data.length < MAGIC.length + 8 || !data.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error('not an Agent Spend state file');
  }
  const headerLength = data.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + headerLength > data.length) throw new Error('the header runs past the end of the file');
  const header = JSON.parse(data.toString('utf8', start, start + headerLength)) as Header;
  if (Number.isInteger(header.format) && header.format > FORMAT_VERSION) {
    // Not damage: its records may be all that is left of logs deleted since. A read error (see isReadError) keeps
    // the file where it is, and no save of this version replaces it.
    throw Object.assign(
      new Error(`written by a newer version of Agent Spend (state format ${header.format}; this one reads up to ${FORMAT_VERSION}): left as it is`),
      { code: 'ENEWERSTATE' },
    );
  }
  if (header.format !== FORMAT_VERSION && header.format !== FORMAT_ONE_READING_PART && header.format !== FORMAT_JSON_READING) {
    throw new Error(`written by a different version of Agent Spend (state format ${header.format}, this one reads ${FORMAT_VERSION})`);
  }
  if (!Number.isInteger(header.size) || header.size < 0) throw new Error('the record count is not a count');
  for (const count of [header.keysBytes, header.cursorCount, header.contextCount, header.folderCount, header.nameCount, header.textBytes, header.namesBytes, header.restBytes]) {
    if (count !== undefined && !(Number.isInteger(count) && count >= 0)) throw new Error('a count in the header is not a count');
  }
  return { header, end: start + headerLength };
}

/** Where the sections of the reading state start, and their bytes, from the header's counts alone. */
export interface ReadingLayout {
  /** Part one's sections (format 3: the whole reading state); its checksum follows at `oneEnd`. */
  one: Array<{ start: number; bytes: number }>;
  oneEnd: number;
  /** Format 4's part two (format 3: none, and `twoEnd` is `oneEnd`); its checksum follows at `twoEnd`. */
  two: Array<{ start: number; bytes: number }>;
  twoEnd: number;
}

export function readingLayout(header: Header, headerEnd: number): ReadingLayout {
  const cursors = header.cursorCount ?? 0;
  const folders = header.folderCount ?? 0;
  const names = header.nameCount ?? 0;
  const contexts = header.contextCount ?? 0;
  const place = (from: number, sizes: number[]) => {
    let offset = from;
    const sections = sizes.map((bytes) => {
      const start = align8(offset);
      offset = start + bytes;
      return { start, bytes };
    });
    return { sections, end: offset };
  };
  if (header.format === FORMAT_ONE_READING_PART) {
    const one = place(headerEnd, [cursors * 32, cursors * 4, folders * 8, folders * 8, 4 * (cursors * 2 + contexts + folders + names), header.textBytes ?? 0]);
    return { one: one.sections, oneEnd: one.end, two: [], twoEnd: one.end };
  }
  const one = place(headerEnd, [cursors * 32, cursors * 4, folders * 8, folders * 8, names * 4, 4 * (names + contexts), header.namesBytes ?? 0]);
  const two = place(one.end + 4, [4 * (cursors * 2 + folders), header.restBytes ?? 0]);
  return { one: one.sections, oneEnd: one.end, two: two.sections, twoEnd: two.end };
}

/** Where the reading state ends (the last checksum before the records), from the header's counts alone. */
export function readingEnd(header: Header, headerEnd: number): number {
  return readingLayout(header, headerEnd).twoEnd;
}

/**
 * Whether part one's checksum holds. Format 3 files written before November 2026 carry a wrong one where a section
 * was empty (no cursors, say, once every log was deleted): Node's zlib.crc32 restarted from 0 at an empty typed array
 * (see crc32()), so the sum covered only the bytes after the last empty section. Such a file is taken as written, or
 * the records of those deleted logs would be set aside with it.
 */
function partOneIntact(data: Buffer, header: Header, layout: ReadingLayout): boolean {
  const stored = data.readUInt32LE(layout.oneEnd);
  if (crc32(data.subarray(0, layout.oneEnd)) === stored) return true;
  return (
    header.format === FORMAT_ONE_READING_PART &&
    layout.one.some(({ start, bytes }) => bytes === 0 && crc32(data.subarray(start, layout.oneEnd)) === stored)
  );
}

/** Part two of format 4, its checksum included (the four bytes at the end). */
function checkPartTwo(bytes: Buffer): void {
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== bytes.readUInt32LE(bytes.length - 4)) {
    throw new Error('checksum mismatch in the cursors (truncated or damaged)');
  }
}

/** The records (keys and columns) from their part of the file; `sections` stands at their start. */
function decodeRecords(header: Header, sections: Sections): { columns: LedgerColumns; keysBlob: Buffer } {
  // No copies where the bytes are aligned: the keys and the columns are views into the file's bytes. Copying
  // megabytes was a fifth of a warm start. A ledger that grows later moves to arrays of its own.
  const keysBlob = sections.bytes(header.keysBytes);
  const columns = {} as LedgerColumns;
  const copies = sections.aligned ? null : allocateColumns(Math.max(1024, header.size + (header.size >> 2)));
  for (const name of COLUMN_NAMES) {
    (columns as unknown as Record<string, unknown>)[name] = sections.next(TYPES[name] as Float64ArrayConstructor, header.size, copies?.[name] as Float64Array | undefined);
  }
  return { columns, keysBlob };
}

/** A whole state file's bytes, decoded at once (format 4, 3 or 2). */
export function decodeState(data: Buffer, prices: PriceBook): LoadedState {
  const { header, end } = parseHeader(data);
  if (header.format === FORMAT_JSON_READING) return decodeFormat2(data, header, end, prices);
  const layout = readingLayout(header, end);
  if (layout.twoEnd + 8 > data.length) throw new Error('the file is shorter than its header says (truncated)');
  if (!partOneIntact(data, header, layout)) throw new Error('checksum mismatch (truncated or damaged)');
  let reading: ReadingState;
  if (header.format === FORMAT_ONE_READING_PART) {
    reading = readingFromFormat3(header, new Sections(data, end, layout.oneEnd));
  } else {
    checkPartTwo(data.subarray(layout.oneEnd + 4, layout.twoEnd + 4));
    const quick = quickIndexFrom(header, new Sections(data, end, layout.oneEnd));
    reading = readingFromParts(header, quick, new Sections(data, layout.oneEnd + 4, layout.twoEnd));
  }
  const recordsEnd = data.length - 4;
  if (crc32(data.subarray(layout.twoEnd + 4, recordsEnd)) !== data.readUInt32LE(recordsEnd)) {
    throw new Error('checksum mismatch in the records (truncated or damaged)');
  }
  const records = decodeRecords(header, new Sections(data, layout.twoEnd + 4, recordsEnd));
  const ledger = new Ledger(prices, { strings: header.strings, size: header.size, ...records });
  if (header.priceVersion !== prices.version) ledger.reprice();
  return { ledger, ...reading, generation: header.generation };
}

/**
 * Reads a state file's first part only (what a start needs to see whether anything changed); the rest of the reading
 * state and the records are read from the same open file when first needed (a damaged part then throws from there,
 * see Engine.ensureReading() and Engine.ensureRecords()). Format 2 files, and files whose prices changed, are read
 * whole; format 3 files, their reading state at once.
 */
function loadDeferred(fd: number, size: number, prices: PriceBook): { whole: LoadedState } | { deferred: DeferredState } {
  // The file stays open for what is read later (the rest of the reading state, the records): a save by another
  // process renames a new file over this one, and what is read later must come from the same one. It is the
  // deferred reads' to close once they are done; the caller's when this throws or returns the state whole.
  let users = 0;
  /**
   * One later read of the file (the rest of the reading state, the records), done once: its answer, or the damage it
   * found, stands for every later call, and its hold on the file ends with it. A read that fails for a moment (EIO,
   * EMFILE...) is not an answer: the file stays open, and the next call reads again.
   */
  const later = <T>(load: () => T): { get: () => T; drop: () => void } => {
    users++;
    let outcome: { value: T } | { error: unknown } | undefined;
    // Each later read ends its hold once, answered or dropped: the last one closes the file.
    const done = (): void => {
      if (--users === 0) fs.closeSync(fd);
    };
    const get = (): T => {
      if (!outcome) {
        try {
          outcome = { value: load() };
        } catch (error) {
          if (isReadError(error)) throw error;
          outcome = { error };
        }
        done();
      }
      if ('error' in outcome) throw outcome.error;
      return outcome.value;
    };
    const drop = (): void => {
      if (outcome) return;
      outcome = { error: Object.assign(new Error('the state file was let go before this part was read'), { code: 'ERELEASED' }) };
      done();
    };
    return { get, drop };
  };
  /** `length` bytes of the file from `from`. */
  const read = (from: number, length: number, into = Buffer.allocUnsafeSlow(length), at = 0): Buffer => {
    for (let done = 0; done < length; ) {
      const got = fs.readSync(fd, into, at + done, length - done, from + done);
      if (got <= 0) throw new Error('the file is shorter than its header says (truncated)');
      done += got;
    }
    return into;
  };
  /** Bytes `from` to `to` read from an 8-byte boundary of the file, so that sections aligned in the file are in memory. */
  const readAligned = (from: number, to: number): { bytes: Buffer; base: number } => {
    const base = from - (from % 8);
    return { bytes: read(base, to - base), base };
  };
  /** The file's first `length` bytes, reading only those `have` does not hold yet. */
  const prefix = (have: Buffer, length: number): Buffer => {
    if (have.length >= length) return have;
    const bytes = Buffer.allocUnsafeSlow(length);
    have.copy(bytes);
    return read(have.length, length - have.length, bytes, have.length);
  };
  const head = read(0, Math.min(size, 64 * 1024));
  const headerLength = head.length >= MAGIC.length + 4 ? head.readUInt32LE(MAGIC.length) : 0;
  const first = prefix(head, Math.min(size, MAGIC.length + 4 + headerLength));
  const { header, end } = parseHeader(first);
  if (header.format === FORMAT_JSON_READING || header.priceVersion !== prices.version) return { whole: decodeState(prefix(first, size), prices) };
  const layout = readingLayout(header, end);
  if (layout.twoEnd + 8 > size) throw new Error('the file is shorter than its header says (truncated)');
  const partOne = prefix(first, layout.oneEnd + 4);
  if (!partOneIntact(partOne, header, layout)) throw new Error('checksum mismatch (truncated or damaged)');
  let reading: { get: () => ReadingState; drop: () => void };
  let quick: QuickIndex | null = null;
  if (header.format === FORMAT_ONE_READING_PART) {
    const whole = readingFromFormat3(header, new Sections(partOne, end, layout.oneEnd));
    reading = { get: () => whole, drop: () => undefined };
  } else {
    const index = quickIndexFrom(header, new Sections(partOne, end, layout.oneEnd));
    quick = index;
    reading = later(() => {
      const { bytes, base } = readAligned(layout.oneEnd + 4, layout.twoEnd + 4);
      checkPartTwo(bytes.subarray(layout.oneEnd + 4 - base));
      return readingFromParts(header, index, new Sections(bytes, layout.oneEnd + 4 - base, bytes.length - 4, base));
    });
  }
  const loadRecords = later((): { columns: LedgerColumns; keysBlob: Buffer } => {
    const from = layout.twoEnd + 4;
    const { bytes, base } = readAligned(from, size);
    if (crc32(bytes.subarray(from - base, bytes.length - 4)) !== bytes.readUInt32LE(bytes.length - 4)) {
      throw new Error('checksum mismatch in the records (truncated or damaged)');
    }
    return decodeRecords(header, new Sections(bytes, from - base, bytes.length - 4, base));
  });
  const ledger = new Ledger(prices, { strings: header.strings, size: header.size, load: loadRecords.get });
  const release = (everything: boolean): void => {
    reading.drop();
    if (everything) loadRecords.drop();
  };
  return { deferred: { ledger, quick, reading: reading.get, release, generation: header.generation } };
}

/** Format 2: the reading state inside the header JSON, then the keys and columns, one checksum at the end. */
function decodeFormat2(data: Buffer, header: Header, end: number, prices: PriceBook): LoadedState {
  const bodyLength = data.length - 4;
  if (crc32(data.subarray(0, bodyLength)) !== data.readUInt32LE(bodyLength)) {
    throw new Error('checksum mismatch (truncated or damaged)');
  }
  const records = decodeRecords(header, new Sections(data, end, bodyLength));
  const ledger = new Ledger(prices, { strings: header.strings, size: header.size, ...records });
  if (header.priceVersion !== prices.version) ledger.reprice();
  const cursors = new Map<string, FileCursor>();
  const stored = header.cursors ?? [];
  // Indexed, without destructuring: this runs once per start, before anything is optimised, over every file.
  for (let i = 0; i < stored.length; i++) {
    const c = stored[i];
    cursors.set(c[0], { offset: c[1], size: c[2], mtimeMs: c[3], ino: c[4], tail: c[5], context: c[6] });
  }
  return { ledger, cursors, folders: new FolderIndex(header.folders ?? []), generation: header.generation };
}

/** Format 4's part one as a QuickIndex; every count and link is checked against what is there. */
function quickIndexFrom(header: Header, sections: Sections): QuickIndex {
  const cursorCount = header.cursorCount ?? 0;
  const folderCount = header.folderCount ?? 0;
  const nameCount = header.nameCount ?? 0;
  const contextCount = header.contextCount ?? 0;
  const cursorNumbers = sections.next(Float64Array, cursorCount * 4);
  const contextIds = sections.next(Int32Array, cursorCount);
  const folderMtimes = sections.next(Float64Array, folderCount);
  const folderCounts = sections.next(Uint32Array, folderCount * 2);
  const links = sections.next(Int32Array, nameCount);
  const textLengths = sections.next(Uint32Array, nameCount + contextCount);
  const text = sections.next(Uint8Array, header.namesBytes ?? 0);
  const names = Buffer.from(text.buffer, text.byteOffset, text.length).toString('utf8');
  const firstName = new Uint32Array(folderCount);
  let n = 0;
  for (let f = 0; f < folderCount; f++) {
    firstName[f] = n;
    const files = folderCounts[f * 2];
    const end = n + files + folderCounts[f * 2 + 1];
    if (end > nameCount) throw new Error('the stored names do not match their counts');
    for (; n < end; n++) {
      const link = links[n];
      if (link < -1 || link >= (n < firstName[f] + files ? cursorCount : folderCount)) throw new Error('a stored link points past its table');
    }
  }
  if (n !== nameCount) throw new Error('the stored names do not match their counts');
  for (let i = 0; i < cursorCount; i++) {
    if (contextIds[i] < -1 || contextIds[i] >= contextCount) throw new Error('a stored context points past its table');
  }
  const nameAt = new Uint32Array(nameCount + contextCount + 1);
  let at = 0;
  for (let i = 0; i < nameCount + contextCount; i++) {
    nameAt[i] = at;
    at += textLengths[i];
  }
  nameAt[nameCount + contextCount] = at;
  if (at !== names.length) throw new Error('the stored names do not match their counts');
  const roots = new Map<string, number>();
  for (const root of header.walkRoots ?? []) {
    if (!Array.isArray(root) || typeof root[0] !== 'string' || !Number.isInteger(root[1]) || root[1] < 0 || root[1] >= folderCount) {
      throw new Error('a stored walk root points past its table');
    }
    roots.set(root[0], root[1]);
  }
  return { roots, folderMtimes, folderCounts, firstName, links, names, nameAt, firstContext: nameCount, cursorNumbers, contextIds };
}

/** Format 4's reading state: part one (as a QuickIndex) and part two (`sections`, standing at its start). */
function readingFromParts(header: Header, quick: QuickIndex, sections: Sections): ReadingState {
  const cursorCount = header.cursorCount ?? 0;
  const contextCount = header.contextCount ?? 0;
  const folderCount = header.folderCount ?? 0;
  const lengths = sections.next(Uint32Array, cursorCount * 2 + folderCount);
  const bytes = sections.next(Uint8Array, header.restBytes ?? 0);
  const text = new StoredText(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'), lengths);
  const paths = text.take(cursorCount);
  const tails = text.take(cursorCount);
  const { names, nameAt, folderCounts, folderMtimes, firstName, firstContext, contextIds } = quick;
  const contexts: string[] = [];
  for (let i = firstContext; i < firstContext + contextCount; i++) contexts.push(names.slice(nameAt[i], nameAt[i + 1]));
  const cursors = cursorsFrom(quick.cursorNumbers, contextIds, paths, tails, contexts);
  const listings: Array<[string, ...FolderListing]> = [];
  for (let f = 0; f < folderCount; f++) {
    const key = text.next();
    const files: string[] = [];
    const subfolders: string[] = [];
    const first = firstName[f];
    const fileEnd = first + folderCounts[f * 2];
    const end = fileEnd + folderCounts[f * 2 + 1];
    for (let n = first; n < fileEnd; n++) files.push(names.slice(nameAt[n], nameAt[n + 1]));
    for (let n = fileEnd; n < end; n++) subfolders.push(names.slice(nameAt[n], nameAt[n + 1]));
    listings.push([key, folderMtimes[f], files, subfolders]);
  }
  text.end();
  return { cursors, folders: new FolderIndex(listings) };
}

/**
 * Strings stored one after the other in a text, taken in order by their stored lengths. The lengths come from the
 * file: each is checked against what is there before it is trusted (a damaged count must fail the load, not
 * allocate without bound).
 */
class StoredText {
  private at = 0;
  private taken = 0;

  constructor(
    private readonly text: string,
    private readonly lengths: Uint32Array,
  ) {}

  next(): string {
    if (this.taken >= this.lengths.length) throw new Error('the stored names do not match their counts');
    const length = this.lengths[this.taken++];
    if (this.at + length > this.text.length) throw new Error('a stored name runs past the end of its text');
    return this.text.slice(this.at, (this.at += length));
  }

  take(count: number): string[] {
    const strings: string[] = [];
    for (let i = 0; i < count; i++) strings.push(this.next());
    return strings;
  }

  /** Throws unless every length and every character was taken. */
  end(): void {
    if (this.taken !== this.lengths.length || this.at !== this.text.length) throw new Error('the stored names do not match their counts');
  }
}

/** The cursors from their stored numbers (offset, size, mtimeMs, ino each), context indices, paths and tails. */
function cursorsFrom(numbers: Float64Array, contextIds: Int32Array, paths: string[], tails: string[], contexts: string[]): Map<string, FileCursor> {
  const cursors = new Map<string, FileCursor>();
  // Indexed, without destructuring: this runs once per start, before anything is optimised, over every file.
  for (let i = 0; i < paths.length; i++) {
    const context = contextIds[i];
    cursors.set(paths[i], {
      offset: numbers[i * 4],
      size: numbers[i * 4 + 1],
      mtimeMs: numbers[i * 4 + 2],
      ino: numbers[i * 4 + 3],
      tail: tails[i],
      context: context >= 0 ? contexts[context] : undefined,
    });
  }
  return cursors;
}

/** Format 3's reading state: the typed sections after the header, and the text holding every path and name. */
function readingFromFormat3(header: Header, sections: Sections): ReadingState {
  const cursorCount = header.cursorCount ?? 0;
  const contextCount = header.contextCount ?? 0;
  const folderCount = header.folderCount ?? 0;
  const nameCount = header.nameCount ?? 0;
  const numbers = sections.next(Float64Array, cursorCount * 4);
  const contextIds = sections.next(Int32Array, cursorCount);
  const folderMtimes = sections.next(Float64Array, folderCount);
  const folderCounts = sections.next(Uint32Array, folderCount * 2);
  const lengths = sections.next(Uint32Array, cursorCount * 2 + contextCount + folderCount + nameCount);
  const textBytes = sections.next(Uint8Array, header.textBytes ?? 0);
  const text = new StoredText(Buffer.from(textBytes.buffer, textBytes.byteOffset, textBytes.length).toString('utf8'), lengths);
  let listed = 0;
  for (let f = 0; f < folderCount * 2; f++) listed += folderCounts[f];
  if (listed !== nameCount) throw new Error('the stored names do not match their counts');
  const paths = text.take(cursorCount);
  const tails = text.take(cursorCount);
  const contexts = text.take(contextCount);
  const cursors = cursorsFrom(numbers, contextIds, paths, tails, contexts);
  const keys = text.take(folderCount);
  const listings: Array<[string, ...FolderListing]> = [];
  for (let f = 0; f < folderCount; f++) {
    const files = text.take(folderCounts[f * 2]);
    const subfolders = text.take(folderCounts[f * 2 + 1]);
    listings.push([keys[f], folderMtimes[f], files, subfolders]);
  }
  text.end();
  return { cursors, folders: new FolderIndex(listings) };
}

const STALE_TEMPORARY_MS = 10 * 60_000;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether a process with this pid exists (EPERM: it does, and is someone else's). Signal 0 only asks. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export class StateStore {
  readonly file: string;
  private readonly lockFile: string;

  constructor(readonly dir: string) {
    this.file = path.join(dir, STATE_FILE);
    this.lockFile = path.join(dir, LOCK_FILE);
  }

  /**
   * Loads the state; with `deferRecords`, the records and (format 4) most of the reading state are read only when
   * first needed.
   */
  load(prices: PriceBook, options: { deferRecords?: boolean } = {}): LoadOutcome {
    let fd: number | undefined;
    let identity: FileIdentity | undefined;
    try {
      if (options.deferRecords) {
        fd = fs.openSync(this.file, 'r');
        const stat = fs.fstatSync(fd);
        identity = identityOf(stat);
        const loaded = loadDeferred(fd, stat.size, prices);
        if ('whole' in loaded) return { kind: 'loaded', state: loaded.whole, identity };
        fd = undefined; // the deferred reads hold it now
        return { kind: 'deferred', state: loaded.deferred, identity };
      }
      // Read whole at once: damage shows now, and the file is looked at by name (a replacement in between only
      // means the identity names the older file, which is then not set aside).
      const stat = fs.statSync(this.file);
      identity = identityOf(stat);
      return { kind: 'loaded', state: decodeState(fs.readFileSync(this.file), prices), identity };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { kind: 'missing' };
      if (isReadError(error)) return { kind: 'unreadable', reason: `cannot read ${this.file}: ${(error as Error).message}` };
      return { kind: 'corrupt', reason: `${this.file}: ${(error as Error).message}`, identity };
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /**
   * Moves a damaged state file aside (`ledger.bin.corrupt-<time>`), under the writers' lock, if the file there is
   * still `identity`, the one found damaged: a file another process has saved since is sound, and is merged at the
   * next save. Answers where the damaged file went, that it was replaced (or is gone), or why it could not be moved
   * (a folder that cannot be written: it stays, and the next save that can write replaces it).
   */
  setAside(identity: FileIdentity | undefined): { movedTo: string } | { replaced: true } | { failed: string } {
    let release: (() => void) | undefined;
    try {
      release = this.lock();
      if (identity) {
        const now = identityOf(fs.statSync(this.file));
        if (now.dev !== identity.dev || now.ino !== identity.ino || now.size !== identity.size || now.mtimeMs !== identity.mtimeMs) return { replaced: true };
      }
      const kept = `${this.file}.corrupt-${Date.now()}`;
      fs.renameSync(this.file, kept);
      return { movedTo: kept };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { replaced: true }; // gone already
      return { failed: (error as Error).message };
    } finally {
      release?.();
    }
  }

  /**
   * Writes the state atomically. If another process saved since `loadedGeneration`, its records and cursors are
   * merged in first. Returns the new generation.
   */
  save(ledger: Ledger, reading: ReadingState, loadedGeneration: string | undefined): string {
    const { cursors } = reading;
    makeDirectory(this.dir);
    const release = this.lock();
    try {
      this.removeStaleTemporaries();
      const current = this.load(ledger.prices);
      // Writing now would replace records this process has never seen.
      if (current.kind === 'unreadable') throw new Error(current.reason);
      if (current.kind === 'loaded' && current.state.generation !== loadedGeneration) {
        ledger.mergeFrom(current.state.ledger);
        for (const [file, theirs] of current.state.cursors) {
          const ours = cursors.get(file);
          // Their records are merged, so their further-read cursor is safe to adopt.
          if (!ours || (ours.ino === theirs.ino && theirs.offset > ours.offset)) cursors.set(file, theirs);
        }
      }
      const generation = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
      const data = encodeState(ledger, reading, generation);
      const temporary = `${this.file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
      try {
        const fd = fs.openSync(temporary, 'w');
        try {
          let expected = 0;
          for (const part of data) expected += part.length;
          // One system call for the ~30 parts; a short write (a full disk) must not become a truncated state file.
          const written = fs.writevSync(fd, data, 0);
          if (written !== expected) throw new Error(`short write: ${written} of ${expected} bytes`);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(temporary, this.file);
      } catch (error) {
        fs.rmSync(temporary, { force: true });
        throw error;
      }
      return generation;
    } finally {
      release();
    }
  }

  /**
   * Removes the temporary files of writers that died before renaming them (a crash, a killed process): this state
   * file's and the report cache's, named after their writer's pid. Only those whose pid is gone and that are older
   * than ten minutes (a write takes milliseconds; a pid seen from another container may look gone).
   */
  private removeStaleTemporaries(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    const ours = new RegExp(`^(?:${escapeRegExp(STATE_FILE)}\\.(\\d+)\\.[a-z0-9]+|report-cache\\.txt\\.(\\d+))\\.tmp$`);
    for (const name of names) {
      const match = ours.exec(name);
      if (!match) continue;
      const pid = Number(match[1] ?? match[2]);
      if (!(pid > 0) || pid === process.pid || isAlive(pid)) continue;
      const file = path.join(this.dir, name);
      try {
        if (Date.now() - fs.statSync(file).mtimeMs > STALE_TEMPORARY_MS) fs.rmSync(file, { force: true });
      } catch {
        // gone already, or not ours to remove
      }
    }
  }

  /**
   * A lock file held only while writing. A lock left by a dead process or older than 30 s is taken over at once, and
   * any lock after 10 s of waiting (a save takes milliseconds: its holder is stuck). Writes stay atomic either way;
   * two writers at once can only make the later one miss the other's newest records until its next save.
   */
  private lock(): () => void {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const fd = fs.openSync(this.lockFile, 'wx');
        fs.writeSync(fd, String(process.pid));
        fs.closeSync(fd);
        return () => fs.rmSync(this.lockFile, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        if (this.lockIsStale() || Date.now() > deadline) {
          fs.rmSync(this.lockFile, { force: true });
          continue;
        }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
  }

  private lockIsStale(): boolean {
    try {
      const stat = fs.statSync(this.lockFile);
      if (Date.now() - stat.mtimeMs > 30_000) return true;
      const pid = Number(fs.readFileSync(this.lockFile, 'utf8'));
      if (!Number.isInteger(pid) || pid <= 0) return Date.now() - stat.mtimeMs > 1_000;
      return !isAlive(pid);
    } catch {
      return false;
    }
  }
}
