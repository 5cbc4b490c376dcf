// Persistence of the ledger and the file cursors in one binary file.
//
// Layout (format 3), in two parts with a CRC-32 each:
//  1. magic, header length, a small header JSON (record count, interned strings, price version, generation, section
//     sizes), then the reading state: the cursors' numbers and context indices, the folder listings' mtimes and entry
//     counts, and every path and name as one UTF-8 text with each one's length (in UTF-16 units, for slicing);
//  2. the records: their keys (newline separated), then each ledger column's raw bytes.
// Typed sections are 8-byte aligned in the file. A start reads part 1 (thousands of cursors without parsing JSON for
// them) and, in the CLI, part 2 only when something is added or a report must be built. Format 2 (the reading state
// inside the header JSON, one checksum) is still read.
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
import { FolderIndex, type FolderListing } from './folderIndex';
import type { FileCursor } from './tail';

const MAGIC = Buffer.from('AGSPEND1', 'latin1');
const FORMAT_VERSION = 3;
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
  /** Format 3: how many cursors, distinct cursor contexts, folder listings, names in them; the text's bytes. */
  cursorCount?: number;
  contextCount?: number;
  folderCount?: number;
  nameCount?: number;
  textBytes?: number;
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

export type LoadOutcome =
  | { kind: 'loaded'; state: LoadedState }
  | { kind: 'missing' }
  /** The file is there but could not be read (permissions, EMFILE, EIO...): not damaged, and not to be replaced. */
  | { kind: 'unreadable'; reason: string }
  | { kind: 'corrupt'; reason: string };

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
  return path.join(env.XDG_STATE_HOME || path.join(home, '.local', 'state'), 'agent-spend');
}

/** $AGENT_SPEND_CACHE_DIR, else the platform's per-user cache folder (caches only save time; safe to delete). */
export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  if (env.AGENT_SPEND_CACHE_DIR) return path.resolve(env.AGENT_SPEND_CACHE_DIR);
  const home = env.HOME || env.USERPROFILE || os.homedir();
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'agent-spend', 'cache');
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'agent-spend');
  return path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'agent-spend');
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
  // The reading state: numbers in typed arrays, every string in one text (lengths in UTF-16 units, for slicing).
  const cursorCount = reading.cursors.size;
  const cursorNumbers = new Float64Array(cursorCount * 4);
  const cursorContexts = new Int32Array(cursorCount);
  const paths: string[] = [];
  const tails: string[] = [];
  const contextIds = new Map<string, number>();
  let i = 0;
  for (const [file, c] of reading.cursors) {
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
  const folderMtimes = new Float64Array(folders.length);
  const folderCounts = new Uint32Array(folders.length * 2);
  const folderKeys: string[] = [];
  const names: string[] = [];
  folders.forEach(([dir, mtimeMs, files, subfolders], f) => {
    folderKeys.push(dir);
    folderMtimes[f] = mtimeMs;
    folderCounts[f * 2] = files.length;
    folderCounts[f * 2 + 1] = subfolders.length;
    for (const name of files) names.push(name);
    for (const name of subfolders) names.push(name);
  });
  const texts = [...paths, ...tails, ...contextIds.keys(), ...folderKeys, ...names];
  const lengths = new Uint32Array(texts.length);
  for (let t = 0; t < texts.length; t++) lengths[t] = texts[t].length;
  const text = Buffer.from(texts.join(''), 'utf8');

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
    textBytes: text.length,
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
  // Part one, what every start needs: the reading state, then its checksum.
  push(cursorNumbers);
  push(cursorContexts);
  push(folderMtimes);
  push(folderCounts);
  push(lengths);
  push(text);
  const checksumA = Buffer.alloc(4);
  checksumA.writeUInt32LE(crc32Parts(parts), 0);
  parts.push(checksumA);
  offset += 4;
  // Part two, the records, needed only when something is added or a report is built: keys, columns, checksum.
  const recordsFrom = parts.length;
  parts.push(keys);
  offset += keys.length;
  for (const name of COLUMN_NAMES) {
    const column = ledger.columns[name];
    push(column, ledger.size * column.BYTES_PER_ELEMENT);
  }
  const checksumB = Buffer.alloc(4);
  checksumB.writeUInt32LE(crc32Parts(parts.slice(recordsFrom)), 0);
  parts.push(checksumB);
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
  if (header.format !== FORMAT_VERSION && header.format !== FORMAT_JSON_READING) {
    throw new Error(`written by a different version of Agent Spend (state format ${header.format}, this one reads ${FORMAT_VERSION})`);
  }
  if (!Number.isInteger(header.size) || header.size < 0) throw new Error('the record count is not a count');
  return { header, end: start + headerLength };
}

/** Where each section of format 3's reading state starts, and its bytes, from the header's counts alone. */
function readingSections(header: Header, headerEnd: number): Array<{ start: number; bytes: number }> {
  const cursors = header.cursorCount ?? 0;
  const folders = header.folderCount ?? 0;
  const sizes = [cursors * 32, cursors * 4, folders * 8, folders * 8, 4 * (cursors * 2 + (header.contextCount ?? 0) + folders + (header.nameCount ?? 0))];
  const sections: Array<{ start: number; bytes: number }> = [];
  let offset = headerEnd;
  for (const bytes of [...sizes, header.textBytes ?? 0]) {
    sections.push({ start: align8(offset), bytes });
    offset = align8(offset) + bytes;
  }
  return sections;
}

/** Where format 3's reading state ends (its checksum follows), from the header's counts alone. */
export function readingEnd(header: Header, headerEnd: number): number {
  const last = readingSections(header, headerEnd).at(-1)!;
  return last.start + last.bytes;
}

/**
 * Whether the reading state's checksum holds. Files written before November 2026 carry a wrong one where a section
 * was empty (no cursors, say, once every log was deleted): Node's zlib.crc32 restarted from 0 at an empty typed array (see
 * crc32()), so the sum covered only the bytes after the last empty section. Such a file is taken as written, or the
 * records of those deleted logs would be set aside with it.
 */
function readingIntact(data: Buffer, header: Header, headerEnd: number, textEnd: number): boolean {
  const stored = data.readUInt32LE(textEnd);
  if (crc32(data.subarray(0, textEnd)) === stored) return true;
  return readingSections(header, headerEnd).some(({ start, bytes }) => bytes === 0 && crc32(data.subarray(start, textEnd)) === stored);
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

/** A whole state file's bytes, decoded at once (format 3 or 2). */
export function decodeState(data: Buffer, prices: PriceBook): LoadedState {
  const { header, end } = parseHeader(data);
  if (header.format === FORMAT_JSON_READING) return decodeFormat2(data, header, end, prices);
  const textEnd = readingEnd(header, end);
  if (textEnd + 8 > data.length) throw new Error('the file is shorter than its header says (truncated)');
  if (!readingIntact(data, header, end, textEnd)) throw new Error('checksum mismatch (truncated or damaged)');
  const reading = readingFromSections(header, new Sections(data, end, textEnd));
  const recordsEnd = data.length - 4;
  if (crc32(data.subarray(textEnd + 4, recordsEnd)) !== data.readUInt32LE(recordsEnd)) {
    throw new Error('checksum mismatch in the records (truncated or damaged)');
  }
  const records = decodeRecords(header, new Sections(data, textEnd + 4, recordsEnd));
  const ledger = new Ledger(prices, { strings: header.strings, size: header.size, ...records });
  if (header.priceVersion !== prices.version) ledger.reprice();
  return { ledger, ...reading, generation: header.generation };
}

/**
 * Reads a state file's first part only (what a start needs to see whether anything changed); the records are read
 * from the same open file when the ledger first needs them (a damaged record part then throws from there, see
 * Engine.ensureRecords()). Format 2 files, and files whose prices changed, are read whole.
 */
function loadDeferred(file: string, prices: PriceBook): LoadedState {
  const fd = fs.openSync(file, 'r');
  let handedOver = false;
  try {
    const size = fs.fstatSync(fd).size;
    /** `length` bytes of the file from `from`. */
    const read = (from: number, length: number, into = Buffer.allocUnsafeSlow(length), at = 0): Buffer => {
      for (let done = 0; done < length; ) {
        const got = fs.readSync(fd, into, at + done, length - done, from + done);
        if (got <= 0) throw new Error('the file is shorter than its header says (truncated)');
        done += got;
      }
      return into;
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
    if (header.format === FORMAT_JSON_READING || header.priceVersion !== prices.version) return decodeState(prefix(first, size), prices);
    const textEnd = readingEnd(header, end);
    if (textEnd + 8 > size) throw new Error('the file is shorter than its header says (truncated)');
    const partA = prefix(first, textEnd + 4);
    if (!readingIntact(partA, header, end, textEnd)) throw new Error('checksum mismatch (truncated or damaged)');
    const reading = readingFromSections(header, new Sections(partA, end, textEnd));
    const loadRecords = (): { columns: LedgerColumns; keysBlob: Buffer } => {
      try {
        // Read from an 8-byte boundary of the file, so that the columns (aligned in the file) are aligned in memory.
        const from = textEnd + 4;
        const start = from - (from % 8);
        const part = read(start, size - start);
        if (crc32(part.subarray(from - start, part.length - 4)) !== part.readUInt32LE(part.length - 4)) {
          throw new Error('checksum mismatch in the records (truncated or damaged)');
        }
        return decodeRecords(header, new Sections(part, from - start, part.length - 4, start));
      } finally {
        fs.closeSync(fd);
      }
    };
    const ledger = new Ledger(prices, { strings: header.strings, size: header.size, load: loadRecords });
    handedOver = true;
    return { ledger, ...reading, generation: header.generation };
  } finally {
    if (!handedOver) fs.closeSync(fd);
  }
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

/** Format 3's reading state: the typed sections after the header, and the text holding every path and name. */
function readingFromSections(header: Header, sections: Sections): ReadingState {
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
  const text = Buffer.from(textBytes.buffer, textBytes.byteOffset, textBytes.length).toString('utf8');
  let at = 0;
  let t = 0;
  // Counts come from the file: check each against what is there before trusting it (a damaged count must fail
  // the load, not allocate without bound).
  const next = (): string => {
    if (t >= lengths.length) throw new Error('the stored names do not match their counts');
    const length = lengths[t++];
    if (at + length > text.length) throw new Error('a stored name runs past the end of its text');
    return text.slice(at, (at += length));
  };
  let listed = 0;
  for (let f = 0; f < folderCount * 2; f++) listed += folderCounts[f];
  if (listed !== nameCount) throw new Error('the stored names do not match their counts');
  const paths: string[] = [];
  for (let i = 0; i < cursorCount; i++) paths.push(next());
  const tails: string[] = [];
  for (let i = 0; i < cursorCount; i++) tails.push(next());
  const contexts: string[] = [];
  for (let i = 0; i < contextCount; i++) contexts.push(next());
  const cursors = new Map<string, FileCursor>();
  for (let i = 0; i < cursorCount; i++) {
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
  const keys: string[] = [];
  for (let f = 0; f < folderCount; f++) keys.push(next());
  const listings: Array<[string, ...FolderListing]> = [];
  for (let f = 0; f < folderCount; f++) {
    const files: string[] = [];
    for (let k = folderCounts[f * 2]; k > 0; k--) files.push(next());
    const subfolders: string[] = [];
    for (let k = folderCounts[f * 2 + 1]; k > 0; k--) subfolders.push(next());
    listings.push([keys[f], folderMtimes[f], files, subfolders]);
  }
  if (t !== lengths.length || at !== text.length) throw new Error('the stored names do not match their counts');
  return { cursors, folders: new FolderIndex(listings) };
}

export class StateStore {
  readonly file: string;
  private readonly lockFile: string;

  constructor(readonly dir: string) {
    this.file = path.join(dir, STATE_FILE);
    this.lockFile = path.join(dir, LOCK_FILE);
  }

  /** Loads the state; with `deferRecords`, the records are read only when the ledger first needs them. */
  load(prices: PriceBook, options: { deferRecords?: boolean } = {}): LoadOutcome {
    try {
      if (options.deferRecords) return { kind: 'loaded', state: loadDeferred(this.file, prices) };
      return { kind: 'loaded', state: decodeState(fs.readFileSync(this.file), prices) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { kind: 'missing' };
      if (isReadError(error)) return { kind: 'unreadable', reason: `cannot read ${this.file}: ${(error as Error).message}` };
      return { kind: 'corrupt', reason: `${this.file}: ${(error as Error).message}` };
    }
  }

  /**
   * Writes the state atomically. If another process saved since `loadedGeneration`, its records and cursors are
   * merged in first. Returns the new generation.
   */
  save(ledger: Ledger, reading: ReadingState, loadedGeneration: string | undefined): string {
    const { cursors } = reading;
    fs.mkdirSync(this.dir, { recursive: true });
    const release = this.lock();
    try {
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
      try {
        process.kill(pid, 0);
        return false;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'ESRCH';
      }
    } catch {
      return false;
    }
  }
}
