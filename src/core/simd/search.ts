// The block of memory that log files are read into, and a fast search for a source's needle in it.
//
// The block is the memory of a small WebAssembly module (find.wat) with a SIMD substring search: files are read
// straight into it (no copy), and finding `"usage"` in a gigabyte of transcripts takes a third of the time
// Buffer.indexOf takes. Where WebAssembly SIMD is missing (or AGENT_SPEND_NO_SIMD is set, to rule it out when
// diagnosing), callers get null and use Buffer.indexOf: the results are the same, only slower.

import { FIND_WASM_BASE64 } from './findWasm';

const PAGE = 64 * 1024;
/** Bytes of the block callers may read into. */
export const BLOCK_BYTES = 4 * 1024 * 1024;
/**
 * The page after the block holds what the modules need beside the data: the needle at [+64, +1088) (the search's
 * loads stop at the end it is given, so nothing there is ever read as data), and from +2048 whatever other scanners
 * keep (claudeScanner.ts).
 */
export const SCRATCH_AT = BLOCK_BYTES;
const NEEDLE_AT = SCRATCH_AT + 64;
const MAX_NEEDLE = 1024;

type Find = (from: number, end: number, needle: number, length: number, probe1: number, probe2: number) => number;

interface Simd {
  memory: WebAssembly.Memory;
  block: Buffer;
  find: Find;
  needle: Uint8Array | null;
  probe1: number;
  probe2: number;
}

let simd: Simd | null | undefined;

function load(): Simd | null {
  if (process.env.AGENT_SPEND_NO_SIMD) return null;
  try {
    const bytes = Buffer.from(FIND_WASM_BASE64, 'base64');
    if (!WebAssembly.validate(bytes)) return null; // a runtime without SIMD
    const pages = BLOCK_BYTES / PAGE + 1;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    return {
      memory,
      block: Buffer.from(memory.buffer, 0, BLOCK_BYTES),
      find: instance.exports.find as Find,
      needle: null,
      probe1: 0,
      probe2: 1,
    };
  } catch {
    return null;
  }
}

function instance(): Simd | null {
  if (simd === undefined) simd = load();
  return simd;
}

/** Turns the SIMD path off (false) or back to what this runtime supports (true): for tests that compare the two. */
export function setSimdEnabled(enabled: boolean): void {
  simd = enabled ? load() : null;
}

/** The module memory holding the block (other modules that scan the block import it), or null without SIMD. */
export function simdMemory(): WebAssembly.Memory | null {
  return instance()?.memory ?? null;
}

/** The block to read files into (BLOCK_BYTES long), or null when the SIMD search is not available here. */
export function simdBlock(): Buffer | null {
  return instance()?.block ?? null;
}

// Bytes from most to least frequent in JSON logs of English text and code (a rough order is all that is needed).
const FREQUENT = ' "etaoinsrhldcu:,{}\\/._-mpfgywb0123456789TSACIE[]()=';

function rarity(byte: number): number {
  const rank = FREQUENT.indexOf(String.fromCharCode(byte));
  return rank < 0 ? FREQUENT.length : rank;
}

/** The two positions of the needle whose bytes are least frequent, compared first by the search. */
export function probesOf(needle: Uint8Array): [number, number] {
  let first = 0;
  for (let i = 1; i < needle.length; i++) if (rarity(needle[i]) > rarity(needle[first])) first = i;
  let second = first === 0 ? 1 : 0;
  for (let i = 0; i < needle.length; i++) {
    if (i !== first && rarity(needle[i]) > rarity(needle[second])) second = i;
  }
  return [first, second];
}

/**
 * The first index of `needle` in `haystack` at or after `from`, or -1. `haystack` is searched whole: pass a
 * subarray to bound it. SIMD when the haystack lies at the start of the block, Buffer.indexOf otherwise.
 */
export function indexOfNeedle(haystack: Buffer, needle: Uint8Array, from: number): number {
  const s = simd;
  if (s && haystack.buffer === s.memory.buffer && haystack.byteOffset === 0 && needle.length >= 2 && needle.length <= MAX_NEEDLE) {
    if (s.needle !== needle) {
      new Uint8Array(s.memory.buffer, NEEDLE_AT, needle.length).set(needle);
      [s.probe1, s.probe2] = probesOf(needle);
      s.needle = needle;
    }
    return s.find(Math.max(0, from), haystack.length, NEEDLE_AT, needle.length, s.probe1, s.probe2);
  }
  return haystack.indexOf(needle, from);
}
