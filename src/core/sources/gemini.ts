// Gemini CLI: `<home>/.gemini/tmp/<project>/chats/`. Since 0.39 a session is `session-<UTC time>-<id8>.jsonl`, one record
// per line, where a message is appended again, whole, every time it changes; subagents write
// `chats/<parentSessionId>/<sessionId>.jsonl`. Before, a session was `session-*.json`, one object rewritten in place on
// every update. `<project>` is a slug of the project's folder name with a `.project_root` marker holding the real path
// (>= 0.29), or the sha256 of that path (older; migration copies those folders and leaves them behind).
// See ../shared/formats/agent-logs.md §3 for every trap handled here.
//
// Identity of a billed request: the session id the file records plus the id of the message that carries its
// `tokens`. Every copy of a message (re-appended, repeated by a `$set.messages` checkpoint, migrated from the legacy
// `.json` into the `.jsonl`, copied from a hashed folder into a slug folder) gets the same key, so the ledger keeps one.
// `$rewindTo` and `$patch` remove messages from the conversation but not from the bill: they are ignored.
//
// Qwen Code is a fork whose old sessions are Gemini's legacy whole files: it reuses the reader and the token partition.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { WalkOptions } from '../folderIndex';
import { digest } from '../hash';
import { decodeNumber, decodeString, keyBytes, keyEquals, skipString, skipValue, skipWhitespace, walkObject } from '../jsonScan';
import type { FileCursor, LineSink } from '../tail';
import { totalTokens, UNKNOWN_MODEL, UNKNOWN_PROJECT, type TokenCounts } from '../usage';
import { LineKind, parseTimestamp, RepeatedText } from './claudeCode';
import { homeOf, platformOf, readLines, readWholeFile, type ReadContext, type Source, type SourceOptions, type SourceRead } from './source';

export const GEMINI_CLI = 'gemini-cli';

// ---------------------------------------------------------------------------------------------------------------
// Where the logs are

/** Paths of the platform asked for, so that tests of other platforms' defaults read naturally. */
export function pathsOf(options: SourceOptions): path.PlatformPath {
  return platformOf(options) === 'win32' ? path.win32 : path.posix;
}

/** The folder Node's os.homedir() gives the agent: the profile folder on Windows (whatever HOME says), else HOME. */
export function agentHome(options: SourceOptions): string {
  if (platformOf(options) === 'win32') return options.env.USERPROFILE || options.env.HOME || os.homedir();
  return homeOf(options);
}

/** `.gemini` in GEMINI_CLI_HOME when set (Gemini CLI's own override of the home folder), else in the user's home. */
export function geminiDir(options: SourceOptions): string {
  const override = options.env.GEMINI_CLI_HOME?.trim();
  return pathsOf(options).join(override || agentHome(options), '.gemini');
}

/** The project temp folders (which hold `chats/`), then the folders the user added. */
export function geminiRoots(options: SourceOptions): string[] {
  return [pathsOf(options).join(geminiDir(options), 'tmp'), ...(options.extraDirs ?? [])];
}

/** A session file's name: any `.jsonl` (subagent files are named by their session id), or a legacy `session-*.json`. */
export function isChatFileName(name: string): boolean {
  return name.endsWith('.jsonl') || (name.startsWith('session-') && name.endsWith('.json'));
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens

/** A Gemini `usageMetadata` (or Gemini CLI's `TokensSummary` copy of it): counts as the API reported them. */
export interface GeminiTokens {
  /** promptTokenCount: includes the cached tokens. */
  prompt: number;
  candidates: number;
  cached: number;
  thoughts: number;
  /** toolUsePromptTokenCount. */
  tool: number;
  /** totalTokenCount (0 when absent). */
  total: number;
}

export function newGeminiTokens(): GeminiTokens {
  return { prompt: 0, candidates: 0, cached: 0, thoughts: 0, tool: 0, total: 0 };
}

/** [thoughts apart from candidates, tool-use prompt apart from prompt], most usual first. */
const READINGS: ReadonlyArray<readonly [boolean, boolean]> = [
  [true, true],
  [true, false],
  [false, true],
  [false, false],
];

/**
 * Gemini's counts in Anthropic's partition. `promptTokenCount` includes the cached tokens (cache reads), and the
 * tool-use prompt is input too. Thoughts are output-priced, but whether `candidatesTokenCount` already holds them
 * depends on who filled it: the Gemini API counts them apart (total = prompt + candidates + thoughts + tool), while an
 * OpenAI-compatible response translated by Qwen Code puts `completion_tokens` (reasoning included) in candidates and
 * the reasoning again in thoughts. The reported total tells which reading adds up; only without one does
 * `thoughtsInCandidates`, the agent's usual case, decide.
 */
export function partitionGeminiTokens(t: GeminiTokens, thoughtsInCandidates: boolean): TokenCounts {
  let thoughtsApart = !thoughtsInCandidates;
  let toolApart = true;
  if (t.total > 0 && (t.thoughts > 0 || t.tool > 0)) {
    // The first reading whose parts add up to the total; none does (a provider's rounding): the defaults stand.
    const base = t.prompt + t.candidates;
    for (const [thoughts, tool] of READINGS) {
      if (t.total === base + (thoughts ? t.thoughts : 0) + (tool ? t.tool : 0)) {
        thoughtsApart = thoughts;
        toolApart = tool;
        break;
      }
    }
  }
  return {
    inputTokens: Math.max(0, t.prompt - t.cached) + (toolApart ? t.tool : 0),
    outputTokens: t.candidates + (thoughtsApart ? t.thoughts : 0),
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    cacheReadTokens: t.cached,
  };
}

const T = {
  input: keyBytes('input'),
  output: keyBytes('output'),
  cached: keyBytes('cached'),
  thoughts: keyBytes('thoughts'),
  tool: keyBytes('tool'),
  total: keyBytes('total'),
  promptTokenCount: keyBytes('promptTokenCount'),
  candidatesTokenCount: keyBytes('candidatesTokenCount'),
  cachedContentTokenCount: keyBytes('cachedContentTokenCount'),
  thoughtsTokenCount: keyBytes('thoughtsTokenCount'),
  toolUsePromptTokenCount: keyBytes('toolUsePromptTokenCount'),
  totalTokenCount: keyBytes('totalTokenCount'),
};

/** The count at [vs, after), or 0 for anything that is not a non-negative number (a string, an object, null). */
function countAt(buf: Buffer, vs: number, after: number): number {
  const value = decodeNumber(buf, vs, after);
  return Number.isFinite(value) && value >= 0 ? value : 0;
}

/** Reads both spellings: Gemini CLI's `{input, output, cached, thoughts, tool, total}` and the API's `usageMetadata`. */
function visitTokens(buf: Buffer, ks: number, ke: number, vs: number, end: number, t: GeminiTokens): number {
  const after = skipValue(buf, vs, end);
  if (after < 0) return -1;
  if (keyEquals(buf, ks, ke, T.input) || keyEquals(buf, ks, ke, T.promptTokenCount)) t.prompt = countAt(buf, vs, after);
  else if (keyEquals(buf, ks, ke, T.output) || keyEquals(buf, ks, ke, T.candidatesTokenCount)) t.candidates = countAt(buf, vs, after);
  else if (keyEquals(buf, ks, ke, T.cached) || keyEquals(buf, ks, ke, T.cachedContentTokenCount)) t.cached = countAt(buf, vs, after);
  else if (keyEquals(buf, ks, ke, T.thoughts) || keyEquals(buf, ks, ke, T.thoughtsTokenCount)) t.thoughts = countAt(buf, vs, after);
  else if (keyEquals(buf, ks, ke, T.tool) || keyEquals(buf, ks, ke, T.toolUsePromptTokenCount)) t.tool = countAt(buf, vs, after);
  else if (keyEquals(buf, ks, ke, T.total) || keyEquals(buf, ks, ke, T.totalTokenCount)) t.total = countAt(buf, vs, after);
  return after;
}

/** Walks the token object whose `{` is at `vs` into `t` (reset first). Returns the index after it, or -1. */
export function walkTokens(buf: Buffer, vs: number, end: number, t: GeminiTokens): number {
  t.prompt = t.candidates = t.cached = t.thoughts = t.tool = t.total = 0;
  return walkObject(buf, vs, end, visitTokens, t);
}

// ---------------------------------------------------------------------------------------------------------------
// Records: one line of a `.jsonl`, or a whole legacy `.json`

/** One message's fields as byte ranges into the scanned buffer (-1 when absent). */
interface MessageFields {
  idStart: number;
  idEnd: number;
  timestampStart: number;
  timestampEnd: number;
  modelStart: number;
  modelEnd: number;
  hasTokens: boolean;
  tokens: GeminiTokens;
}

/** A message that carries tokens, decoded: the only thing a record contributes to the bill. */
interface BilledMessage {
  id: string;
  timestamp: number;
  model: string | undefined;
  tokens: GeminiTokens;
}

/**
 * What one record told us. A record is a message, the metadata line (session id, kind, maybe every message), a
 * `$set` (maybe a `messages` checkpoint), or `$rewindTo` / `$patch`; the legacy `.json` is the metadata shape.
 */
interface RecordScan {
  buf: Buffer;
  top: MessageFields;
  nested: MessageFields;
  sessionIdStart: number;
  sessionIdEnd: number;
  projectHashStart: number;
  projectHashEnd: number;
  subagent: boolean;
  /** `$rewindTo` / `$patch`: nothing billed in it, the rest of the record is never looked at. */
  control: boolean;
  billed: BilledMessage[];
  models: RepeatedText;
}

const K = {
  id: keyBytes('id'),
  timestamp: keyBytes('timestamp'),
  model: keyBytes('model'),
  tokens: keyBytes('tokens'),
  sessionId: keyBytes('sessionId'),
  projectHash: keyBytes('projectHash'),
  kind: keyBytes('kind'),
  messages: keyBytes('messages'),
  set: keyBytes('$set'),
  rewindTo: keyBytes('$rewindTo'),
  patch: keyBytes('$patch'),
};
const SUBAGENT = keyBytes('"subagent"');
const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const EMPTY = Buffer.alloc(0);

function newMessageFields(): MessageFields {
  return { idStart: -1, idEnd: -1, timestampStart: -1, timestampEnd: -1, modelStart: -1, modelEnd: -1, hasTokens: false, tokens: newGeminiTokens() };
}

function resetMessage(f: MessageFields): void {
  f.idStart = f.timestampStart = f.modelStart = -1;
  f.hasTokens = false;
}

function newRecordScan(): RecordScan {
  return {
    buf: EMPTY,
    top: newMessageFields(),
    nested: newMessageFields(),
    sessionIdStart: -1,
    sessionIdEnd: -1,
    projectHashStart: -1,
    projectHashEnd: -1,
    subagent: false,
    control: false,
    billed: [],
    models: new RepeatedText(),
  };
}

/** A message member; returns the index after its value. Message keys never collide with metadata keys. */
function visitMessageMember(buf: Buffer, ks: number, ke: number, vs: number, end: number, f: MessageFields): number {
  const isString = buf[vs] === QUOTE;
  switch (ke - ks - 2) {
    case 2:
      if (isString && keyEquals(buf, ks, ke, K.id)) {
        f.idStart = vs;
        return (f.idEnd = skipString(buf, vs, end));
      }
      break;
    case 5:
      if (isString && keyEquals(buf, ks, ke, K.model)) {
        f.modelStart = vs;
        return (f.modelEnd = skipString(buf, vs, end));
      }
      break;
    case 6:
      if (buf[vs] === OPEN_BRACE && keyEquals(buf, ks, ke, K.tokens)) {
        f.hasTokens = true;
        return walkTokens(buf, vs, end, f.tokens);
      }
      break;
    case 9:
      if (isString && keyEquals(buf, ks, ke, K.timestamp)) {
        f.timestampStart = vs;
        return (f.timestampEnd = skipString(buf, vs, end));
      }
      break;
  }
  return skipValue(buf, vs, end);
}

/** Decodes a message that carries tokens into `scan.billed`; anything else contributes nothing. */
function takeMessage(scan: RecordScan, f: MessageFields): void {
  if (!f.hasTokens || f.idStart < 0) return;
  const buf = scan.buf;
  scan.billed.push({
    id: decodeString(buf, f.idStart, f.idEnd),
    timestamp: f.timestampStart < 0 ? Number.NaN : parseTimestamp(buf, f.timestampStart, f.timestampEnd),
    model: scan.models.get(buf, f.modelStart, f.modelEnd),
    tokens: { ...f.tokens },
  });
}

/** A `messages` array (a checkpoint, or the legacy file's list): each message object is taken as it is walked. */
function walkMessages(buf: Buffer, i: number, end: number, scan: RecordScan): number {
  if (buf[i] !== OPEN_BRACKET) return skipValue(buf, i, end);
  let j = skipWhitespace(buf, i + 1, end);
  if (buf[j] === CLOSE_BRACKET) return j + 1;
  for (;;) {
    let after: number;
    if (buf[j] === OPEN_BRACE) {
      resetMessage(scan.nested);
      after = walkObject(buf, j, end, visitMessageMember, scan.nested);
      if (after > 0) takeMessage(scan, scan.nested);
    } else {
      after = skipValue(buf, j, end);
    }
    if (after < 0) return -1;
    j = skipWhitespace(buf, after, end);
    if (buf[j] === CLOSE_BRACKET) return j + 1;
    if (j >= end || buf[j] !== COMMA) return -1;
    j = skipWhitespace(buf, j + 1, end);
  }
}

function visitSetMember(buf: Buffer, ks: number, ke: number, vs: number, end: number, scan: RecordScan): number {
  if (buf[vs] === OPEN_BRACKET && keyEquals(buf, ks, ke, K.messages)) return walkMessages(buf, vs, end, scan);
  return skipValue(buf, vs, end);
}

function visitRecordMember(buf: Buffer, ks: number, ke: number, vs: number, end: number, scan: RecordScan): number {
  const isString = buf[vs] === QUOTE;
  switch (ke - ks - 2) {
    case 4:
      if (isString && keyEquals(buf, ks, ke, K.kind)) {
        const after = skipString(buf, vs, end);
        scan.subagent = sameBytes(buf, vs, after, SUBAGENT);
        return after;
      }
      if (buf[vs] === OPEN_BRACE && keyEquals(buf, ks, ke, K.set)) return walkObject(buf, vs, end, visitSetMember, scan);
      break;
    case 6:
      if (keyEquals(buf, ks, ke, K.patch)) {
        scan.control = true;
        return -1;
      }
      break;
    case 8:
      if (buf[vs] === OPEN_BRACKET && keyEquals(buf, ks, ke, K.messages)) return walkMessages(buf, vs, end, scan);
      break;
    case 9:
      if (keyEquals(buf, ks, ke, K.rewindTo)) {
        scan.control = true;
        return -1;
      }
      if (isString && keyEquals(buf, ks, ke, K.sessionId)) {
        scan.sessionIdStart = vs;
        return (scan.sessionIdEnd = skipString(buf, vs, end));
      }
      break;
    case 11:
      if (isString && keyEquals(buf, ks, ke, K.projectHash)) {
        scan.projectHashStart = vs;
        return (scan.projectHashEnd = skipString(buf, vs, end));
      }
      break;
  }
  return visitMessageMember(buf, ks, ke, vs, end, scan.top);
}

function sameBytes(buf: Buffer, start: number, end: number, bytes: Uint8Array): boolean {
  if (end - start !== bytes.length) return false;
  for (let k = 0; k < bytes.length; k++) if (buf[start + k] !== bytes[k]) return false;
  return true;
}

/**
 * Scans the record in `buf[start, end)`. Usage when it holds at least one message with tokens (then in `scan.billed`),
 * Other when well-formed without any, Malformed when not one whole JSON object.
 */
function scanRecord(buf: Buffer, start: number, end: number, scan: RecordScan): LineKind {
  scan.buf = buf;
  resetMessage(scan.top);
  scan.sessionIdStart = scan.projectHashStart = -1;
  scan.subagent = false;
  scan.control = false;
  scan.billed.length = 0;
  const i = skipWhitespace(buf, start, end);
  if (i === end) return LineKind.Other;
  const after = walkObject(buf, i, end, visitRecordMember, scan);
  if (scan.control) {
    scan.billed.length = 0;
    return LineKind.Other;
  }
  // Anything after the closing brace but blanks means two records ran together (a torn line, then an append).
  if (after < 0 || skipWhitespace(buf, after, end) !== end) {
    scan.billed.length = 0;
    return LineKind.Malformed;
  }
  takeMessage(scan, scan.top);
  return scan.billed.length > 0 ? LineKind.Usage : LineKind.Other;
}

function rangeText(buf: Buffer, start: number, end: number): string | undefined {
  return start < 0 ? undefined : decodeString(buf, start, end) || undefined;
}

const RECORD_START = Buffer.from('{"');
const RECOVERY_ATTEMPTS = 64;

/**
 * A torn line followed by an append runs two records together: tries the records that start inside the line and
 * returns the kind of the first one that is whole (or Malformed when none is).
 */
export function recoverRunTogether(buf: Buffer, start: number, end: number, scanAt: (at: number) => LineKind): LineKind {
  let from = start + 1;
  for (let attempt = 0; attempt < RECOVERY_ATTEMPTS; attempt++) {
    const open = buf.indexOf(RECORD_START, from);
    if (open < 0 || open >= end) return LineKind.Malformed;
    const kind = scanAt(open);
    if (kind !== LineKind.Malformed) return kind;
    from = open + 1;
  }
  return LineKind.Malformed;
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions and projects

/** How one agent of the family reads: its id (key prefix) and its usual meaning of `thoughtsTokenCount`. */
export interface ChatFamily {
  agent: string;
  thoughtsInCandidates: boolean;
}

const GEMINI_FAMILY: ChatFamily = { agent: GEMINI_CLI, thoughtsInCandidates: false };

/** Where a chat file sits: the project folder holding `chats/`, and the parent session of a subagent file. */
export function chatLayout(file: string): { projectDir: string | undefined; parentSession: string | undefined } {
  const dir = path.dirname(file);
  if (path.basename(dir) === 'chats') return { projectDir: path.dirname(dir), parentSession: undefined };
  const up = path.dirname(dir);
  if (path.basename(up) === 'chats') return { projectDir: path.dirname(up), parentSession: path.basename(dir) };
  return { projectDir: undefined, parentSession: undefined };
}

/** The session id a file name carries, for a file whose metadata line is unreadable: `<id>.jsonl` or `...-<id8>`. */
function sessionFromName(file: string): string {
  const name = path.basename(file).replace(/\.jsonl?$/, '');
  if (!name.startsWith('session-')) return name;
  return name.slice(name.lastIndexOf('-') + 1);
}

/** `~/.gemini/projects.json` (path -> slug), with each path's sha256 for folders still named by hash. */
interface Registry {
  mtimeMs: number;
  size: number;
  bySlug: Map<string, string>;
  hashes: Array<[hash: string, projectPath: string]>;
}

const registries = new Map<string, Registry>();

function loadRegistry(file: string): Registry | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return undefined;
  }
  const cached = registries.get(file);
  if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached;
  const registry: Registry = { mtimeMs: stat.mtimeMs, size: stat.size, bySlug: new Map(), hashes: [] };
  try {
    const projects = (JSON.parse(fs.readFileSync(file, 'utf8')) as { projects?: unknown }).projects;
    if (projects && typeof projects === 'object') {
      for (const [projectPath, slug] of Object.entries(projects as Record<string, unknown>)) {
        if (typeof slug === 'string') registry.bySlug.set(slug, projectPath);
        registry.hashes.push([digest('sha256', projectPath, 'hex'), projectPath]);
      }
    }
  } catch {
    // A damaged registry only costs project names.
  }
  registries.set(file, registry);
  return registry;
}

/** A project hash (64 hex digits, or the 16 older builds kept) that one of the registry's paths produces. */
function pathOfHash(registry: Registry, hash: string | undefined): string | undefined {
  if (!hash || !/^[0-9a-f]{16,64}$/.test(hash)) return undefined;
  for (const [full, projectPath] of registry.hashes) if (full.startsWith(hash)) return projectPath;
  return undefined;
}

function readMarker(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The project a chat folder belongs to, as Gemini CLI recorded it: the `.project_root` marker, else the registry's
 * path for the folder's slug, else the registered path whose hash names the folder (or the session's projectHash).
 * A hash is matched, never decoded; a folder nothing names stays an unknown project.
 */
export function projectOfChatFolder(projectDir: string | undefined, projectHash?: string): string {
  if (!projectDir) return UNKNOWN_PROJECT;
  const marker = readMarker(path.join(projectDir, '.project_root'));
  if (marker) return marker;
  const registry = loadRegistry(path.join(path.dirname(path.dirname(projectDir)), 'projects.json'));
  if (!registry) return UNKNOWN_PROJECT;
  const folder = path.basename(projectDir);
  return registry.bySlug.get(folder) ?? pathOfHash(registry, folder) ?? pathOfHash(registry, projectHash) ?? UNKNOWN_PROJECT;
}

/** One chat file being read: whose requests its billed messages are. */
interface ChatFile {
  family: ChatFamily;
  /** The session id the file records (keys are built on it, so every copy of a session agrees). */
  sessionId: string;
  /** The session the requests count for: a subagent's parent. */
  reportSession: string;
  subagent: boolean;
  project: string;
}

function emitBilled(scan: RecordScan, chat: ChatFile, context: ReadContext): void {
  for (const message of scan.billed) {
    if (!Number.isFinite(message.timestamp)) {
      context.counts.undatedLines++;
      continue;
    }
    const counts = partitionGeminiTokens(message.tokens, chat.family.thoughtsInCandidates);
    if (totalTokens(counts) === 0) continue; // an empty usage block is no billed request
    context.emit({
      dedupeKey: `${chat.family.agent}:${chat.sessionId}:${message.id}`,
      requestTag: 0,
      agent: chat.family.agent,
      timestamp: message.timestamp,
      sessionId: chat.reportSession,
      project: chat.project,
      model: message.model || UNKNOWN_MODEL,
      ...counts,
      fast: false,
      sidechain: chat.subagent,
    });
  }
}

/** What a file's cursor keeps between reads: its recorded session id, whether it is a subagent's, its project. */
interface ChatState {
  s?: string;
  k?: number;
  p?: string;
}

function parseState(text: string | undefined): ChatState {
  if (!text) return {};
  try {
    const value = JSON.parse(text) as ChatState;
    return value && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
}

function chatFile(file: string, family: ChatFamily, recorded: { sessionId?: string; subagent: boolean; project?: string; projectHash?: string }): ChatFile {
  const layout = chatLayout(file);
  const sessionId = recorded.sessionId ?? sessionFromName(file);
  return {
    family,
    sessionId,
    reportSession: layout.parentSession ?? sessionId,
    subagent: recorded.subagent || layout.parentSession !== undefined,
    project: recorded.project ?? projectOfChatFolder(layout.projectDir, recorded.projectHash),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

// The metadata line is a few hundred bytes; a longer first line is not one (the file name's id stands in).
const HEADER_LIMIT = 64 * 1024;

/** The metadata line (always first): session id, kind, project hash. Undefined while it is not whole yet. */
function readHeader(file: string): { sessionId?: string; subagent: boolean; projectHash?: string } | undefined {
  let fd = -1;
  try {
    fd = fs.openSync(file, 'r');
    const buf = Buffer.allocUnsafe(Math.min(HEADER_LIMIT, Math.max(0, fs.fstatSync(fd).size)));
    const got = fs.readSync(fd, buf, 0, buf.length, 0);
    const newline = buf.subarray(0, got).indexOf(0x0a);
    if (newline < 0) return undefined;
    const scan = newRecordScan();
    if (scanRecord(buf, 0, newline, scan) === LineKind.Malformed) return undefined;
    return {
      sessionId: rangeText(buf, scan.sessionIdStart, scan.sessionIdEnd),
      subagent: scan.subagent,
      projectHash: rangeText(buf, scan.projectHashStart, scan.projectHashEnd),
    };
  } catch {
    return undefined; // the read that follows reports why
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

// Lines without the bytes `"tokens"` cannot bill anything (inside a JSON string a quote is always escaped).
const TOKENS_NEEDLE = Buffer.from('"tokens"');

/** The line sink of one `.jsonl` session, opened with the state its cursor kept (undefined: from the start). */
function jsonlSink(file: string, family: ChatFamily, context: ReadContext, state: string | undefined): LineSink & { state(): string | undefined } {
  const kept = parseState(state);
  let sessionId = kept.s;
  let subagent = kept.k === 1;
  let projectHash: string | undefined;
  if (!sessionId) {
    const header = readHeader(file);
    sessionId = header?.sessionId;
    subagent = header?.subagent ?? false;
    projectHash = header?.projectHash;
  }
  const chat = chatFile(file, family, { sessionId, subagent, project: kept.p, projectHash });
  const scan = newRecordScan();
  const take = (buf: Buffer, start: number, end: number): LineKind => {
    const kind = scanRecord(buf, start, end, scan);
    if (kind === LineKind.Usage) emitBilled(scan, chat, context);
    return kind;
  };
  return {
    needle: TOKENS_NEEDLE,
    line(buf, start, end) {
      if (take(buf, start, end) !== LineKind.Malformed) return;
      context.counts.malformedLines++;
      if (recoverRunTogether(buf, start, end, (at) => take(buf, at, end)) !== LineKind.Malformed) context.counts.recoveredLines++;
    },
    partialLine(buf, start, end) {
      // Not followed by a newline yet: whole records count now (the re-read after the newline is a no-op for the
      // ledger), torn ones are waited for.
      take(buf, start, end);
    },
    oversizedLine() {
      context.counts.oversizedLines++;
    },
    // A session id guessed from the file name is not kept: the metadata line is looked for again next time.
    state: () => JSON.stringify({ s: sessionId, k: chat.subagent ? 1 : 0, p: chat.project } satisfies ChatState),
  };
}

/** A legacy whole-file session: every billed message in it, again on every rewrite (the keys make that a replace). */
function parseLegacy(file: string, family: ChatFamily) {
  return (data: Buffer, previousState: string | undefined, context: ReadContext): string | undefined => {
    const scan = newRecordScan();
    if (scanRecord(data, 0, data.length, scan) === LineKind.Malformed) {
      context.counts.malformedLines++;
      context.log(`${file} is not a whole JSON object (caught mid-write?): read again on its next change`);
      return previousState;
    }
    const kept = parseState(previousState);
    const sessionId = rangeText(data, scan.sessionIdStart, scan.sessionIdEnd);
    const projectHash = rangeText(data, scan.projectHashStart, scan.projectHashEnd);
    const chat = chatFile(file, family, { sessionId, subagent: scan.subagent, project: kept.p, projectHash });
    emitBilled(scan, chat, context);
    return JSON.stringify({ s: sessionId, k: chat.subagent ? 1 : 0, p: chat.project } satisfies ChatState);
  };
}

/** Reads a legacy `session-*.json` (Gemini CLI < 0.39, Qwen Code < ~0.14). */
export function readLegacyChat(file: string, previous: FileCursor | undefined, context: ReadContext, family: ChatFamily): SourceRead {
  return readWholeFile(file, previous, context, parseLegacy(file, family));
}

/** Reads what is new in a Gemini CLI chat file: `.jsonl` from its cursor, a legacy `.json` whole. */
export function readGeminiChat(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead {
  if (file.endsWith('.json')) return readLegacyChat(file, previous, context, GEMINI_FAMILY);
  return readLines(file, previous, context, (state) => jsonlSink(file, GEMINI_FAMILY, context, state));
}

/**
 * Below `tmp/`: project folders, their `chats/`, and subagent folders inside it. The other per-project folders hold
 * no usage (a `.unreadable-<time>` backup of a recovered session is not a wanted name either: it repeats the file).
 */
const WALK: WalkOptions = {
  maxDepth: 5,
  skipFolders: new Set(['bin', 'checkpoints', 'tool-outputs', 'plans', 'tasks', 'tracker', 'history', 'node_modules', '.git']),
  isWanted: isChatFileName,
};

export const geminiSource: Source = {
  agent: GEMINI_CLI,
  label: 'Gemini CLI',
  roots: geminiRoots,
  walk: WALK,
  fileFor: (changed) => (isChatFileName(path.basename(changed)) ? changed : undefined),
  read: readGeminiChat,
};
