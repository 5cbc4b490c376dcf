// A tiny, allocation-free JSON walker over a Buffer slice.
//
// Agent logs are dominated by bytes we do not need (tool results, file contents, thinking). JSON.parse would
// materialise every one of them as a JS string; walking the structure and jumping over string bodies with
// Buffer.indexOf (memchr) lets the hot path touch only the dozen fields that carry usage. Every function
// returns the index just past what it consumed, or -1 when the input is not well-formed JSON there.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

export function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

export function skipWhitespace(buf: Uint8Array, i: number, end: number): number {
  while (i < end && isWhitespace(buf[i])) i++;
  return i;
}

/** `i` points at the opening quote. Returns the index just past the closing quote, or -1. */
export function skipString(buf: Buffer, i: number, end: number): number {
  // Short strings (keys, ids) are cheaper to walk by hand than to hand to indexOf.
  let j = i + 1;
  const shortLimit = Math.min(end, j + 24);
  while (j < shortLimit) {
    const byte = buf[j];
    if (byte === QUOTE) return j + 1;
    if (byte === BACKSLASH) j += 2;
    else j++;
  }
  for (;;) {
    if (j >= end) return -1;
    const quote = buf.indexOf(QUOTE, j);
    if (quote < 0 || quote >= end) return -1;
    // The quote is escaped when an odd number of backslashes precede it.
    let backslashes = 0;
    let k = quote - 1;
    while (k > i && buf[k] === BACKSLASH) {
      backslashes++;
      k--;
    }
    if ((backslashes & 1) === 0) return quote + 1;
    j = quote + 1;
  }
}

/** Skips any JSON value starting at `i` (no leading whitespace). Returns the index after it, or -1. */
export function skipValue(buf: Buffer, i: number, end: number): number {
  if (i >= end) return -1;
  const first = buf[i];
  if (first === QUOTE) return skipString(buf, i, end);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    let j = i;
    while (j < end) {
      const byte = buf[j];
      if (byte === QUOTE) {
        j = skipString(buf, j, end);
        if (j < 0) return -1;
        continue;
      }
      if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return -1;
  }
  // number, true, false, null
  let j = i;
  while (j < end) {
    const byte = buf[j];
    if (byte === COMMA || byte === CLOSE_BRACE || byte === CLOSE_BRACKET || isWhitespace(byte)) break;
    j++;
  }
  return j > i ? j : -1;
}

/** Decodes the string whose quotes sit at `start` and `end - 1`. */
export function decodeString(buf: Buffer, start: number, end: number): string {
  // Only strings with escapes need the full JSON decoder.
  // Decoded strings are short (ids, model names, paths): a loop beats indexOf, which would search past `end`.
  let escaped = false;
  for (let k = start + 1; k < end - 1; k++) {
    if (buf[k] === BACKSLASH) {
      escaped = true;
      break;
    }
  }
  if (!escaped) return buf.toString('utf8', start + 1, end - 1);
  try {
    return JSON.parse(buf.toString('utf8', start, end)) as string;
  } catch {
    // An escape JSON does not allow (`"C:\q"`, written by a careless tool): the scanner accepted the string, so keep
    // its text rather than fail the whole file on it.
    return buf.toString('utf8', start + 1, end - 1);
  }
}

/**
 * Reads a JSON number at [start, end). Token counts are non-negative integers in practice; anything else falls
 * back to Number(). `null` reads as 0 (third-party gateways write nulls for absent counts). Returns NaN for
 * anything that is not a number or null.
 */
export function decodeNumber(buf: Buffer, start: number, end: number): number {
  let value = 0;
  let i = start;
  for (; i < end; i++) {
    const digit = buf[i] - 0x30;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  if (i === end && end > start) return value;
  const text = buf.toString('latin1', start, end);
  if (text === 'null') return 0;
  const parsed = Number(text);
  return text.length > 0 && Number.isFinite(parsed) ? parsed : Number.NaN;
}

/** Precomputed key bytes, compared without decoding the key. */
export function keyBytes(key: string): Uint8Array {
  return Buffer.from(key, 'latin1');
}

/** True when the key whose quotes sit at `start` and `end - 1` equals `key`. */
export function keyEquals(buf: Buffer, start: number, end: number, key: Uint8Array): boolean {
  const length = end - start - 2;
  if (length !== key.length) return false;
  for (let k = 0; k < length; k++) {
    if (buf[start + 1 + k] !== key[k]) return false;
  }
  return true;
}

/**
 * Called for each member of an object: returns the index just past the value it consumed (skipValue for members it
 * ignores), or -1 to abort. A plain function plus a state object, so that walking allocates nothing.
 */
export type MemberVisitor<T> = (buf: Buffer, keyStart: number, keyEnd: number, valueStart: number, end: number, state: T) => number;

/**
 * Walks the members of the object whose `{` is at `i`. Returns the index after the closing `}`, or -1 when
 * malformed or aborted by the visitor.
 */
export function walkObject<T>(buf: Buffer, i: number, end: number, visit: MemberVisitor<T>, state: T): number {
  if (i >= end || buf[i] !== OPEN_BRACE) return -1;
  let j = skipWhitespace(buf, i + 1, end);
  if (j < end && buf[j] === CLOSE_BRACE) return j + 1;
  for (;;) {
    if (j >= end || buf[j] !== QUOTE) return -1;
    const keyStart = j;
    const keyEnd = skipString(buf, j, end);
    if (keyEnd < 0) return -1;
    j = skipWhitespace(buf, keyEnd, end);
    if (buf[j] !== COLON) return -1;
    j = skipWhitespace(buf, j + 1, end);
    j = visit(buf, keyStart, keyEnd, j, end, state);
    if (j < 0) return -1;
    j = skipWhitespace(buf, j, end);
    if (j >= end) return -1;
    const byte = buf[j];
    if (byte === CLOSE_BRACE) return j + 1;
    if (byte !== COMMA) return -1;
    j = skipWhitespace(buf, j + 1, end);
  }
}
