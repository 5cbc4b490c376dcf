// Codex CLI: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<local time>-<thread id>.jsonl`, the flat
// `archived_sessions/`, and `.jsonl.zst` history. Each line is `{timestamp, type, payload}`; usage is in
// `event_msg` lines whose payload is a `token_count`, the model in `turn_context` lines. See
// ../shared/formats/agent-logs.md §2 for every trap handled here.
//
// Spend is the difference of `total_token_usage` between consecutive token_count lines of a file: the same info is
// re-emitted whenever rate limits change (a zero difference: nothing billed), and a total that drops is a reset
// (its own `last_token_usage`, never negative spend). A step is identified by its turn and the cumulative total
// after it: forks and spawned subagents copy their parent's lines (re-stamped, with the parent's session_meta), and
// archived or compressed copies repeat whole files, so every copy of a step gets the same key and the ledger keeps
// one (the earliest, i.e. the parent's).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { decompress as fzstdDecompress } from 'fzstd';
import type { WalkOptions } from '../folderIndex';
import { decodeNumber, decodeString, keyBytes, keyEquals, skipString, skipValue, walkObject } from '../jsonScan';
import { isUnchanged as statUnchanged, type FileCursor, type LineSink } from '../tail';
import { UNKNOWN_MODEL, UNKNOWN_PROJECT, type UsageEvent } from '../usage';
import { parseTimestamp } from './claudeCode';
import {
  homeOf,
  platformOf,
  readLines,
  readWholeFile,
  type ReadContext,
  type Source,
  type SourceOptions,
  type SourceRead,
} from './source';

export const CODEX = 'codex';

// ---------------------------------------------------------------------------------------------------------------
// Where the logs are

/** Codex's home: CODEX_HOME when set (Codex then uses nothing else), else `.codex` in the user's home. */
export function codexHome(options: SourceOptions): string {
  const platform = platformOf(options);
  // Paths of the platform asked for, so that tests of other platforms' defaults read naturally.
  const p = platform === 'win32' ? path.win32 : path.posix;
  const configured = options.env.CODEX_HOME?.trim();
  if (configured) return p.resolve(configured);
  // Codex asks the OS for the home folder: on Windows that is the profile folder, whatever HOME says.
  const home = platform === 'win32' ? options.env.USERPROFILE || options.env.HOME || os.homedir() : homeOf(options);
  return p.join(home, '.codex');
}

/** Live sessions (dated folders), archived ones (flat), then the folders the user added. */
export function codexRoots(options: SourceOptions): string[] {
  const p = platformOf(options) === 'win32' ? path.win32 : path.posix;
  const home = codexHome(options);
  return [p.join(home, 'sessions'), p.join(home, 'archived_sessions'), ...(options.extraDirs ?? [])];
}

const PLAIN_SUFFIX = '.jsonl';
const COMPRESSED_SUFFIX = '.jsonl.zst';

/** Codex names every rollout `rollout-….jsonl`, compressed ones `rollout-….jsonl.zst`. */
export function isRolloutName(name: string): boolean {
  return name.startsWith('rollout-') && (name.endsWith(PLAIN_SUFFIX) || name.endsWith(COMPRESSED_SUFFIX));
}

function isCompressed(file: string): boolean {
  return file.endsWith(COMPRESSED_SUFFIX);
}

/** `x.jsonl` for `x.jsonl.zst`. */
function plainOf(file: string): string {
  return file.slice(0, -'.zst'.length);
}

/**
 * The thread id in a rollout's name (`rollout-2026-07-02T10-00-00-<uuid>.jsonl`), for files whose session_meta is
 * missing; the whole name without its extension when it has another shape.
 */
export function threadIdOfFile(file: string): string {
  const name = path.basename(file).replace(/\.jsonl(?:\.zst)?$/, '');
  const match = /^rollout-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-(.+)$/.exec(name);
  return match ? match[1] : name;
}

// ---------------------------------------------------------------------------------------------------------------
// zstd

type ZstdDecompressSync = (data: Buffer) => Buffer;

/** Node ≥ 22.15 / 23.8 decompresses zstd itself; older ones (Node 20) use fzstd. */
const nativeZstd = (zlib as unknown as { zstdDecompressSync?: ZstdDecompressSync }).zstdDecompressSync;

/** Decompresses a whole zstd file (every frame in it). Throws on data that is not zstd. */
export function decompressZstd(data: Buffer, native: ZstdDecompressSync | undefined = nativeZstd): Buffer {
  try {
    if (typeof native === 'function') return native(data);
    const out = fzstdDecompress(data);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  } catch (error) {
    throw new Error(`not a readable zstd file: ${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One line

/** What a line is, as far as spend goes. */
export const enum CodexLineKind {
  Other,
  SessionMeta,
  TurnContext,
  TokenCount,
  /** Not well-formed JSON (torn, garbage) or a token_count whose counts are not numbers. */
  Malformed,
}

const enum Top {
  Unknown,
  SessionMeta,
  TurnContext,
  EventMsg,
}

/** The five counts of a TokenUsage, in this order. */
const IN = 0;
const CACHED = 1;
const OUT = 2;
const REASONING = 3;
const TOTAL = 4;
const HAS_IN = 1 << IN;
const HAS_OUT = 1 << OUT;
const HAS_TOTAL = 1 << TOTAL;

/** A TokenUsage object as read: its counts, which of them were present, and whether any was not a count. */
export interface UsageSlots {
  values: Float64Array;
  seen: number;
  bad: boolean;
}

/**
 * What one line told us. Strings are byte ranges into the scanned buffer (-1 when absent), decoded only for the few
 * lines that matter; valid only while the buffer is.
 */
export interface CodexLine {
  buf: Buffer;
  top: Top;
  /** The walk stopped early: the line is of a kind that carries nothing we need. */
  aborted: boolean;
  tokenCount: boolean;
  timestampStart: number;
  timestampEnd: number;
  /** A numeric timestamp (seconds or milliseconds), NaN when absent. */
  timestampNumber: number;
  idStart: number;
  idEnd: number;
  cwdStart: number;
  cwdEnd: number;
  modelStart: number;
  modelEnd: number;
  turnIdStart: number;
  turnIdEnd: number;
  subagent: boolean;
  /** `info` of a token_count: absent, null (rate limits only) or an object. */
  info: 'absent' | 'null' | 'object';
  total: UsageSlots;
  last: UsageSlots;
}

const K = {
  timestamp: keyBytes('timestamp'),
  type: keyBytes('type'),
  payload: keyBytes('payload'),
  id: keyBytes('id'),
  cwd: keyBytes('cwd'),
  source: keyBytes('source'),
  subagent: keyBytes('subagent'),
  subAgent: keyBytes('sub_agent'),
  model: keyBytes('model'),
  turnId: keyBytes('turn_id'),
  info: keyBytes('info'),
  totalTokenUsage: keyBytes('total_token_usage'),
  lastTokenUsage: keyBytes('last_token_usage'),
  inputTokens: keyBytes('input_tokens'),
  cachedInputTokens: keyBytes('cached_input_tokens'),
  outputTokens: keyBytes('output_tokens'),
  reasoningOutputTokens: keyBytes('reasoning_output_tokens'),
  totalTokens: keyBytes('total_tokens'),
};
const V = {
  sessionMeta: keyBytes('session_meta'),
  turnContext: keyBytes('turn_context'),
  eventMsg: keyBytes('event_msg'),
  tokenCount: keyBytes('token_count'),
};
const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;
const EMPTY = Buffer.alloc(0);

function newSlots(): UsageSlots {
  return { values: new Float64Array(5), seen: 0, bad: false };
}

export function newCodexLine(): CodexLine {
  return resetLine(
    {
      buf: EMPTY,
      top: Top.Unknown,
      aborted: false,
      tokenCount: false,
      timestampStart: -1,
      timestampEnd: -1,
      timestampNumber: Number.NaN,
      idStart: -1,
      idEnd: -1,
      cwdStart: -1,
      cwdEnd: -1,
      modelStart: -1,
      modelEnd: -1,
      turnIdStart: -1,
      turnIdEnd: -1,
      subagent: false,
      info: 'absent',
      total: newSlots(),
      last: newSlots(),
    },
    EMPTY,
  );
}

function resetSlots(slots: UsageSlots): void {
  slots.values.fill(0);
  slots.seen = 0;
  slots.bad = false;
}

function resetLine(line: CodexLine, buf: Buffer): CodexLine {
  line.buf = buf;
  line.top = Top.Unknown;
  line.aborted = false;
  line.tokenCount = false;
  line.timestampStart = line.idStart = line.cwdStart = line.modelStart = line.turnIdStart = -1;
  line.timestampNumber = Number.NaN;
  line.subagent = false;
  line.info = 'absent';
  resetSlots(line.total);
  resetSlots(line.last);
  return line;
}

function visitUsage(buf: Buffer, ks: number, ke: number, vs: number, end: number, out: UsageSlots): number {
  let slot = -1;
  if (keyEquals(buf, ks, ke, K.inputTokens)) slot = IN;
  else if (keyEquals(buf, ks, ke, K.cachedInputTokens)) slot = CACHED;
  else if (keyEquals(buf, ks, ke, K.outputTokens)) slot = OUT;
  else if (keyEquals(buf, ks, ke, K.reasoningOutputTokens)) slot = REASONING;
  else if (keyEquals(buf, ks, ke, K.totalTokens)) slot = TOTAL;
  const after = skipValue(buf, vs, end);
  if (slot < 0 || after < 0) return after;
  const value = decodeNumber(buf, vs, after);
  if (Number.isFinite(value) && value >= 0) {
    out.values[slot] = value;
    out.seen |= 1 << slot;
  } else {
    out.bad = true;
  }
  return after;
}

function visitInfo(buf: Buffer, ks: number, ke: number, vs: number, end: number, out: CodexLine): number {
  if (buf[vs] === OPEN_BRACE) {
    if (keyEquals(buf, ks, ke, K.totalTokenUsage)) return walkObject(buf, vs, end, visitUsage, out.total);
    if (keyEquals(buf, ks, ke, K.lastTokenUsage)) return walkObject(buf, vs, end, visitUsage, out.last);
  }
  if (buf[vs] === QUOTE && keyEquals(buf, ks, ke, K.model)) {
    // Some builds also name the model in the token event itself.
    out.modelStart = vs;
    return (out.modelEnd = skipString(buf, vs, end));
  }
  return skipValue(buf, vs, end);
}

function visitSource(buf: Buffer, ks: number, ke: number, vs: number, end: number, out: CodexLine): number {
  if (keyEquals(buf, ks, ke, K.subagent) || keyEquals(buf, ks, ke, K.subAgent)) out.subagent = true;
  return skipValue(buf, vs, end);
}

/** One visitor for every payload we read (session_meta, turn_context, token_count): their keys do not clash. */
function visitPayload(buf: Buffer, ks: number, ke: number, vs: number, end: number, out: CodexLine): number {
  switch (ke - ks - 2) {
    case 4:
      if (keyEquals(buf, ks, ke, K.type)) {
        const after = skipValue(buf, vs, end);
        if (after < 0) return -1;
        out.tokenCount = keyEquals(buf, vs, after, V.tokenCount);
        // Any other event (messages, tool calls...) is done with as soon as its type is known.
        if (!out.tokenCount && out.top === Top.EventMsg) {
          out.aborted = true;
          return -1;
        }
        return after;
      }
      if (keyEquals(buf, ks, ke, K.info)) {
        if (buf[vs] === OPEN_BRACE) {
          out.info = 'object';
          return walkObject(buf, vs, end, visitInfo, out);
        }
        const after = skipValue(buf, vs, end);
        if (after > 0 && buf[vs] === 0x6e) out.info = 'null';
        return after;
      }
      break;
    case 2:
      if (buf[vs] === QUOTE && keyEquals(buf, ks, ke, K.id)) {
        out.idStart = vs;
        return (out.idEnd = skipString(buf, vs, end));
      }
      break;
    case 3:
      if (buf[vs] === QUOTE && keyEquals(buf, ks, ke, K.cwd)) {
        out.cwdStart = vs;
        return (out.cwdEnd = skipString(buf, vs, end));
      }
      break;
    case 5:
      if (buf[vs] === QUOTE && keyEquals(buf, ks, ke, K.model)) {
        out.modelStart = vs;
        return (out.modelEnd = skipString(buf, vs, end));
      }
      break;
    case 6:
      if (buf[vs] === OPEN_BRACE && keyEquals(buf, ks, ke, K.source)) return walkObject(buf, vs, end, visitSource, out);
      break;
    case 7:
      if (buf[vs] === QUOTE && keyEquals(buf, ks, ke, K.turnId)) {
        out.turnIdStart = vs;
        return (out.turnIdEnd = skipString(buf, vs, end));
      }
      break;
  }
  return skipValue(buf, vs, end);
}

function visitTop(buf: Buffer, ks: number, ke: number, vs: number, end: number, out: CodexLine): number {
  if (keyEquals(buf, ks, ke, K.type)) {
    const after = skipValue(buf, vs, end);
    if (after < 0) return -1;
    if (keyEquals(buf, vs, after, V.eventMsg)) out.top = Top.EventMsg;
    else if (keyEquals(buf, vs, after, V.turnContext)) out.top = Top.TurnContext;
    else if (keyEquals(buf, vs, after, V.sessionMeta)) out.top = Top.SessionMeta;
    else {
      // response_item, compacted, ...: most of a rollout's bytes, never looked at past their type.
      out.aborted = true;
      return -1;
    }
    return after;
  }
  if (keyEquals(buf, ks, ke, K.timestamp)) {
    const after = skipValue(buf, vs, end);
    if (after < 0) return -1;
    if (buf[vs] === QUOTE) {
      out.timestampStart = vs;
      out.timestampEnd = after;
    } else {
      out.timestampNumber = decodeNumber(buf, vs, after);
    }
    return after;
  }
  if (buf[vs] === OPEN_BRACE && keyEquals(buf, ks, ke, K.payload)) return walkObject(buf, vs, end, visitPayload, out);
  return skipValue(buf, vs, end);
}

function isBlank(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d;
}

/**
 * Scans one rollout line in `buf[start, end)` into `out`. Codex writes `timestamp` and `type` first, so the lines
 * that carry nothing for us (response items: tool output, file contents) are left after a few dozen bytes.
 */
export function scanCodexLine(buf: Buffer, start: number, end: number, out: CodexLine): CodexLineKind {
  resetLine(out, buf);
  let i = start;
  while (i < end && isBlank(buf[i])) i++;
  if (i === end) return CodexLineKind.Other;
  const after = walkObject(buf, i, end, visitTop, out);
  if (out.aborted) return CodexLineKind.Other;
  if (after < 0) return CodexLineKind.Malformed;
  // Anything after the closing brace but blanks means two records ran together (a torn line, then an append).
  for (let j = after; j < end; j++) if (!isBlank(buf[j])) return CodexLineKind.Malformed;
  switch (out.top) {
    case Top.SessionMeta:
      return CodexLineKind.SessionMeta;
    case Top.TurnContext:
      return CodexLineKind.TurnContext;
    case Top.EventMsg:
      if (!out.tokenCount) return CodexLineKind.Other;
      // A count that is not a number would make every later difference wrong: the line is not usable.
      if (out.total.bad || out.last.bad) return CodexLineKind.Malformed;
      return CodexLineKind.TokenCount;
    default:
      return CodexLineKind.Other;
  }
}

/** The line's time in ms UTC (lines are stamped in UTC; file and folder names use local time), or NaN. */
export function lineTimestamp(line: CodexLine): number {
  if (line.timestampStart >= 0) return parseTimestamp(line.buf, line.timestampStart, line.timestampEnd);
  const n = line.timestampNumber;
  if (!Number.isFinite(n) || n <= 0) return Number.NaN;
  return n > 1e11 ? n : n * 1000; // seconds or milliseconds
}

function text(line: CodexLine, start: number, end: number): string | undefined {
  return start < 0 ? undefined : decodeString(line.buf, start, end);
}

// ---------------------------------------------------------------------------------------------------------------
// Models

/**
 * `codex-auto-review` (the hidden model behind automatic approval reviews) has no price of its own: it is priced as
 * the Codex default model of its day. Release dates as listed by ccusage (adapter/codex/parser.rs), newest first.
 */
const AUTO_REVIEW_MODELS: ReadonlyArray<[since: number, model: string]> = [
  [Date.UTC(2026, 3, 23), 'gpt-5.5'],
  [Date.UTC(2026, 2, 5), 'gpt-5.4'],
  [Date.UTC(2026, 1, 5), 'gpt-5.3-codex'],
  [Date.UTC(2025, 11, 11), 'gpt-5.2-codex'],
  [Date.UTC(2025, 10, 13), 'gpt-5.1-codex'],
  [Date.UTC(2025, 8, 15), 'gpt-5-codex'],
];

export function billedModel(model: string | undefined, timestamp: number): string {
  if (!model) return UNKNOWN_MODEL;
  if (model !== 'codex-auto-review') return model;
  for (const [since, actual] of AUTO_REVIEW_MODELS) if (timestamp >= since) return actual;
  return 'gpt-5';
}


// ---------------------------------------------------------------------------------------------------------------
// One file

/** What a read of a rollout must remember for the next one (kept in the cursor's context, as JSON). */
export interface CodexFileState {
  /** The file's own thread: its first session_meta. */
  session?: string;
  /**
   * The thread whose history the lines now being read belong to: the latest session_meta. A fork starts its file
   * with its own session_meta, then copies its parent's lines, the parent's session_meta first; so a copied step of
   * a build without turn ids is keyed as in the parent's own file.
   */
  owner?: string;
  cwd?: string;
  model?: string;
  /** The current turn's id (turn_context.turn_id); '' when the build does not write one. */
  turn?: string;
  /** The last total_token_usage seen: [input, cached, output, reasoning, total]. */
  total?: number[];
  /** The file is a subagent's (session_meta.source.subagent). */
  sidechain?: boolean;
}

export function parseState(saved: string | undefined): CodexFileState {
  if (!saved) return {};
  try {
    const value = JSON.parse(saved) as unknown;
    if (!value || typeof value !== 'object') return {};
    const v = value as Record<string, unknown>;
    const state: CodexFileState = {};
    if (typeof v.session === 'string') state.session = v.session;
    if (typeof v.owner === 'string') state.owner = v.owner;
    if (typeof v.cwd === 'string') state.cwd = v.cwd;
    if (typeof v.model === 'string') state.model = v.model;
    if (typeof v.turn === 'string') state.turn = v.turn;
    if (Array.isArray(v.total) && v.total.length === 5 && v.total.every((n) => typeof n === 'number')) state.total = v.total;
    if (v.sidechain === true) state.sidechain = true;
    return state;
  } catch {
    return {};
  }
}

/**
 * What one step billed, from consecutive cumulative totals, into `spend` (the caller's, reused from line to line
 * rather than a typed array allocated per token_count line). False when nothing was billed.
 */
export function stepSpend(previous: ArrayLike<number> | undefined, line: CodexLine, spend: Float64Array): boolean {
  const total = line.total.values;
  let reset = false;
  if (previous) {
    for (let k = 0; k < 5; k++) if (total[k] < previous[k]) reset = true;
    // A counter that started over (a build that does not re-seed the total on resume) need not drop: when its first
    // step is at least the old cumulative in every count, only `total == last` (impossible in steady state, where
    // total = previous + last) tells it from a step.
    if (!reset && restarted(previous, line)) reset = true;
  }
  if (reset) {
    // The total was rewritten (the context window overflowed): this step is its own last usage, never negative.
    spend.set(line.last.seen !== 0 ? line.last.values : total);
  } else {
    for (let k = 0; k < 5; k++) spend[k] = total[k] - (previous ? previous[k] : 0);
  }
  // Only input and output are billed (cached input is inside input, reasoning inside output).
  return spend[IN] > 0 || spend[OUT] > 0 || spend[CACHED] > 0;
}

/** The total is the line's own last usage while the previous total held something and differs from it. */
function restarted(previous: ArrayLike<number>, line: CodexLine): boolean {
  if ((line.last.seen & (HAS_IN | HAS_OUT)) !== (HAS_IN | HAS_OUT)) return false;
  const total = line.total.values;
  const last = line.last.values;
  let held = false;
  let moved = false;
  for (let k = IN; k <= REASONING; k++) {
    if (total[k] !== last[k]) return false;
    if (previous[k] !== 0) held = true;
    if (previous[k] !== total[k]) moved = true;
  }
  return held && moved;
}

/**
 * The identity of a step: its turn and the cumulative total after it. Current builds give every turn a UUID, which
 * a copy keeps, wherever the copy sits (a replay may come before or after the parent's session_meta). Older builds
 * wrote no turn id: then the thread whose history holds the line (the latest session_meta) stands in for it.
 */
export function stepKey(owner: string, turn: string | undefined, total: ArrayLike<number>): string {
  const counts = `${total[IN]},${total[CACHED]},${total[OUT]},${total[REASONING]},${total[TOTAL]}`;
  if (turn && turn.length >= 16) return `${CODEX}:${turn}:${counts}`;
  return `${CODEX}:${owner}:${turn ?? ''}:${counts}`;
}

const RECOVERY_ATTEMPTS = 16;
const RECORD_START = Buffer.from('{"timestamp"');

export type CodexSink = LineSink & { state(): string };

/**
 * A line sink for one rollout: tracks the session, model, turn and last total, and emits one event per step that
 * billed anything. `saved` is the state a previous read of the same file left (undefined from the start).
 */
export function codexSink(file: string, saved: string | undefined, context: ReadContext): CodexSink {
  const state = parseState(saved);
  const line = newCodexLine();
  const fileThread = threadIdOfFile(file);
  const counts = context.counts;
  const spend = new Float64Array(5);

  const sessionMeta = (): void => {
    const id = text(line, line.idStart, line.idEnd) || undefined;
    if (state.session === undefined) {
      // The file's own thread: later session_meta lines are copied from a parent.
      state.session = id ?? fileThread;
      const cwd = text(line, line.cwdStart, line.cwdEnd);
      if (cwd) state.cwd = cwd;
      if (line.subagent) state.sidechain = true;
    }
    state.owner = id ?? state.owner;
  };

  const turnContext = (): void => {
    const model = text(line, line.modelStart, line.modelEnd);
    if (model) state.model = model; // early builds wrote none: the last one known stands
    const cwd = text(line, line.cwdStart, line.cwdEnd);
    if (cwd) state.cwd = cwd;
    state.turn = text(line, line.turnIdStart, line.turnIdEnd) ?? '';
  };

  const tokenCount = (): void => {
    // `info: null` is a rate-limit update before the first response: nothing billed.
    if (line.info !== 'object' || (line.total.seen & (HAS_IN | HAS_OUT)) !== (HAS_IN | HAS_OUT)) return;
    const timestamp = lineTimestamp(line);
    if (!Number.isFinite(timestamp)) {
      // Keep the previous total: the next dated step's difference then includes this one's spend.
      counts.undatedLines++;
      return;
    }
    const total = line.total.values;
    if (!(line.total.seen & HAS_TOTAL)) total[TOTAL] = total[IN] + total[OUT];
    const billed = stepSpend(state.total, line, spend);
    // A literal, not Array.from(total): that walks the typed array through its iterator, ~1.3 µs a line (40 ms of
    // a cold read of the 1 GB benchmark corpus).
    state.total = [total[IN], total[CACHED], total[OUT], total[REASONING], total[TOTAL]];
    if (!billed) return; // the same info re-emitted with new rate limits, or a reset marker
    const cached = Math.min(spend[CACHED], spend[IN]);
    const model = text(line, line.modelStart, line.modelEnd) || state.model;
    const event: UsageEvent = {
      dedupeKey: stepKey(state.owner ?? state.session ?? fileThread, state.turn, total),
      requestTag: 0,
      agent: CODEX,
      timestamp,
      sessionId: state.session ?? fileThread,
      project: state.cwd || UNKNOWN_PROJECT,
      model: billedModel(model, timestamp),
      inputTokens: spend[IN] - cached,
      outputTokens: spend[OUT],
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      cacheReadTokens: cached,
      fast: false, // the service tier is not logged (see the formats doc, Codex trap 9)
      sidechain: state.sidechain === true,
    };
    context.emit(event);
  };

  const apply = (kind: CodexLineKind): void => {
    if (kind === CodexLineKind.TokenCount) tokenCount();
    else if (kind === CodexLineKind.TurnContext) turnContext();
    else if (kind === CodexLineKind.SessionMeta) sessionMeta();
  };

  return {
    line(buf, start, end) {
      const kind = scanCodexLine(buf, start, end, line);
      if (kind !== CodexLineKind.Malformed) return apply(kind);
      counts.malformedLines++;
      // A torn line followed by an append (a resumed session) runs two records together: read the one that starts
      // inside it.
      let from = start + 1;
      for (let attempt = 0; attempt < RECOVERY_ATTEMPTS; attempt++) {
        const open = buf.indexOf(RECORD_START, from);
        if (open < 0 || open >= end) return;
        const retry = scanCodexLine(buf, open, end, line);
        if (retry !== CodexLineKind.Malformed) {
          counts.recoveredLines++;
          return apply(retry);
        }
        from = open + 1;
      }
    },
    partialLine(buf, start, end) {
      // A last line without its newline: a whole record counts now (read again once its newline arrives, it is a
      // zero difference); a torn one is waited for.
      const kind = scanCodexLine(buf, start, end, line);
      if (kind !== CodexLineKind.Malformed) apply(kind);
    },
    oversizedLine() {
      counts.oversizedLines++;
    },
    state: () => JSON.stringify(state),
  };
}

/** Feeds every line of an in-memory file to a sink (a decompressed history file is read whole). */
function feedLines(data: Buffer, sink: LineSink): void {
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0x0a, start);
    if (end < 0) end = data.length;
    sink.line(data, start, end, start);
    start = end + 1;
  }
  sink.end?.();
}

/** A compressed file whose plain sibling exists: Codex reads the plain one, and so do we. */
const SHADOWED = 'shadowed-by-plain';

function readCompressed(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead {
  const plain = plainOf(file);
  if (fs.existsSync(plain)) {
    try {
      const stat = fs.statSync(file);
      if (!stat.isFile()) throw Object.assign(new Error(`EISDIR: not a file, read '${file}'`), { code: 'EISDIR' });
      const cursor: FileCursor = { offset: 0, size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, tail: '', context: SHADOWED };
      return { file, cursor, bytesRead: 0, rewritten: false };
    } catch (error) {
      return { file, bytesRead: 0, rewritten: false, error: (error as Error).message, errorCode: (error as NodeJS.ErrnoException).code };
    }
  }
  return readWholeFile(file, previous?.context === SHADOWED ? undefined : previous, context, (data) => {
    feedLines(decompressZstd(data), codexSink(file, undefined, context));
    return undefined;
  });
}

function readRollout(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead {
  if (isCompressed(file)) return readCompressed(file, previous, context);
  return readLines(file, previous, context, (saved) => codexSink(file, saved, context));
}

/** sessions/YYYY/MM/DD is three folders deep; a folder the user added may be a whole Codex home (one more). */
const WALK: WalkOptions = {
  maxDepth: 5,
  skipFolders: new Set(),
  isWanted: isRolloutName,
};

export const codexSource: Source = {
  agent: CODEX,
  label: 'Codex CLI',
  roots: codexRoots,
  walk: WALK,
  fileFor(changed) {
    if (!isRolloutName(path.basename(changed))) return undefined;
    // A plain rollout that vanished was compressed (or archived): its `.zst` is what there is to read now.
    if (!isCompressed(changed) && !fs.existsSync(changed) && fs.existsSync(`${changed}.zst`)) return `${changed}.zst`;
    return changed;
  },
  isUnchanged(file, cursor, stat) {
    if (!statUnchanged(cursor, stat)) return false;
    // Skipped while its plain sibling existed: read it once that is gone.
    return cursor.context !== SHADOWED || fs.existsSync(plainOf(file));
  },
  read: readRollout,
};
