// The ledger's dedupe keys: one UTF-8 byte string (keys separated by newlines, exactly as the state file stores
// them) and an open-addressing hash table of row numbers over it.
//
// A Map of strings held every key as a JS object for the life of the process: on a cold scan of a large history
// that is tens of thousands of strings surviving young-generation collections, copied and promoted, and pages of
// heap touched for the first time (on some virtual machines a page fault costs ~12 µs). Here a key is bytes in one
// buffer and an int in a typed array; it is decoded to a string only when a record is shown. Loading the state file
// adopts its keys as they are, and saving writes them back as they are.

const NEWLINE = 0x0a;
const EMPTY = -1;

export class KeyStore {
  /** The keys, newline-separated (none after the last); `used` bytes of it are in use. */
  private bytes: Buffer;
  private used: number;
  /** Row -> offset of its key in `bytes`; built from the bytes on first need for keys that were loaded. */
  private starts: Int32Array;
  private count: number;
  private startsKnown: boolean;
  /** Hash table of rows (EMPTY where free), sized to a power of two at most half full; null until first needed. */
  private table: Int32Array | null = null;
  /** The UTF-8 of the last key looked up or added (`wide` when longer than `scratch`), and that key. */
  private readonly scratch = Buffer.allocUnsafe(1024);
  private wide: Buffer | null = null;
  private encoded: string | null = null;
  private encodedLength = 0;
  private encodedHash = 0;

  /** Keys as stored (may be empty); `count` must be how many there are. */
  constructor(stored: Buffer = Buffer.alloc(0), count = 0) {
    this.bytes = stored;
    this.used = stored.length;
    this.count = count;
    this.starts = new Int32Array(Math.max(16, count));
    this.startsKnown = count === 0;
  }

  get size(): number {
    return this.count;
  }

  /** The keys as the state file stores them. */
  serialize(): Buffer {
    return this.bytes.subarray(0, this.used);
  }

  key(row: number): string {
    this.knowStarts();
    return this.bytes.toString('utf8', this.starts[row], this.end(row));
  }

  /** The row of `key`, or -1. */
  find(key: string): number {
    const length = this.encode(key);
    const table = this.index();
    const mask = table.length - 1;
    const probe = this.scratchBytes(length);
    for (let slot = this.encodedHash & mask; ; slot = (slot + 1) & mask) {
      const row = table[slot];
      if (row === EMPTY) return -1;
      if (this.equals(row, probe, length)) return row;
    }
  }

  /** Adds `key` (not present) as the next row; returns that row. */
  add(key: string): number {
    const length = this.encode(key);
    this.knowStarts();
    const separator = this.count > 0 ? 1 : 0;
    this.reserve(this.used + separator + length);
    if (separator) this.bytes[this.used++] = NEWLINE;
    const start = this.used;
    // A loop, not Buffer#copy: keys are short, and copy() makes a view object per call.
    const from = this.scratchBytes(length);
    const bytes = this.bytes;
    for (let k = 0; k < length; k++) bytes[start + k] = from[k];
    this.used += length;
    if (this.count === this.starts.length) {
      const grown = new Int32Array(this.starts.length * 2);
      grown.set(this.starts);
      this.starts = grown;
    }
    const row = this.count++;
    this.starts[row] = start;
    if (this.table) {
      if (this.count * 2 > this.table.length) this.table = null; // rebuilt, larger, on next use
      else insert(this.table, row, this.encodedHash); // the hash of the same bytes, from encode()
    }
    return row;
  }

  private end(row: number): number {
    return row + 1 < this.count ? this.starts[row + 1] - 1 : this.used;
  }

  private equals(row: number, probe: Buffer, length: number): boolean {
    const start = this.starts[row];
    if (this.end(row) - start !== length) return false;
    const bytes = this.bytes;
    for (let k = 0; k < length; k++) if (bytes[start + k] !== probe[k]) return false;
    return true;
  }

  /**
   * UTF-8 of `key` into the scratch buffer (or `wide`) and its hash; returns its length. A lookup then an add of the
   * same key encode and hash it once.
   */
  private encode(key: string): number {
    if (key === this.encoded) return this.encodedLength;
    this.encoded = key;
    this.wide = null;
    let length = -1;
    // Keys are ASCII nearly always: copy char codes, and let Buffer#write handle anything else.
    if (key.length <= this.scratch.length) {
      let k = 0;
      for (; k < key.length; k++) {
        const code = key.charCodeAt(k);
        if (code >= 0x80 || code === NEWLINE) break;
        this.scratch[k] = code;
      }
      if (k === key.length) length = k;
    }
    if (length < 0) {
      // A newline separates keys in `bytes` (and in the state file): one inside a key is stored as U+2424 (␤).
      const text = key.includes('\n') ? key.replaceAll('\n', '\u2424') : key;
      length = Buffer.byteLength(text, 'utf8');
      if (length > this.scratch.length) this.wide = Buffer.allocUnsafe(length);
      (this.wide ?? this.scratch).write(text, 0, length, 'utf8');
    }
    this.encodedHash = hashBytes(this.scratchBytes(length), 0, length);
    return (this.encodedLength = length);
  }

  private scratchBytes(length: number): Buffer {
    return this.wide && this.wide.length >= length ? this.wide : this.scratch;
  }

  private reserve(size: number): void {
    if (size <= this.bytes.length) return;
    // From a small size, so that growing happens early, before V8 optimises add() (see INITIAL_ROWS in ledger.ts).
    const grown = Buffer.allocUnsafe(Math.max(size, this.bytes.length * 2, 4096));
    this.bytes.copy(grown, 0, 0, this.used);
    this.bytes = grown;
  }

  /** Row offsets of keys that were loaded: found by their separators. */
  private knowStarts(): void {
    if (this.startsKnown) return;
    this.startsKnown = true;
    if (this.starts.length < this.count) this.starts = new Int32Array(this.count);
    let at = 0;
    for (let row = 0; row < this.count; row++) {
      this.starts[row] = at;
      const newline = this.bytes.indexOf(NEWLINE, at);
      at = newline < 0 || newline >= this.used ? this.used : newline + 1;
    }
  }

  private index(): Int32Array {
    if (this.table) return this.table;
    this.knowStarts();
    let capacity = 64;
    while (capacity < this.count * 2 + 2) capacity *= 2;
    const table = new Int32Array(capacity).fill(EMPTY);
    for (let row = 0; row < this.count; row++) insert(table, row, hashBytes(this.bytes, this.starts[row], this.end(row)));
    this.table = table;
    return table;
  }
}

function insert(table: Int32Array, row: number, hash: number): void {
  const mask = table.length - 1;
  let slot = hash & mask;
  while (table[slot] !== EMPTY) slot = (slot + 1) & mask;
  table[slot] = row;
}

/** FNV-1a over bytes, then mixed so that the low bits (the slot) depend on every byte. */
function hashBytes(bytes: Buffer, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let k = start; k < end; k++) hash = Math.imul(hash ^ bytes[k], 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash >>> 0;
}
