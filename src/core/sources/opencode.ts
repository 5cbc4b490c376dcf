// OpenCode (and Kilo CLI, its fork): usage lives in a SQLite database, `$XDG_DATA_HOME/opencode/opencode*.db`
// (`kilo*.db` under `kilo/`), in WAL mode, written row by row while the agent streams. Older releases kept one JSON
// file per message under `storage/message/<sessionID>/<messageID>.json`, parts under `storage/part/<messageID>/`.
//
// One billed model request is one STEP of an assistant message, recorded as a `step-finish` part with that step's
// tokens and cost. The message's own `tokens` are only its LAST step's (OpenCode overwrites them on every step)
// while its `cost` is the sum, so summing messages under-counts every multi-step answer: we read the parts. A
// message with no step-finish part at all (written before those existed) counts once, by its own figures, when it
// is complete.
//
// Keys are `<agent>:<messageID>:<partID>`, the ids OpenCode gives the rows: the same step found in the database,
// in a second channel's database, or in legacy JSON that was migrated into the database is one request.
//
// Token partition: `tokens.input` is already net of cache reads (and, in newer releases, writes); `cache.write` is
// Anthropic-style cache creation; `reasoning` is reported apart from `output` and billed as output (OpenCode prices
// it so too). `cost` comes from models.dev prices and is 0 for models it has no price for and for subscriptions:
// a zero cost is left to our own price table rather than recorded as free.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StatFields } from '../fastStat';
import type { WalkOptions } from '../folderIndex';
import type { CursorStamp, FileCursor } from '../tail';
import { isUnchanged } from '../tail';
import { UNKNOWN_MODEL, type UsageEvent } from '../usage';
import {
  columnsOf,
  eachRow,
  numberOf,
  readSqlite,
  sqliteFileFor,
  sqliteIsUnchanged,
  textOf,
  type SqlDatabase,
  type SqlValue,
  loadSqlite,
  SQLITE_READ_INTERVAL_MS,
} from '../sqlite';
import {
  parseJson,
  readWholeFile,
  xdgDataHome,
  type ReadContext,
  type Source,
  type SourceOptions,
  type SourceRead,
} from './source';

/** Rows updated this long before the newest one seen are read again: commits are not always in time order. */
const WATERMARK_SLACK_MS = 10 * 60 * 1000;
const STEP_FINISH = 'step-finish';

interface Flavor {
  agent: string;
  label: string;
  /** The folder below the XDG data home, and the database names' prefix. */
  app: string;
  /** The environment variable that names another database file. */
  dbVariable: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Records

interface MessageInfo {
  role?: string;
  model: string;
  cwd?: string;
  cost?: number;
  tokens?: unknown;
  created?: number;
  completed?: number;
}

interface SessionInfo {
  directory?: string;
  parent?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function numberField(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A count: a wrong type or a negative number reads as absent (0), never as garbage in the totals. */
function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function messageInfo(data: unknown): MessageInfo | undefined {
  if (!isRecord(data)) return undefined;
  const pathInfo = isRecord(data.path) ? data.path : {};
  const time = isRecord(data.time) ? data.time : {};
  const modelRef = isRecord(data.model) ? data.model : {};
  return {
    role: stringField(data.role),
    model: stringField(data.modelID) ?? stringField(modelRef.modelID) ?? UNKNOWN_MODEL,
    cwd: stringField(pathInfo.cwd) ?? stringField(pathInfo.root),
    cost: numberField(data.cost),
    tokens: data.tokens,
    created: numberField(time.created),
    completed: numberField(time.completed),
  };
}

/** OpenCode's `{input, output, reasoning, cache: {read, write}}` in Anthropic's partition; undefined if unusable. */
function tokenCounts(value: unknown): Pick<UsageEvent, 'inputTokens' | 'outputTokens' | 'cacheWrite5mTokens' | 'cacheWrite1hTokens' | 'cacheReadTokens'> | undefined {
  if (!isRecord(value)) return undefined;
  const cache = isRecord(value.cache) ? value.cache : {};
  const input = count(value.input);
  const output = count(value.output);
  const reasoning = count(value.reasoning);
  const read = count(cache.read);
  const write = count(cache.write);
  if (input === undefined && output === undefined && read === undefined && write === undefined) return undefined;
  return {
    inputTokens: input ?? 0,
    outputTokens: (output ?? 0) + (reasoning ?? 0),
    cacheWrite5mTokens: write ?? 0,
    cacheWrite1hTokens: 0,
    cacheReadTokens: read ?? 0,
  };
}

interface Origin {
  messageId: string;
  sessionId: string;
  message: MessageInfo;
  session: SessionInfo;
}

/** One step's event, or undefined (and counted) when its tokens are unusable. */
function stepEvent(flavor: Flavor, origin: Origin, partId: string, step: Record<string, unknown>, at: number | undefined, context: ReadContext): UsageEvent | undefined {
  return usageEvent(flavor, origin, `${origin.messageId}:${partId}`, step.tokens, numberField(step.cost), at, context);
}

function usageEvent(
  flavor: Flavor,
  origin: Origin,
  key: string,
  rawTokens: unknown,
  cost: number | undefined,
  at: number | undefined,
  context: ReadContext,
): UsageEvent | undefined {
  const tokens = tokenCounts(rawTokens);
  if (!tokens) {
    context.counts.malformedLines++;
    return undefined;
  }
  const timestamp = at ?? origin.message.completed ?? origin.message.created;
  if (timestamp === undefined) {
    context.counts.undatedLines++;
    return undefined;
  }
  return {
    dedupeKey: `${flavor.agent}:${key}`,
    requestTag: 0,
    agent: flavor.agent,
    timestamp,
    sessionId: origin.sessionId,
    project: origin.message.cwd ?? origin.session.directory ?? '',
    model: origin.message.model,
    ...tokens,
    fast: false,
    sidechain: origin.session.parent !== undefined,
    // 0 means "no price known" (or a subscription): let the price table decide rather than record it as free.
    reportedCostUsd: cost !== undefined && cost > 0 ? cost : undefined,
  };
}

function hasTokens(event: UsageEvent): boolean {
  return event.inputTokens + event.outputTokens + event.cacheReadTokens + event.cacheWrite5mTokens > 0;
}

/** A step that used no tokens and cost nothing (an aborted or failed call) is no billed request. */
function emitStep(event: UsageEvent | undefined, context: ReadContext): void {
  if (event && (hasTokens(event) || event.reportedCostUsd !== undefined)) context.emit(event);
}

/** A message with no step-finish part counts by its own figures, once complete (before that they are not final). */
function messageFallback(flavor: Flavor, origin: Origin, context: ReadContext): void {
  if (origin.message.role !== 'assistant' || origin.message.completed === undefined) return;
  const event = usageEvent(flavor, origin, `${origin.messageId}:message`, origin.message.tokens, origin.message.cost, origin.message.completed, context);
  if (event && hasTokens(event)) context.emit(event);
}

function parseData(text: string | undefined, context: ReadContext): unknown {
  if (text === undefined) return undefined;
  const parsed = parseJson(text);
  if (!parsed.ok) {
    context.counts.malformedLines++;
    return undefined;
  }
  return parsed.value;
}

// ---------------------------------------------------------------------------------------------------------------
// The database

interface DbState {
  /** Newest `time_updated` seen, ms. */
  t: number;
}

function parseState(state: string | undefined): DbState {
  if (!state) return { t: 0 };
  const parsed = parseJson(state);
  if (parsed.ok && isRecord(parsed.value) && typeof parsed.value.t === 'number') return { t: parsed.value.t };
  return { t: 0 };
}

/** A part or message is a step-finish part: a cheap text filter first, the JSON type checked only then. */
const IS_STEP_FINISH = `p.data LIKE '%${STEP_FINISH}%' AND (CASE WHEN json_valid(p.data) THEN json_extract(p.data, '$.type') END) = '${STEP_FINISH}'`;

function sessionColumns(db: SqlDatabase): { join: string; directory: string; parent: string } {
  const columns = columnsOf(db, 'session');
  if (columns.size === 0) return { join: '', directory: 'NULL', parent: 'NULL' };
  return {
    join: 'LEFT JOIN session s ON s.id = %.session_id',
    directory: columns.has('directory') ? 's.directory' : 'NULL',
    parent: columns.has('parent_id') ? 's.parent_id' : 'NULL',
  };
}

function sessionOf(directory: SqlValue, parent: SqlValue): SessionInfo {
  return { directory: textOf(directory) || undefined, parent: textOf(parent) || undefined };
}

function readSteps(flavor: Flavor, db: SqlDatabase, since: number, context: ReadContext, newest: { t: number }): void {
  const s = sessionColumns(db);
  const sql = `SELECT p.id, p.message_id, p.session_id, p.time_created, p.time_updated, p.data, m.data, ${s.directory}, ${s.parent}
    FROM part p JOIN message m ON m.id = p.message_id ${s.join.replace('%', 'p')}
    WHERE p.time_updated >= ? AND p.data LIKE '%${STEP_FINISH}%'`;
  eachRow(db, sql, [since], ([partId, messageId, sessionId, created, updated, partData, messageData, directory, parent]) => {
    newest.t = Math.max(newest.t, numberOf(updated) ?? 0);
    const step = parseData(textOf(partData), context);
    // The text filter also lets through tool output that merely mentions step-finish.
    if (!isRecord(step) || step.type !== STEP_FINISH) return;
    const message = messageInfo(parseData(textOf(messageData), context));
    if (!message) return;
    const origin: Origin = { messageId: textOf(messageId) ?? '', sessionId: textOf(sessionId) ?? '', message, session: sessionOf(directory, parent) };
    emitStep(stepEvent(flavor, origin, textOf(partId) ?? '', step, numberOf(created), context), context);
  });
}

function readStepless(flavor: Flavor, db: SqlDatabase, since: number, context: ReadContext, newest: { t: number }): void {
  const s = sessionColumns(db);
  const sql = `SELECT m.id, m.session_id, m.time_updated, m.data, ${s.directory}, ${s.parent}
    FROM message m ${s.join.replace('%', 'm')}
    WHERE m.time_updated >= ? AND m.data LIKE '%"assistant"%'
      AND NOT EXISTS (SELECT 1 FROM part p WHERE p.message_id = m.id AND ${IS_STEP_FINISH})`;
  eachRow(db, sql, [since], ([messageId, sessionId, updated, data, directory, parent]) => {
    newest.t = Math.max(newest.t, numberOf(updated) ?? 0);
    const message = messageInfo(parseData(textOf(data), context));
    if (!message) return;
    messageFallback(flavor, { messageId: textOf(messageId) ?? '', sessionId: textOf(sessionId) ?? '', message, session: sessionOf(directory, parent) }, context);
  });
}

/**
 * Reads the rows updated since the last read (minus a slack for late commits); the ledger's dedupe makes the
 * overlap harmless, and a read from scratch gives the same events.
 */
function readDatabase(flavor: Flavor, db: SqlDatabase, state: string | undefined, context: ReadContext): string {
  if (columnsOf(db, 'part').size === 0 || columnsOf(db, 'message').size === 0) {
    throw new Error(`no message/part tables: not a database of ${flavor.label}`);
  }
  const previous = parseState(state);
  const since = previous.t > 0 ? previous.t - WATERMARK_SLACK_MS : Number.MIN_SAFE_INTEGER;
  const newest = { t: previous.t };
  readSteps(flavor, db, since, context, newest);
  readStepless(flavor, db, since, context, newest);
  return JSON.stringify({ t: newest.t } satisfies DbState);
}

// ---------------------------------------------------------------------------------------------------------------
// Legacy JSON storage

/** `storage/session/<projectID>/<sessionID>.json`, for the session's folder and parent. */
function legacySession(storage: string, sessionId: string): SessionInfo {
  const sessions = path.join(storage, 'session');
  let projects: string[];
  try {
    projects = fs.readdirSync(sessions);
  } catch {
    return {};
  }
  for (const project of projects) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(sessions, project, `${sessionId}.json`), 'utf8');
    } catch {
      continue;
    }
    const parsed = parseJson(text);
    if (!parsed.ok || !isRecord(parsed.value)) return {};
    return { directory: stringField(parsed.value.directory), parent: stringField(parsed.value.parentID) };
  }
  return {};
}

/** The step-finish parts of a message, from `storage/part/<messageID>/*.json`. */
function legacySteps(storage: string, messageId: string, context: ReadContext): Array<{ id: string; step: Record<string, unknown> }> {
  const dir = path.join(storage, 'part', messageId);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((name) => name.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const steps: Array<{ id: string; step: Record<string, unknown> }> = [];
  for (const name of names) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, name), 'utf8');
    } catch {
      continue; // deleted or being rewritten: the message's next change reads it again
    }
    if (!text.includes(STEP_FINISH)) continue;
    const step = parseData(text, context);
    if (isRecord(step) && step.type === STEP_FINISH) steps.push({ id: stringField(step.id) ?? name.slice(0, -5), step });
  }
  return steps;
}

/** One legacy message file: its steps from the part folder (OpenCode rewrites the message when a step ends). */
function parseLegacyMessage(flavor: Flavor, file: string, data: Buffer, context: ReadContext): void {
  const value = parseData(data.toString('utf8'), context);
  const message = messageInfo(value);
  if (!message || !isRecord(value) || message.role !== 'assistant') return;
  // <storage>/message/<sessionID>/<messageID>.json
  const storage = path.dirname(path.dirname(path.dirname(file)));
  const messageId = stringField(value.id) ?? path.basename(file, '.json');
  const sessionId = stringField(value.sessionID) ?? path.basename(path.dirname(file));
  const origin: Origin = { messageId, sessionId, message, session: legacySession(storage, sessionId) };
  const steps = legacySteps(storage, messageId, context);
  if (steps.length === 0) {
    messageFallback(flavor, origin, context);
    return;
  }
  for (const { id, step } of steps) emitStep(stepEvent(flavor, origin, id, step, message.completed ?? message.created, context), context);
}

// ---------------------------------------------------------------------------------------------------------------
// The source

const SKIP_FOLDERS = new Set(['part', 'session', 'project', 'session_diff', 'session_share', 'todo', 'snapshot', 'bin', 'log', 'tool-output', 'node_modules']);

function makeSource(flavor: Flavor): Source {
  const dbName = new RegExp(`^${flavor.app}.*\\.db$`);
  /** Database files named by the environment variable (a name the pattern above would not match). */
  const extraNames = new Set<string>();
  const isDatabaseName = (name: string) => dbName.test(name) || extraNames.has(name);
  const isMessageFile = (name: string) => name.startsWith('msg_') && name.endsWith('.json');
  const walk: WalkOptions = {
    // <data>/storage/message/<sessionID>/<messageID>.json is three folders down.
    maxDepth: 3,
    skipFolders: SKIP_FOLDERS,
    isWanted: (name) => isDatabaseName(name) || isMessageFile(name),
  };

  return {
    agent: flavor.agent,
    label: flavor.label,
    walk,
    roots(options: SourceOptions): string[] {
      // xdg-basedir: $XDG_DATA_HOME, else ~/.local/share, on every platform (Windows and macOS included).
      const data = path.join(xdgDataHome(options), flavor.app);
      const roots = [data];
      const named = options.env[flavor.dbVariable]?.trim();
      if (named && named !== ':memory:') {
        const file = path.isAbsolute(named) ? named : path.join(data, named);
        extraNames.add(path.basename(file));
        // The file itself, never its folder: OPENCODE_DB=~/opencode.db must not make the home folder a root.
        roots.push(file);
      }
      return [...roots, ...(options.extraDirs ?? [])];
    },
    fileFor(changedPath: string): string | undefined {
      const db = sqliteFileFor(changedPath, isDatabaseName);
      if (db) return db;
      // A part file changing is followed by its message file being rewritten (at the step's end): that one is read.
      if (isMessageFile(path.basename(changedPath)) && path.basename(path.dirname(path.dirname(changedPath))) === 'message') return changedPath;
      return undefined;
    },
    prepare: loadSqlite,
    minReadIntervalMs: SQLITE_READ_INTERVAL_MS,
    isUnchanged(file: string, cursor: CursorStamp, stat: StatFields): boolean {
      return isDatabaseName(path.basename(file)) ? sqliteIsUnchanged(file, cursor, stat) : isUnchanged(cursor, stat);
    },
    read(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead {
      if (isDatabaseName(path.basename(file))) {
        return readSqlite(file, previous, context, (db, state, ctx) => readDatabase(flavor, db, state, ctx));
      }
      return readWholeFile(file, previous, context, (data, _state, ctx) => {
        parseLegacyMessage(flavor, file, data, ctx);
        return undefined;
      });
    },
  };
}

export const OPENCODE = 'opencode';
export const KILO_CLI = 'kilo-cli';

export const opencodeSource: Source = makeSource({ agent: OPENCODE, label: 'OpenCode', app: 'opencode', dbVariable: 'OPENCODE_DB' });

/** Kilo Code's command-line agent, an OpenCode fork: `$XDG_DATA_HOME/kilo/kilo*.db`, the same schema. */
export const kiloCliSource: Source = makeSource({ agent: KILO_CLI, label: 'Kilo CLI', app: 'kilo', dbVariable: 'KILO_DB' });
