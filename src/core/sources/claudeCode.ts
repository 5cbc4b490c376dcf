// Claude Code: `<root>/projects/<encoded-cwd>/<sessionId>.jsonl` plus `<sessionId>/subagents/agent-*.jsonl`.
// Only `type: "assistant"` lines carry usage. See ../shared/formats/agent-logs.md §1 for every trap handled here.

import * as os from 'node:os';
import * as path from 'node:path';
import { decodeNumber, decodeString, keyBytes, keyEquals, skipString, skipValue, walkObject } from '../jsonScan';
import type { LineSink } from '../tail';
import { tagOf, type UsageEvent } from '../usage';

export const CLAUDE_CODE = 'claude-code';

/** The roots Claude Code writes to: CLAUDE_CONFIG_DIR alone when set, else the XDG location and ~/.claude. */
export function claudeCodeRoots(env: NodeJS.ProcessEnv): string[] {
  const configDir = env.CLAUDE_CONFIG_DIR?.trim();
  if (configDir) return [path.resolve(configDir)];
  const home = env.HOME || env.USERPROFILE || os.homedir();
  const xdgConfig = env.XDG_CONFIG_HOME?.trim() || path.join(home, '.config');
  return [path.join(xdgConfig, 'claude'), path.join(home, '.claude')];
}

/** Where transcripts live below a root. */
export function claudeCodeProjectsDir(root: string): string {
  return path.join(root, 'projects');
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

/** What one line of a transcript told us. */
export interface ClaudeLine {
  type: string | undefined;
  cwd: string | undefined;
  sessionId: string | undefined;
  timestamp: string | undefined;
  requestId: string | undefined;
  uuid: string | undefined;
  isSidechain: boolean;
  isApiErrorMessage: boolean;
  costUSD: number | undefined;
  messageId: string | undefined;
  model: string | undefined;
  hasUsage: boolean;
  inputTokens: number;
  outputTokens: number;
  cacheCreationTokens: number;
  cacheReadTokens: number;
  hasCacheCreationDetail: boolean;
  ephemeral5mTokens: number;
  ephemeral1hTokens: number;
  speed: string | undefined;
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
const TRUE_BYTE = 0x74;

function newLine(): ClaudeLine {
  return {
    type: undefined,
    cwd: undefined,
    sessionId: undefined,
    timestamp: undefined,
    requestId: undefined,
    uuid: undefined,
    isSidechain: false,
    isApiErrorMessage: false,
    costUSD: undefined,
    messageId: undefined,
    model: undefined,
    hasUsage: false,
    inputTokens: 0,
    outputTokens: 0,
    cacheCreationTokens: 0,
    cacheReadTokens: 0,
    hasCacheCreationDetail: false,
    ephemeral5mTokens: 0,
    ephemeral1hTokens: 0,
    speed: undefined,
  };
}

function readStringOrSkip(buf: Buffer, at: number, end: number, assign: (value: string) => void): number {
  if (buf[at] !== 0x22) return skipValue(buf, at, end);
  const after = skipString(buf, at, end);
  if (after > 0) assign(decodeString(buf, at, after));
  return after;
}

function readCount(buf: Buffer, at: number, end: number, assign: (value: number) => void): number {
  const after = skipValue(buf, at, end);
  if (after < 0) return -1;
  const value = decodeNumber(buf, at, after);
  // A wrong type (a string, an object) counts as absent rather than as garbage in the totals.
  if (Number.isFinite(value) && value >= 0) assign(value);
  return after;
}

/**
 * Scans one transcript line in `buf[start, end)`. Lines that are not the assistant's are recognised from their
 * `type` and left without reading the rest, which is what keeps multi-megabyte tool results cheap.
 */
export function scanClaudeLine(buf: Buffer, start: number, end: number, out: ClaudeLine = newLine()): LineKind {
  let i = start;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0d)) i++;
  if (i === end) return LineKind.Other;
  let notAssistant = false;
  const usage = (us: number): number =>
    walkObject(buf, us, end, (ks, ke, vs) => {
      if (keyEquals(buf, ks, ke, K.inputTokens)) return readCount(buf, vs, end, (v) => (out.inputTokens = v));
      if (keyEquals(buf, ks, ke, K.outputTokens)) return readCount(buf, vs, end, (v) => (out.outputTokens = v));
      if (keyEquals(buf, ks, ke, K.cacheCreationInputTokens))
        return readCount(buf, vs, end, (v) => (out.cacheCreationTokens = v));
      if (keyEquals(buf, ks, ke, K.cacheReadInputTokens))
        return readCount(buf, vs, end, (v) => (out.cacheReadTokens = v));
      if (keyEquals(buf, ks, ke, K.speed)) return readStringOrSkip(buf, vs, end, (v) => (out.speed = v));
      if (keyEquals(buf, ks, ke, K.cacheCreation) && buf[vs] === 0x7b) {
        out.hasCacheCreationDetail = true;
        return walkObject(buf, vs, end, (cks, cke, cvs) => {
          if (keyEquals(buf, cks, cke, K.ephemeral5m)) return readCount(buf, cvs, end, (v) => (out.ephemeral5mTokens = v));
          if (keyEquals(buf, cks, cke, K.ephemeral1h)) return readCount(buf, cvs, end, (v) => (out.ephemeral1hTokens = v));
          return skipValue(buf, cvs, end);
        });
      }
      return skipValue(buf, vs, end);
    });
  const message = (ms: number): number =>
    walkObject(buf, ms, end, (ks, ke, vs) => {
      if (keyEquals(buf, ks, ke, K.id)) return readStringOrSkip(buf, vs, end, (v) => (out.messageId = v));
      if (keyEquals(buf, ks, ke, K.model)) return readStringOrSkip(buf, vs, end, (v) => (out.model = v));
      if (keyEquals(buf, ks, ke, K.usage) && buf[vs] === 0x7b) {
        out.hasUsage = true;
        return usage(vs);
      }
      return skipValue(buf, vs, end);
    });
  const after = walkObject(buf, i, end, (ks, ke, vs) => {
    if (keyEquals(buf, ks, ke, K.type)) {
      const valueEnd = skipValue(buf, vs, end);
      if (valueEnd < 0) return -1;
      if (!keyEquals(buf, vs, valueEnd, ASSISTANT)) {
        // Not a usage line: stop here, the rest of it (often huge) is never looked at.
        notAssistant = true;
        return -1;
      }
      out.type = 'assistant';
      return valueEnd;
    }
    if (keyEquals(buf, ks, ke, K.message) && buf[vs] === 0x7b) return message(vs);
    if (keyEquals(buf, ks, ke, K.cwd)) return readStringOrSkip(buf, vs, end, (v) => (out.cwd = v));
    if (keyEquals(buf, ks, ke, K.sessionId)) return readStringOrSkip(buf, vs, end, (v) => (out.sessionId = v));
    if (keyEquals(buf, ks, ke, K.timestamp)) return readStringOrSkip(buf, vs, end, (v) => (out.timestamp = v));
    if (keyEquals(buf, ks, ke, K.requestId)) return readStringOrSkip(buf, vs, end, (v) => (out.requestId = v));
    if (keyEquals(buf, ks, ke, K.uuid)) return readStringOrSkip(buf, vs, end, (v) => (out.uuid = v));
    if (keyEquals(buf, ks, ke, K.isSidechain)) {
      out.isSidechain = buf[vs] === TRUE_BYTE;
      return skipValue(buf, vs, end);
    }
    if (keyEquals(buf, ks, ke, K.isApiErrorMessage)) {
      out.isApiErrorMessage = buf[vs] === TRUE_BYTE;
      return skipValue(buf, vs, end);
    }
    if (keyEquals(buf, ks, ke, K.costUSD)) return readCount(buf, vs, end, (v) => (out.costUSD = v));
    return skipValue(buf, vs, end);
  });
  if (notAssistant) return LineKind.Other;
  if (after < 0) return LineKind.Malformed;
  // Anything after the closing brace but blanks means two records ran together (a torn line, then an append).
  for (let j = after; j < end; j++) {
    const byte = buf[j];
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return LineKind.Malformed;
  }
  return out.type === 'assistant' && out.hasUsage ? LineKind.Usage : LineKind.Other;
}

export { newLine as newClaudeLine };

/** Why a usage line produced no event. */
export type ClaudeSkipReason = 'synthetic' | 'no-timestamp';

/**
 * Turns a scanned usage line into an event.
 *
 * Identity: a response is `message.id`; the request id only tells apart two responses that a gateway gave the same
 * message id (see the ledger's merge rule). Lines without a message id fall back to the request id, then the uuid.
 * Cache writes: the nested `cache_creation` split wins when present, because older builds wrote 0 at the top level.
 */
export function claudeEventOf(
  line: ClaudeLine,
  file: { sessionId: string; subagent: boolean; cwd: string | undefined },
  fallbackKey: () => string,
): UsageEvent | ClaudeSkipReason {
  if (line.model === '<synthetic>') return 'synthetic';
  const timestamp = line.timestamp ? Date.parse(line.timestamp) : Number.NaN;
  if (!Number.isFinite(timestamp)) return 'no-timestamp';
  let cacheWrite5m: number;
  let cacheWrite1h: number;
  if (line.hasCacheCreationDetail && line.ephemeral5mTokens + line.ephemeral1hTokens > 0) {
    cacheWrite5m = line.ephemeral5mTokens;
    cacheWrite1h = line.ephemeral1hTokens;
  } else {
    cacheWrite5m = line.cacheCreationTokens;
    cacheWrite1h = 0;
  }
  const id = line.messageId || undefined;
  const dedupeKey = id
    ? `cc:${id}`
    : line.requestId
      ? `cc:r:${line.requestId}`
      : line.uuid
        ? `cc:u:${line.uuid}`
        : `cc:h:${fallbackKey()}`;
  return {
    dedupeKey,
    requestTag: id ? tagOf(line.requestId) : 0,
    agent: CLAUDE_CODE,
    timestamp,
    // Subagent transcripts belong to the parent session (their folder), whatever their lines say.
    sessionId: file.subagent ? file.sessionId : line.sessionId || file.sessionId,
    project: line.cwd || file.cwd || '(unknown project)',
    model: line.model || '(unknown model)',
    inputTokens: line.inputTokens,
    outputTokens: line.outputTokens,
    cacheWrite5mTokens: cacheWrite5m,
    cacheWrite1hTokens: cacheWrite1h,
    cacheReadTokens: line.cacheReadTokens,
    fast: line.speed === 'fast',
    sidechain: line.isSidechain || file.subagent,
    reportedCostUsd: line.costUSD,
  };
}

/** Counts of what reading a transcript skipped, for the log and the report's warnings. */
export interface ReadCounts {
  malformedLines: number;
  recoveredLines: number;
  oversizedLines: number;
  syntheticLines: number;
  undatedLines: number;
}

export function newReadCounts(): ReadCounts {
  return { malformedLines: 0, recoveredLines: 0, oversizedLines: 0, syntheticLines: 0, undatedLines: 0 };
}

const RECOVERY_ATTEMPTS = 16;

/**
 * A line sink for one transcript: scans lines, turns usage lines into events and hands them to `emit`.
 * `file.cwd` is updated as lines reveal the working directory, so that a later read can resume with it.
 */
export function claudeTranscriptSink(
  file: { sessionId: string; subagent: boolean; cwd: string | undefined },
  emit: (event: UsageEvent) => void,
  counts: ReadCounts,
  hashLine: (buf: Buffer, start: number, end: number) => string,
): LineSink {
  const take = (line: ClaudeLine, buf: Buffer, start: number, end: number): void => {
    if (line.cwd) file.cwd = line.cwd;
    const event = claudeEventOf(line, file, () => hashLine(buf, start, end));
    if (event === 'synthetic') counts.syntheticLines++;
    else if (event === 'no-timestamp') counts.undatedLines++;
    else emit(event);
  };
  return {
    line(buf, start, end) {
      const line = newLine();
      const kind = scanClaudeLine(buf, start, end, line);
      if (kind === LineKind.Usage) return take(line, buf, start, end);
      if (kind === LineKind.Other) {
        if (line.cwd) file.cwd = line.cwd;
        return;
      }
      counts.malformedLines++;
      // A torn line followed by an append runs two records together: try the records that start inside it.
      let from = start + 1;
      for (let attempt = 0; attempt < RECOVERY_ATTEMPTS; attempt++) {
        const open = buf.indexOf('{"', from);
        if (open < 0 || open >= end) return;
        const retry = newLine();
        const retryKind = scanClaudeLine(buf, open, end, retry);
        if (retryKind !== LineKind.Malformed) {
          counts.recoveredLines++;
          if (retryKind === LineKind.Usage) take(retry, buf, open, end);
          return;
        }
        from = open + 1;
      }
    },
    partialLine(buf, start, end) {
      // The last line has no newline yet. If it is already a whole record, count it now (the ledger makes the
      // re-read after its newline arrives a no-op); a torn line is simply waited for.
      const line = newLine();
      if (scanClaudeLine(buf, start, end, line) === LineKind.Usage) take(line, buf, start, end);
    },
    oversizedLine() {
      counts.oversizedLines++;
    },
  };
}
