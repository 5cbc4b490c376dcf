// OpenCode and Kilo CLI (src/core/sources/opencode.ts): one test per trap of ../shared/formats/agent-logs.md §5c,
// on the databases and legacy JSON made by test/fixtures/make-sqlite-fixtures.py (live WAL files, a transaction in
// flight, a second channel's database, migrated JSON), plus the live path with commits appended to the WAL.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import type { LedgerRecord } from '../../src/core/ledger';
import { kiloCliSource, opencodeSource } from '../../src/core/sources/opencode';
import { newReadCounts } from '../../src/core/sources/source';
import { loadSqlite, type SqlDatabase } from '../../src/core/sqlite';
import { appendWalCommit } from '../fixtures/sqlite/walWriter';
import { copyDir, isolatedEnv, REPO, sourceEngine, tempDir } from './helpers';

const XDG = path.join(REPO, 'test', 'fixtures', 'opencode', 'xdg-data');
const T0 = 1782900000000;

/** An engine that reads only `sources`, with XDG_DATA_HOME at `xdgData` (HOME is an empty temp folder). */
function engineOn(xdgData: string, sources = [opencodeSource], extra: NodeJS.ProcessEnv = {}): Engine {
  return sourceEngine(sources, isolatedEnv(tempDir(), { XDG_DATA_HOME: xdgData, ...extra }));
}

function bySession(engine: Engine) {
  return new Map(engine.report().sessions.map((s) => [s.sessionId, s]));
}

function recordsOf(engine: Engine, sessionId: string): LedgerRecord[] {
  return engine.ledger.records().filter((r) => r.sessionId === sessionId);
}

/** A writable copy of the fixture data folder. */
function copyXdg(): string {
  return copyDir(XDG, 'agent-spend-opencode-');
}

function stepFinish(tokens: { input: number; output: number; read?: number; write?: number }, cost: number): string {
  return JSON.stringify({
    type: 'step-finish',
    reason: 'stop',
    tokens: { input: tokens.input, output: tokens.output, reasoning: 0, cache: { read: tokens.read ?? 0, write: tokens.write ?? 0 } },
    cost,
  });
}

function insertPart(db: SqlDatabase, id: string, messageId: string, sessionId: string, at: number, data: string): void {
  db.run('INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)', [id, messageId, sessionId, at, at, data]);
}

describe('OpenCode', () => {
  before(() => loadSqlite());

  describe('traps', () => {
    it('a multi-step message counts each step-finish part, not the message tokens (which are its last step only)', () => {
      const engine = engineOn(XDG);
      engine.scan();
      const multi = bySession(engine).get('ses_multi');
      assert.ok(multi);
      assert.equal(multi.requests, 2);
      assert.equal(multi.inputTokens, 3 + 5);
      assert.equal(multi.outputTokens, 120 + 612);
      assert.equal(multi.cacheReadTokens, 20100 + 41200);
      assert.equal(multi.cacheCreationTokens, 1900 + 2300);
      // The message's own cost is the sum of its steps; each step carries its share.
      assert.ok(Math.abs((multi.costUsd ?? 0) - 0.0731) < 1e-9);
      assert.ok(recordsOf(engine, 'ses_multi').every((r) => r.costProvenance === 'reported'));
    });

    it('input is already net of cached input (not reduced again); reasoning is billed as output', () => {
      const engine = engineOn(XDG);
      engine.scan();
      const openai = bySession(engine).get('ses_openai');
      assert.ok(openai);
      assert.equal(openai.inputTokens, 200);
      assert.equal(openai.cacheReadTokens, 1000);
      assert.equal(openai.outputTokens, 50 + 30);
      assert.equal(openai.project, '/home/ana/src/api');
      assert.deepEqual(openai.models, ['gpt-5']);
    });

    it('a cost of 0 (unknown price or subscription) is priced from the tokens instead of counted as free', () => {
      const engine = engineOn(XDG);
      engine.scan();
      const [record] = recordsOf(engine, 'ses_zero');
      assert.equal(record.costProvenance, 'computed');
      // claude-sonnet-4-5: $3/M input, $15/M output.
      assert.ok(Math.abs((record.costUsd ?? 0) - (1000 * 3 + 100 * 15) / 1e6) < 1e-9, String(record.costUsd));
    });

    it('a task-tool sub-session (session.parent_id) is its own session, marked as a side chain', () => {
      const engine = engineOn(XDG);
      engine.scan();
      const records = recordsOf(engine, 'ses_child');
      assert.equal(records.length, 1);
      assert.equal(records[0].sidechain, true);
      assert.equal(records[0].outputTokens, 200);
      assert.ok(recordsOf(engine, 'ses_multi').every((r) => !r.sidechain));
    });

    it('every channel database is read, and legacy JSON already migrated into the database is counted once', () => {
      const engine = engineOn(XDG);
      const scan = engine.scan();
      const sessions = bySession(engine);
      assert.deepEqual([...sessions.keys()].sort(), ['ses_beta', 'ses_child', 'ses_legacy', 'ses_multi', 'ses_old', 'ses_openai', 'ses_zero']);
      assert.equal(sessions.get('ses_beta')?.outputTokens, 30);
      // ses_multi is in opencode.db AND in storage/: two steps, not four.
      assert.equal(sessions.get('ses_multi')?.requests, 2);
      const legacy = sessions.get('ses_legacy');
      assert.equal(legacy?.requests, 2);
      assert.equal(legacy?.outputTokens, 40 + 50);
      assert.equal(legacy?.project, '/home/ana/src/legacy');
      const totals = engine.report().totals;
      assert.equal(totals.requests, 9);
      assert.equal(totals.inputTokens, 3 + 5 + 40 + 200 + 1000 + 10 + 7 + 2 + 2);
      assert.equal(totals.outputTokens, 120 + 612 + 200 + 80 + 100 + 70 + 30 + 40 + 50);
      assert.equal(totals.cacheReadTokens, 20100 + 41200 + 3000 + 1000 + 500 + 100 + 300 + 500);
      assert.equal(totals.cacheCreationTokens, 1900 + 2300 + 100);
      assert.equal(scan.unreadable.length, 0);
    });

    it('a message without step-finish parts (older releases) counts by its own figures once complete, not while streaming', () => {
      const engine = engineOn(XDG);
      engine.scan();
      const old = recordsOf(engine, 'ses_old');
      assert.equal(old.length, 1, 'msg_streaming has no completed time yet');
      assert.equal(old[0].outputTokens, 70);
      assert.equal(old[0].cacheReadTokens, 500);
      assert.equal(old[0].costUsd, 0.01);
      assert.equal(old[0].project, '/home/ana/src/old');
    });

    it('a transaction still being written (spilled to the WAL, no commit frame) is not counted', () => {
      // The fixture's in-flight transaction adds 30 steps of 1000 output tokens each.
      const engine = engineOn(XDG);
      engine.scan();
      assert.equal(recordsOf(engine, 'ses_multi').length, 2);
      assert.ok(engine.report().totals.outputTokens < 2000);
    });

    it('a torn JSON row and one with wrong types are counted as malformed; tool output that says step-finish is no step', () => {
      const engine = engineOn(XDG);
      const scan = engine.scan();
      assert.equal(scan.malformedLines, 2);
      assert.ok(!engine.ledger.records().some((r) => r.key.includes('prt_tool') || r.key.includes('prt_torn')));
    });
  });

  describe('live', () => {
    it('a step committed to the WAL is counted exactly once; a scan with nothing new reads nothing', () => {
      const xdg = copyXdg();
      const db = path.join(xdg, 'opencode', 'opencode.db');
      const engine = engineOn(xdg);
      engine.scan();
      const before = engine.report().totals;
      assert.equal(engine.scan().filesRead, 0, 'nothing changed');

      appendWalCommit(db, (sql) => {
        insertPart(sql, 'prt_step3', 'msg_multi', 'ses_multi', T0 + 90000, stepFinish({ input: 11, output: 222, read: 500 }, 0.01));
        sql.run('UPDATE message SET time_updated = ? WHERE id = ?', [T0 + 90000, 'msg_multi']);
      });
      const scan = engine.scan([`${db}-wal`]);
      assert.equal(scan.filesRead, 1);
      assert.equal(scan.eventsAdded, 1);
      assert.equal(engine.report().totals.outputTokens, before.outputTokens + 222);
      assert.equal(engine.report().totals.requests, before.requests + 1);

      const again = engine.scan();
      assert.equal(again.filesRead, 0);
      assert.equal(again.eventsAdded, 0);
      assert.equal(engine.report().totals.outputTokens, before.outputTokens + 222);
    });

    it('a row committed late with an older time_updated (within the slack) is still found; re-reading from scratch adds nothing', () => {
      const xdg = copyXdg();
      const db = path.join(xdg, 'opencode', 'opencode.db');
      const engine = engineOn(xdg);
      engine.scan();
      const before = engine.report().totals.outputTokens;
      // Another OpenCode process stamped this step a minute before the newest row we saw, then committed after.
      const watermark = JSON.parse(JSON.parse(engine.cursors.get(db)?.context ?? '{}').s).t as number;
      assert.ok(watermark >= T0 + 400000, String(watermark));
      appendWalCommit(db, (sql) => insertPart(sql, 'prt_late', 'msg_openai', 'ses_openai', watermark - 60000, stepFinish({ input: 1, output: 9 }, 0.001)));
      engine.scan();
      assert.equal(engine.report().totals.outputTokens, before + 9);

      engine.cursors.clear();
      const fresh = engine.scan();
      assert.equal(fresh.eventsAdded, 0);
      assert.equal(engine.report().totals.outputTokens, before + 9);
      const other = engineOn(xdg);
      other.scan();
      assert.deepEqual(other.report().totals, engine.report().totals);
    });

    it('a step that used no tokens and cost nothing (an aborted call) is not a request', () => {
      const xdg = copyXdg();
      const db = path.join(xdg, 'opencode', 'opencode.db');
      const engine = engineOn(xdg);
      engine.scan();
      const before = engine.report().totals.requests;
      appendWalCommit(db, (sql) => insertPart(sql, 'prt_aborted', 'msg_openai', 'ses_openai', T0 + 131000, stepFinish({ input: 0, output: 0 }, 0)));
      const scan = engine.scan();
      assert.equal(scan.filesRead, 1);
      assert.equal(scan.eventsAdded, 0);
      assert.equal(engine.report().totals.requests, before);
    });

    it('a legacy message rewritten with a new step is read again and grows by that step only', () => {
      const xdg = copyXdg();
      const storage = path.join(xdg, 'opencode', 'storage');
      const engine = engineOn(xdg);
      engine.scan();
      const before = bySession(engine).get('ses_legacy');
      fs.writeFileSync(path.join(storage, 'part', 'msg_legacy', 'prt_legacy3.json'), stepFinish({ input: 3, output: 33 }, 0.002));
      const file = path.join(storage, 'message', 'ses_legacy', 'msg_legacy.json');
      const message = JSON.parse(fs.readFileSync(file, 'utf8'));
      fs.writeFileSync(file, JSON.stringify({ ...message, cost: message.cost + 0.002 }));
      const scan = engine.scan([file]);
      assert.equal(scan.eventsAdded, 1);
      const after = bySession(engine).get('ses_legacy');
      assert.equal(after?.requests, (before?.requests ?? 0) + 1);
      assert.equal(after?.outputTokens, (before?.outputTokens ?? 0) + 33);
    });

    it('a database replaced by a new file is read from the start without counting anything twice', () => {
      const xdg = copyXdg();
      const dir = path.join(xdg, 'opencode');
      const engine = engineOn(xdg);
      engine.scan();
      const before = engine.report().totals;
      const copy = path.join(dir, 'copy.tmp');
      fs.copyFileSync(path.join(dir, 'opencode.db'), copy);
      fs.renameSync(copy, path.join(dir, 'opencode.db'));
      const scan = engine.scan();
      assert.equal(scan.filesRewritten, 1);
      assert.equal(scan.eventsAdded, 0);
      assert.deepEqual(engine.report().totals, before);
    });

    it('a file that is not a database is reported as unreadable and the others still count', () => {
      const xdg = copyXdg();
      fs.writeFileSync(path.join(xdg, 'opencode', 'opencode-broken.db'), 'not a database '.repeat(500));
      const engine = engineOn(xdg);
      const scan = engine.scan();
      assert.equal(scan.unreadable.length, 1);
      assert.match(scan.unreadable[0].path, /opencode-broken\.db$/);
      assert.equal(engine.report().totals.requests, 9);
      // A folder where a file is expected is an error of the read, never an exception.
      const read = opencodeSource.read(xdg, undefined, { emit: () => undefined, counts: newReadCounts(), log: () => undefined });
      assert.ok(read.error);
    });
  });

  describe('where OpenCode and Kilo CLI keep their data', () => {
    const home = '/home/ana';
    const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ HOME: home, USERPROFILE: home, ...extra });

    it('xdg-basedir everywhere: $XDG_DATA_HOME, else ~/.local/share, on Linux, macOS and Windows alike', () => {
      for (const platform of ['linux', 'darwin', 'win32'] as const) {
        assert.deepEqual(opencodeSource.roots({ env: env(), platform }), [path.join(home, '.local', 'share', 'opencode')]);
        assert.deepEqual(kiloCliSource.roots({ env: env(), platform }), [path.join(home, '.local', 'share', 'kilo')]);
      }
      assert.deepEqual(opencodeSource.roots({ env: env({ XDG_DATA_HOME: '/data' }), platform: 'darwin' }), [path.join('/data', 'opencode')]);
      assert.deepEqual(opencodeSource.roots({ env: env(), extraDirs: ['/more'] }), [path.join(home, '.local', 'share', 'opencode'), '/more']);
    });

    it('OPENCODE_DB / KILO_DB: the named file itself (never its folder); a relative one is under the data folder', () => {
      assert.deepEqual(opencodeSource.roots({ env: env({ OPENCODE_DB: '/srv/oc/custom-name.sqlite' }) }), [
        path.join(home, '.local', 'share', 'opencode'),
        '/srv/oc/custom-name.sqlite',
      ]);
      assert.equal(opencodeSource.walk.isWanted('custom-name.sqlite'), true);
      assert.equal(opencodeSource.fileFor('/srv/oc/custom-name.sqlite-wal'), '/srv/oc/custom-name.sqlite');
      assert.deepEqual(kiloCliSource.roots({ env: env({ KILO_DB: 'sub/k.db' }) }), [
        path.join(home, '.local', 'share', 'kilo'),
        path.join(home, '.local', 'share', 'kilo', 'sub', 'k.db'),
      ]);
      assert.deepEqual(opencodeSource.roots({ env: env({ OPENCODE_DB: ':memory:' }) }), [path.join(home, '.local', 'share', 'opencode')]);
    });

    it('which files are the agent\'s: channel databases and their side files, legacy message files, not parts', () => {
      assert.equal(opencodeSource.walk.isWanted('opencode.db'), true);
      assert.equal(opencodeSource.walk.isWanted('opencode-beta.db'), true);
      assert.equal(opencodeSource.walk.isWanted('opencode.db-wal'), false);
      assert.equal(opencodeSource.walk.isWanted('kilo.db'), false);
      assert.equal(kiloCliSource.walk.isWanted('kilo-nightly.db'), true);
      assert.equal(opencodeSource.fileFor('/d/opencode/opencode-beta.db-wal'), '/d/opencode/opencode-beta.db');
      assert.equal(opencodeSource.fileFor('/d/opencode/storage/message/ses_1/msg_1.json'), '/d/opencode/storage/message/ses_1/msg_1.json');
      assert.equal(opencodeSource.fileFor('/d/opencode/storage/part/msg_1/prt_1.json'), undefined);
      assert.ok(opencodeSource.walk.skipFolders.has('snapshot'), 'git snapshots can be huge');
    });

    it('Kilo CLI reads its own kilo.db (same schema) as its own agent', () => {
      const engine = engineOn(XDG, [kiloCliSource]);
      engine.scan();
      const report = engine.report();
      assert.equal(report.totals.requests, 1);
      assert.equal(report.sessions[0].agent, 'kilo-cli');
      assert.equal(report.sessions[0].outputTokens, 25);
      assert.equal(report.sessions[0].project, '/home/ana/src/kilo');
      assert.match(engine.ledger.records()[0].key, /^kilo-cli:msg_kilo:prt_kilo$/);
    });
  });
});
