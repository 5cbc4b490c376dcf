// The WebAssembly Claude Code line scanner (assembly/claudeLine.ts): loaded beside the SIMD search, over the same
// memory, so that it scans lines where they were read. scanClaudeLine() uses it for lines in the read block and falls
// back to its JavaScript walker where it answers -1 (or where the block is not there).

import { CLAUDE_LINE_WASM_BASE64 } from './claudeLineWasm';
import { SCRATCH_AT, simdMemory } from './search';

/** The keys the scanner compares, in the order of its K_* indices. */
const KEY_NAMES = [
  'type',
  'cwd',
  'sessionId',
  'timestamp',
  'requestId',
  'uuid',
  'isSidechain',
  'isApiErrorMessage',
  'costUSD',
  'message',
  'id',
  'model',
  'usage',
  'input_tokens',
  'output_tokens',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
  'cache_creation',
  'ephemeral_5m_input_tokens',
  'ephemeral_1h_input_tokens',
  'speed',
  'assistant',
];

const KEYS_AT = SCRATCH_AT + 2048; // 32 bytes per key
const SLOTS_AT = SCRATCH_AT + 4096;
const NUMS_AT = SCRATCH_AT + 4352;

/** Slot indices (i32) and their flag bits, as assembly/claudeLine.ts writes them. */
export const S_FLAGS = 0;
export const F_NOT_ASSISTANT = 1;
export const F_ASSISTANT = 2;
export const F_SIDECHAIN = 4;
export const F_API_ERROR = 8;
export const F_USAGE = 16;
export const F_CACHE_DETAIL = 32;
export const S_CWD = 1;
export const S_SESSION = 3;
export const S_TIMESTAMP = 5;
export const S_REQUEST = 7;
export const S_UUID = 9;
export const S_MESSAGE_ID = 11;
export const S_MODEL = 13;
export const S_SPEED = 15;
/** Count indices (f64). */
export const N_INPUT = 0;
export const N_OUTPUT = 1;
export const N_CACHE_CREATION = 2;
export const N_CACHE_READ = 3;
export const N_EPH5M = 4;
export const N_EPH1H = 5;

export interface ClaudeScanner {
  /** 0: not a usage line, 1: a usage line, 2: malformed, -1: read it with the JavaScript scanner. */
  scan(start: number, end: number): number;
  slots: Int32Array;
  nums: Float64Array;
  memory: ArrayBuffer;
}

let scanner: ClaudeScanner | null | undefined;
let scannerMemory: ArrayBuffer | null = null;

function load(): ClaudeScanner | null {
  const memory = simdMemory();
  if (!memory) return null;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(CLAUDE_LINE_WASM_BASE64, 'base64')), { env: { memory } });
    const bytes = new Uint8Array(memory.buffer);
    KEY_NAMES.forEach((name, k) => {
      bytes[KEYS_AT + k * 32] = name.length;
      bytes.set(Buffer.from(name, 'latin1'), KEYS_AT + k * 32 + 1);
    });
    (instance.exports.init as (keys: number, slots: number, nums: number) => void)(KEYS_AT, SLOTS_AT, NUMS_AT);
    return {
      scan: instance.exports.scan as (start: number, end: number) => number,
      slots: new Int32Array(memory.buffer, SLOTS_AT, 17),
      nums: new Float64Array(memory.buffer, NUMS_AT, 6),
      memory: memory.buffer,
    };
  } catch {
    return null;
  }
}

/**
 * The scanner when `buf` starts at the read block (its indices are the module's addresses), else null. Loaded on
 * first use, and again if the block was replaced (setSimdEnabled in tests).
 */
export function claudeScannerFor(buf: Buffer): ClaudeScanner | null {
  if (buf.buffer === scannerMemory && buf.byteOffset === 0) return scanner!;
  if (buf.byteOffset !== 0 || (scanner !== undefined && buf.buffer !== simdMemory()?.buffer)) return null;
  scanner = load();
  scannerMemory = scanner?.memory ?? null;
  return buf.buffer === scannerMemory ? scanner : null;
}
