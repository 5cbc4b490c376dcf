// Qwen Code: `<runtime dir>/projects/<sanitised cwd>/chats/<sessionId>.jsonl` (since ~0.14): Claude-style records
// `{uuid, parentUuid, sessionId, timestamp, type, cwd, ...}`, one `type: "assistant"` record per model response with
// Gemini's `usageMetadata`. Before, Qwen Code (a Gemini CLI fork) wrote Gemini's legacy whole-file
// `tmp/<hash>/chats/session-*.json`, read here by the Gemini reader. See ../shared/formats/agent-logs.md §7.
//
// Traps: `system` records with `subtype: "ui_telemetry"` repeat every response's counts as a `qwen-code.api_response`
// event (only the assistant record is counted); /branch copies every record of the source session verbatim into the
// fork, `uuid` kept and `sessionId` rewritten, with `forkedFrom` naming the source (counted once, for the source); a
// rewind leaves the rewound records on a dead branch of the uuid tree (billed: still counted); the default
// OpenAI-compatible providers put reasoning inside `candidatesTokenCount` (see partitionGeminiTokens).

import * as path from 'node:path';
import type { WalkOptions } from '../folderIndex';
import { digest } from '../hash';
import { decodeString, keyBytes, keyEquals, skipString, skipValue, skipWhitespace, walkObject } from '../jsonScan';
import type { FileCursor, LineSink } from '../tail';
import { totalTokens, UNKNOWN_MODEL, UNKNOWN_PROJECT } from '../usage';
import { LineKind, parseTimestamp, RepeatedText } from './claudeCode';
import {
  agentHome,
  isChatFileName,
  newGeminiTokens,
  partitionGeminiTokens,
  pathsOf,
  readLegacyChat,
  recoverRunTogether,
  walkTokens,
  type ChatFamily,
  type GeminiTokens,
} from './gemini';
import { readLines, type ReadContext, type Source, type SourceOptions, type SourceRead } from './source';

export const QWEN_CODE = 'qwen-code';

/** Qwen Code's providers are OpenAI-compatible by default: `completion_tokens` (reasoning included) is `candidates`. */
const QWEN_FAMILY: ChatFamily = { agent: QWEN_CODE, thoughtsInCandidates: true };

// ---------------------------------------------------------------------------------------------------------------
// Where the logs are

/** `~` and relative paths as Qwen Code resolves its own settings of folders. */
function resolveDir(dir: string, options: SourceOptions): string {
  const p = pathsOf(options);
  if (dir === '~' || dir.startsWith('~/') || dir.startsWith('~\\')) dir = p.join(agentHome(options), dir.slice(2));
  return p.isAbsolute(dir) ? dir : p.resolve(dir);
}

/** Where Qwen Code writes sessions: QWEN_RUNTIME_DIR, else QWEN_HOME (its `.qwen` folder), else `~/.qwen`. */
export function qwenRuntimeDir(options: SourceOptions): string {
  const runtime = options.env.QWEN_RUNTIME_DIR?.trim();
  if (runtime) return resolveDir(runtime, options);
  const home = options.env.QWEN_HOME?.trim();
  if (home) return resolveDir(home, options);
  return pathsOf(options).join(agentHome(options), '.qwen');
}

/** JSONL sessions (`projects/`), legacy whole-file sessions (`tmp/`), then the folders the user added. */
export function qwenRoots(options: SourceOptions): string[] {
  const p = pathsOf(options);
  const base = qwenRuntimeDir(options);
  return [p.join(base, 'projects'), p.join(base, 'tmp'), ...(options.extraDirs ?? [])];
}

// ---------------------------------------------------------------------------------------------------------------
// Records

/** One record's fields as byte ranges into the scanned buffer (-1 when absent); decoded only for usage records. */
interface QwenLine {
  buf: Buffer;
  notAssistant: boolean;
  isAssistant: boolean;
  hasUsage: boolean;
  isSidechain: boolean;
  uuidStart: number;
  uuidEnd: number;
  sessionIdStart: number;
  sessionIdEnd: number;
  timestampStart: number;
  timestampEnd: number;
  cwdStart: number;
  cwdEnd: number;
  modelStart: number;
  modelEnd: number;
  /** `forkedFrom.sessionId`: the session a /branch copy was made from. */
  forkedStart: number;
  forkedEnd: number;
  tokens: GeminiTokens;
}

const K = {
  type: keyBytes('type'),
  uuid: keyBytes('uuid'),
  cwd: keyBytes('cwd'),
  model: keyBytes('model'),
  sessionId: keyBytes('sessionId'),
  timestamp: keyBytes('timestamp'),
  forkedFrom: keyBytes('forkedFrom'),
  isSidechain: keyBytes('isSidechain'),
  usageMetadata: keyBytes('usageMetadata'),
};
const ASSISTANT = keyBytes('assistant');
const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;
const TRUE_BYTE = 0x74;

function newQwenLine(): QwenLine {
  return {
    buf: Buffer.alloc(0),
    notAssistant: false,
    isAssistant: false,
    hasUsage: false,
    isSidechain: false,
    uuidStart: -1,
    uuidEnd: -1,
    sessionIdStart: -1,
    sessionIdEnd: -1,
    timestampStart: -1,
    timestampEnd: -1,
    cwdStart: -1,
    cwdEnd: -1,
    modelStart: -1,
    modelEnd: -1,
    forkedStart: -1,
    forkedEnd: -1,
    tokens: newGeminiTokens(),
  };
}

function visitForked(buf: Buffer, ks: number, ke: number, vs: number, end: number, out: QwenLine): number {
  if (buf[vs] === QUOTE && keyEquals(buf, ks, ke, K.sessionId)) {
    out.forkedStart = vs;
    return (out.forkedEnd = skipString(buf, vs, end));
  }
  return skipValue(buf, vs, end);
}

function visitTop(buf: Buffer, ks: number, ke: number, vs: number, end: number, out: QwenLine): number {
  const isString = buf[vs] === QUOTE;
  switch (ke - ks - 2) {
    case 3:
      if (isString && keyEquals(buf, ks, ke, K.cwd)) {
        out.cwdStart = vs;
        return (out.cwdEnd = skipString(buf, vs, end));
      }
      break;
    case 4:
      if (keyEquals(buf, ks, ke, K.type)) {
        const after = skipValue(buf, vs, end);
        if (after < 0) return -1;
        if (!keyEquals(buf, vs, after, ASSISTANT)) {
          // Not a response (a ui_telemetry record among others): the rest of it is never looked at.
          out.notAssistant = true;
          return -1;
        }
        out.isAssistant = true;
        return after;
      }
      if (isString && keyEquals(buf, ks, ke, K.uuid)) {
        out.uuidStart = vs;
        return (out.uuidEnd = skipString(buf, vs, end));
      }
      break;
    case 5:
      if (isString && keyEquals(buf, ks, ke, K.model)) {
        out.modelStart = vs;
        return (out.modelEnd = skipString(buf, vs, end));
      }
      break;
    case 9:
      if (isString && keyEquals(buf, ks, ke, K.sessionId)) {
        out.sessionIdStart = vs;
        return (out.sessionIdEnd = skipString(buf, vs, end));
      }
      if (isString && keyEquals(buf, ks, ke, K.timestamp)) {
        out.timestampStart = vs;
        return (out.timestampEnd = skipString(buf, vs, end));
      }
      break;
    case 10:
      if (buf[vs] === OPEN_BRACE && keyEquals(buf, ks, ke, K.forkedFrom)) return walkObject(buf, vs, end, visitForked, out);
      break;
    case 11:
      if (keyEquals(buf, ks, ke, K.isSidechain)) out.isSidechain = buf[vs] === TRUE_BYTE;
      break;
    case 13:
      if (buf[vs] === OPEN_BRACE && keyEquals(buf, ks, ke, K.usageMetadata)) {
        out.hasUsage = true;
        return walkTokens(buf, vs, end, out.tokens);
      }
      break;
  }
  return skipValue(buf, vs, end);
}

/** Scans the record in `buf[start, end)`: Usage for an assistant record with usageMetadata. */
function scanQwenLine(buf: Buffer, start: number, end: number, out: QwenLine): LineKind {
  out.buf = buf;
  out.notAssistant = out.isAssistant = out.hasUsage = out.isSidechain = false;
  out.uuidStart = out.sessionIdStart = out.timestampStart = out.cwdStart = out.modelStart = out.forkedStart = -1;
  const i = skipWhitespace(buf, start, end);
  if (i === end) return LineKind.Other;
  const after = walkObject(buf, i, end, visitTop, out);
  if (out.notAssistant) return LineKind.Other;
  if (after < 0 || skipWhitespace(buf, after, end) !== end) return LineKind.Malformed;
  return out.isAssistant && out.hasUsage ? LineKind.Usage : LineKind.Other;
}

function text(line: QwenLine, start: number, end: number): string | undefined {
  return start < 0 ? undefined : decodeString(line.buf, start, end) || undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

// Lines without the bytes `"usageMetadata"` cannot carry usage: ui_telemetry and tool results are never parsed.
const USAGE_NEEDLE = Buffer.from('"usageMetadata"');

/** One session file's sink; the cursor's context keeps the last cwd seen, for records that follow. */
function qwenSink(file: string, context: ReadContext, state: string | undefined): LineSink & { state(): string | undefined } {
  const line = newQwenLine();
  const models = new RepeatedText();
  const fileSession = path.basename(file, '.jsonl');
  let cwd = state;
  const take = (buf: Buffer, start: number, end: number): LineKind => {
    const kind = scanQwenLine(buf, start, end, line);
    if (line.cwdStart >= 0) cwd = text(line, line.cwdStart, line.cwdEnd) ?? cwd;
    if (kind !== LineKind.Usage) return kind;
    const timestamp = line.timestampStart < 0 ? Number.NaN : parseTimestamp(buf, line.timestampStart, line.timestampEnd);
    if (!Number.isFinite(timestamp)) {
      context.counts.undatedLines++;
      return kind;
    }
    const counts = partitionGeminiTokens(line.tokens, QWEN_FAMILY.thoughtsInCandidates);
    if (totalTokens(counts) === 0) return kind; // an empty usage block is no billed request
    const uuid = text(line, line.uuidStart, line.uuidEnd);
    context.emit({
      // A response's uuid survives /branch copies; a record without one is identified by its bytes.
      dedupeKey: uuid ? `${QWEN_CODE}:${uuid}` : `${QWEN_CODE}:h:${digest('sha1', buf.subarray(start, end), 'base64')}`,
      requestTag: 0,
      agent: QWEN_CODE,
      timestamp,
      // A /branch copy counts for the session that made the request, wherever it is read first.
      sessionId: text(line, line.forkedStart, line.forkedEnd) ?? text(line, line.sessionIdStart, line.sessionIdEnd) ?? fileSession,
      project: cwd || UNKNOWN_PROJECT,
      model: models.get(buf, line.modelStart, line.modelEnd) || UNKNOWN_MODEL,
      ...counts,
      fast: false,
      sidechain: line.isSidechain,
    });
    return kind;
  };
  return {
    needle: USAGE_NEEDLE,
    line(buf, start, end) {
      if (take(buf, start, end) !== LineKind.Malformed) return;
      context.counts.malformedLines++;
      if (recoverRunTogether(buf, start, end, (at) => take(buf, at, end)) !== LineKind.Malformed) context.counts.recoveredLines++;
    },
    partialLine(buf, start, end) {
      take(buf, start, end); // a whole record counts now; a torn one is waited for
    },
    oversizedLine() {
      context.counts.oversizedLines++;
    },
    state: () => cwd,
  };
}

/** Reads what is new in a Qwen Code session: a `.jsonl` from its cursor, a legacy `session-*.json` whole. */
export function readQwenChat(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead {
  if (file.endsWith('.json')) return readLegacyChat(file, previous, context, QWEN_FAMILY);
  return readLines(file, previous, context, (state) => qwenSink(file, context, state));
}

/** `projects/<cwd>/chats/` and `tmp/<hash>/chats/`; the rest of the runtime folder holds no usage. */
const WALK: WalkOptions = {
  maxDepth: 5,
  skipFolders: new Set(['bin', 'checkpoints', 'debug', 'ide', 'arena', 'todos', 'insights', 'history', 'node_modules', '.git']),
  isWanted: isChatFileName,
};

export const qwenSource: Source = {
  agent: QWEN_CODE,
  label: 'Qwen Code',
  roots: qwenRoots,
  walk: WALK,
  fileFor: (changed) => (isChatFileName(path.basename(changed)) ? changed : undefined),
  read: readQwenChat,
};
