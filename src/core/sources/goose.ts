// Goose (Block): `sessions.db` (SQLite, WAL) in its data folder, one row per session with running totals.
//
// Goose records no per-request usage: each provider call adds to the session row's `accumulated_*` columns (and,
// since the cache columns arrived, `accumulated_cache_read_tokens` / `..._write_tokens` and `accumulated_cost`). So
// a session is ONE event whose key never changes (`goose:<id>:<created_at>`); as the session grows the event is
// emitted again with larger totals and replaces the smaller copy in the ledger. The consequence, by design: a
// session's whole spend lands at its LAST update time (a session spanning midnight counts on the later day).
//
// Traps:
//  - `input_tokens` / `output_tokens` / `total_tokens` are the LAST turn's (the context now), not the spend; they
//    are used only for sessions from releases that kept no accumulated figures at all.
//  - Input INCLUDES cache reads and writes (Goose folds Anthropic's cache tokens into input), so the cache figures
//    are taken out of it. Releases without cache columns cannot be split: all their input counts as uncached.
//  - A total above input + output is reasoning the provider reported apart; it is billed as output.
//  - Session ids are per-day counters (`20260701_1`), not unique across databases: the creation time is in the key.
//  - Timestamps are SQLite text (`2026-07-01 10:30:00`, UTC) or, for imported sessions, RFC 3339.

import * as path from 'node:path';
import type { WalkOptions } from '../folderIndex';
import { UNKNOWN_MODEL, type UsageEvent } from '../usage';
import { columnsOf, eachRow, loadSqlite, numberOf, readSqlite, sqliteFileFor, sqliteIsUnchanged, textOf, type SqlDatabase, type SqlValue, SQLITE_READ_INTERVAL_MS } from '../sqlite';
import { homeOf, parseJson, platformOf, xdgDataHome, type ReadContext, type Source, type SourceOptions } from './source';

export const GOOSE = 'goose';
const DB_NAME = 'sessions.db';

const COLUMNS = [
  'id',
  'working_dir',
  'created_at',
  'updated_at',
  'session_type',
  'input_tokens',
  'output_tokens',
  'total_tokens',
  'accumulated_input_tokens',
  'accumulated_output_tokens',
  'accumulated_total_tokens',
  'accumulated_cache_read_tokens',
  'accumulated_cache_write_tokens',
  'accumulated_cost',
  'model_config_json',
] as const;

type Row = Record<(typeof COLUMNS)[number], SqlValue>;

/** SQLite's `datetime('now')` text is UTC without a zone; RFC 3339 carries its own; a number is epoch s or ms. */
export function parseGooseTime(value: SqlValue): number | undefined {
  if (typeof value === 'number') return value > 1e12 ? value : value * 1000;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const zoned = /[zZ]|[+-]\d\d:?\d\d$/.test(text.slice(10));
  const ms = Date.parse(zoned ? text.replace(' ', 'T') : `${text.replace(' ', 'T')}Z`);
  return Number.isFinite(ms) ? ms : undefined;
}

function modelOf(json: SqlValue, context: ReadContext): string {
  const text = textOf(json);
  if (!text) return UNKNOWN_MODEL;
  const parsed = parseJson(text);
  if (!parsed.ok) {
    context.counts.malformedLines++;
    return UNKNOWN_MODEL;
  }
  const value = parsed.value;
  const name = typeof value === 'object' && value !== null ? (value as Record<string, unknown>).model_name : undefined;
  return typeof name === 'string' && name !== '' ? name : UNKNOWN_MODEL;
}

/** Non-negative count, or 0 for NULL / a wrong type. */
function count(value: SqlValue): number {
  const n = numberOf(value);
  return n !== undefined && n > 0 ? n : 0;
}

function sessionEvent(row: Row, context: ReadContext): UsageEvent | undefined {
  const id = textOf(row.id);
  if (!id) return undefined;
  const accumulated =
    row.accumulated_input_tokens !== null || row.accumulated_output_tokens !== null || row.accumulated_total_tokens !== null;
  const input = count(accumulated ? row.accumulated_input_tokens : row.input_tokens);
  const output = count(accumulated ? row.accumulated_output_tokens : row.output_tokens);
  const total = count(accumulated ? row.accumulated_total_tokens : row.total_tokens);
  const cacheRead = accumulated ? count(row.accumulated_cache_read_tokens) : 0;
  const cacheWrite = accumulated ? count(row.accumulated_cache_write_tokens) : 0;
  const cost = numberOf(row.accumulated_cost);
  if (input + output + total === 0 && !(cost && cost > 0)) return undefined;
  const timestamp = parseGooseTime(row.updated_at) ?? parseGooseTime(row.created_at);
  if (timestamp === undefined) {
    context.counts.undatedLines++;
    return undefined;
  }
  const type = textOf(row.session_type);
  return {
    dedupeKey: `${GOOSE}:${id}:${textOf(row.created_at) ?? ''}`,
    requestTag: 0,
    agent: GOOSE,
    timestamp,
    sessionId: id,
    project: textOf(row.working_dir) ?? '',
    model: modelOf(row.model_config_json, context),
    inputTokens: Math.max(0, input - cacheRead - cacheWrite),
    outputTokens: output + Math.max(0, total - input - output),
    cacheWrite5mTokens: cacheWrite,
    cacheWrite1hTokens: 0,
    cacheReadTokens: cacheRead,
    fast: false,
    sidechain: type === 'sub_agent' || type === 'specialist',
    reportedCostUsd: cost !== undefined && cost > 0 ? cost : undefined,
  };
}

/**
 * Every session row, every read: the table holds one small row per session, and the ledger keeps the larger copy of
 * each, so re-reading all of it is both cheap and idempotent.
 */
function readSessions(db: SqlDatabase, context: ReadContext): undefined {
  const present = columnsOf(db, 'sessions');
  if (!present.has('id')) throw new Error('no sessions table: not a Goose database');
  const select = COLUMNS.map((name) => (present.has(name) ? name : `NULL AS ${name}`)).join(', ');
  eachRow(db, `SELECT ${select} FROM sessions`, [], (values) => {
    const row = Object.fromEntries(COLUMNS.map((name, i) => [name, values[i]])) as Row;
    const event = sessionEvent(row, context);
    if (event) context.emit(event);
  });
  return undefined;
}

/** Goose's data folder (etcetera's default app strategy): Windows known folders there, XDG everywhere else. */
function gooseRoots(options: SourceOptions): string[] {
  const home = homeOf(options);
  const roots: string[] = [];
  const pathRoot = options.env.GOOSE_PATH_ROOT?.trim();
  if (pathRoot && path.isAbsolute(pathRoot)) roots.push(path.join(pathRoot, 'data', 'sessions'));
  if (platformOf(options) === 'win32') {
    const appData = options.env.APPDATA || path.join(home, 'AppData', 'Roaming');
    roots.push(path.join(appData, 'Block', 'goose', 'data', 'sessions'));
  } else {
    roots.push(path.join(xdgDataHome(options), 'goose', 'sessions'));
    // Seen in the wild (ccusage checks them too): an Apple-style folder and the organisation-prefixed one.
    roots.push(path.join(home, '.local', 'share', 'Block', 'goose', 'sessions'));
    if (platformOf(options) === 'darwin') roots.push(path.join(home, 'Library', 'Application Support', 'goose', 'sessions'));
  }
  return [...roots, ...(options.extraDirs ?? [])];
}

const isDatabaseName = (name: string) => name === DB_NAME;

const walk: WalkOptions = { maxDepth: 0, skipFolders: new Set(), isWanted: isDatabaseName };

export const gooseSource: Source = {
  agent: GOOSE,
  label: 'Goose',
  walk,
  roots: gooseRoots,
  fileFor: (changedPath) => sqliteFileFor(changedPath, isDatabaseName),
  prepare: loadSqlite,
  minReadIntervalMs: SQLITE_READ_INTERVAL_MS,
  isUnchanged: sqliteIsUnchanged,
  read: (file, previous, context) => readSqlite(file, previous, context, (db, _state, ctx) => readSessions(db, ctx)),
};
