// Cline, Roo Code and Kilo Code: VS Code extensions of one lineage that keep each task in
// `<globalStorage>/<extension-id>/tasks/<taskId>/ui_messages.json`, a JSON array rewritten whole (tmp + rename) on
// every change; plus Cline 4.x's SDK sessions, `<cline data>/sessions/<id>/<id>.messages.json`, also rewritten whole.
// See ../shared/formats/agent-logs.md §4 for the traps handled here. One implementation, three sources.
//
// Cline 4.x also indexes its sessions in SQLite, `<cline data>/db/sessions.db`: no usage, but where each session ran,
// its parent session (subagents and teammates) and where its messages file is. It is a side file: the messages files
// are read without it when it is missing or unreadable, and it only fills in what a session's manifest does not say.
//
// Identity: a request is `<agent>:<taskId>:<ts>` (`ts` is the message's unique key in the task; it survives every
// rewrite and a copy of the task into another folder), so re-parsing a rewritten file replaces and never adds.
//
// Deleted requests: a checkpoint restore removes the messages after the restore point and appends one aggregate
// (Cline `deleted_api_reqs`, Roo/Kilo `api_req_deleted`) summing what they cost. The ledger never forgets the requests
// already read, so an aggregate is counted net of the vanished requests it re-counts: the per-file state remembers
// what each counted message held (`seen`, the older ones only as a sum: `old`), what vanished (`pool`) and what each
// aggregate re-counted (`credit`).

import * as fs from 'node:fs';
import { digest } from '../hash';
import * as path from 'node:path';
import type { StatFields } from '../fastStat';
import type { WalkOptions } from '../folderIndex';
import {
  columnsOf,
  eachRow,
  loadSqlite,
  numberOf,
  openSnapshot,
  sqliteFileFor,
  SqliteReadError,
  textOf,
  type FileStamp,
  type SqlDatabase,
  type SqliteSnapshot,
  type SqlValue,
} from '../sqlite';
import { isUnchanged, type CursorStamp, type FileCursor } from '../tail';
import { UNKNOWN_MODEL, UNKNOWN_PROJECT, type UsageEvent } from '../usage';
import {
  homeOf,
  parseJson,
  platformOf,
  readWholeFile,
  xdgConfigHome,
  xdgDataHome,
  type ReadContext,
  type Source,
  type SourceOptions,
  type SourceRead,
} from './source';

export const CLINE = 'cline';
export const ROO_CODE = 'roo-code';
export const KILO_CODE = 'kilo-code';

const UI_MESSAGES = 'ui_messages.json';
const SDK_SUFFIX = '.messages.json';

// ---------------------------------------------------------------------------------------------------------------
// Products
// ---------------------------------------------------------------------------------------------------------------

interface Product {
  agent: string;
  label: string;
  extensionId: string;
  /** The VS Code setting that moves the extension's whole storage (Roo, Kilo: `getStorageBasePath`). */
  storageSetting?: string;
  /** `say` kinds that carry usage. */
  kinds: ReadonlySet<string>;
  /** The aggregate a checkpoint restore appends for the messages it removed. */
  deletedKind: string;
  /** Kinds whose usage that aggregate re-counts when they are among the removed messages (the product's own metric). */
  coveredKinds: ReadonlySet<string>;
  /** From this date `tokensIn` is the whole prompt, cache included (Roo 3.29.5, Kilo 4.119.0); Cline: never. */
  inclusiveSince: number;
  /** Model stamps are written after their request's `api_req_started` (Roo/Kilo environment details). */
  stampsFollowRequest: boolean;
  /** Task folders outside the editors' globalStorage. */
  extraTaskDirs(options: SourceOptions): string[];
}

const CLINE_PRODUCT: Product = {
  agent: CLINE,
  label: 'Cline',
  extensionId: 'saoudrizwan.claude-dev',
  kinds: new Set(['api_req_started', 'deleted_api_reqs', 'subagent_usage']),
  deletedKind: 'deleted_api_reqs',
  // Cline's getApiMetrics sums all three, so a new aggregate re-counts earlier aggregates it removed.
  coveredKinds: new Set(['api_req_started', 'deleted_api_reqs', 'subagent_usage']),
  inclusiveSince: Number.POSITIVE_INFINITY,
  stampsFollowRequest: false,
  // JetBrains, the CLI and Cline 4.x keep legacy tasks in the Cline data folder.
  extraTaskDirs: (options) => [path.join(clineDataDir(options), 'tasks')],
};

const ROO_PRODUCT: Product = {
  agent: ROO_CODE,
  label: 'Roo Code',
  extensionId: 'rooveterinaryinc.roo-cline',
  storageSetting: 'roo-cline.customStoragePath',
  kinds: new Set(['api_req_started', 'api_req_deleted', 'condense_context']),
  deletedKind: 'api_req_deleted',
  // Roo's consolidateTokenUsage counts requests and condensing, not earlier `api_req_deleted` rows.
  coveredKinds: new Set(['api_req_started', 'condense_context']),
  inclusiveSince: Date.UTC(2025, 10, 1),
  stampsFollowRequest: true,
  // Roo's CLI runs the extension on a VS Code shim whose global storage is here.
  extraTaskDirs: (options) => [path.join(homeOf(options), '.vscode-mock', 'global-storage', 'tasks')],
};

const KILO_PRODUCT: Product = {
  ...ROO_PRODUCT,
  agent: KILO_CODE,
  label: 'Kilo Code',
  extensionId: 'kilocode.kilo-code',
  storageSetting: 'kilo-code.customStoragePath',
  inclusiveSince: Date.UTC(2025, 10, 12),
  // Kilo's JetBrains wrapper keeps the extension's global storage under ~/.kilocode.
  extraTaskDirs: (options) => [path.join(homeOf(options), '.kilocode', 'globalStorage', 'kilocode.kilo-code', 'tasks')],
};

/**
 * Cline providers that pass OpenAI's `prompt_tokens` (cache included) as `tokensIn` next to a cached count, unlike
 * the rest which report disjoint buckets. `openai` read in Cline's providers/openai.ts; the others from a parser.
 */
const CLINE_INCLUSIVE_PROVIDERS = new Set(['openai', 'litellm', 'doubao', 'fireworks', 'hicap', 'lmstudio', 'qwen', 'xai', 'zai']);

// ---------------------------------------------------------------------------------------------------------------
// Where the files are
// ---------------------------------------------------------------------------------------------------------------

/** VS Code and the forks these extensions run in (their user-data folder names). */
const EDITORS = ['Code', 'Code - Insiders', 'VSCodium', 'Cursor', 'Windsurf', 'Positron', 'Antigravity'];
/** Remote extension hosts (SSH, WSL, containers) keep their data under the home folder. */
const REMOTE_SERVERS = ['.vscode-server', '.vscode-server-insiders', '.vscodium-server', '.cursor-server', '.windsurf-server'];

/** The base of the editors' user-data folders: what VS Code's `appDataPath` resolves to on each platform. */
function appDataBase(options: SourceOptions): string {
  const override = options.env.VSCODE_APPDATA?.trim();
  if (override) return override;
  const home = homeOf(options);
  const platform = platformOf(options);
  if (platform === 'win32') return options.env.APPDATA || path.join(home, 'AppData', 'Roaming');
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support');
  return xdgConfigHome(options);
}

/** Every editor's `User` folder (globalStorage and settings.json live there), local and remote. */
export function editorUserDirs(options: SourceOptions): string[] {
  const base = appDataBase(options);
  const home = homeOf(options);
  const dirs = EDITORS.map((editor) => path.join(base, editor, 'User'));
  const portable = options.env.VSCODE_PORTABLE?.trim();
  if (portable) dirs.push(path.join(portable, 'user-data', 'User'));
  const agentFolder = options.env.VSCODE_AGENT_FOLDER?.trim();
  if (agentFolder) dirs.push(path.join(agentFolder, 'data', 'User'));
  for (const server of REMOTE_SERVERS) dirs.push(path.join(home, server, 'data', 'User'));
  dirs.push(path.join(xdgDataHome(options), 'code-server', 'User'));
  return dirs;
}

/** Cline's data folder: CLINE_DATA_DIR, else $CLINE_DIR/data, else ~/.cline/data. */
export function clineDataDir(options: SourceOptions): string {
  const explicit = options.env.CLINE_DATA_DIR?.trim();
  if (explicit) return explicit;
  return path.join(options.env.CLINE_DIR?.trim() || path.join(homeOf(options), '.cline'), 'data');
}

/** Cline 4.x SDK sessions: CLINE_SESSION_DATA_DIR, else `<data>/sessions`. */
export function clineSessionsDir(options: SourceOptions): string {
  return options.env.CLINE_SESSION_DATA_DIR?.trim() || path.join(clineDataDir(options), 'sessions');
}

const SESSIONS_DB = 'sessions.db';

/** Cline 4.x's session index: CLINE_DB_DATA_DIR, else `<data>/db`, then sessions.db (cline shared/storage resolveDbDataDir). */
export function clineSessionsDb(options: SourceOptions): string {
  return path.join(options.env.CLINE_DB_DATA_DIR?.trim() || path.join(clineDataDir(options), 'db'), SESSIONS_DB);
}

/**
 * Each index named by roots() with the sessions folder it describes (the environment can move either one). Reads get
 * no options, so they look them up here; a sessions folder nobody named (a user-named folder) uses its sibling `db/`.
 */
const sessionsDirOfDb = new Map<string, string>();
const dbOfSessionsDir = new Map<string, string>();

function registerSessionsDb(sessionsDir: string, db: string): void {
  sessionsDirOfDb.set(path.resolve(db), path.resolve(sessionsDir));
  dbOfSessionsDir.set(path.resolve(sessionsDir), path.resolve(db));
}

function sessionsDirForDb(db: string): string {
  return sessionsDirOfDb.get(db) ?? path.join(path.dirname(path.dirname(db)), 'sessions');
}

/** The index for a messages file: of the nearest named sessions folder above it, else of `<file>/../..`'s sibling. */
function dbForMessagesFile(file: string): string | undefined {
  let dir = path.dirname(path.resolve(file));
  for (let up = 0; up < 4; up++) {
    dir = path.dirname(dir);
    const named = dbOfSessionsDir.get(dir);
    if (named) return named;
  }
  const sessionsDir = path.dirname(path.dirname(path.resolve(file)));
  return path.basename(sessionsDir) === 'sessions' ? path.join(path.dirname(sessionsDir), 'db', SESSIONS_DB) : undefined;
}

/** JSONC as VS Code writes settings.json: drops comments and trailing commas (outside strings), keeps the rest. */
function stripJsonc(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < source.length && source[j] !== '"') j += source[j] === '\\' ? 2 : 1;
      out += source.slice(i, j + 1);
      i = j + 1;
    } else if (ch === '/' && source[i + 1] === '/') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (ch === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? source.length : end + 2;
    } else if (ch === ',' && closesNext(source, i + 1)) {
      i++; // a trailing comma
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/** True when the next token after `from` (past blanks and comments) closes an object or array. */
function closesNext(source: string, from: number): boolean {
  let i = from;
  for (;;) {
    while (i < source.length && /\s/.test(source[i])) i++;
    if (source.startsWith('//', i)) {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (source.startsWith('/*', i)) {
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? source.length : end + 2;
    } else {
      return source[i] === '}' || source[i] === ']';
    }
  }
}

/** The value of a string setting in a settings.json, if set. */
export function settingFromJsonc(text: string, key: string): string | undefined {
  // A byte-order mark (Notepad and other Windows editors write one) is whitespace to VS Code, an error to JSON.parse.
  const parsed = parseJson(stripJsonc(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text));
  if (!parsed.ok || !isObject(parsed.value)) return undefined;
  return typeof parsed.value[key] === 'string' ? parsed.value[key].trim() || undefined : undefined;
}

/** Task folders the user moved with the product's customStoragePath setting, in any editor's user or machine settings. */
function customTaskDirs(product: Product, userDirs: string[]): string[] {
  const key = product.storageSetting;
  if (!key) return [];
  const dirs: string[] = [];
  for (const userDir of userDirs) {
    for (const file of [path.join(userDir, 'settings.json'), path.join(path.dirname(userDir), 'Machine', 'settings.json')]) {
      // No such editor, or no settings, is the common case: ask first rather than catch an error per editor and
      // product (dozens of thrown errors were a few ms of every start).
      if (!fs.existsSync(file)) continue;
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue; // unreadable: as if absent
      }
      const value = settingFromJsonc(text, key);
      if (value) dirs.push(path.join(path.resolve(value), 'tasks'));
    }
  }
  return dirs;
}

/** The folders a product's files are below: each `.../<extension-id>/tasks`, never a whole globalStorage. */
function productRoots(product: Product, options: SourceOptions): string[] {
  const userDirs = editorUserDirs(options);
  const roots = userDirs.map((dir) => path.join(dir, 'globalStorage', product.extensionId, 'tasks'));
  roots.push(...customTaskDirs(product, userDirs), ...product.extraTaskDirs(options));
  if (product === CLINE_PRODUCT) roots.push(clineSessionsDir(options));
  roots.push(...(options.extraDirs ?? []));
  if (product === CLINE_PRODUCT) {
    // A file root, last: the messages files found with the others are read before it (see readSessionsDb).
    const db = clineSessionsDb(options);
    registerSessionsDb(clineSessionsDir(options), db);
    roots.push(db);
  }
  return [...new Set(roots)];
}

function isSdkMessagesName(name: string): boolean {
  return name.endsWith(SDK_SUFFIX) && name.length > SDK_SUFFIX.length && !name.startsWith('.') && !name.includes('.tmp');
}

/** Folders below a task or data folder that never hold usage (reached only from a user-named, wider folder). */
const SKIP_FOLDERS = new Set(['checkpoints', 'cache', 'puppeteer', 'settings', 'state', 'vector', 'logs', 'db', '.git', 'node_modules']);

function walkFor(product: Product): WalkOptions {
  const sdk = product === CLINE_PRODUCT;
  return {
    // tasks/<id>/ui_messages.json and sessions/<id>/<id>.messages.json; one level more for a user-named folder.
    maxDepth: 2,
    skipFolders: SKIP_FOLDERS,
    isWanted: (name) => name === UI_MESSAGES || (sdk && isSdkMessagesName(name)),
  };
}

function fileFor(product: Product, changed: string): string | undefined {
  if (product === CLINE_PRODUCT) {
    // The session index and its -wal / -shm / -journal: the index is read (it refreshes the sessions it changed).
    const db = sqliteFileFor(changed, (name) => name === SESSIONS_DB);
    if (db) return sessionsDirOfDb.has(path.resolve(db)) ? db : undefined;
  }
  const name = path.basename(changed);
  if (name === UI_MESSAGES) return changed;
  // The atomic write's temporary `ui_messages.json.tmp.<ts>.<rand>.json`, renamed over the real file.
  if (name.startsWith(`${UI_MESSAGES}.tmp`)) return path.join(path.dirname(changed), UI_MESSAGES);
  if (product === CLINE_PRODUCT && isSdkMessagesName(name)) return changed;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Small readers
// ---------------------------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A count: a wrong type reads as absent (0), as the extensions' own metrics do. */
function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

/** A small side file as JSON, or undefined (missing, unreadable or malformed: side information only). */
function readJsonFile(file: string): unknown {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const parsed = parseJson(data);
  return parsed.ok ? parsed.value : undefined;
}

/** Files whose parse is reused while they are unchanged (by size and mtime), at most `limit` of them. */
class FileMemo<T> {
  private readonly entries = new Map<string, { size: number; mtimeMs: number; value: T }>();

  constructor(private readonly limit: number) {}

  get(file: string, compute: (data: Buffer) => T): T | undefined {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      return undefined;
    }
    const hit = this.entries.get(file);
    if (hit && hit.size === stat.size && hit.mtimeMs === stat.mtimeMs) return hit.value;
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch {
      return undefined;
    }
    const value = compute(data);
    this.entries.delete(file);
    this.entries.set(file, { size: stat.size, mtimeMs: stat.mtimeMs, value });
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as string);
    return value;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Task context: model, project, parent task
// ---------------------------------------------------------------------------------------------------------------

/** A model in use from `at` on (Cline task_metadata.json model_usage; Roo/Kilo `<model>` in the prompt). */
interface ModelStamp {
  at: number;
  model: string;
  provider?: string;
}

const CWD_MARKER = /# Current (?:Working|Workspace) Directory \((.+?)\) Files/;

/** What api_conversation_history.json says without parsing it: model stamps and the workspace folder. */
interface HistoryScan {
  stamps: ModelStamp[];
  cwd?: string;
}

const MODEL_OPEN = Buffer.from('<model>');
const MODEL_CLOSE = Buffer.from('</model>');
const TS_KEY = Buffer.from('"ts":');
const CWD_OPENERS = [Buffer.from('# Current Workspace Directory ('), Buffer.from('# Current Working Directory (')];
const CWD_CLOSE = Buffer.from(') Files');

/** Decodes bytes that sit inside a JSON string (escapes included). */
function jsonStringBytes(buf: Buffer, start: number, end: number): string {
  const raw = buf.toString('utf8', start, end);
  if (!raw.includes('\\')) return raw;
  const parsed = parseJson(`"${raw}"`);
  return parsed.ok && typeof parsed.value === 'string' ? parsed.value : raw;
}

/**
 * Scans the (often multi-megabyte) API history with byte searches only. A Roo/Kilo request's environment details
 * carry `<model>id</model>`; the message's `"ts":` follows its content (Roo writes `{...message, ts}`).
 */
export function scanApiHistory(buf: Buffer): HistoryScan {
  const stamps: ModelStamp[] = [];
  let from = 0;
  for (;;) {
    const open = buf.indexOf(MODEL_OPEN, from);
    if (open < 0) break;
    const close = buf.indexOf(MODEL_CLOSE, open);
    if (close < 0 || close - open > 256) {
      from = open + MODEL_OPEN.length;
      continue;
    }
    const model = jsonStringBytes(buf, open + MODEL_OPEN.length, close).trim();
    from = close + MODEL_CLOSE.length;
    const tsAt = buf.indexOf(TS_KEY, from);
    let at = Number.NaN;
    if (tsAt >= 0) {
      let i = tsAt + TS_KEY.length;
      while (buf[i] === 0x20) i++;
      let end = i;
      while (end < buf.length && buf[end] >= 0x30 && buf[end] <= 0x39) end++;
      at = end > i ? Number(buf.toString('latin1', i, end)) : Number.NaN;
    }
    if (model && Number.isFinite(at)) stamps.push({ at, model });
  }
  let cwd: string | undefined;
  for (const opener of CWD_OPENERS) {
    const open = buf.indexOf(opener);
    if (open < 0) continue;
    const close = buf.indexOf(CWD_CLOSE, open);
    if (close > open && close - open < 4096) {
      cwd = jsonStringBytes(buf, open + opener.length, close);
      break;
    }
  }
  return { stamps, cwd };
}

const apiHistoryScans = new FileMemo<HistoryScan>(64);

/** Cline's task list: per task, the folder it started in and its model. Parsed once per change of the file. */
const clineTaskHistories = new FileMemo<Map<string, { cwd?: string; model?: string }>>(8);

function parseClineTaskHistory(data: Buffer): Map<string, { cwd?: string; model?: string }> {
  const byId = new Map<string, { cwd?: string; model?: string }>();
  const parsed = parseJson(data);
  if (!parsed.ok || !Array.isArray(parsed.value)) return byId;
  for (const item of parsed.value) {
    if (!isObject(item) || typeof item.id !== 'string') continue;
    byId.set(item.id, { cwd: text(item.cwdOnTaskInitialization), model: text(item.modelId) });
  }
  return byId;
}

/** Cline task_metadata.json `model_usage: [{ts, model_id, model_provider_id, mode}]`, appended on each switch. */
function clineModelStamps(taskDir: string): ModelStamp[] {
  const metadata = readJsonFile(path.join(taskDir, 'task_metadata.json'));
  if (!isObject(metadata) || !Array.isArray(metadata.model_usage)) return [];
  const stamps: ModelStamp[] = [];
  for (const entry of metadata.model_usage) {
    if (!isObject(entry)) continue;
    const model = text(entry.model_id);
    if (model && typeof entry.ts === 'number') stamps.push({ at: entry.ts, model, provider: text(entry.model_provider_id) });
  }
  return stamps;
}

/** Everything about a task besides its messages. */
interface TaskContext {
  taskId: string;
  /** The session the task's usage is reported under: a Roo/Kilo subtask reports under its root task. */
  sessionId: string;
  subtask: boolean;
  project: string | undefined;
  stamps: ModelStamp[];
  /** Cline's task list model, for tasks older than model stamps. */
  fallbackModel?: string;
}

/**
 * Cline 4.x writes the turns of a resumed legacy task back into its ui_messages.json after the original messages,
 * re-stamped on every write-back; they are counted from the SDK session. `sdk_writeback.json` says where they start.
 */
function writebackBase(product: Product, file: string): number | undefined {
  if (product !== CLINE_PRODUCT) return undefined;
  const writeback = readJsonFile(path.join(path.dirname(file), 'sdk_writeback.json'));
  return isObject(writeback) && typeof writeback.baseUiMessageCount === 'number' ? writeback.baseUiMessageCount : undefined;
}

function taskContext(product: Product, file: string, knownProject: string | undefined, needModel: boolean): TaskContext {
  const taskDir = path.dirname(file);
  const taskId = path.basename(taskDir);
  const context: TaskContext = { taskId, sessionId: taskId, subtask: false, project: knownProject, stamps: [] };
  if (product === CLINE_PRODUCT) {
    context.stamps = clineModelStamps(taskDir);
    // The task list is rewritten on every save and can be megabytes: only opened for what nothing else gave.
    const needHistory = context.project === undefined || (needModel && context.stamps.length === 0);
    // `<storage>/tasks/<id>` and `<storage>/state/taskHistory.json`, in globalStorage and in ~/.cline/data alike.
    const history = needHistory
      ? clineTaskHistories.get(path.join(path.dirname(path.dirname(taskDir)), 'state', 'taskHistory.json'), parseClineTaskHistory)?.get(taskId)
      : undefined;
    context.project ??= history?.cwd;
    context.fallbackModel = history?.model;
    return context;
  }
  // Roo/Kilo: history_item.json has the workspace and the parent; the prompt has the model.
  const item = readJsonFile(path.join(taskDir, 'history_item.json'));
  if (isObject(item)) {
    context.project ??= text(item.workspace);
    const root = text(item.rootTaskId) ?? text(item.parentTaskId);
    if (root && root !== taskId) {
      context.sessionId = root;
      context.subtask = true;
    }
  }
  const scan = apiHistoryScans.get(path.join(taskDir, 'api_conversation_history.json'), scanApiHistory);
  if (scan) {
    context.stamps = scan.stamps;
    context.project ??= scan.cwd;
  }
  return context;
}

/** The stamp in force for a request at `at`: the last one written before `limit`, else the first one written. */
function stampAt(stamps: ModelStamp[], limit: number): ModelStamp | undefined {
  let found: ModelStamp | undefined;
  for (const stamp of stamps) if (stamp.at < limit) found = stamp;
  return found ?? stamps[0];
}

/** How long after a Cline request its model stamp may have been written (it is recorded as the request starts). */
const CLINE_STAMP_SLACK_MS = 2000;

// ---------------------------------------------------------------------------------------------------------------
// ui_messages.json
// ---------------------------------------------------------------------------------------------------------------

/** Usage as the file writes it: [tokensIn, tokensOut, cacheWrites, cacheReads, cost]. */
type Raw = [number, number, number, number, number];

/** One usage-carrying message. */
interface UsageItem {
  say: string;
  ts: number;
  /** The message just before it: for an aggregate, the restore point. */
  previousTs: number;
  raw: Raw;
  hasCost: boolean;
  protocol?: string;
  model?: string;
  provider?: string;
}

/** What the previous reads of a task file left behind (see the header). */
interface TaskState {
  /** The last MAX_SEEN covered messages seen, by ts: what a later aggregate would re-count if they were removed. */
  seen: Record<string, Raw>;
  /**
   * The covered messages seen before those, summed: ts from `from` to `to` (all older than any of `seen`). A restore
   * removes the messages after its restore point, so what vanished of them is this sum less the ones still in the
   * file, and they vanished after the last of those that are left (see `settle`).
   */
  old?: { from: number; to: number; raw: Raw };
  /** Covered messages that vanished and that no aggregate has yet re-counted: [ts, ...raw]. */
  pool: Array<[number, ...Raw]>;
  /** Per aggregate ts: how much of it re-counts messages read before they were removed. */
  credit: Record<string, Raw>;
  /** The task's project once known (it does not change). */
  project?: string;
}

const MAX_POOL = 512;
/**
 * Covered messages remembered one by one; older ones are only summed (`TaskState.old`), which keeps the state a few
 * kilobytes for a task of any length (about 45 bytes a message otherwise, parsed on every warm start).
 */
const MAX_SEEN = 200;
const USAGE_NEEDLES = ['api_req_started', 'deleted_api_reqs', 'subagent_usage', 'api_req_deleted', 'condense_context'].map((s) =>
  Buffer.from(s),
);

function loadState(previous: string | undefined): TaskState {
  if (previous) {
    const parsed = parseJson(previous);
    const value = parsed.ok ? parsed.value : undefined;
    if (isObject(value) && isObject(value.seen) && Array.isArray(value.pool) && isObject(value.credit)) {
      const state = value as unknown as TaskState;
      const old = state.old;
      const oldOk = old === undefined || (isObject(old) && typeof old.from === 'number' && typeof old.to === 'number' && Array.isArray(old.raw) && old.raw.length === 5);
      if (!oldOk) state.old = undefined;
      return state;
    }
  }
  return { seen: {}, pool: [], credit: {} };
}

function emptyState(state: TaskState): boolean {
  return Object.keys(state.seen).length === 0 && state.old === undefined && state.pool.length === 0 && Object.keys(state.credit).length === 0;
}

function rawOf(info: Json): Raw {
  return [count(info.tokensIn), count(info.tokensOut), count(info.cacheWrites), count(info.cacheReads), count(info.cost)];
}

function zero(raw: Raw): boolean {
  return raw[0] === 0 && raw[1] === 0 && raw[2] === 0 && raw[3] === 0 && raw[4] === 0;
}

/** The usage-carrying messages of a task, in order; `api_req_finished` (early Cline) merged into its start. */
function usageItems(
  product: Product,
  messages: unknown[],
  limit: number,
  wantCwd: boolean,
  context: ReadContext,
): { items: UsageItem[]; request?: string } {
  const items: UsageItem[] = [];
  const open: Array<{ item: UsageItem; info: Json }> = [];
  let request: string | undefined;
  let previousTs = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < limit; i++) {
    const message = messages[i];
    if (!isObject(message)) continue;
    const ts = typeof message.ts === 'number' && Number.isFinite(message.ts) ? message.ts : Number.NaN;
    const say = message.say;
    const before = previousTs;
    if (Number.isFinite(ts)) previousTs = ts;
    if (message.type !== 'say' || typeof say !== 'string') continue;
    if (say === 'condense_context' && product.kinds.has(say)) {
      // Roo/Kilo: the summarising call's cost, recorded on the message itself (no tokens).
      const cost = isObject(message.contextCondense) ? count(message.contextCondense.cost) : 0;
      if (message.partial !== true && cost > 0) items.push({ say, ts, previousTs: before, raw: [0, 0, 0, 0, cost], hasCost: true });
      continue;
    }
    if (!product.kinds.has(say) && say !== 'api_req_finished') continue;
    const info = parseInfo(message.text, context);
    if (!info) continue;
    if (say === 'api_req_finished') {
      const start = open.pop();
      if (start) mergeFinished(start, info);
      continue;
    }
    const modelInfo = isObject(message.modelInfo) ? message.modelInfo : undefined;
    const item: UsageItem = {
      say,
      ts,
      previousTs: before,
      raw: rawOf(info),
      hasCost: typeof info.cost === 'number' && Number.isFinite(info.cost),
      protocol: text(info.apiProtocol) ?? text(message.apiProtocol),
      model: text(modelInfo?.modelId),
      provider: text(modelInfo?.providerId),
    };
    items.push(item);
    if (say === 'api_req_started') {
      open.push({ item, info });
      if (wantCwd) request ??= typeof info.request === 'string' && CWD_MARKER.test(info.request) ? info.request : undefined;
    }
  }
  return { items, request };
}

/** A message's `text` payload (JSON in a string), or undefined when absent or malformed (counted). */
function parseInfo(value: unknown, context: ReadContext): Json | undefined {
  if (typeof value !== 'string' || !value) return undefined;
  const parsed = parseJson(value);
  if (parsed.ok && isObject(parsed.value)) return parsed.value;
  context.counts.malformedLines++;
  return undefined;
}

function mergeFinished(start: { item: UsageItem; info: Json }, finished: Json): void {
  const merged = { ...start.info, ...finished };
  start.item.raw = rawOf(merged);
  start.item.hasCost = typeof merged.cost === 'number' && Number.isFinite(merged.cost);
}

/**
 * Records what vanished since the last read and settles new aggregates: an aggregate re-counts the covered messages
 * removed after its restore point, so what it re-counts of messages already read is credited back.
 *
 * Only the last MAX_SEEN covered messages are remembered one by one; the older ones as one sum over their ts range.
 * Messages only ever vanish from the end (a restore removes everything after its restore point, and ts grow along the
 * file), so what vanished of the older ones is that sum less those still in the file, and it vanished after the last
 * of them that is left: it joins the pool as one entry at the range's last ts, which every aggregate that re-counts
 * it covers. Nothing is lost but where, inside the range, a message vanished from the middle of the file (which the
 * extensions never do) was: credited to an aggregate whose restore point comes before the range's last message.
 */
function settle(product: Product, items: UsageItem[], state: TaskState): TaskState {
  const old = state.old;
  const present = new Set<number>();
  const current: Array<[number, Raw]> = [];
  const left: Raw = [0, 0, 0, 0, 0];
  let lastLeft = Number.NEGATIVE_INFINITY;
  for (const item of items) {
    if (!product.coveredKinds.has(item.say) || !Number.isFinite(item.ts)) continue;
    present.add(item.ts);
    if (old && item.ts >= old.from && item.ts <= old.to) {
      for (let k = 0; k < 5; k++) left[k] += item.raw[k];
      lastLeft = Math.max(lastLeft, item.ts);
    } else {
      current.push([item.ts, item.raw]);
    }
  }
  const pool = [...state.pool];
  for (const [ts, raw] of Object.entries(state.seen)) {
    if (!present.has(Number(ts))) pool.push([Number(ts), ...raw]);
  }
  let kept: TaskState['old'];
  if (old) {
    const vanished = old.raw.map((value, k) => Math.max(0, value - left[k])) as Raw;
    if (vanished[4] < 1e-9) vanished[4] = 0; // the sum of costs less the same costs summed in another order
    if (!zero(vanished)) pool.push([old.to, ...vanished]);
    if (Number.isFinite(lastLeft)) kept = { from: old.from, to: lastLeft, raw: left };
  }
  current.sort((a, b) => a[0] - b[0]);
  const older = current.length - MAX_SEEN;
  for (let i = 0; i < older; i++) {
    const [ts, raw] = current[i];
    kept ??= { from: ts, to: ts, raw: [0, 0, 0, 0, 0] };
    kept.from = Math.min(kept.from, ts);
    kept.to = Math.max(kept.to, ts);
    for (let k = 0; k < 5; k++) kept.raw[k] += raw[k];
  }
  const seen: Record<string, Raw> = {};
  for (let i = Math.max(0, older); i < current.length; i++) seen[String(current[i][0])] = current[i][1];
  const credit: Record<string, Raw> = {};
  for (const item of items) {
    if (item.say !== product.deletedKind || !Number.isFinite(item.ts)) continue;
    const key = String(item.ts);
    credit[key] = state.credit[key] ?? takeCredit(pool, item);
  }
  pool.sort((a, b) => a[0] - b[0]);
  return { seen, ...(kept ? { old: kept } : {}), pool: pool.slice(-MAX_POOL), credit, project: state.project };
}

/** Takes from `pool` the removed messages an aggregate sums (those after its restore point): its credit. */
function takeCredit(pool: Array<[number, ...Raw]>, aggregate: UsageItem): Raw {
  const sum: Raw = [0, 0, 0, 0, 0];
  for (let i = pool.length - 1; i >= 0; i--) {
    const [ts, ...raw] = pool[i];
    if (!(ts > aggregate.previousTs && ts < aggregate.ts)) continue;
    for (let k = 0; k < 5; k++) sum[k] += raw[k];
    pool.splice(i, 1);
  }
  return sum.map((value, k) => Math.min(value, aggregate.raw[k])) as Raw;
}

/** Whether `tokensIn` already includes the cache reads and writes (then they are split back out). */
function inputIncludesCache(product: Product, item: UsageItem, provider: string | undefined, raw: Raw): boolean {
  if (raw[0] < raw[2] + raw[3]) return false; // cannot hold them: the uncached remainder
  if (product === CLINE_PRODUCT) return provider !== undefined && CLINE_INCLUSIVE_PROVIDERS.has(provider);
  return item.protocol === 'openai' || item.ts >= product.inclusiveSince;
}

function eventOf(product: Product, task: TaskContext, item: UsageItem, raw: Raw, nextTs: number, nearby: string | undefined): UsageEvent {
  const limit = product.stampsFollowRequest ? nextTs : Math.min(item.ts + CLINE_STAMP_SLACK_MS, nextTs);
  const stamp = stampAt(task.stamps, limit);
  const provider = item.provider ?? stamp?.provider;
  const inclusive = inputIncludesCache(product, item, provider, raw);
  return {
    dedupeKey: `${product.agent}:${task.taskId}:${item.ts}`,
    requestTag: 0,
    agent: product.agent,
    timestamp: item.ts,
    sessionId: task.sessionId,
    project: task.project ?? UNKNOWN_PROJECT,
    model: item.model ?? stamp?.model ?? nearby ?? task.fallbackModel ?? UNKNOWN_MODEL,
    inputTokens: inclusive ? Math.max(0, raw[0] - raw[2] - raw[3]) : raw[0],
    outputTokens: raw[1],
    cacheWrite5mTokens: raw[2],
    cacheWrite1hTokens: 0,
    cacheReadTokens: raw[3],
    fast: false,
    sidechain: task.subtask || item.say === 'subagent_usage',
    reportedCostUsd: item.hasCost ? raw[4] : undefined,
  };
}

function emitTask(product: Product, task: TaskContext, items: UsageItem[], state: TaskState, context: ReadContext): void {
  const nearby = nearbyModels(items);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (!Number.isFinite(item.ts)) {
      if (!zero(item.raw)) context.counts.undatedLines++;
      continue;
    }
    let raw = item.raw;
    const credit = item.say === product.deletedKind ? state.credit[String(item.ts)] : undefined;
    if (credit) raw = raw.map((value, k) => Math.max(0, value - credit[k])) as Raw;
    // A placeholder written before any usage arrived (or an aggregate fully re-counted): no billed tokens yet.
    if (zero(raw)) continue;
    let nextTs = Number.POSITIVE_INFINITY;
    for (let j = i + 1; j < items.length; j++) {
      if (items[j].say === 'api_req_started' && items[j].ts > item.ts) {
        nextTs = items[j].ts;
        break;
      }
    }
    context.emit(eventOf(product, task, item, raw, nextTs, nearby[i]));
  }
}

/**
 * For a message that names no model (an aggregate, old messages): the model of the nearest earlier request that
 * names one, else of the first later one. One pass each way.
 */
function nearbyModels(items: UsageItem[]): Array<string | undefined> {
  const nearby: Array<string | undefined> = new Array(items.length);
  let last: string | undefined;
  for (let i = 0; i < items.length; i++) {
    nearby[i] = last;
    last = items[i].model ?? last;
  }
  let next: string | undefined;
  for (let i = items.length - 1; i >= 0; i--) {
    nearby[i] ??= next;
    next = items[i].model ?? next;
  }
  return nearby;
}

function hasUsageBytes(data: Buffer): boolean {
  return USAGE_NEEDLES.some((needle) => data.includes(needle));
}

/** `[` ... `]` around blanks: the shape of a whole array, checked without parsing. */
function looksLikeArray(data: Buffer): boolean {
  let start = 0;
  let end = data.length - 1;
  while (start <= end && (data[start] === 0x20 || data[start] === 0x0a || data[start] === 0x0d || data[start] === 0x09)) start++;
  while (end >= start && (data[end] === 0x20 || data[end] === 0x0a || data[end] === 0x0d || data[end] === 0x09)) end--;
  return data[start] === 0x5b && data[end] === 0x5d;
}

/** Parses a task's ui_messages.json and emits every request in it; returns the new per-file state. */
function parseTask(product: Product, file: string, data: Buffer, previous: string | undefined, context: ReadContext): string | undefined {
  const state = loadState(previous);
  // A task with nothing billed yet and nothing to forget is not parsed (its messages can be megabytes).
  if (emptyState(state) && looksLikeArray(data) && !hasUsageBytes(data)) return previous;
  const parsed = parseJson(data);
  if (!parsed.ok || !Array.isArray(parsed.value)) {
    // Caught mid-write, or damaged: skipped this time; what was recorded stays, and the next write is read.
    context.counts.malformedLines++;
    context.log(`${file}: not a JSON array (${parsed.ok ? typeof parsed.value : parsed.error}); skipped until it changes`);
    return previous;
  }
  const messages = parsed.value;
  const limit = Math.min(messages.length, writebackBase(product, file) ?? messages.length);
  const { items, request } = usageItems(product, messages, limit, state.project === undefined, context);
  const knownProject = state.project ?? (request ? CWD_MARKER.exec(request)?.[1] : undefined);
  const task = taskContext(product, file, knownProject, items.some((item) => item.model === undefined));
  const next = settle(product, items, state);
  next.project = task.project;
  emitTask(product, task, items, next, context);
  return JSON.stringify(next);
}

// ---------------------------------------------------------------------------------------------------------------
// Cline 4.x SDK sessions
// ---------------------------------------------------------------------------------------------------------------

/**
 * The user message Cline 4.x appends when it resumes a legacy task in the SDK: the messages before it are the legacy
 * conversation converted, whose last assistant message carries the whole legacy task's totals as `metrics` (already
 * counted from its ui_messages.json). See cline apps/vscode/src/sdk/legacy-task-handling.ts.
 */
const LEGACY_RESUME_MARKER = 'this is a legacy conversation, which means tool names may have changed';

function mentionsLegacyResume(content: unknown): boolean {
  if (typeof content === 'string') return content.includes(LEGACY_RESUME_MARKER);
  if (!Array.isArray(content)) return false;
  return content.some((block) => isObject(block) && typeof block.text === 'string' && block.text.includes(LEGACY_RESUME_MARKER));
}

/** The session's manifest `<id>/<id>.json`: where it ran and its model. */
function sessionManifest(dir: string): { cwd?: string; model?: string } {
  const manifest = readJsonFile(path.join(dir, `${path.basename(dir)}.json`));
  if (!isObject(manifest)) return {};
  return { cwd: text(manifest.cwd) ?? text(manifest.workspace_root), model: text(manifest.model) };
}

/** Who a messages file's usage belongs to: the manifest first, then the session index (sessions.db). */
interface SdkSessionInfo {
  /** The session it is reported under: the root session, for a subagent's or teammate's file. */
  sessionId: string;
  project?: string;
  model?: string;
  sidechain: boolean;
}

/**
 * What each messages file was last parsed with (this process): a change of the index re-parses a file only when it
 * changes what the file's usage would say.
 */
const parsedWith = new Map<string, string>();

function infoSignature(info: SdkSessionInfo): string {
  return JSON.stringify([info.sessionId, info.project ?? null, info.model ?? null, info.sidechain]);
}

/**
 * The file's session in the index: by its messages_path, else by the id Cline gives it where it lies:
 * `<id>/<id>.messages.json` is session `<id>`, `<root>/<agent>.messages.json` is `<root>__<agent>`
 * (cline session-graph.ts makeSubSessionId) and `<root>/<agent>__<task>.messages.json` a teammate's
 * `<root>__teamtask__<agent>__<task>`.
 */
function rowOf(index: SessionIndex, file: string): { row?: DbSession; byPath: boolean } {
  const byPath = index.byMessages.get(path.resolve(file));
  if (byPath) return { row: byPath, byPath: true };
  const folder = path.basename(path.dirname(file));
  const stem = path.basename(file, SDK_SUFFIX);
  if (stem === folder) return { row: index.byId.get(folder), byPath: false };
  return { row: index.byId.get(`${folder}__${stem}`) ?? index.byId.get(`${folder}__teamtask__${stem}`), byPath: false };
}

/** `start` and its parents, nearest first (at most MAX_CHAIN; a cycle stops it). */
function chainOf(index: SessionIndex | undefined, start: string): string[] {
  const chain = [start];
  for (let id = start; chain.length <= MAX_CHAIN; ) {
    const parent = index?.byId.get(id)?.parent;
    if (parent === undefined || chain.includes(parent)) break;
    chain.push(parent);
    id = parent;
  }
  return chain;
}

/**
 * A messages file's session. Without the index (or a row for it): its folder is the session, its manifest says where,
 * a file named otherwise is a subagent's or teammate's. The index adds, where the manifest is missing or silent, the
 * project (cwd, else workspace_root, of the session or of the nearest parent that has one) and the parent links: a
 * subagent kept in a folder of its own is reported under its root session. `given` is the row of a file read from
 * its messages_path (see readSessionsDb).
 */
function sdkSessionInfo(file: string, index: SessionIndex | undefined, given?: DbSession): SdkSessionInfo {
  const dir = path.dirname(file);
  const folder = path.basename(dir);
  const stem = path.basename(file, SDK_SUFFIX);
  const manifest = sessionManifest(dir);
  const found = given ? { row: given, byPath: true } : index ? rowOf(index, file) : { byPath: false };
  const row = found.row;
  // A root session found by its messages_path is that session wherever its file is; the others start at the folder.
  const start = row?.parent ?? (row && found.byPath && !row.subagent ? row.id : folder);
  const chain = chainOf(index, start);
  const sessionId = chain[chain.length - 1];
  let project = manifest.cwd ?? row?.cwd;
  for (const id of chain) project ??= index?.byId.get(id)?.cwd;
  if (project === undefined && index && sessionId !== folder) project = sessionManifest(path.join(index.sessionsDir, sessionId)).cwd;
  return {
    sessionId,
    project,
    model: manifest.model ?? row?.model,
    sidechain: row ? row.subagent || row.parent !== undefined || (!found.byPath && stem !== folder) : stem !== folder,
  };
}

/** The session index for a messages file found by the walk; undefined when there is none or it cannot be read. */
function indexForMessages(file: string, log: (message: string) => void): SessionIndex | undefined {
  try {
    const db = dbForMessagesFile(file);
    return db ? sessionIndex(db, log)?.index : undefined;
  } catch (error) {
    log(`${file}: the Cline session index was not consulted (${(error as Error).message})`);
    return undefined;
  }
}

/**
 * Parses a session's messages file and emits each model call in it. `link` is given when the index asked for the
 * read (a session it changed, or messages kept elsewhere); otherwise the index is looked up for the file.
 */
function parseSdkSession(
  file: string,
  data: Buffer,
  context: ReadContext,
  link?: { index: SessionIndex; row?: DbSession },
): string | undefined {
  const parsed = parseJson(data);
  const payload = parsed.ok ? parsed.value : undefined;
  const messages = Array.isArray(payload) ? payload : isObject(payload) && Array.isArray(payload.messages) ? payload.messages : undefined;
  if (!messages) {
    context.counts.malformedLines++;
    context.log(`${file}: not a Cline session messages file; skipped until it changes`);
    return undefined;
  }
  const rootId = path.basename(path.dirname(file));
  const stem = path.basename(file, SDK_SUFFIX);
  const sessions = link ? link.index : indexForMessages(file, context.log);
  const info = sdkSessionInfo(file, sessions, link?.row);
  // Read with the index: what it says of the session is the latest word (it may have changed since the last read).
  const reattribute = sessions !== undefined;
  const updatedAt = isObject(payload) && typeof payload.updated_at === 'string' ? Date.parse(payload.updated_at) : Number.NaN;
  let boundary = -1;
  messages.forEach((message, index) => {
    if (isObject(message) && message.role === 'user' && mentionsLegacyResume(message.content)) boundary = index;
  });
  for (let index = boundary + 1; index < messages.length; index++) {
    const message = messages[index];
    if (!isObject(message) || message.role !== 'assistant' || !isObject(message.metrics)) continue;
    if (isObject(message.metadata) && message.metadata.displayOnly === true) continue; // an error banner, not a call
    const event = sdkEvent(message, message.metrics, { rootId, stem, info, updatedAt, reattribute });
    if (event === undefined) continue;
    if (event === 'undated') context.counts.undatedLines++;
    else context.emit(event);
  }
  parsedWith.set(path.resolve(file), infoSignature(info));
  return undefined;
}

function sdkEvent(
  message: Json,
  metrics: Json,
  session: { rootId: string; stem: string; info: SdkSessionInfo; updatedAt: number; reattribute: boolean },
): UsageEvent | 'undated' | undefined {
  const cacheRead = count(metrics.cacheReadTokens);
  const cacheWrite = count(metrics.cacheWriteTokens);
  const output = count(metrics.outputTokens);
  // The SDK's inputTokens is the whole prompt, cache reads and writes included (cline message-translator.ts).
  const input = Math.max(0, count(metrics.inputTokens) - cacheRead - cacheWrite);
  const hasCost = typeof metrics.cost === 'number' && Number.isFinite(metrics.cost);
  if (input + output + cacheRead + cacheWrite === 0 && !(hasCost && count(metrics.cost) > 0)) return undefined;
  const timestamp = typeof message.ts === 'number' && Number.isFinite(message.ts) ? message.ts : session.updatedAt;
  if (!Number.isFinite(timestamp)) return 'undated';
  const id = text(message.id) ?? `t${timestamp}`;
  const modelInfo = isObject(message.modelInfo) ? message.modelInfo : undefined;
  return {
    // Where the file lies, never what the index says: a session's key does not change when the index does.
    dedupeKey: `${CLINE}:${session.rootId}:${session.stem}:${id}`,
    requestTag: 0,
    agent: CLINE,
    timestamp,
    sessionId: session.info.sessionId,
    project: session.info.project ?? UNKNOWN_PROJECT,
    model: text(modelInfo?.id) ?? session.info.model ?? UNKNOWN_MODEL,
    inputTokens: input,
    outputTokens: output,
    cacheWrite5mTokens: cacheWrite,
    cacheWrite1hTokens: 0,
    cacheReadTokens: cacheRead,
    fast: false,
    // A subagent's or teammate's file sits in its root session's folder under its own name (or the index says so).
    sidechain: session.info.sidechain,
    reportedCostUsd: hasCost ? count(metrics.cost) : undefined,
    ...(session.reattribute ? { reattribute: true } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Cline 4.x SDK: the session index, sessions.db
// ---------------------------------------------------------------------------------------------------------------
//
// Table `sessions` (cline sdk shared/db/sqlite-db.ts, core storage/sqlite-session-store.ts): one row per session,
// subagents and teammates included, with `cwd`, `workspace_root`, `parent_session_id`, `is_subagent`, `model` and
// `messages_path` (absolute). Older databases lack some columns (added by migrations): absent ones read as NULL.
// Cline writes a session's row before its messages file, so a messages file finds its row when it is first read.

/** The index holds a few hundred bytes a session: a bigger file is not one (and is not held in memory). */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** Parent links followed at most this far. */
const MAX_CHAIN = 16;

/** One session's row, as far as it matters here. */
interface DbSession {
  id: string;
  /** cwd, else workspace_root. */
  cwd?: string;
  parent?: string;
  subagent: boolean;
  /** messages_path, resolved. */
  messages?: string;
  model?: string;
  /** A hash of the above: a session whose row hash changes is refreshed. */
  hash: string;
}

interface SessionIndex {
  /** The sessions folder the index describes. */
  sessionsDir: string;
  byId: Map<string, DbSession>;
  byMessages: Map<string, DbSession>;
}

/** An index as read for one state of the database and its WAL; without `index` when it could not be read. */
interface IndexEntry {
  db: [size: number, mtimeMs: number, ino: number];
  wal: FileStamp;
  index?: SessionIndex;
  bytesRead: number;
  /** Why there is no index. */
  code?: string;
}

/** The last index read of each database: reused while neither the database nor its WAL changes. */
const indexes = new Map<string, IndexEntry>();
/** The last problem logged per database (each is logged once, not for every messages file). */
const indexProblems = new Map<string, string>();

function stampOf(file: string): FileStamp {
  try {
    const stat = fs.statSync(file);
    return stat.isFile() ? [stat.size, stat.mtimeMs, stat.ino] : null;
  } catch {
    return null;
  }
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  if (a === null || b === null) return a === b;
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

function indexProblem(db: string, message: string, log: (message: string) => void): void {
  if (indexProblems.get(db) === message) return;
  indexProblems.set(db, message);
  log(`${db}: ${message}; Cline sessions are read without it (project and parent session from their own files only)`);
}

function rowText(value: SqlValue | undefined): string | undefined {
  return text(textOf(value));
}

function buildIndex(sql: SqlDatabase, db: string): SessionIndex {
  const columns = columnsOf(sql, 'sessions');
  if (!columns.has('session_id')) throw new Error('no sessions table: not the index of Cline sessions');
  const column = (name: string) => (columns.has(name) ? name : 'NULL');
  const index: SessionIndex = { sessionsDir: sessionsDirForDb(db), byId: new Map(), byMessages: new Map() };
  const query = `SELECT session_id, ${column('cwd')}, ${column('workspace_root')}, ${column('parent_session_id')}, ${column('is_subagent')},
    ${column('messages_path')}, ${column('model')} FROM sessions`;
  eachRow(sql, query, [], ([rawId, cwd, root, rawParent, subagent, messages, model]) => {
    const id = rowText(rawId);
    if (!id) return;
    const parent = rowText(rawParent);
    const messagesPath = rowText(messages);
    const session: Omit<DbSession, 'hash'> = {
      id,
      cwd: rowText(cwd) ?? rowText(root),
      parent: parent === id ? undefined : parent,
      subagent: (numberOf(subagent) ?? 0) !== 0,
      messages: messagesPath ? path.resolve(index.sessionsDir, messagesPath) : undefined,
      model: rowText(model),
    };
    const hash = digest('sha1', JSON.stringify([session.cwd, session.parent, session.subagent, session.messages, session.model]), 'base64').slice(0, 12);
    const row: DbSession = { ...session, hash };
    index.byId.set(id, row);
    if (row.messages) index.byMessages.set(row.messages, row);
  });
  return index;
}

/**
 * The index of database `db`, read again only when it or its WAL changed. Never throws; undefined when there is no
 * such file. A database that cannot be read is logged once and yields no index (until it changes); one that kept
 * changing while read keeps the last index read.
 */
function sessionIndex(db: string, log: (message: string) => void): IndexEntry | undefined {
  const stamp = stampOf(db);
  if (!stamp) {
    indexes.delete(db);
    return undefined;
  }
  const wal = stampOf(`${db}-wal`);
  const hit = indexes.get(db);
  if (hit && sameStamp(hit.db, stamp) && sameStamp(hit.wal, wal)) return { ...hit, bytesRead: 0 };
  let snapshot: SqliteSnapshot;
  try {
    snapshot = openSnapshot(db, { maxBytes: MAX_INDEX_BYTES });
  } catch (error) {
    const code = error instanceof SqliteReadError ? error.code : ((error as NodeJS.ErrnoException).code ?? 'EIO');
    if (code === 'ENOENT') {
      indexes.delete(db);
      return undefined;
    }
    indexProblem(db, (error as Error).message, log);
    if (code === 'EBUSY' && hit?.index) return { ...hit, bytesRead: 0 };
    const failed: IndexEntry = { db: stamp, wal, bytesRead: 0, code };
    // Not loaded yet, or busy: tried again at the next read. Otherwise not until the file changes.
    if (code !== 'ENOTLOADED' && code !== 'EBUSY') indexes.set(db, failed);
    return failed;
  }
  const read: IndexEntry = { db: [snapshot.stat.size, snapshot.stat.mtimeMs, snapshot.stat.ino], wal: snapshot.wal, bytesRead: snapshot.bytesRead };
  try {
    read.index = buildIndex(snapshot.db, db);
    indexProblems.delete(db);
  } catch (error) {
    read.code = 'ESQL';
    indexProblem(db, (error as Error).message, log);
  } finally {
    snapshot.close();
  }
  indexes.set(db, read);
  return read;
}

/** What a read of the index leaves in its cursor. */
interface DbState {
  /** The WAL's stamp when the database was read (null: none). */
  w: FileStamp;
  /** Per session id, the hash of its row. */
  r: Record<string, string>;
  /** Messages files outside the sessions folder, read from here: [size, mtimeMs] when read. */
  x: Record<string, [number, number]>;
}

function isStamp(value: unknown): value is FileStamp {
  return value === null || (Array.isArray(value) && value.length === 3 && value.every((n) => typeof n === 'number'));
}

function loadDbState(context: string | undefined): DbState | undefined {
  if (!context) return undefined;
  const parsed = parseJson(context);
  if (!parsed.ok || !isObject(parsed.value)) return undefined;
  const { w, r, x } = parsed.value;
  if (!isStamp(w) || !isObject(r) || !isObject(x)) return undefined;
  return { w, r: r as DbState['r'], x: x as DbState['x'] };
}

/** True when neither the database, its WAL nor a messages file read from it changed since `cursor`. */
function sessionsDbUnchanged(file: string, cursor: CursorStamp, stat: StatFields): boolean {
  if (!isUnchanged(cursor, stat)) return false;
  const state = loadDbState(cursor.context);
  if (!state || !sameStamp(state.w, stampOf(`${file}-wal`))) return false;
  for (const [other, [size, mtimeMs]] of Object.entries(state.x)) {
    const now = stampOf(other);
    if (!now || now[0] !== size || now[1] !== mtimeMs) return false;
  }
  return true;
}

function inSessionsFolder(index: SessionIndex, file: string): boolean {
  return path.dirname(path.dirname(file)) === index.sessionsDir;
}

/** The messages files in the sessions folder whose session is `id` or lies in its folder. */
function sessionFiles(index: SessionIndex, id: string, into: Set<string>): void {
  const dir = path.join(index.sessionsDir, id);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    // no folder of its own (a subagent in its root's folder) or gone
  }
  for (const name of names) if (isSdkMessagesName(name)) into.add(path.join(dir, name));
  const row = index.byId.get(id);
  if (row?.messages && inSessionsFolder(index, row.messages)) into.add(row.messages);
  const split = id.indexOf('__');
  if (split > 0) {
    const agent = id.slice(split + 2).replace(/^teamtask__/, '');
    into.add(path.join(index.sessionsDir, id.slice(0, split), `${agent}${SDK_SUFFIX}`));
  }
}

function reparse(file: string, context: ReadContext, link: { index: SessionIndex; row?: DbSession }): void {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return; // not there (any more): nothing to say
  }
  parseSdkSession(file, data, context, link);
}

/**
 * After the index changed: re-emits the usage of the sessions whose row changed, appeared or went away, and of those
 * below them (a session's project and root follow its parents'), when that changes what their usage says; and reads
 * the messages files kept elsewhere than the sessions folder (no walk reaches them) when they are new or changed.
 * Keys follow the files, never the index, so a re-emitted call is never counted twice; it is emitted with `reattribute`,
 * so that the ledger takes its new session, project and side-chain flag (with the same tokens it would keep the first).
 */
function refreshSessions(index: SessionIndex, previous: DbState | undefined, context: ReadContext): Omit<DbState, 'w'> {
  const hashes: DbState['r'] = {};
  for (const [id, row] of index.byId) hashes[id] = row.hash;
  const changed = new Set<string>();
  for (const [id, hash] of Object.entries(hashes)) if (previous?.r[id] !== hash) changed.add(id);
  for (const id of Object.keys(previous?.r ?? {})) if (!(id in hashes)) changed.add(id);
  const affected = new Set(changed);
  if (changed.size > 0) {
    for (const id of index.byId.keys()) if (chainOf(index, id).some((up) => changed.has(up))) affected.add(id);
  }
  const files = new Set<string>();
  for (const id of affected) sessionFiles(index, id, files);
  for (const file of files) {
    const known = parsedWith.get(path.resolve(file));
    // A file is re-parsed when what its usage would say differs from what it was last parsed with. On the first read
    // of an index, files this process has not parsed are left alone: they are read (or were read) with it already.
    if (known === undefined ? previous === undefined : known === infoSignature(sdkSessionInfo(file, index))) continue;
    reparse(file, context, { index });
  }
  const elsewhere: DbState['x'] = {};
  for (const row of index.byId.values()) {
    const file = row.messages;
    if (!file || inSessionsFolder(index, file) || elsewhere[file]) continue;
    const stamp = stampOf(file);
    if (!stamp) continue;
    elsewhere[file] = [stamp[0], stamp[1]];
    const before = previous?.x[file];
    if (before && before[0] === stamp[0] && before[1] === stamp[1]) {
      if (!affected.has(row.id) || parsedWith.get(file) === infoSignature(sdkSessionInfo(file, index, row))) continue;
    }
    reparse(file, context, { index, row });
  }
  return { r: hashes, x: elsewhere };
}

/**
 * Reads the session index: refreshes what it changed (see refreshSessions). A database that cannot be read is logged
 * and left alone until it changes (the messages files are read without it); never an error of the scan.
 */
function readSessionsDb(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead {
  try {
    const before = loadDbState(previous?.context);
    const entry = sessionIndex(path.resolve(file), context.log);
    if (!entry) return { file, bytesRead: 0, rewritten: false, error: `${file}: not found`, errorCode: 'ENOENT' };
    let state: DbState | undefined;
    if (entry.index) state = { w: entry.wal, ...refreshSessions(entry.index, before, context) };
    // Not loaded: no state, so that the next look reads it again. Unreadable: what the last good read left.
    else if (entry.code !== 'ENOTLOADED') state = { r: before?.r ?? {}, x: before?.x ?? {}, w: entry.wal };
    const [size, mtimeMs, ino] = entry.db;
    return {
      file,
      cursor: { offset: size, size, mtimeMs, ino, tail: '', context: state ? JSON.stringify(state) : undefined },
      bytesRead: entry.bytesRead,
      rewritten: false,
    };
  } catch (error) {
    context.log(`${file}: ${(error as Error).message}; Cline sessions are read without it`);
    return { file, bytesRead: 0, rewritten: false, error: (error as Error).message, errorCode: (error as NodeJS.ErrnoException).code };
  }
}

/** Loads SQLite for the index when Cline 4.x is on this machine (its data or sessions folder exists). */
async function prepareClineIndex(): Promise<void> {
  const present = [...sessionsDirOfDb].some(([db, sessionsDir]) => fs.existsSync(path.dirname(db)) || fs.existsSync(sessionsDir));
  if (!present) return;
  try {
    await loadSqlite();
  } catch {
    // The index is side information: without SQLite the messages files are read alone (logged at the first read).
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------------------------

function readFor(product: Product) {
  return (file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead => {
    const name = path.basename(file);
    if (product === CLINE_PRODUCT && name === SESSIONS_DB) return readSessionsDb(file, previous, context);
    return readWholeFile(file, previous, context, (data, state, read) =>
      name === UI_MESSAGES ? parseTask(product, file, data, state, read) : parseSdkSession(file, data, read),
    );
  };
}

function sourceFor(product: Product): Source {
  const source: Source = {
    agent: product.agent,
    label: product.label,
    roots: (options) => productRoots(product, options),
    walk: walkFor(product),
    fileFor: (changed) => fileFor(product, changed),
    read: readFor(product),
  };
  if (product !== CLINE_PRODUCT) return source;
  return {
    ...source,
    prepare: prepareClineIndex,
    isUnchanged: (file, cursor, stat) =>
      path.basename(file) === SESSIONS_DB ? sessionsDbUnchanged(file, cursor, stat) : isUnchanged(cursor, stat),
  };
}

/** Cline: the extension's tasks in every editor, the Cline data folder's tasks, and Cline 4.x SDK sessions. */
export const clineSource: Source = sourceFor(CLINE_PRODUCT);
export const rooCodeSource: Source = sourceFor(ROO_PRODUCT);
export const kiloCodeSource: Source = sourceFor(KILO_PRODUCT);
