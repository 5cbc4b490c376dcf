// Copilot CLI's events.jsonl (../shared/formats/agent-logs.md §7): one test per trap, each on its own fixture folder
// under test/fixtures/copilot-cli/ (made by test/fixtures/make-copilot-cli-fixtures.mjs), used as COPILOT_HOME.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { newReadCounts, type ReadContext } from '../../src/core/sources/source';
import { copilotCliSource, copilotRoots } from '../../src/core/sources/copilotCli';
import type { UsageEvent } from '../../src/core/usage';
import { isolatedEnv, REPO, scanReport, sourceEngine, tempDir } from './helpers';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'copilot-cli');
const SESSION = '5a1d2c3e-0000-4000-8000-000000000001';

/** An engine that reads only Copilot CLI, with COPILOT_HOME at `copilotHome` (HOME is an empty temp folder). */
function engineAt(copilotHome: string): Engine {
  return sourceEngine([copilotCliSource], isolatedEnv(tempDir(), { COPILOT_HOME: copilotHome }));
}

function reportOf(trap: string) {
  return scanReport(engineAt(path.join(FIXTURES, trap)));
}

/** A writable copy of a fixture's events.jsonl in a temp COPILOT_HOME. */
function copyOf(trap: string): { home: string; file: string } {
  const home = tempDir('agent-spend-copilot-');
  const file = path.join(home, 'session-state', SESSION, 'events.jsonl');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(path.join(FIXTURES, trap, 'session-state', SESSION, 'events.jsonl'), file);
  return { home, file };
}

/** The lines the `shutdown` fixture has beyond the `live-output` one. */
function shutdownLines(): string {
  const live = fs.readFileSync(path.join(FIXTURES, 'live-output', 'session-state', SESSION, 'events.jsonl'), 'utf8');
  const ended = fs.readFileSync(path.join(FIXTURES, 'shutdown', 'session-state', SESSION, 'events.jsonl'), 'utf8');
  assert.ok(ended.startsWith(live));
  return ended.slice(live.length);
}

describe('Copilot CLI traps', () => {
  it('a running session counts each answered call with its output tokens only (the log has no live input)', () => {
    const { report } = reportOf('live-output');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.outputTokens, 200);
    assert.equal(report.totals.inputTokens, 0);
    assert.equal(report.totals.cacheReadTokens, 0);
    const [session] = report.sessions;
    assert.equal(session.agent, 'copilot-cli');
    assert.equal(session.sessionId, SESSION);
    assert.equal(session.project, '/home/ana/src/shop');
    assert.deepEqual(session.models, ['claude-sonnet-4.5']);
  });

  it('the shutdown usage replaces the live estimate, and its inputTokens includes the cache reads and writes', () => {
    const { report, engine } = reportOf('shutdown');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.outputTokens, 230);
    assert.equal(report.totals.inputTokens, 61000 - 50000 - 4000);
    assert.equal(report.totals.cacheReadTokens, 50000);
    assert.equal(report.totals.cacheCreationTokens, 4000);
    // Spread evenly over the two calls, each keeping its own output (120 / 80) plus half the rest.
    const outputs = engine.ledger.records().map((r) => r.outputTokens).sort((a, b) => a - b);
    assert.deepEqual(outputs, [95, 135]);
  });

  it('live, then shutdown appended: the records are replaced, not added to', () => {
    const { home, file } = copyOf('live-output');
    const engine = engineAt(home);
    engine.scan();
    assert.equal(engine.report().totals.outputTokens, 200);
    fs.appendFileSync(file, shutdownLines());
    const scan = engine.scan();
    assert.equal(scan.eventsAdded, 0);
    assert.equal(scan.eventsReplaced, 2);
    const totals = engine.report().totals;
    assert.equal(totals.requests, 2);
    assert.equal(totals.outputTokens, 230);
    assert.equal(totals.inputTokens, 7000);
    assert.equal(totals.cacheReadTokens, 50000);
    const again = engine.scan();
    assert.equal(again.eventsAdded + again.eventsReplaced, 0);
    assert.equal(again.filesRead, 0);
  });

  it('each resumed process writes its own shutdown: both count, neither twice', () => {
    const { report } = reportOf('resumed');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 7000 + 3000);
    assert.equal(report.totals.outputTokens, 230 + 300);
    assert.equal(report.totals.cacheReadTokens, 80000);
    assert.equal(report.totals.cacheCreationTokens, 4000);
  });

  it('a process that crashed keeps its live estimate; the next process shutdown is not spread over its calls', () => {
    const { report, engine } = reportOf('crash-then-resume');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 3000);
    assert.equal(report.totals.outputTokens, 120 + 80 + 300);
    assert.equal(report.totals.cacheReadTokens, 30000);
    const withInput = engine.ledger.records().filter((r) => r.inputTokens > 0);
    assert.equal(withInput.length, 1);
    assert.equal(withInput[0].outputTokens, 300);
  });

  it('several messages of one API call (same apiCallId) are one request with its largest output', () => {
    const { report } = reportOf('chunked-call');
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.outputTokens, 150);
  });

  it('each model of a shutdown goes to its own calls; a model with no call gets a record of its own', () => {
    const { report, engine } = reportOf('model-change');
    assert.equal(report.totals.requests, 4);
    assert.equal(report.totals.inputTokens, 8000 + 2000 + 3000);
    assert.equal(report.totals.outputTokens, 500 + 170 + 40);
    assert.equal(report.totals.cacheReadTokens, 18000);
    assert.equal(report.totals.cacheCreationTokens, 1000);
    const byModel = new Map<string, number>();
    for (const r of engine.ledger.records()) byModel.set(r.model, (byModel.get(r.model) ?? 0) + r.outputTokens);
    assert.deepEqual(Object.fromEntries(byModel), { 'gpt-5': 500, 'claude-sonnet-4.5': 170, 'claude-haiku-4.5': 40 });
  });

  /** A temp COPILOT_HOME whose session holds `lines` (events shaped as the fixtures' are), read once. */
  function reportOfLines(lines: unknown[][]) {
    const home = tempDir('agent-spend-copilot-');
    const file = path.join(home, 'session-state', SESSION, 'events.jsonl');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const text = lines.map(([type, data, second, extra], i) =>
      JSON.stringify({ type, data, id: `e-${i}`, timestamp: `2026-07-10T10:00:${second}.000Z`, parentId: null, ...(extra as object) }),
    );
    fs.writeFileSync(file, text.join('\n') + '\n');
    return scanReport(engineAt(home));
  }
  const metric = (input: number, output: number, cacheRead: number) => ({ requests: { count: 1, cost: 1 }, usage: { inputTokens: input, outputTokens: output, cacheReadTokens: cacheRead, cacheWriteTokens: 0 } });

  it('calls whose model the log never names take the shutdown model no other call claims: their output counts once', () => {
    // No selectedModel at start and none on the messages: the first call's model is unknown until the shutdown.
    const { report, engine } = reportOfLines([
      ['session.start', { sessionId: SESSION, context: { cwd: '/home/ana/src/shop' } }, '00'],
      ['assistant.message', { messageId: 'm1', apiCallId: 'resp_1', outputTokens: 500 }, '05'],
      ['session.model_change', { previousModel: 'gpt-5', newModel: 'claude-sonnet-4.5' }, '07'],
      ['assistant.message', { messageId: 'm2', apiCallId: 'msg_2', outputTokens: 100 }, '10'],
      ['session.shutdown', { shutdownType: 'routine', modelMetrics: { 'gpt-5': metric(20000, 500, 12000), 'claude-sonnet-4.5': metric(9000, 100, 6000) } }, '30'],
    ]);
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.outputTokens, 500 + 100);
    assert.equal(report.totals.inputTokens, 8000 + 3000);
    assert.deepEqual(engine.ledger.records().map((r) => r.model).sort(), ['claude-sonnet-4.5', 'gpt-5']);
  });

  it("a sub-agent's model does not become the model of the main chain's later calls", () => {
    const { report, engine } = reportOfLines([
      ['session.start', { sessionId: SESSION, selectedModel: 'claude-sonnet-4.5', context: { cwd: '/home/ana/src/shop' } }, '00'],
      ['assistant.message', { messageId: 'm1', apiCallId: 'msg_A', outputTokens: 100 }, '05'],
      ['assistant.message', { messageId: 'm2', apiCallId: 'msg_S', outputTokens: 40, model: 'claude-haiku-4.5' }, '06', { agentId: 'agent-explore-1' }],
      ['assistant.message', { messageId: 'm3', apiCallId: 'msg_B', outputTokens: 200 }, '07'],
      ['session.shutdown', { shutdownType: 'routine', modelMetrics: { 'claude-sonnet-4.5': metric(9000, 300, 6000), 'claude-haiku-4.5': metric(3000, 40, 0) } }, '30'],
    ]);
    assert.equal(report.totals.outputTokens, 300 + 40);
    const byModel = new Map<string, number>();
    for (const r of engine.ledger.records()) byModel.set(r.model, (byModel.get(r.model) ?? 0) + r.outputTokens);
    assert.deepEqual(Object.fromEntries(byModel), { 'claude-sonnet-4.5': 300, 'claude-haiku-4.5': 40 });
  });

  it('reads flat session files under history-session-state; ephemeral events are not on disk and never count', () => {
    const { report } = reportOf('legacy-layout');
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.outputTokens, 70);
    assert.equal(report.sessions[0].sessionId, SESSION);
  });

  it("a sub-agent's calls count in the session, as a side chain", () => {
    const { report, engine } = reportOf('subagent');
    assert.equal(report.sessions.length, 1);
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.outputTokens, 100);
    assert.deepEqual(engine.ledger.records().map((r) => r.sidechain).sort(), [false, true]);
  });

  it('garbage and wrong types are counted and skipped; a torn last line waits, then counts once', () => {
    const { scan, report } = reportOf('malformed');
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.outputTokens, 90);
    assert.equal(scan.malformedLines, 2);

    const home = tempDir('agent-spend-copilot-');
    const file = path.join(home, 'session-state', SESSION, 'events.jsonl');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.copyFileSync(path.join(FIXTURES, 'malformed', 'session-state', SESSION, 'events.jsonl'), file);
    const engine = engineAt(home);
    engine.scan();
    fs.appendFileSync(file, 'ens":45},"id":"y","timestamp":"2026-07-10T10:00:09.000Z","parentId":null}\n');
    const next = engine.scan();
    assert.equal(next.eventsAdded, 1);
    assert.equal(engine.report().totals.outputTokens, 135);
    assert.equal(engine.scan().eventsAdded, 0);
  });

  describe('a whole last line read before its newline, then again with it, counts as a read from scratch', () => {
    /** Ledger records as keys and figures, in key order. */
    const recordsOf = (engine: Engine) =>
      engine.ledger
        .records()
        .map((r) => [r.key, r.model, r.inputTokens, r.outputTokens, r.cacheReadTokens, r.cacheWrite5mTokens])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));

    /** Writes the fixture's lines up to `type`'s line (the `nth` such), that one without its newline; then the rest. */
    function splitAt(trap: string, type: string, nth = 0): Engine {
      const whole = fs.readFileSync(path.join(FIXTURES, trap, 'session-state', SESSION, 'events.jsonl'), 'utf8');
      const lines = whole.split('\n');
      const at = lines.map((line, i) => (line.includes(`"type":"${type}"`) ? i : -1)).filter((i) => i >= 0)[nth];
      assert.ok(at !== undefined, `${trap} has a ${type} line`);
      const head = lines.slice(0, at + 1).join('\n');
      const { home, file } = copyOf(trap);
      fs.writeFileSync(file, head);
      const engine = engineAt(home);
      engine.scan();
      fs.appendFileSync(file, whole.slice(head.length));
      engine.scan();
      assert.equal(engine.scan().filesRead, 0);
      return engine;
    }

    for (const [trap, type, nth] of [
      ['shutdown', 'session.shutdown', 0],
      ['resumed', 'session.shutdown', 0],
      ['resumed', 'session.resume', 0],
      ['model-change', 'session.start', 0],
      ['model-change', 'session.shutdown', 0],
      ['crash-then-resume', 'session.resume', 0],
    ] as const) {
      it(`${trap}: the ${type} line`, () => {
        const engine = splitAt(trap, type, nth);
        const fromScratch = reportOf(trap);
        assert.deepEqual(engine.report().totals, fromScratch.report.totals);
        assert.deepEqual(recordsOf(engine), recordsOf(fromScratch.engine));
      });
    }

    it('an answered call read before its newline counts at once, and once', () => {
      const { home, file } = copyOf('live-output');
      const whole = fs.readFileSync(file, 'utf8');
      const cut = whole.lastIndexOf('"assistant.message"');
      const end = whole.indexOf('\n', cut);
      fs.writeFileSync(file, whole.slice(0, end));
      const engine = engineAt(home);
      engine.scan();
      assert.equal(engine.report().totals.outputTokens, 200);
      fs.appendFileSync(file, whole.slice(end));
      const scan = engine.scan();
      assert.equal(scan.eventsAdded + scan.eventsReplaced, 0);
      assert.equal(engine.report().totals.outputTokens, 200);
    });
  });

  it('an unreadable path is reported, not thrown', () => {
    const dir = tempDir();
    const context: ReadContext = { emit: (_event: UsageEvent) => assert.fail('no event'), counts: newReadCounts(), log: () => undefined };
    const read = copilotCliSource.read(dir, undefined, context);
    assert.equal(read.cursor, undefined);
    assert.ok(read.error);
    const missing = copilotCliSource.read(path.join(dir, 'nope.jsonl'), undefined, context);
    assert.equal(missing.errorCode, 'ENOENT');
  });

  it('roots: COPILOT_HOME alone when set, else ~/.copilot (and the legacy $XDG_CONFIG_HOME/.copilot), on every OS', () => {
    assert.deepEqual(copilotRoots({ env: { HOME: '/h', COPILOT_HOME: '/c', XDG_CONFIG_HOME: '/x' } }), [
      path.join('/c', 'session-state'),
      path.join('/c', 'history-session-state'),
    ]);
    assert.deepEqual(copilotRoots({ env: { HOME: '/h' }, platform: 'linux', extraDirs: ['/more'] }), [
      path.join('/h', '.copilot', 'session-state'),
      path.join('/h', '.copilot', 'history-session-state'),
      '/more',
    ]);
    assert.deepEqual(copilotRoots({ env: { HOME: '/h', XDG_CONFIG_HOME: '/x' }, platform: 'darwin' }), [
      path.join('/h', '.copilot', 'session-state'),
      path.join('/h', '.copilot', 'history-session-state'),
      path.join('/x', '.copilot', 'session-state'),
      path.join('/x', '.copilot', 'history-session-state'),
    ]);
    assert.deepEqual(copilotRoots({ env: { USERPROFILE: 'C:\\Users\\ana' }, platform: 'win32' })[0], path.join('C:\\Users\\ana', '.copilot', 'session-state'));
  });
});
