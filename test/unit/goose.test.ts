// Goose (src/core/sources/goose.ts): the traps of ../shared/formats/agent-logs.md §7 (Goose) and what Goose's source
// shows beyond it, on sessions.db files made by test/fixtures/make-sqlite-fixtures.py (current and v5 schemas, WAL).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import type { LedgerRecord } from '../../src/core/ledger';
import { gooseSource, parseGooseTime } from '../../src/core/sources/goose';
import { loadSqlite } from '../../src/core/sqlite';
import { appendWalCommit } from '../fixtures/sqlite/walWriter';
import { copyDir, isolatedEnv, REPO, sourceEngine, tempDir } from './helpers';
import { UNKNOWN_MODEL } from '../../src/core/usage';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'goose');
const CURRENT = path.join(FIXTURES, 'current');
const PATH_ROOT = path.join(FIXTURES, 'path-root');

/** An engine that reads only Goose, with `env` (HOME is an empty temp folder). */
function engineOn(env: NodeJS.ProcessEnv): Engine {
  return sourceEngine([gooseSource], isolatedEnv(tempDir(), env));
}

function record(engine: Engine, sessionId: string): LedgerRecord {
  const found = engine.ledger.records().find((r) => r.sessionId === sessionId);
  assert.ok(found, sessionId);
  return found;
}

function copyOf(dir: string): string {
  return copyDir(dir, 'agent-spend-goose-');
}

describe('Goose', () => {
  before(() => loadSqlite());

  it('input includes cache reads and writes: they are taken out of it and counted as cache', () => {
    const engine = engineOn({ XDG_DATA_HOME: CURRENT });
    engine.scan();
    const s = record(engine, '20260701_1');
    assert.equal(s.inputTokens, 150000 - 100000 - 20000);
    assert.equal(s.cacheReadTokens, 100000);
    assert.equal(s.cacheWrite5mTokens, 20000);
    assert.equal(s.outputTokens, 5000);
    assert.equal(s.model, 'claude-sonnet-4-5');
    assert.equal(s.project, '/home/ana/src/shop');
    assert.equal(s.costProvenance, 'reported');
    assert.equal(s.costUsd, 0.85);
  });

  it('the last-turn columns are the context, not the spend: accumulated figures are used, last-turn ones only without them', () => {
    const engine = engineOn({ XDG_DATA_HOME: CURRENT });
    engine.scan();
    // 20260701_1 has last-turn input 40000 and accumulated 150000.
    assert.equal(record(engine, '20260701_1').inputTokens + record(engine, '20260701_1').cacheReadTokens + record(engine, '20260701_1').cacheWrite5mTokens, 150000);
    // 20260630_1 was written by a Goose that kept no accumulated figures.
    const old = record(engine, '20260630_1');
    assert.equal(old.inputTokens, 1200);
    assert.equal(old.outputTokens, 300);
    assert.equal(old.model, 'gpt-4o');
  });

  it('one event per session, at its last update time; sub-agent sessions are side chains; empty sessions are skipped', () => {
    const engine = engineOn({ XDG_DATA_HOME: CURRENT });
    const scan = engine.scan();
    const report = engine.report();
    assert.deepEqual(report.sessions.map((s) => s.sessionId).sort(), ['20260630_1', '20260701_1', '20260701_2', '20260701_4']);
    assert.equal(report.totals.requests, 4);
    assert.equal(record(engine, '20260701_1').timestamp, Date.parse('2026-07-01T10:30:00Z'));
    const sub = record(engine, '20260701_2');
    assert.equal(sub.sidechain, true);
    assert.equal(sub.costProvenance, 'computed', 'no accumulated_cost: priced from tokens');
    assert.equal(record(engine, '20260701_1').sidechain, false);
    assert.equal(scan.unreadable.length, 0);
  });

  it('a damaged model config still counts the session, as an unknown model, and is reported as malformed', () => {
    const engine = engineOn({ XDG_DATA_HOME: CURRENT });
    const scan = engine.scan();
    const odd = record(engine, '20260701_4');
    assert.equal(odd.model, UNKNOWN_MODEL);
    assert.equal(odd.outputTokens, 100);
    assert.equal(scan.malformedLines, 1);
  });

  it('an older schema (no cache, cost or model columns) under GOOSE_PATH_ROOT: a total above input + output is billed as output', () => {
    const engine = engineOn({ XDG_DATA_HOME: tempDir(), GOOSE_PATH_ROOT: PATH_ROOT });
    engine.scan();
    const old = record(engine, '20250901_1');
    assert.equal(old.inputTokens, 6000);
    assert.equal(old.outputTokens, 800 + 200);
    assert.equal(old.model, UNKNOWN_MODEL);
    assert.equal(old.timestamp, Date.parse('2025-09-01T09:00:00Z'), 'RFC 3339 with its own offset');
  });

  it('the same database found twice (a copy) counts once; the key carries the creation time, not just the day counter', () => {
    const copy = copyOf(CURRENT);
    fs.mkdirSync(path.join(copy, 'root', 'data'), { recursive: true });
    fs.cpSync(path.join(CURRENT, 'goose', 'sessions'), path.join(copy, 'root', 'data', 'sessions'), { recursive: true });
    const engine = engineOn({ XDG_DATA_HOME: CURRENT, GOOSE_PATH_ROOT: path.join(copy, 'root') });
    const scan = engine.scan();
    assert.equal(scan.filesRead, 2);
    assert.equal(engine.report().totals.requests, 4);
    assert.match(record(engine, '20260701_1').key, /^goose:20260701_1:2026-07-01 09:00:00$/);
  });

  it('a session that grows replaces its earlier copy (moving exactly by the growth); a new session adds; nothing new adds nothing', () => {
    const xdg = copyOf(CURRENT);
    const db = path.join(xdg, 'goose', 'sessions', 'sessions.db');
    const engine = engineOn({ XDG_DATA_HOME: xdg });
    engine.scan();
    const before = engine.report().totals;
    appendWalCommit(db, (sql) =>
      sql.run(
        `UPDATE sessions SET accumulated_input_tokens = 160000, accumulated_output_tokens = 5600, accumulated_total_tokens = 165600,
         accumulated_cache_read_tokens = 108000, accumulated_cost = 0.91, updated_at = '2026-07-01 10:40:00' WHERE id = '20260701_1'`,
      ),
    );
    const grown = engine.scan([`${db}-wal`]);
    assert.equal(grown.eventsAdded, 0);
    assert.equal(grown.eventsReplaced, 1);
    const after = engine.report().totals;
    assert.equal(after.requests, before.requests);
    assert.equal(after.outputTokens, before.outputTokens + 600);
    assert.equal(after.cacheReadTokens, before.cacheReadTokens + 8000);
    assert.equal(after.inputTokens, before.inputTokens + 2000);
    assert.ok(Math.abs((after.costUsd ?? 0) - ((before.costUsd ?? 0) + 0.06)) < 1e-9);
    assert.equal(record(engine, '20260701_1').timestamp, Date.parse('2026-07-01T10:40:00Z'), 'the whole session moves to its last update');

    appendWalCommit(db, (sql) =>
      sql.run(
        `INSERT INTO sessions (id, name, working_dir, created_at, updated_at, accumulated_input_tokens, accumulated_output_tokens,
         accumulated_total_tokens, model_config_json) VALUES ('20260701_5', 'new', '/home/ana/src/new', '2026-07-01 13:00:00',
         '2026-07-01 13:05:00', 100, 10, 110, '{"model_name":"claude-sonnet-4-5"}')`,
      ),
    );
    const added = engine.scan();
    assert.equal(added.eventsAdded, 1);
    assert.equal(engine.report().totals.requests, before.requests + 1);
    const idle = engine.scan();
    assert.equal(idle.filesRead, 0);
    assert.equal(idle.eventsAdded + idle.eventsReplaced, 0);
  });

  it('a database that is not Goose\'s is reported unreadable, never fatal', () => {
    const xdg = tempDir();
    fs.mkdirSync(path.join(xdg, 'goose', 'sessions'), { recursive: true });
    fs.copyFileSync(path.join(REPO, 'test', 'fixtures', 'sqlite', 'rollback', 'app.db'), path.join(xdg, 'goose', 'sessions', 'sessions.db'));
    const engine = engineOn({ XDG_DATA_HOME: xdg });
    const scan = engine.scan();
    assert.equal(scan.unreadable.length, 1);
    assert.match(scan.unreadable[0].error, /not a Goose database/);
  });

  it('times: SQLite text is UTC, RFC 3339 keeps its offset, numbers are epoch seconds or ms', () => {
    assert.equal(parseGooseTime('2026-07-01 10:30:00'), Date.parse('2026-07-01T10:30:00Z'));
    assert.equal(parseGooseTime('2026-07-01T10:30:00.5+02:00'), Date.parse('2026-07-01T08:30:00.5Z'));
    assert.equal(parseGooseTime('2026-07-01 10:30:00.123456+00:00'), Date.parse('2026-07-01T10:30:00.123Z'));
    assert.equal(parseGooseTime(1782900000), 1782900000000);
    assert.equal(parseGooseTime(1782900000000), 1782900000000);
    assert.equal(parseGooseTime('yesterday'), undefined);
    assert.equal(parseGooseTime(null), undefined);
  });

  it('where Goose keeps sessions.db on Linux, macOS and Windows, and with GOOSE_PATH_ROOT', () => {
    const home = '/home/ana';
    const env = { HOME: home, USERPROFILE: home };
    assert.deepEqual(gooseSource.roots({ env, platform: 'linux' }), [
      path.join(home, '.local', 'share', 'goose', 'sessions'),
      path.join(home, '.local', 'share', 'Block', 'goose', 'sessions'),
    ]);
    assert.deepEqual(gooseSource.roots({ env: { ...env, XDG_DATA_HOME: '/xdg' }, platform: 'darwin' }), [
      path.join('/xdg', 'goose', 'sessions'),
      path.join(home, '.local', 'share', 'Block', 'goose', 'sessions'),
      path.join(home, 'Library', 'Application Support', 'goose', 'sessions'),
    ]);
    assert.deepEqual(gooseSource.roots({ env: { ...env, APPDATA: 'C:\\Users\\ana\\AppData\\Roaming' }, platform: 'win32' }), [
      path.join('C:\\Users\\ana\\AppData\\Roaming', 'Block', 'goose', 'data', 'sessions'),
    ]);
    assert.deepEqual(gooseSource.roots({ env: { ...env, GOOSE_PATH_ROOT: '/srv/goose' }, platform: 'linux', extraDirs: ['/x'] }).slice(0, 1), [
      path.join('/srv/goose', 'data', 'sessions'),
    ]);
    assert.equal(gooseSource.roots({ env: { ...env, GOOSE_PATH_ROOT: 'relative' }, platform: 'linux' }).length, 2, 'Goose ignores a relative root');
    assert.equal(gooseSource.fileFor('/d/sessions.db-wal'), '/d/sessions.db');
    assert.equal(gooseSource.fileFor('/d/other.db'), undefined);
    assert.equal(gooseSource.walk.isWanted('sessions.db'), true);
  });
});
