// Crush (src/core/sources/crush.ts): the traps of ../shared/formats/agent-logs.md §7 (Crush) and those Crush's source
// shows beyond it (token columns overwritten per step, sub-agent cost added to the parent), on a crush.db made by
// test/fixtures/make-sqlite-fixtures.py, in a project folder opened as a workspace.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { crushGlobalDataDir, crushSource } from '../../src/core/sources/crush';
import { loadSqlite } from '../../src/core/sqlite';
import { appendWalCommit } from '../fixtures/sqlite/walWriter';
import { copyDir, isolatedEnv, REPO, sourceEngine, tempDir } from './helpers';
import { UNKNOWN_MODEL } from '../../src/core/usage';

const PROJECT = path.join(REPO, 'test', 'fixtures', 'crush', 'project');
const A = '8c1e7f2a-3b4d-4e5f-9a6b-7c8d9e0f1a2b';
const S0 = 1782900000;

/** An engine that reads only Crush, in `workspaceFolders` (HOME and XDG_DATA_HOME are empty temp folders). */
function engineOn(workspaceFolders: string[], env: NodeJS.ProcessEnv = {}): Engine {
  return sourceEngine([crushSource], isolatedEnv(tempDir(), { XDG_DATA_HOME: tempDir(), ...env }), { workspaceFolders });
}

function copyProject(): string {
  return copyDir(PROJECT, 'agent-spend-crush-');
}

describe('Crush', () => {
  before(() => loadSqlite());

  it('the session cost is the spend; the token columns (the last step\'s context, overwritten) are not added up', () => {
    const engine = engineOn([PROJECT]);
    engine.scan();
    const report = engine.report();
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.costUsd, 1.25);
    // prompt_tokens 30000 / completion_tokens 800 are the size of the last context, not what was sent in total.
    assert.equal(report.totals.inputTokens + report.totals.outputTokens + report.totals.cacheReadTokens, 0);
    const [record] = engine.ledger.records();
    assert.equal(record.costProvenance, 'reported');
    assert.equal(record.key, `crush:${A}`);
  });

  it('a sub-agent\'s cost, already added to its parent session, is not counted again (nor the title session)', () => {
    const engine = engineOn([PROJECT]);
    engine.scan();
    const sessions = engine.report().sessions;
    assert.deepEqual(sessions.map((s) => s.sessionId), [A]);
    assert.equal(sessions[0].costUsd, 1.25, 'not 1.25 + 0.25 + 0.001');
  });

  it('a session with no recorded cost (flat-rate model) is not counted as a $0 request', () => {
    const engine = engineOn([PROJECT]);
    engine.scan();
    assert.equal(engine.report().sessions.some((s) => s.sessionId.startsWith('1f2e3d4c')), false);
  });

  it('seconds timestamps, the latest answer\'s model, and the project the .crush folder sits in', () => {
    const engine = engineOn([PROJECT]);
    engine.scan();
    const [record] = engine.ledger.records();
    assert.equal(record.timestamp, (S0 + 3600) * 1000, 'the whole session lands at its last update');
    assert.equal(record.model, 'claude-opus-4-1-20250805');
    assert.equal(record.project, PROJECT);
  });

  it('a session whose cost grows replaces its earlier copy; a new session adds; a scan with nothing new adds nothing', () => {
    const project = copyProject();
    const db = path.join(project, '.crush', 'crush.db');
    const engine = engineOn([project]);
    engine.scan();
    appendWalCommit(db, (sql) => sql.run('UPDATE sessions SET cost = 1.75, prompt_tokens = 12000, updated_at = ? WHERE id = ?', [S0 + 4000, A]));
    const grown = engine.scan([`${db}-wal`]);
    assert.equal(grown.eventsAdded, 0);
    assert.equal(grown.eventsReplaced, 1);
    assert.equal(engine.report().totals.costUsd, 1.75);
    assert.equal(engine.ledger.records()[0].timestamp, (S0 + 4000) * 1000);
  });

  it('a new session (with its recorded working directory) adds one request; nothing new adds nothing', () => {
    const project = copyProject();
    const db = path.join(project, '.crush', 'crush.db');
    const engine = engineOn([project]);
    engine.scan();
    assert.equal(engine.scan().filesRead, 0);
    appendWalCommit(db, (sql) =>
      sql.run(
        `INSERT INTO sessions (id, parent_session_id, title, message_count, prompt_tokens, completion_tokens, cost, updated_at, created_at, workspace_cwd)
         VALUES ('c0ffee00-0000-4000-8000-000000000000', NULL, 'New', 2, 100, 10, 0.5, ?, ?, '/home/ana/src/shop/sub')`,
        [S0 + 9000, S0 + 8000],
      ),
    );
    const scan = engine.scan();
    assert.equal(scan.eventsAdded, 1);
    assert.equal(engine.report().totals.costUsd, 1.75);
    const added = engine.ledger.records().find((r) => r.sessionId.startsWith('c0ffee00'));
    assert.equal(added?.project, '/home/ana/src/shop/sub');
    assert.equal(added?.model, UNKNOWN_MODEL);
    const idle = engine.scan();
    assert.equal(idle.filesRead, 0);
    assert.equal(idle.eventsAdded + idle.eventsReplaced, 0);
  });

  it('projects listed in the global projects.json are read even when not open, with their own data folder', () => {
    const global = tempDir();
    const project = copyProject();
    const custom = path.join(tempDir(), 'crush-data');
    fs.renameSync(path.join(project, '.crush'), custom);
    fs.writeFileSync(
      path.join(global, 'projects.json'),
      JSON.stringify({ projects: [{ path: project, data_dir: custom, last_accessed: '2026-07-01T10:00:00Z' }, { path: 42 }] }),
    );
    const engine = engineOn([], { CRUSH_GLOBAL_DATA: global });
    assert.ok(engine.agents()[0].roots.includes(custom));
    engine.scan();
    const [record] = engine.ledger.records();
    assert.equal(record.costUsd, 1.25);
    assert.equal(record.project, project, 'the registered project, not the data folder\'s parent');
  });

  it('a damaged projects.json or a database that is not Crush\'s is never fatal', () => {
    const global = tempDir();
    fs.writeFileSync(path.join(global, 'projects.json'), '{"projects": [');
    const workspace = tempDir();
    fs.mkdirSync(path.join(workspace, '.crush'));
    fs.copyFileSync(path.join(REPO, 'test', 'fixtures', 'sqlite', 'rollback', 'app.db'), path.join(workspace, '.crush', 'crush.db'));
    const engine = engineOn([workspace, PROJECT], { CRUSH_GLOBAL_DATA: global });
    const scan = engine.scan();
    assert.equal(scan.unreadable.length, 1);
    assert.match(scan.unreadable[0].error, /not a Crush database/);
    assert.equal(engine.report().totals.costUsd, 1.25);
  });

  it('where Crush keeps its data: each workspace\'s .crush, and the global data folder per OS and variables', () => {
    const home = '/home/ana';
    const env = { HOME: home, USERPROFILE: home };
    assert.deepEqual(crushSource.roots({ env, platform: 'linux', workspaceFolders: ['/w/a', '/w/b'], extraDirs: ['/x'] }), [
      path.join('/w/a', '.crush'),
      path.join('/w/b', '.crush'),
      path.join(home, '.local', 'share', 'crush'),
      '/x',
    ]);
    assert.equal(crushGlobalDataDir({ env, platform: 'darwin' }), path.join(home, '.local', 'share', 'crush'));
    assert.equal(crushGlobalDataDir({ env: { ...env, XDG_DATA_HOME: '/xdg' }, platform: 'linux' }), path.join('/xdg', 'crush'));
    assert.equal(crushGlobalDataDir({ env: { ...env, CRUSH_GLOBAL_DATA: '/g' }, platform: 'linux' }), '/g');
    assert.equal(crushGlobalDataDir({ env: { ...env, LOCALAPPDATA: 'C:\\L' }, platform: 'win32' }), path.join('C:\\L', 'crush'));
    assert.equal(crushGlobalDataDir({ env, platform: 'win32' }), path.join(home, 'AppData', 'Local', 'crush'));
    assert.equal(crushSource.fileFor('/p/.crush/crush.db-wal'), '/p/.crush/crush.db');
    assert.equal(crushSource.fileFor('/p/.crush/logs/crush.log'), undefined);
  });
});
