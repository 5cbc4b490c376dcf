// The live path for each container type, through the engine's worker thread and chokidar exactly as the extension
// runs it: a JSONL append (Codex), a whole-file JSON rewrite (Cline), a new row in a live WAL database (OpenCode).
// Each starts from part of a fixture, changes it the way the agent does, and must reach the fixture's full totals
// (computed by an engine reading the whole fixture directly), neither less nor more.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { EngineClient } from '../../src/core/engineClient';
import type { Report } from '../../src/core/report';
import { clineSource } from '../../src/core/sources/cline';
import { codexSource } from '../../src/core/sources/codex';
import { opencodeSource } from '../../src/core/sources/opencode';
import { loadSqlite } from '../../src/core/sqlite';
import { appendWalCommit } from '../fixtures/sqlite/walWriter';
import { isolatedEnv, REPO, tempDir } from './helpers';

const FIXTURES = path.join(REPO, 'test', 'fixtures');
type Totals = Report['totals'];

/** An env that sees nothing but `vars` (temp HOME, no Claude logs). */
function envWith(vars: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return isolatedEnv(path.join(tempDir(), 'no-claude'), vars);
}

function totalsOf(env: NodeJS.ProcessEnv, agent: string): Totals {
  const engine = new Engine({ env, stateDir: null, agents: { [agent]: { enabled: true } } });
  engine.open();
  engine.scan();
  return engine.report().totals;
}

/** Starts the worker on `env` reading only `agent`; resolves snapshots as they come. */
function watch(env: NodeJS.ProcessEnv, agent: string) {
  const snapshots: Report[] = [];
  const waiting: Array<() => void> = [];
  const only = Object.fromEntries([codexSource, clineSource, opencodeSource, { agent: 'claude-code' }].map((s) => [s.agent, { enabled: s.agent === agent }]));
  const client = new EngineClient(
    { env, stateDir: tempDir(), watch: true, debounceMs: 20, agents: only },
    {
      onSnapshot: ({ report }) => {
        snapshots.push(report);
        for (const wake of waiting.splice(0)) wake();
      },
      onError: (e) => assert.fail(e),
    },
    path.join(REPO, 'dist', 'engineWorker.js'),
  );
  const until = (check: (t: Totals) => boolean, what: string, ms = 20000) =>
    new Promise<Totals>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: no snapshot matched in ${ms} ms; last totals ${JSON.stringify(snapshots.at(-1)?.totals)}`)), ms);
      const look = () => {
        const hit = snapshots.find((s) => check(s.totals));
        if (hit) {
          clearTimeout(timer);
          resolve(hit.totals);
        } else waiting.push(look);
      };
      look();
    });
  return { client, snapshots, until };
}

const same = (a: Totals, b: Totals) =>
  a.requests === b.requests && a.inputTokens === b.inputTokens && a.outputTokens === b.outputTokens && a.cacheReadTokens === b.cacheReadTokens && a.cacheCreationTokens === b.cacheCreationTokens;

describe('live updates for every container type', () => {
  before(() => loadSqlite());

  it('a project folder is watched alone, never the project below it; agent folders in depth', () => {
    const project = tempDir('agent-spend-project-');
    const engine = new Engine({ env: envWith({}), stateDir: null, workspaceFolders: [project] });
    const targets = new Map(engine.watchTargets().map((t) => [t.root, t.depth]));
    assert.equal(targets.get(project), 0, 'Aider: the chat history file at the top of the project');
    assert.equal(targets.get(path.join(project, '.crush')), 0);
    assert.ok((targets.get(path.join(engine.agents().find((a) => a.agent === 'claude-code')!.roots[0])) ?? 0) >= 2, 'Claude Code: projects/<folder>/<session>/subagents');
  });

  it('JSONL (Codex): lines appended to a rollout reach the totals once', async () => {
    const fixture = path.join(FIXTURES, 'codex', 'cumulative');
    const full = totalsOf(envWith({ CODEX_HOME: fixture }), 'codex');
    const home = tempDir('agent-spend-codex-');
    fs.cpSync(fixture, home, { recursive: true });
    const [rollout] = fs.readdirSync(path.join(home, 'sessions', '2026', '07', '02')).map((f) => path.join(home, 'sessions', '2026', '07', '02', f));
    const lines = fs.readFileSync(rollout, 'utf8').split('\n').filter(Boolean);
    const cut = Math.floor(lines.length / 2);
    fs.writeFileSync(rollout, `${lines.slice(0, cut).join('\n')}\n`);
    const live = watch(envWith({ CODEX_HOME: home }), 'codex');
    try {
      const first = await live.until(() => true, 'the first snapshot');
      assert.ok(first.requests < full.requests, 'half the rollout holds fewer requests');
      fs.appendFileSync(rollout, `${lines.slice(cut).join('\n')}\n`);
      const after = await live.until((t) => t.requests >= full.requests, 'the appended lines');
      assert.ok(same(after, full), `${JSON.stringify(after)} vs ${JSON.stringify(full)}`);
    } finally {
      await live.client.stop();
    }
  });

  it('whole-file JSON (Cline): a rewritten ui_messages.json replaces, never adds', async () => {
    const fixture = path.join(FIXTURES, 'cline', 'cline-task');
    const full = totalsOf(envWith({ HOME: fixture, XDG_CONFIG_HOME: path.join(fixture, '.config') }), 'cline');
    assert.ok(full.requests > 0);
    const home = tempDir('agent-spend-cline-');
    fs.cpSync(fixture, home, { recursive: true });
    const task = path.join(home, '.config', 'Code', 'User', 'globalStorage', 'saoudrizwan.claude-dev', 'tasks', '1783000000000', 'ui_messages.json');
    const messages = JSON.parse(fs.readFileSync(task, 'utf8')) as unknown[];
    // The task as it stood earlier: its first messages only.
    const firstApiRequest = messages.findIndex((m) => (m as { say?: string }).say === 'api_req_started');
    fs.writeFileSync(task, JSON.stringify(messages.slice(0, firstApiRequest + 1)));
    const live = watch(envWith({ HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') }), 'cline');
    try {
      const first = await live.until(() => true, 'the first snapshot');
      assert.ok(first.requests < full.requests);
      // Cline writes a temporary file and renames it over the old one.
      fs.writeFileSync(`${task}.tmp`, JSON.stringify(messages));
      fs.renameSync(`${task}.tmp`, task);
      const after = await live.until((t) => same(t, full), 'the rewrite');
      // Rewritten again with the same content: still the same totals.
      fs.writeFileSync(`${task}.tmp`, JSON.stringify(messages));
      fs.renameSync(`${task}.tmp`, task);
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(same(live.snapshots.at(-1)!.totals, after), 'a second identical rewrite adds nothing');
    } finally {
      await live.client.stop();
    }
  });

  it('a database named by OPENCODE_DB in the home folder: that file is read and watched alone, not the home folder', () => {
    const home = tempDir('agent-spend-home-');
    const fixtureDb = path.join(FIXTURES, 'opencode', 'xdg-data', 'opencode', 'opencode-beta.db');
    fs.copyFileSync(fixtureDb, path.join(home, 'my-opencode.db'));
    // Things in the home folder that look like OpenCode's files must not be read.
    fs.copyFileSync(fixtureDb, path.join(home, 'opencode-other.db'));
    fs.mkdirSync(path.join(home, 'notes', 'part'), { recursive: true });
    const env = envWith({ HOME: home, XDG_DATA_HOME: path.join(home, 'no-data'), OPENCODE_DB: path.join(home, 'my-opencode.db') });
    const engine = new Engine({ env, stateDir: null, agents: { 'claude-code': { enabled: false } } });
    const files = engine.discover();
    assert.deepEqual(files, [path.join(home, 'my-opencode.db')]);
    const targets = engine.watchTargets();
    assert.deepEqual(targets.find((t) => t.root === home)?.depth, 0, 'the home folder is watched alone');
    assert.equal(engine.route(path.join(home, 'my-opencode.db-wal'))?.file, path.join(home, 'my-opencode.db'));
    assert.equal(engine.route(path.join(home, 'opencode-other.db')), undefined);
  });

  it('folders no agent reads are not watched', () => {
    const data = tempDir('agent-spend-data-');
    const engine = new Engine({ env: envWith({ XDG_DATA_HOME: data }), stateDir: null });
    const targets = engine.watchTargets();
    const opencode = path.join(data, 'opencode');
    assert.ok(engine.isIgnoredByWatch(path.join(opencode, 'storage', 'part', 'msg_1'), targets), 'OpenCode parts');
    assert.ok(!engine.isIgnoredByWatch(path.join(opencode, 'storage', 'message', 'ses_1'), targets), 'OpenCode messages');
    assert.ok(!engine.isIgnoredByWatch(path.join(opencode, 'opencode.db-wal'), targets));
  });

  it('a database changed again right after a read waits for its interval, then is read once (worker only)', async () => {
    const data = tempDir('agent-spend-opencode-');
    fs.cpSync(path.join(FIXTURES, 'opencode', 'xdg-data'), data, { recursive: true });
    const engine = new Engine({ env: envWith({ XDG_DATA_HOME: data }), stateDir: null, throttle: true, agents: { 'claude-code': { enabled: false } } });
    engine.open();
    await engine.prepare();
    engine.scan();
    const before = engine.report().totals.outputTokens;
    const db = path.join(data, 'opencode', 'opencode.db');
    const at = Date.now();
    appendWalCommit(db, (sql) => {
      sql.run('INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)', ['prt_soon', 'msg_multi', 'ses_multi', at, at, JSON.stringify({ type: 'step-finish', reason: 'stop', tokens: { input: 1, output: 5, reasoning: 0, cache: { read: 0, write: 0 } }, cost: 0 })]);
      sql.run('UPDATE message SET time_updated = ? WHERE id = ?', [at, 'msg_multi']);
    });
    const soon = engine.scan([`${db}-wal`]);
    assert.equal(soon.filesRead, 0, 'read a moment ago: not again yet');
    assert.equal(soon.deferred.length, 1);
    assert.equal(soon.deferred[0].file, db);
    assert.ok(soon.deferred[0].inMs > 0 && soon.deferred[0].inMs <= opencodeSource.minReadIntervalMs!);
    await new Promise((r) => setTimeout(r, soon.deferred[0].inMs + 20));
    const later = engine.scan([`${db}-wal`]);
    assert.equal(later.filesRead, 1);
    assert.equal(engine.report().totals.outputTokens, before + 5);
  });

  it('SQLite (OpenCode): a step committed to the live WAL is read once', async () => {
    const fixture = path.join(FIXTURES, 'opencode', 'xdg-data');
    const data = tempDir('agent-spend-opencode-');
    fs.cpSync(fixture, data, { recursive: true });
    const env = envWith({ XDG_DATA_HOME: data });
    const before = totalsOf(env, 'opencode');
    const live = watch(env, 'opencode');
    try {
      await live.until((t) => same(t, before), 'the first snapshot');
      const db = path.join(data, 'opencode', 'opencode.db');
      const at = Date.now();
      appendWalCommit(db, (sql) => {
        sql.run('INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)', [
          'prt_live',
          'msg_multi',
          'ses_multi',
          at,
          at,
          JSON.stringify({ type: 'step-finish', reason: 'stop', tokens: { input: 7, output: 777, reasoning: 0, cache: { read: 0, write: 0 } }, cost: 0.01 }),
        ]);
        sql.run('UPDATE message SET time_updated = ? WHERE id = ?', [at, 'msg_multi']);
      });
      const after = await live.until((t) => t.outputTokens >= before.outputTokens + 777, 'the new row');
      assert.equal(after.requests, before.requests + 1);
      assert.equal(after.outputTokens, before.outputTokens + 777);
    } finally {
      await live.client.stop();
    }
  });
});
