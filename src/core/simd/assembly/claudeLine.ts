// The Claude Code line scanner, compiled to WebAssembly (AssemblyScript; built into claudeLineWasm.ts by
// `node scripts/build-wasm.js`). It is scanClaudeLine() in ../../sources/claudeCode.ts, step for step, over a line
// in the shared read block: same fields, same order, same answer for every input. Where the JavaScript scanner reads
// something this one does not (a cost written into the log, a count that is not plain digits) it answers -1 and the
// JavaScript scanner reads the line instead. A unit test runs both on every fixture and on thousands of mutated lines.
//
// Strings are skipped 16 bytes per step with SIMD; on the generated 1 GB corpus this scan took 45-60 ms where the
// JavaScript one took 135-145 ms.

// Where the engine put the key table and the result slots (set once by init()).
let KEYS: i32 = 0; // key k: its length (u8) at KEYS + k*32, its bytes from KEYS + k*32 + 1
let SLOTS: i32 = 0; // i32 results
let NUMS: i32 = 0; // f64 token counts

export function init(keys: i32, slots: i32, nums: i32): void {
  KEYS = keys;
  SLOTS = slots;
  NUMS = nums;
}

// Keys: indices into the table claudeScanner.ts writes (the same order as its KEY_NAMES).
const K_TYPE = 0, K_CWD = 1, K_SESSION = 2, K_TIMESTAMP = 3, K_REQUEST = 4, K_UUID = 5, K_SIDECHAIN = 6, K_APIERROR = 7,
  K_COST = 8, K_MESSAGE = 9, K_ID = 10, K_MODEL = 11, K_USAGE = 12, K_INPUT = 13, K_OUTPUT = 14, K_CC_INPUT = 15,
  K_CR_INPUT = 16, K_CACHE_CREATION = 17, K_EPH5M = 18, K_EPH1H = 19, K_SPEED = 20, K_ASSISTANT = 21;

// Result slots: the same indices as claudeScanner.ts reads.
const S_FLAGS = 0;
const F_NOT_ASSISTANT = 1, F_ASSISTANT = 2, F_SIDECHAIN = 4, F_API_ERROR = 8, F_USAGE = 16, F_CACHE_DETAIL = 32, F_FALLBACK = 64;
const S_CWD = 1, S_SESSION = 3, S_TIMESTAMP = 5, S_REQUEST = 7, S_UUID = 9, S_MESSAGE_ID = 11, S_MODEL = 13, S_SPEED = 15;
const SLOT_COUNT = 17;
const N_INPUT = 0, N_OUTPUT = 1, N_CACHE_CREATION = 2, N_CACHE_READ = 3, N_EPH5M = 4, N_EPH1H = 5;

const LEVEL_TOP = 0, LEVEL_MESSAGE = 1, LEVEL_USAGE = 2, LEVEL_CACHE = 3;

@inline function slot(s: i32): i32 { return load<i32>(SLOTS + (s << 2)); }
@inline function setSlot(s: i32, v: i32): void { store<i32>(SLOTS + (s << 2), v); }
@inline function flag(f: i32): void { setSlot(S_FLAGS, slot(S_FLAGS) | f); }
@inline function setNum(n: i32, v: f64): void { store<f64>(NUMS + (n << 3), v); }
@inline function byteAt(i: i32): i32 { return <i32>load<u8>(i); }
@inline function isWs(b: i32): bool { return b == 0x20 || b == 0x0a || b == 0x0d || b == 0x09; }

function skipWs(i: i32, end: i32): i32 {
  while (i < end && isWs(byteAt(i))) i++;
  return i;
}

/** The string token [start, end) (quotes included) equals key k. */
function is(start: i32, end: i32, k: i32): bool {
  const at = KEYS + (k << 5);
  const length = byteAt(at);
  if (end - start - 2 != length) return false;
  for (let j = 0; j < length; j++) if (byteAt(start + 1 + j) != byteAt(at + 1 + j)) return false;
  return true;
}

function skipString(i: i32, end: i32): i32 {
  let j = i + 1;
  const quote = i8x16.splat(0x22);
  const backslash = i8x16.splat(0x5c);
  while (j + 16 <= end) {
    const chunk = v128.load(j);
    const mask = i8x16.bitmask(v128.or(i8x16.eq(chunk, quote), i8x16.eq(chunk, backslash)));
    if (mask == 0) { j += 16; continue; }
    const at = j + ctz<i32>(mask);
    if (byteAt(at) == 0x22) return at + 1;
    j = at + 2;
  }
  while (j < end) {
    const b = byteAt(j);
    if (b == 0x22) return j + 1;
    j += b == 0x5c ? 2 : 1;
  }
  return -1;
}

function skipValue(i: i32, end: i32): i32 {
  if (i >= end) return -1;
  let b = byteAt(i);
  if (b == 0x22) return skipString(i, end);
  let j = i;
  if (b == 0x7b || b == 0x5b) {
    let depth = 0;
    while (j < end) {
      b = byteAt(j);
      if (b == 0x22) {
        j = skipString(j, end);
        if (j < 0) return -1;
        continue;
      }
      if (b == 0x7b || b == 0x5b) depth++;
      else if (b == 0x7d || b == 0x5d) {
        depth--;
        if (depth == 0) return j + 1;
      }
      j++;
    }
    return -1;
  }
  while (j < end) {
    b = byteAt(j);
    if (b == 0x2c || b == 0x7d || b == 0x5d || isWs(b)) break;
    j++;
  }
  return j > i ? j : -1;
}

/** A token count: plain digits are read here; anything else (null, a float, a string) is left to the JS scanner. */
function count(at: i32, end: i32, n: i32): i32 {
  const after = skipValue(at, end);
  if (after < 0) return -1;
  let value: f64 = 0;
  for (let j = at; j < after; j++) {
    const digit = byteAt(j) - 0x30;
    if (digit < 0 || digit > 9) { flag(F_FALLBACK); return after; }
    value = value * 10 + <f64>digit;
  }
  setNum(n, value);
  return after;
}

function record(s: i32, start: i32, end: i32): void {
  setSlot(s, start);
  setSlot(s + 1, end);
}

function visit(level: i32, ks: i32, ke: i32, vs: i32, end: i32): i32 {
  const length = ke - ks - 2;
  const b = byteAt(vs);
  const isString = b == 0x22;
  if (level == LEVEL_TOP) {
    // Past the type of another kind of record nothing more is read, only walked over (a torn record must not pass
    // for a whole one).
    if (slot(S_FLAGS) & F_NOT_ASSISTANT) return skipValue(vs, end);
    if (length == 4) {
      if (is(ks, ke, K_TYPE)) {
        const after = skipValue(vs, end);
        if (after < 0) return -1;
        if (!is(vs, after, K_ASSISTANT)) { flag(F_NOT_ASSISTANT); return after; }
        flag(F_ASSISTANT);
        return after;
      }
      if (isString && is(ks, ke, K_UUID)) { const after = skipString(vs, end); record(S_UUID, vs, after); return after; }
    } else if (length == 3) {
      if (isString && is(ks, ke, K_CWD)) { const after = skipString(vs, end); record(S_CWD, vs, after); return after; }
    } else if (length == 9) {
      if (isString) {
        const after = skipString(vs, end);
        if (is(ks, ke, K_SESSION)) record(S_SESSION, vs, after);
        else if (is(ks, ke, K_TIMESTAMP)) record(S_TIMESTAMP, vs, after);
        else if (is(ks, ke, K_REQUEST)) record(S_REQUEST, vs, after);
        return after;
      }
    } else if (length == 7) {
      if (b == 0x7b && is(ks, ke, K_MESSAGE)) return walk(vs, end, LEVEL_MESSAGE);
      if (is(ks, ke, K_COST)) { flag(F_FALLBACK); return skipValue(vs, end); }
    } else if (length == 11) {
      if (is(ks, ke, K_SIDECHAIN)) setSlot(S_FLAGS, b == 0x74 ? slot(S_FLAGS) | F_SIDECHAIN : slot(S_FLAGS) & ~F_SIDECHAIN);
    } else if (length == 17) {
      if (is(ks, ke, K_APIERROR)) setSlot(S_FLAGS, b == 0x74 ? slot(S_FLAGS) | F_API_ERROR : slot(S_FLAGS) & ~F_API_ERROR);
    }
    return skipValue(vs, end);
  }
  if (level == LEVEL_MESSAGE) {
    if (length == 2 && isString && is(ks, ke, K_ID)) { const after = skipString(vs, end); record(S_MESSAGE_ID, vs, after); return after; }
    if (length == 5) {
      if (isString && is(ks, ke, K_MODEL)) { const after = skipString(vs, end); record(S_MODEL, vs, after); return after; }
      if (b == 0x7b && is(ks, ke, K_USAGE)) { flag(F_USAGE); return walk(vs, end, LEVEL_USAGE); }
    }
    return skipValue(vs, end);
  }
  if (level == LEVEL_USAGE) {
    if (is(ks, ke, K_INPUT)) return count(vs, end, N_INPUT);
    if (is(ks, ke, K_OUTPUT)) return count(vs, end, N_OUTPUT);
    if (is(ks, ke, K_CC_INPUT)) return count(vs, end, N_CACHE_CREATION);
    if (is(ks, ke, K_CR_INPUT)) return count(vs, end, N_CACHE_READ);
    if (b == 0x7b && is(ks, ke, K_CACHE_CREATION)) { flag(F_CACHE_DETAIL); return walk(vs, end, LEVEL_CACHE); }
    if (isString && is(ks, ke, K_SPEED)) { const after = skipString(vs, end); record(S_SPEED, vs, after); return after; }
    return skipValue(vs, end);
  }
  // LEVEL_CACHE
  if (length == 25) {
    if (is(ks, ke, K_EPH5M)) return count(vs, end, N_EPH5M);
    if (is(ks, ke, K_EPH1H)) return count(vs, end, N_EPH1H);
  }
  return skipValue(vs, end);
}

function walk(i: i32, end: i32, level: i32): i32 {
  if (i >= end || byteAt(i) != 0x7b) return -1;
  let j = skipWs(i + 1, end);
  if (j < end && byteAt(j) == 0x7d) return j + 1;
  while (true) {
    if (j >= end || byteAt(j) != 0x22) return -1;
    const keyStart = j;
    const keyEnd = skipString(j, end);
    if (keyEnd < 0) return -1;
    j = skipWs(keyEnd, end);
    if (j >= end || byteAt(j) != 0x3a) return -1;
    j = skipWs(j + 1, end);
    j = visit(level, keyStart, keyEnd, j, end);
    if (j < 0) return -1;
    j = skipWs(j, end);
    if (j >= end) return -1;
    const b = byteAt(j);
    if (b == 0x7d) return j + 1;
    if (b != 0x2c) return -1;
    j = skipWs(j + 1, end);
  }
  return -1;
}

/** 0: not a usage line, 1: usage line, 2: malformed, -1: let the JS scanner decide (a field only it reads). */
export function scan(start: i32, end: i32): i32 {
  setSlot(S_FLAGS, 0);
  for (let s = 1; s < SLOT_COUNT; s++) setSlot(s, -1);
  for (let n = 0; n < 6; n++) setNum(n, 0);
  let i = start;
  while (i < end) {
    const b = byteAt(i);
    if (b != 0x20 && b != 0x09 && b != 0x0d) break;
    i++;
  }
  if (i == end) return 0;
  const after = walk(i, end, LEVEL_TOP);
  const flags = slot(S_FLAGS);
  if (flags & F_FALLBACK) return -1;
  if (after < 0) return 2;
  for (let j = after; j < end; j++) {
    const b = byteAt(j);
    if (b != 0x20 && b != 0x09 && b != 0x0d) return 2;
  }
  if (flags & F_NOT_ASSISTANT) return 0;
  return (flags & F_ASSISTANT) && (flags & F_USAGE) ? 1 : 0;
}
