// Crush (Charm): `crush.db` (SQLite, WAL) in the project's data folder, `.crush/` inside the project by default.
// Crush also keeps a global `projects.json` (in `$CRUSH_GLOBAL_DATA`, else `$XDG_DATA_HOME/crush`, else
// `%LOCALAPPDATA%\crush` / `~/.local/share/crush`) listing every project it ran in with its data folder: those
// folders are read too, so projects outside the open workspace still count.
//
// What Crush records, and what it does not:
//  - `sessions.cost` is the session's RUNNING TOTAL in USD (each step adds its cost; 0 for flat-rate/subscription
//    models and for estimated usage).
//  - `sessions.prompt_tokens` / `completion_tokens` are NOT totals: every step OVERWRITES them with that step's
//    context size (the context gauge reads them; summarizing resets them to 0). No table holds per-request tokens.
//    So a Crush session carries its reported cost and no token counts: adding those columns up would report the
//    size of the last context as if it were the spend.
//  - A finished sub-agent's cost is ADDED to its parent session's (`updateParentSessionCost`), and the sub-agent
//    keeps its own row: only top-level sessions are counted, like Crush's own statistics do. (A sub-agent that
//    failed is never added to its parent: Crush itself loses that cost.)
//
// One event per top-level session, with a key that never changes (`crush:<id>`): as the session's cost grows the
// event is emitted again and replaces the smaller copy, so the session's whole spend lands at its LAST update time.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WalkOptions } from '../folderIndex';
import { UNKNOWN_MODEL, type UsageEvent } from '../usage';
import { columnsOf, eachRow, loadSqlite, numberOf, readSqlite, sqliteFileFor, sqliteIsUnchanged, textOf, type SqlDatabase, SQLITE_READ_INTERVAL_MS } from '../sqlite';
import { homeOf, parseJson, platformOf, type ReadContext, type Source, type SourceOptions } from './source';

export const CRUSH = 'crush';
const DB_NAME = 'crush.db';
const DEFAULT_DATA_DIR = '.crush';

/** Project folder of each data folder named in projects.json (a data folder need not sit inside its project). */
const projectOfDataDir = new Map<string, string>();

/** Crush's global data folder, where projects.json lives. */
export function crushGlobalDataDir(options: SourceOptions): string {
  const explicit = options.env.CRUSH_GLOBAL_DATA?.trim();
  if (explicit) return explicit;
  const xdg = options.env.XDG_DATA_HOME?.trim();
  if (xdg) return path.join(xdg, 'crush');
  const home = homeOf(options);
  if (platformOf(options) === 'win32') return path.join(options.env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'crush');
  return path.join(home, '.local', 'share', 'crush');
}

/** The data folders projects.json lists (absent, unreadable or damaged: none). */
function registeredDataDirs(globalDir: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(globalDir, 'projects.json'), 'utf8');
  } catch {
    return [];
  }
  const parsed = parseJson(text);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) return [];
  const projects = (parsed.value as { projects?: unknown }).projects;
  if (!Array.isArray(projects)) return [];
  const dirs: string[] = [];
  for (const entry of projects) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { path: project, data_dir: dataDir } = entry as { path?: unknown; data_dir?: unknown };
    if (typeof project !== 'string' || project === '') continue;
    const dir = typeof dataDir === 'string' && dataDir !== '' ? path.resolve(project, dataDir) : path.join(project, DEFAULT_DATA_DIR);
    projectOfDataDir.set(dir, project);
    dirs.push(dir);
  }
  return dirs;
}

function crushRoots(options: SourceOptions): string[] {
  const workspaces = (options.workspaceFolders ?? []).map((folder) => path.join(folder, DEFAULT_DATA_DIR));
  const globalDir = crushGlobalDataDir(options);
  return [...workspaces, globalDir, ...registeredDataDirs(globalDir), ...(options.extraDirs ?? [])];
}

/** The project a database belongs to when the row does not say: its data folder's registered project or parent. */
function projectOf(dbFile: string): string {
  const dataDir = path.dirname(dbFile);
  const registered = projectOfDataDir.get(dataDir);
  if (registered) return registered;
  return path.basename(dataDir) === DEFAULT_DATA_DIR ? path.dirname(dataDir) : '';
}

/** Unix seconds (as Crush writes them); a value already in milliseconds is kept. */
function timeOf(value: number | undefined): number | undefined {
  if (value === undefined || value <= 0) return undefined;
  return value > 1e12 ? value : value * 1000;
}

function readSessions(dbFile: string, db: SqlDatabase, context: ReadContext): undefined {
  const columns = columnsOf(db, 'sessions');
  if (!columns.has('id') || !columns.has('cost')) throw new Error('no sessions table with a cost: not a Crush database');
  const cwd = columns.has('workspace_cwd') ? 's.workspace_cwd' : 'NULL';
  const topLevel = columns.has('parent_session_id') ? "WHERE s.parent_session_id IS NULL OR s.parent_session_id = ''" : '';
  const hasMessages = columnsOf(db, 'messages').has('model');
  // The model of the session's latest answer names the session (its cost is Crush's, whatever the models).
  const model = hasMessages
    ? "(SELECT m.model FROM messages m WHERE m.session_id = s.id AND m.role = 'assistant' AND m.model IS NOT NULL AND m.model != '' ORDER BY m.created_at DESC LIMIT 1)"
    : 'NULL';
  const fallbackProject = projectOf(dbFile);
  eachRow(db, `SELECT s.id, s.cost, s.updated_at, s.created_at, ${cwd}, ${model} FROM sessions s ${topLevel}`, [], (row) => {
    const [id, cost, updated, created, workspace, modelName] = row;
    const sessionId = textOf(id);
    const usd = numberOf(cost);
    // No cost recorded (flat-rate model, estimated usage, or nothing sent yet): nothing to count, no tokens to price.
    if (!sessionId || usd === undefined || usd <= 0) return;
    const timestamp = timeOf(numberOf(updated)) ?? timeOf(numberOf(created));
    if (timestamp === undefined) {
      context.counts.undatedLines++;
      return;
    }
    const event: UsageEvent = {
      dedupeKey: `${CRUSH}:${sessionId}`,
      requestTag: 0,
      agent: CRUSH,
      timestamp,
      sessionId,
      project: textOf(workspace) || fallbackProject,
      model: textOf(modelName) || UNKNOWN_MODEL,
      inputTokens: 0,
      outputTokens: 0,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      cacheReadTokens: 0,
      fast: false,
      sidechain: false,
      reportedCostUsd: usd,
    };
    context.emit(event);
  });
  return undefined;
}

const isDatabaseName = (name: string) => name === DB_NAME;

const walk: WalkOptions = { maxDepth: 0, skipFolders: new Set(), isWanted: isDatabaseName };

export const crushSource: Source = {
  agent: CRUSH,
  label: 'Crush',
  walk,
  roots: crushRoots,
  fileFor: (changedPath) => sqliteFileFor(changedPath, isDatabaseName),
  prepare: loadSqlite,
  minReadIntervalMs: SQLITE_READ_INTERVAL_MS,
  isUnchanged: sqliteIsUnchanged,
  read: (file, previous, context) => readSqlite(file, previous, context, (db, _state, ctx) => readSessions(file, db, ctx)),
};
