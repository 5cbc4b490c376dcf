// Claude Code: `<root>/projects/<encoded-cwd>/<sessionId>.jsonl` plus `<sessionId>/subagents/agent-*.jsonl`.
// Only `type: "assistant"` lines carry usage. See ../shared/formats/agent-logs.md §1 for every trap handled here.

import * as os from 'node:os';
import * as path from 'node:path';
import { decodeNumber, decodeString, keyBytes, keyEquals, skipString, skipValue, walkObject } from '../jsonScan';
import type { WalkOptions } from '../folderIndex';
import { digest } from '../hash';
import {
  claudeScannerFor,
  F_API_ERROR,
  F_ASSISTANT,
  F_CACHE_DETAIL,
  F_NOT_ASSISTANT,
  F_SIDECHAIN,
  F_USAGE,
  N_CACHE_CREATION,
  N_CACHE_READ,
  N_EPH1H,
  N_EPH5M,
  N_INPUT,
  N_OUTPUT,
  S_CWD,
  S_FLAGS,
  S_MESSAGE_ID,
  S_MODEL,
  S_REQUEST,
  S_SESSION,
  S_SPEED,
  S_TIMESTAMP,
  S_UUID,
  type ClaudeScanner,
} from '../simd/claudeScanner';
import { tailFile, type FileCursor, type LineSink } from '../tail';
import { tagOf, totalTokens, UNKNOWN_MODEL, UNKNOWN_PROJECT, type UsageEvent } from '../usage';
import type { ReadContext, ReadCounts, Source, SourceOptions, SourceRead } from './source';

export const CLAUDE_CODE = 'claude-code';

/** The roots Claude Code writes to: CLAUDE_CONFIG_DIR alone when set, else the XDG location and ~/.claude. */
export function claudeCodeRoots(env: NodeJS.ProcessEnv): string[] {
  const configDir = env.CLAUDE_CONFIG_DIR?.trim();
  if (configDir) return [path.resolve(configDir)];
  const home = env.HOME || env.USERPROFILE || os.homedir();
  const xdgConfig = env.XDG_CONFIG_HOME?.trim() || path.join(home, '.config');
  return [path.join(xdgConfig, 'claude'), path.join(home, '.claude')];
}

/** Where transcripts live: the `projects` folder of each root. */
export function claudeCodeProjectsDirs(env: NodeJS.ProcessEnv): string[] {
  return claudeCodeRoots(env).map((root) => path.join(root, 'projects'));
}

/** A transcript file's session: subagent files belong to the session whose folder holds them. */
export function sessionOfTranscript(filePath: string): { sessionId: string; subagent: boolean } {
  const dir = path.dirname(filePath);
  if (path.basename(dir) === 'subagents') {
    return { sessionId: path.basename(path.dirname(dir)), subagent: true };
  }
  return { sessionId: path.basename(filePath, '.jsonl'), subagent: false };
}

/** True for files below `projects/` that can hold transcript lines. */
export function isTranscriptPath(filePath: string): boolean {
  return filePath.endsWith('.jsonl') && !filePath.includes(`${path.sep}tool-results${path.sep}`);
}

/**
 * What one line of a transcript told us. String fields are kept as byte ranges into the scanned buffer (-1 when
 * absent) and decoded only for usage lines: most lines are user lines and tool results, and decoding their
 * envelope would allocate strings for nothing. Valid only while the buffer is.
 */
export interface ClaudeLine {
  buf: Buffer;
  notAssistant: boolean;
  isAssistant: boolean;
  cwdStart: number;
  cwdEnd: number;
  sessionIdStart: number;
  sessionIdEnd: number;
  timestampStart: number;
  timestampEnd: number;
  requestIdStart: number;
  requestIdEnd: number;
  uuidStart: number;
  uuidEnd: number;
  messageIdStart: number;
  messageIdEnd: number;
  modelStart: number;
  modelEnd: number;
  speedStart: number;
  speedEnd: number;
  isSidechain: boolean;
  isApiErrorMessage: boolean;
  costUSD: number | undefined;
  hasUsage: boolean;
  inputTokens: number;
  outputTokens: number;
  cacheCreationTokens: number;
  cacheReadTokens: number;
  hasCacheCreationDetail: boolean;
  ephemeral5mTokens: number;
  ephemeral1hTokens: number;
}

export const enum LineKind {
  /** Well-formed, but not a usage line (or no usage in it). */
  Other,
  /** An assistant line with usage. */
  Usage,
  /** Not well-formed JSON (torn, truncated, garbage). */
  Malformed,
}

const K = {
  type: keyBytes('type'),
  cwd: keyBytes('cwd'),
  sessionId: keyBytes('sessionId'),
  timestamp: keyBytes('timestamp'),
  requestId: keyBytes('requestId'),
  uuid: keyBytes('uuid'),
  isSidechain: keyBytes('isSidechain'),
  isApiErrorMessage: keyBytes('isApiErrorMessage'),
  costUSD: keyBytes('costUSD'),
  message: keyBytes('message'),
  id: keyBytes('id'),
  model: keyBytes('model'),
  usage: keyBytes('usage'),
  inputTokens: keyBytes('input_tokens'),
  outputTokens: keyBytes('output_tokens'),
  cacheCreationInputTokens: keyBytes('cache_creation_input_tokens'),
  cacheReadInputTokens: keyBytes('cache_read_input_tokens'),
  cacheCreation: keyBytes('cache_creation'),
  ephemeral5m: keyBytes('ephemeral_5m_input_tokens'),
  ephemeral1h: keyBytes('ephemeral_1h_input_tokens'),
  speed: keyBytes('speed'),
};
const ASSISTANT = keyBytes('assistant');
const QUOTE = 0x22;
const TRUE_BYTE = 0x74;
const OPEN_BRACE = 0x7b;
const EMPTY = Buffer.alloc(0);

export function newClaudeLine(): ClaudeLine {
  return resetLine(
    {
      buf: EMPTY,
      notAssistant: false,
      isAssistant: false,
      cwdStart: -1,
      cwdEnd: -1,
      sessionIdStart: -1,
      sessionIdEnd: -1,
      timestampStart: -1,
      timestampEnd: -1,
      requestIdStart: -1,
      requestIdEnd: -1,
      uuidStart: -1,
      uuidEnd: -1,
      messageIdStart: -1,
      messageIdEnd: -1,
      modelStart: -1,
      modelEnd: -1,
      speedStart: -1,
      speedEnd: -1,
      isSidechain: false,
      isApiErrorMessage: false,
      costUSD: undefined,
      hasUsage: false,
      inputTokens: 0,
      outputTokens: 0,
      cacheCreationTokens: 0,
      cacheReadTokens: 0,
      hasCacheCreationDetail: false,
      ephemeral5mTokens: 0,
      ephemeral1hTokens: 0,
    },
    EMPTY,
  );
}

function resetLine(line: ClaudeLine, buf: Buffer): ClaudeLine {
  line.buf = buf;
  line.notAssistant = false;
  line.isAssistant = false;
  line.cwdStart = line.sessionIdStart = line.timestampStart = line.requestIdStart = line.uuidStart = -1;
  line.messageIdStart = line.modelStart = line.speedStart = -1;
  line.isSidechain = false;
  line.isApiErrorMessage = false;
  line.costUSD = undefined;
  line.hasUsage = false;
  line.inputTokens = line.outputTokens = line.cacheCreationTokens = line.cacheReadTokens = 0;
  line.hasCacheCreationDetail = false;
  line.ephemeral5mTokens = line.ephemeral1hTokens = 0;
  return line;
}

/**
 * Parses a quoted `"YYYY-MM-DDTHH:MM:SSZ"` or `"YYYY-MM-DDTHH:MM:SS.fffZ"` at [start, end) without making a
 * string (the format Claude Code writes); anything else (offsets, other precisions) goes through Date.parse.
 */
export function parseTimestamp(buf: Buffer, start: number, end: number): number {
  const length = end - start;
  const fraction = length === 26;
  if ((length !== 22 && !fraction) || buf[end - 2] !== 0x5a || (fraction && buf[start + 20] !== 0x2e)) {
    return Date.parse(decodeString(buf, start, end));
  }
  for (let k = 0; k < TIMESTAMP_LAYOUT.length; k++) {
    const expected = TIMESTAMP_LAYOUT[k];
    const byte = buf[start + 1 + k];
    if (expected === 0 ? byte < 0x30 || byte > 0x39 : byte !== expected) return Date.parse(decodeString(buf, start, end));
  }
  if (fraction && !(isDigit(buf[start + 21]) && isDigit(buf[start + 22]) && isDigit(buf[start + 23]))) {
    return Date.parse(decodeString(buf, start, end));
  }
  const month = digits2(buf, start + 6);
  const day = digits2(buf, start + 9);
  const hour = digits2(buf, start + 12);
  const minute = digits2(buf, start + 15);
  const second = digits2(buf, start + 18);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const year = digits2(buf, start + 1) * 100 + digits2(buf, start + 3);
  const millis = fraction ? (buf[start + 21] - 0x30) * 100 + digits2(buf, start + 22) : 0;
  return Date.UTC(year, month - 1, day, hour, minute, second, millis);
}

/** `YYYY-MM-DDTHH:MM:SS`: 0 stands for a digit, anything else for that exact byte. */
const TIMESTAMP_LAYOUT = [0, 0, 0, 0, 0x2d, 0, 0, 0x2d, 0, 0, 0x54, 0, 0, 0x3a, 0, 0, 0x3a, 0, 0];

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

function digits2(buf: Buffer, at: number): number {
  return (buf[at] - 0x30) * 10 + (buf[at + 1] - 0x30);
}

/** tagOf() of the string at [start, end), hashing the bytes directly when they are plain ASCII. */
function tagOfRange(buf: Buffer, start: number, end: number): number {
  if (start < 0 || end - start <= 2) return 0;
  let hash = 0x811c9dc5;
  for (let i = start + 1; i < end - 1; i++) {
    const byte = buf[i];
    if (byte >= 0x80 || byte === 0x5c) return tagOf(decodeString(buf, start, end));
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 1) || 1;
}

/** Remembers the last string decoded from a field, so that a value repeated line after line is decoded once. */
export class RepeatedText {
  private text: string | undefined;
  /** The raw bytes of `text` in a buffer of this instance's own, reused for the next text (no copy per change). */
  private bytes = EMPTY;
  private length = -1;

  get(buf: Buffer, start: number, end: number): string | undefined {
    if (start < 0) return undefined;
    const length = end - start;
    if (length === this.length && sameRange(buf, start, this.bytes, length)) return this.text;
    this.text = decodeString(buf, start, end);
    if (this.bytes.length < length) this.bytes = Buffer.allocUnsafe(Math.max(length, 128));
    for (let k = 0; k < length; k++) this.bytes[k] = buf[start + k];
    this.length = length;
    return this.text;
  }
}

/** Byte equality of buf[start, start + length) and bytes[0, length); a loop beats Buffer#compare's call overhead on short ranges. */
function sameRange(buf: Buffer, start: number, bytes: Uint8Array, length: number): boolean {
  for (let k = 0; k < length; k++) if (buf[start + k] !== bytes[k]) return false;
  return true;
}

/** Byte equality of buf[start, end) and all of `bytes`. */
function sameBytes(buf: Buffer, start: number, end: number, bytes: Uint8Array): boolean {
  return end - start === bytes.length && sameRange(buf, start, bytes, bytes.length);
}

/** True when buf[start, end) holds `text` from its character `from` on (false for anything non-ASCII or escaped). */
function sameText(buf: Buffer, start: number, end: number, text: string, from = 0): boolean {
  if (end - start !== text.length - from) return false;
  for (let k = 0; k < end - start; k++) if (buf[start + k] !== text.charCodeAt(from + k) || buf[start + k] === 0x5c) return false;
  return true;
}

const FAST = Buffer.from('"fast"');

/**
 * `usage.speed` is "fast". One function for the first line of a response and the lines continuing it, so that a
 * fast-mode line seen by either gives V8 what both need (fast mode is rare: a check first met in code V8 has already
 * optimised throws that code away).
 */
function isFastLine(line: ClaudeLine): boolean {
  return line.speedStart >= 0 && sameBytes(line.buf, line.speedStart, line.speedEnd, FAST);
}
const USAGE_KEY = Buffer.from('"usage"');
const MESSAGE_KEY_PREFIX = 'cc:';
const KEY_SCRATCH = Buffer.alloc(256);
KEY_SCRATCH.write(MESSAGE_KEY_PREFIX, 'latin1');

/**
 * The dedupe key of a message id (the JSON string at buf[start, end)), or undefined when there is none or it is
 * empty. Decoded once with its prefix, into one flat string: a template literal would make a rope of two strings,
 * flattened again into a third by the ledger's first lookup, for every response read.
 */
function messageKey(buf: Buffer, start: number, end: number): string | undefined {
  if (start < 0) return undefined;
  const length = end - start - 2;
  const at = MESSAGE_KEY_PREFIX.length;
  if (length > 0 && length <= KEY_SCRATCH.length - at) {
    let k = 0;
    for (; k < length; k++) {
      const byte = buf[start + 1 + k];
      if (byte === 0x5c) break; // an escape: decode it below
      KEY_SCRATCH[at + k] = byte;
    }
    if (k === length) return KEY_SCRATCH.toString('utf8', 0, at + length);
  }
  const id = decodeString(buf, start, end);
  return id ? `${MESSAGE_KEY_PREFIX}${id}` : undefined;
}

/** Decodes a recorded string range, or undefined when it was absent. */
export function lineText(line: ClaudeLine, start: number, end: number): string | undefined {
  return start < 0 ? undefined : decodeString(line.buf, start, end);
}

/** A count: a wrong type (a string, an object) reads as absent rather than as garbage in the totals. */
function count(buf: Buffer, at: number, end: number): number {
  const after = skipValue(buf, at, end);
  if (after < 0) return -1;
  const value = decodeNumber(buf, at, after);
  countValue = Number.isFinite(value) && value >= 0 ? value : 0;
  return after;
}
let countValue = 0;

function visitCacheCreation(buf: Buffer, ks: number, ke: number, vs: number, end: number, out: ClaudeLine): number {
  if (ke - ks === 27) {
    if (keyEquals(buf, ks, ke, K.ephemeral5m)) {
      const after = count(buf, vs, end);
      out.ephemeral5mTokens = countValue;
      return after;
    }
    if (keyEquals(buf, ks, ke, K.ephemeral1h)) {
      const after = count(buf, vs, end);
      out.ephemeral1hTokens = countValue;
      return after;
    }
  }
  return skipValue(buf, vs, end);
}

function visitUsage(buf: Buffer, ks: number, ke: number, vs: number, end: number, out: ClaudeLine): number {
  let after: number;
  if (keyEquals(buf, ks, ke, K.inputTokens)) {
    after = count(buf, vs, end);
    out.inputTokens = countValue;
  } else if (keyEquals(buf, ks, ke, K.outputTokens)) {
    after = count(buf, vs, end);
    out.outputTokens = countValue;
  } else if (keyEquals(buf, ks, ke, K.cacheCreationInputTokens)) {
    after = count(buf, vs, end);
    out.cacheCreationTokens = countValue;
  } else if (keyEquals(buf, ks, ke, K.cacheReadInputTokens)) {
    after = count(buf, vs, end);
    out.cacheReadTokens = countValue;
  } else if (keyEquals(buf, ks, ke, K.cacheCreation) && buf[vs] === OPEN_BRACE) {
    out.hasCacheCreationDetail = true;
    after = walkObject(buf, vs, end, visitCacheCreation, out);
  } else if (keyEquals(buf, ks, ke, K.speed) && buf[vs] === QUOTE) {
    after = skipString(buf, vs, end);
    out.speedStart = vs;
    out.speedEnd = after;
  } else {
    after = skipValue(buf, vs, end);
  }
  return after;
}

function visitMessage(buf: Buffer, ks: number, ke: number, vs: number, end: number, out: ClaudeLine): number {
  const length = ke - ks - 2;
  if (length === 2 && keyEquals(buf, ks, ke, K.id) && buf[vs] === QUOTE) {
    const after = skipString(buf, vs, end);
    out.messageIdStart = vs;
    out.messageIdEnd = after;
    return after;
  }
  if (length === 5) {
    if (keyEquals(buf, ks, ke, K.model) && buf[vs] === QUOTE) {
      const after = skipString(buf, vs, end);
      out.modelStart = vs;
      out.modelEnd = after;
      return after;
    }
    if (keyEquals(buf, ks, ke, K.usage) && buf[vs] === OPEN_BRACE) {
      out.hasUsage = true;
      return walkObject(buf, vs, end, visitUsage, out);
    }
  }
  return skipValue(buf, vs, end);
}

function visitTop(buf: Buffer, ks: number, ke: number, vs: number, end: number, out: ClaudeLine): number {
  // Past the type of another kind of record nothing more is read, only walked over: a record cut short (a torn line,
  // the next record run into it) must be told from a whole one, or the record run into it would be lost.
  if (out.notAssistant) return skipValue(buf, vs, end);
  const isString = buf[vs] === QUOTE;
  switch (ke - ks - 2) {
    case 4:
      if (keyEquals(buf, ks, ke, K.type)) {
        const after = skipValue(buf, vs, end);
        if (after < 0) return -1;
        if (!keyEquals(buf, vs, after, ASSISTANT)) {
          // Not a usage line: the rest of it is only walked over (see above).
          out.notAssistant = true;
          return after;
        }
        out.isAssistant = true;
        return after;
      }
      if (isString && keyEquals(buf, ks, ke, K.uuid)) {
        const after = skipString(buf, vs, end);
        out.uuidStart = vs;
        out.uuidEnd = after;
        return after;
      }
      break;
    case 3:
      if (isString && keyEquals(buf, ks, ke, K.cwd)) {
        const after = skipString(buf, vs, end);
        out.cwdStart = vs;
        out.cwdEnd = after;
        return after;
      }
      break;
    case 9:
      if (isString) {
        const after = skipString(buf, vs, end);
        if (keyEquals(buf, ks, ke, K.sessionId)) {
          out.sessionIdStart = vs;
          out.sessionIdEnd = after;
        } else if (keyEquals(buf, ks, ke, K.timestamp)) {
          out.timestampStart = vs;
          out.timestampEnd = after;
        } else if (keyEquals(buf, ks, ke, K.requestId)) {
          out.requestIdStart = vs;
          out.requestIdEnd = after;
        }
        return after;
      }
      break;
    case 7:
      if (buf[vs] === OPEN_BRACE && keyEquals(buf, ks, ke, K.message)) return walkObject(buf, vs, end, visitMessage, out);
      if (keyEquals(buf, ks, ke, K.costUSD)) {
        const after = skipValue(buf, vs, end);
        if (after > 0) {
          const value = decodeNumber(buf, vs, after);
          if (Number.isFinite(value) && value >= 0) out.costUSD = value;
        }
        return after;
      }
      break;
    case 11:
      if (keyEquals(buf, ks, ke, K.isSidechain)) out.isSidechain = buf[vs] === TRUE_BYTE;
      break;
    case 17:
      if (keyEquals(buf, ks, ke, K.isApiErrorMessage)) out.isApiErrorMessage = buf[vs] === TRUE_BYTE;
      break;
  }
  return skipValue(buf, vs, end);
}

/**
 * Scans one transcript line in `buf[start, end)` into `out`. Only lines holding the bytes `"usage"` get here (see
 * the sink's needle); from a line of another type nothing is read past its `type`, it is only walked to its end.
 */
export function scanClaudeLine(buf: Buffer, start: number, end: number, out: ClaudeLine): LineKind {
  const wasm = claudeScannerFor(buf);
  if (wasm) {
    const kind = wasm.scan(start, end);
    if (kind >= 0) return fromWasm(wasm, buf, out, kind);
  }
  resetLine(out, buf);
  let i = start;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0d)) i++;
  if (i === end) return LineKind.Other;
  const after = walkObject(buf, i, end, visitTop, out);
  if (after < 0) return LineKind.Malformed;
  // Anything after the closing brace but blanks means two records ran together (a torn line, then an append).
  for (let j = after; j < end; j++) {
    const byte = buf[j];
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return LineKind.Malformed;
  }
  if (out.notAssistant) return LineKind.Other;
  return out.isAssistant && out.hasUsage ? LineKind.Usage : LineKind.Other;
}

/** Copies what the WebAssembly scanner found (same fields, same rules: assembly/claudeLine.ts) into `out`. */
function fromWasm(wasm: ClaudeScanner, buf: Buffer, out: ClaudeLine, kind: LineKind): LineKind {
  const s = wasm.slots;
  const n = wasm.nums;
  const flags = s[S_FLAGS];
  out.buf = buf;
  out.notAssistant = (flags & F_NOT_ASSISTANT) !== 0;
  out.isAssistant = (flags & F_ASSISTANT) !== 0;
  out.cwdStart = s[S_CWD];
  out.cwdEnd = s[S_CWD + 1];
  out.sessionIdStart = s[S_SESSION];
  out.sessionIdEnd = s[S_SESSION + 1];
  out.timestampStart = s[S_TIMESTAMP];
  out.timestampEnd = s[S_TIMESTAMP + 1];
  out.requestIdStart = s[S_REQUEST];
  out.requestIdEnd = s[S_REQUEST + 1];
  out.uuidStart = s[S_UUID];
  out.uuidEnd = s[S_UUID + 1];
  out.messageIdStart = s[S_MESSAGE_ID];
  out.messageIdEnd = s[S_MESSAGE_ID + 1];
  out.modelStart = s[S_MODEL];
  out.modelEnd = s[S_MODEL + 1];
  out.speedStart = s[S_SPEED];
  out.speedEnd = s[S_SPEED + 1];
  out.isSidechain = (flags & F_SIDECHAIN) !== 0;
  out.isApiErrorMessage = (flags & F_API_ERROR) !== 0;
  out.costUSD = undefined; // a line with a cost is read by the JavaScript scanner
  out.hasUsage = (flags & F_USAGE) !== 0;
  out.inputTokens = n[N_INPUT];
  out.outputTokens = n[N_OUTPUT];
  out.cacheCreationTokens = n[N_CACHE_CREATION];
  out.cacheReadTokens = n[N_CACHE_READ];
  out.hasCacheCreationDetail = (flags & F_CACHE_DETAIL) !== 0;
  out.ephemeral5mTokens = n[N_EPH5M];
  out.ephemeral1hTokens = n[N_EPH1H];
  return kind;
}

/** Why a usage line produced no event. */
export type ClaudeSkipReason = 'synthetic' | 'no-timestamp';

/**
 * Turns a scanned usage line into an event.
 *
 * Identity: a response is `message.id`; the request id only tells apart two responses that a gateway gave the same
 * message id (see the ledger's merge rule). Lines without a message id fall back to the request id, then the uuid.
 * Cache writes: the nested `cache_creation` split wins when present, because older builds wrote 0 at the top level.
 */
/** Cache writes: the nested split wins when it has anything, because older builds wrote 0 at the top level. */
function nestedSplit(line: ClaudeLine): boolean {
  return line.hasCacheCreationDetail && line.ephemeral5mTokens + line.ephemeral1hTokens > 0;
}

function cacheWrite5mOf(line: ClaudeLine): number {
  return nestedSplit(line) ? line.ephemeral5mTokens : line.cacheCreationTokens;
}

function cacheWrite1hOf(line: ClaudeLine): number {
  return nestedSplit(line) ? line.ephemeral1hTokens : 0;
}

export interface TranscriptContext {
  sessionId: string;
  subagent: boolean;
  cwd: string | undefined;
  /** Decoding caches for fields that repeat on every line. */
  models?: RepeatedText;
  sessions?: RepeatedText;
}

export function claudeEventOf(
  line: ClaudeLine,
  file: TranscriptContext,
  fallbackKey: () => string,
): UsageEvent | ClaudeSkipReason {
  const buf = line.buf;
  const model = file.models ? file.models.get(buf, line.modelStart, line.modelEnd) : lineText(line, line.modelStart, line.modelEnd);
  if (model === '<synthetic>') return 'synthetic';
  const timestamp = line.timestampStart < 0 ? Number.NaN : parseTimestamp(buf, line.timestampStart, line.timestampEnd);
  if (!Number.isFinite(timestamp)) return 'no-timestamp';
  const messageKeyOfLine = messageKey(buf, line.messageIdStart, line.messageIdEnd);
  let dedupeKey: string;
  if (messageKeyOfLine) dedupeKey = messageKeyOfLine;
  else {
    const requestId = lineText(line, line.requestIdStart, line.requestIdEnd);
    const uuid = lineText(line, line.uuidStart, line.uuidEnd);
    dedupeKey = requestId ? `cc:r:${requestId}` : uuid ? `cc:u:${uuid}` : `cc:h:${fallbackKey()}`;
  }
  const lineSession = file.sessions
    ? file.sessions.get(buf, line.sessionIdStart, line.sessionIdEnd)
    : lineText(line, line.sessionIdStart, line.sessionIdEnd);
  return {
    dedupeKey,
    requestTag: messageKeyOfLine ? tagOfRange(buf, line.requestIdStart, line.requestIdEnd) : 0,
    agent: CLAUDE_CODE,
    timestamp,
    // Subagent transcripts belong to the parent session (their folder), whatever their lines say.
    sessionId: file.subagent ? file.sessionId : lineSession || file.sessionId,
    project: file.cwd || UNKNOWN_PROJECT,
    model: model || UNKNOWN_MODEL,
    inputTokens: line.inputTokens,
    outputTokens: line.outputTokens,
    cacheWrite5mTokens: cacheWrite5mOf(line),
    cacheWrite1hTokens: cacheWrite1hOf(line),
    cacheReadTokens: line.cacheReadTokens,
    fast: isFastLine(line),
    sidechain: line.isSidechain || file.subagent,
    reportedCostUsd: line.costUSD,
  };
}

/**
 * Starts tried, from the right, for the whole record at the end of a line a torn one ran into. Each object nested in
 * that record is one failed try (it ends before the line does); a record has far fewer than this.
 */
const RECOVERY_ATTEMPTS = 256;
const OBJECT_START = Buffer.from('{"');

/**
 * A line sink for one transcript: scans lines, turns usage lines into events and hands them to `emit`.
 * `file.cwd` is updated as lines reveal the working directory, so that a later read can resume with it.
 */
export function claudeTranscriptSink(
  file: TranscriptContext,
  emit: (event: UsageEvent) => void,
  counts: ReadCounts,
  hashLine: (buf: Buffer, start: number, end: number) => string,
): LineSink {
  const line = newClaudeLine();
  file.models ??= new RepeatedText();
  file.sessions ??= new RepeatedText();
  // The cwd is on nearly every line and rarely changes: compare bytes, decode only a new one.
  const cwds = new RepeatedText();
  const noteCwd = (): void => {
    if (line.cwdStart >= 0) file.cwd = cwds.get(line.buf, line.cwdStart, line.cwdEnd);
  };
  // Consecutive lines of one response (one per content block) are folded here, so the ledger sees the response
  // once per read instead of once per block. The ledger applies the same rule across files and reads.
  // `held.dedupeKey` is MESSAGE_KEY_PREFIX and the message id (or, without one, what stands for it).
  let held: UsageEvent | null = null;
  const flush = (): void => {
    if (held) emit(held);
    held = null;
  };
  const continuesHeld = (): boolean =>
    held !== null &&
    line.messageIdStart >= 0 &&
    sameText(line.buf, line.messageIdStart + 1, line.messageIdEnd - 1, held.dedupeKey, MESSAGE_KEY_PREFIX.length) &&
    tagOfRange(line.buf, line.requestIdStart, line.requestIdEnd) === held.requestTag;
  // The line being taken, for the rare key made of its bytes; not captured per line (a closure over take's arguments
  // would cost an allocation on every usage line).
  let takenStart = 0;
  let takenEnd = 0;
  const keyOfTakenLine = (): string => hashLine(line.buf, takenStart, takenEnd);
  const take = (buf: Buffer, start: number, end: number): void => {
    noteCwd();
    if (continuesHeld()) {
      const h = held!;
      const output = line.outputTokens;
      const total = line.inputTokens + output + cacheWrite5mOf(line) + cacheWrite1hOf(line) + line.cacheReadTokens;
      if (output < h.outputTokens || (output === h.outputTokens && total <= totalTokens(h))) return;
      const timestamp = line.timestampStart < 0 ? Number.NaN : parseTimestamp(buf, line.timestampStart, line.timestampEnd);
      if (!Number.isFinite(timestamp)) {
        counts.undatedLines++;
        return;
      }
      h.timestamp = timestamp;
      h.inputTokens = line.inputTokens;
      h.outputTokens = output;
      h.cacheWrite5mTokens = cacheWrite5mOf(line);
      h.cacheWrite1hTokens = cacheWrite1hOf(line);
      h.cacheReadTokens = line.cacheReadTokens;
      h.fast = isFastLine(line);
      if (line.costUSD !== undefined) h.reportedCostUsd = line.costUSD;
      return;
    }
    takenStart = start;
    takenEnd = end;
    const event = claudeEventOf(line, file, keyOfTakenLine);
    if (event === 'synthetic') counts.syntheticLines++;
    else if (event === 'no-timestamp') counts.undatedLines++;
    else {
      flush();
      // Every key starts with MESSAGE_KEY_PREFIX, those made without a message id too (`cc:r:`, `cc:u:`, `cc:h:`): a
      // line continues such an event only if its own key would be the same, which the ledger would fold anyway.
      held = event;
    }
  };
  return {
    // Lines without the bytes `"usage"` cannot carry usage (inside a JSON string a quote is always escaped), so they
    // are never parsed: in real transcripts `type` comes after `message`, so even a user line's multi-megabyte tool
    // result would otherwise be walked before its type is known.
    needle: USAGE_KEY,
    line(buf, start, end) {
      const kind = scanClaudeLine(buf, start, end, line);
      if (kind === LineKind.Usage) return take(buf, start, end);
      if (kind === LineKind.Other) return noteCwd();
      counts.malformedLines++;
      // A torn record followed by an append runs two records together, the whole one last: it is the start from which
      // the rest of the line reads as one record. Searched from the right, so that objects of the torn record (its
      // message, a content block) are never taken for it.
      let before = end - 1;
      for (let attempt = 0; attempt < RECOVERY_ATTEMPTS && before > start; attempt++) {
        const open = buf.lastIndexOf(OBJECT_START, before);
        if (open <= start) return;
        const retryKind = scanClaudeLine(buf, open, end, line);
        if (retryKind !== LineKind.Malformed) {
          counts.recoveredLines++;
          if (retryKind === LineKind.Usage) take(buf, open, end);
          else noteCwd();
          return;
        }
        before = open - 1;
      }
    },
    partialLine(buf, start, end) {
      // The last line has no newline yet. If it is already a whole record, count it now (the ledger makes the
      // re-read after its newline arrives a no-op); a torn line is simply waited for.
      if (scanClaudeLine(buf, start, end, line) === LineKind.Usage) take(buf, start, end);
    },
    end() {
      flush();
    },
    oversizedLine() {
      counts.oversizedLines++;
    },
    restart() {
      // The file was rewritten and is read again from its start: what the old one said (its cwd) no longer holds.
      file.cwd = undefined;
      held = null;
    },
  };
}

/** Identity of a usage line with no id at all (rare): its content. */
function hashLine(buf: Buffer, start: number, end: number): string {
  return digest('sha1', buf.subarray(start, end), 'base64');
}

/**
 * A transcript's context, as one object literal with every field. Never a spread: once readTranscript was optimised,
 * `{ ...sessionOfTranscript(file), cwd }` gave nearly every file's context a hidden class of its own, so each access
 * to it from the per-line code missed V8's inline caches (~22,000 runtime lookups on the 1 GB corpus, 40 ms).
 */
export function transcriptContext(file: string, cwd: string | undefined): TranscriptContext {
  const where = sessionOfTranscript(file);
  return { sessionId: where.sessionId, subagent: where.subagent, cwd, models: new RepeatedText(), sessions: new RepeatedText() };
}

/** Reads one transcript's new bytes; the cursor's context keeps the last cwd seen, for lines that follow. */
export function readTranscript(file: string, previous: FileCursor | undefined, read: ReadContext): SourceRead {
  const context = transcriptContext(file, previous?.context);
  const sink = claudeTranscriptSink(context, read.emit, read.counts, hashLine);
  try {
    const result = tailFile(file, previous, sink, read.tail);
    result.cursor.context = context.cwd;
    return { file, cursor: result.cursor, bytesRead: result.bytesRead, rewritten: result.rewritten };
  } catch (error) {
    return { file, bytesRead: 0, rewritten: false, error: (error as Error).message, errorCode: (error as NodeJS.ErrnoException).code };
  }
}

/** Transcripts below a projects folder: tool-results and memory hold no usage. */
const WALK: WalkOptions = {
  maxDepth: 8,
  skipFolders: new Set(['tool-results', 'memory']),
  isWanted: (name) => name.endsWith('.jsonl'),
};

export const claudeCodeSource: Source = {
  agent: CLAUDE_CODE,
  label: 'Claude Code',
  roots: (options: SourceOptions) => [...claudeCodeProjectsDirs(options.env), ...(options.extraDirs ?? [])],
  walk: WALK,
  fileFor: (changed) => (isTranscriptPath(changed) ? changed : undefined),
  read: readTranscript,
};
