// Cline / Roo Code / Kilo Code: one test per trap of ../shared/formats/agent-logs.md §4, each on a fixture folder
// under test/fixtures/cline/ (made by test/fixtures/make-cline-fixtures.mjs; each folder is a HOME), plus the live
// path of a whole-file container: atomic rewrites, checkpoint restores, a file caught mid-write, a restart.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import type { LedgerRecord } from '../../src/core/ledger';
import {
  clineSource,
  kiloCodeSource,
  rooCodeSource,
  scanApiHistory,
  settingFromJsonc,
} from '../../src/core/sources/cline';
import { newReadCounts, type Source, type SourceOptions } from '../../src/core/sources/source';
import { loadSqlite } from '../../src/core/sqlite';
import type { UsageEvent } from '../../src/core/usage';
import { appendWalCommit } from '../fixtures/sqlite/walWriter';
import { copyDir, REPO, scanReport, sourceEngine, tempDir } from './helpers';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'cline');
const ALL: Source[] = [clineSource, rooCodeSource, kiloCodeSource];
const CLINE_EXT = 'saoudrizwan.claude-dev';
const ROO_EXT = 'rooveterinaryinc.roo-cline';
const KILO_EXT = 'kilocode.kilo-code';
const SONNET = 'claude-sonnet-4-5-20250929';

/** An environment that sees nothing but `home` (no XDG, APPDATA or agent variables from this machine). */
function homeEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { HOME: home, USERPROFILE: home, ...extra };
}

function engineAt(home: string, options: { sources?: Source[]; stateDir?: string | null; env?: NodeJS.ProcessEnv } = {}): Engine {
  return sourceEngine(options.sources ?? ALL, homeEnv(home, options.env), { stateDir: options.stateDir ?? null });
}

function fixture(trap: string) {
  return scanReport(engineAt(path.join(FIXTURES, trap)));
}

function byTime(engine: Engine): LedgerRecord[] {
  return engine.ledger.records().sort((a, b) => a.timestamp - b.timestamp);
}

function tokens(record: LedgerRecord): [number, number, number, number] {
  return [record.inputTokens, record.outputTokens, record.cacheWrite5mTokens + record.cacheWrite1hTokens, record.cacheReadTokens];
}

/** `list` holds `item` (with a message: a bare assert.ok is slow to fail under tsx, it re-parses the line). */
function has(list: string[], item: string): void {
  assert.ok(list.includes(item), `${item} not in\n${list.join('\n')}`);
}

function near(actual: number | null | undefined, expected: number, message?: string): void {
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) < 1e-9, message ?? `${actual} vs ${expected}`);
}

// ---- builders for the live tests (same shapes as the fixtures) ----

type Message = Record<string, unknown>;
const sayMsg = (ts: number, kind: string, text?: string, extra: Message = {}): Message => ({
  ts,
  type: 'say',
  say: kind,
  ...(text === undefined ? {} : { text }),
  ...extra,
});
const usage = (tokensIn: number, tokensOut: number, cacheWrites: number, cacheReads: number, cost?: number): Message => ({
  tokensIn,
  tokensOut,
  cacheWrites,
  cacheReads,
  ...(cost === undefined ? {} : { cost }),
});
const request = (ts: number, info: Message, extra: Message = {}): Message =>
  sayMsg(ts, 'api_req_started', JSON.stringify({ request: 'go', ...info }), extra);

/** A task folder in a temp HOME, and an atomic writer like the extensions' (tmp file, then rename over). */
function liveTask(ext = CLINE_EXT, taskId = '1783100000000') {
  const home = tempDir('agent-spend-cline-');
  const dir = path.join(home, '.config', 'Code', 'User', 'globalStorage', ext, 'tasks', taskId);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'ui_messages.json');
  let n = 0;
  const write = (messages: Message[]): string => {
    const tmp = `${file}.tmp.${Date.now()}.${n++}.json`;
    fs.writeFileSync(tmp, JSON.stringify(messages));
    fs.renameSync(tmp, file);
    return tmp;
  };
  return { home, dir, file, write };
}

// ---------------------------------------------------------------------------------------------------------------

describe('Cline / Roo / Kilo traps (§4c)', () => {
  it('1. a request is read as its message stands now: a placeholder counts nothing, updates replace, never add', () => {
    const t = liveTask();
    const T = 1783100000000;
    const task = sayMsg(T, 'task', 'add a test');
    t.write([task, request(T + 1, {})]);
    const engine = engineAt(t.home);
    let scan = engine.scan();
    assert.equal(scan.eventsAdded, 0);
    assert.equal(engine.report().totals.requests, 0);

    // Usage chunks stream in: updateApiReqMsg rewrites the same message with the running numbers.
    t.write([task, request(T + 1, usage(3, 100, 9210, 0, 0.02))]);
    scan = engine.scan();
    assert.equal(scan.eventsAdded, 1);
    assert.equal(engine.report().totals.outputTokens, 100);

    t.write([task, request(T + 1, usage(3, 412, 9210, 0, 0.0411)), sayMsg(T + 2, 'text', 'done')]);
    scan = engine.scan();
    assert.equal(scan.eventsAdded, 0);
    assert.equal(scan.eventsReplaced, 1);
    const { totals } = engine.report();
    assert.equal(totals.requests, 1);
    assert.deepEqual([totals.inputTokens, totals.outputTokens, totals.cacheCreationTokens, totals.cacheReadTokens], [3, 412, 9210, 0]);
    near(totals.costUsd, 0.0411);

    // Nothing new: nothing read, nothing added.
    scan = engine.scan();
    assert.deepEqual([scan.filesRead, scan.eventsAdded, scan.eventsReplaced], [0, 0, 0]);
  });

  it('the fixture task: per-request model (message modelInfo, then task_metadata stamps), project from the task list', () => {
    const { engine, report } = fixture('cline-task');
    const code = report.sessions.find((s) => s.sessionId === '1783000000000');
    assert.ok(code, 'the Code task is reported');
    assert.equal(code.agent, 'cline');
    assert.equal(code.requests, 3);
    assert.deepEqual([code.inputTokens, code.outputTokens, code.cacheCreationTokens, code.cacheReadTokens], [15, 562, 9410, 18620]);
    assert.equal(code.project, '/home/ana/src/shop');
    const [first, second, third] = byTime(engine).filter((r) => r.sessionId === '1783000000000');
    assert.equal(first.model, SONNET);
    assert.equal(second.model, 'claude-opus-4-1-20250805');
    assert.equal(third.model, 'claude-haiku-4-5-20251001');
    // The Cursor task is in no task list: its cwd comes from the first request's environment details.
    const cursor = report.sessions.find((s) => s.sessionId === '1783000500000');
    assert.equal(cursor?.project, '/home/ana/src/blog');
    assert.equal(report.sessions.length, 2);
  });

  it('2. a task total is api_req_started + deleted_api_reqs + subagent_usage (Cline getApiMetrics)', () => {
    const { engine, report } = fixture('three-kinds');
    const { totals } = report;
    assert.equal(totals.requests, 3);
    assert.deepEqual([totals.inputTokens, totals.outputTokens, totals.cacheCreationTokens, totals.cacheReadTokens], [20, 37, 6, 2]);
    near(totals.costUsd, 0.2);
    const records = byTime(engine);
    assert.deepEqual(
      records.map((r) => r.sidechain),
      [false, true, false],
    );
    // The aggregates carry no model: they take the task's.
    assert.deepEqual(records.map((r) => r.model), [SONNET, SONNET, SONNET]);
  });

  it("3. Roo's tokensIn includes the cache (since 3.29.5 for Anthropic, always for OpenAI); Kilo's since 4.119.0", () => {
    const { engine, report } = fixture('roo-tokens-in');
    const records = byTime(engine);
    const recent = records.filter((r) => r.sessionId === '0198a7c2-1111-7000-8000-000000000001');
    assert.deepEqual(recent.map(tokens), [
      [200, 300, 1800, 10000],
      [1000, 100, 0, 4000],
      [0, 0, 0, 0], // condense_context: its cost only
    ]);
    assert.deepEqual(
      recent.map((r) => r.model),
      ['claude-sonnet-4-5', 'gpt-5', 'gpt-5'],
    );
    near(recent[2].costUsd, 0.05);
    const old = records.filter((r) => r.sessionId === '0198a7c2-2222-7000-8000-000000000002');
    assert.deepEqual(old.map(tokens), [
      [50, 80, 1000, 20000],
      [30000, 10, 100, 200],
      [2000, 20, 0, 1000],
    ]);
    assert.deepEqual(old.map((r) => r.model), Array(3).fill('claude-3-7-sonnet-20250219'));
    const kilo = records.filter((r) => r.agent === 'kilo-code');
    assert.deepEqual(kilo.map(tokens), [[5000, 60, 1000, 3000]]);
    // Projects: history_item.json's workspace wins; else the prompt's workspace line (escapes decoded).
    const projects = new Map(report.sessions.map((s) => [s.sessionId, s.project]));
    assert.equal(projects.get('0198a7c2-1111-7000-8000-000000000001'), '/home/ana/src/shop');
    assert.equal(projects.get('0198a7c2-2222-7000-8000-000000000002'), 'C:\\Users\\ana\\src\\legacy');
    assert.equal(projects.get('0198a7c2-3333-7000-8000-000000000003'), '(unknown project)');
  });

  it("4. the logged cost is used when present; a request without one is priced from the table", () => {
    const { engine } = fixture('cline-task');
    const [first, second, third] = byTime(engine).filter((r) => r.sessionId === '1783000000000');
    assert.equal(first.costProvenance, 'reported');
    near(first.costUsd, 0.0411);
    near(second.costUsd, 0.0123);
    assert.equal(third.costProvenance, 'computed');
    const expected = engine.prices.cost(third.model, third.timestamp, third, false);
    assert.ok(expected > 0, 'the table prices haiku');
    near(third.costUsd, expected);
  });

  it('5. cancelled and failed requests still count their partial usage and cost', () => {
    const { report } = fixture('cancelled');
    const { totals } = report;
    assert.equal(totals.requests, 2);
    assert.deepEqual([totals.inputTokens, totals.outputTokens, totals.cacheReadTokens], [120, 45, 1000]);
    near(totals.costUsd, 0.0034);
  });

  it("6. a Roo subtask's usage belongs to its root task's session, as a side chain", () => {
    const { engine, report } = fixture('roo-subtask');
    assert.equal(report.sessions.length, 1);
    const [session] = report.sessions;
    assert.equal(session.sessionId, '0198a7c2-4444-7000-8000-000000000004');
    assert.equal(session.requests, 2);
    assert.equal(session.project, '/home/ana/src/shop');
    assert.equal(session.inputTokens, 100 + 300);
    assert.deepEqual(
      byTime(engine).map((r) => r.sidechain),
      [false, true],
    );
  });

  it('early Cline: the usage of api_req_finished is merged into its api_req_started', () => {
    const { report } = fixture('legacy-finished');
    assert.equal(report.totals.requests, 1);
    assert.deepEqual([report.totals.inputTokens, report.totals.outputTokens, report.totals.cacheCreationTokens], [9, 30, 1200]);
    near(report.totals.costUsd, 0.0051);
  });

  it('files are found in every editor and remote server, and only below the three extensions\' task folders', () => {
    const { report } = fixture('locations');
    const byAgent = new Map<string, number>();
    for (const s of report.sessions) byAgent.set(s.agent, (byAgent.get(s.agent) ?? 0) + s.inputTokens);
    assert.deepEqual(Object.fromEntries(byAgent), { cline: 1 + 2 + 4, 'roo-code': 8, 'kilo-code': 16 });
    assert.equal(report.totals.inputTokens, 31); // not 63: someone.other-agent's tasks are not read
  });

  it('malformed files and payloads are counted and skipped; the rest of the file is read', () => {
    const { report, scan } = fixture('malformed');
    assert.equal(scan.malformedLines, 3); // garbage, a file cut mid-write, one bad `text` payload
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.outputTokens, 12);
    assert.equal(report.totals.cacheReadTokens, 16);
    assert.equal(report.totals.unpricedRequests, 1); // wrong-typed fields read as absent, no model known
  });
});

describe('deleted requests (checkpoint restore)', () => {
  const T = 1783100000000;
  const task = sayMsg(T, 'task', 'add a test');
  const a = request(T + 10, usage(10, 100, 1000, 0, 0.01));
  const checkpoint = sayMsg(T + 20, 'checkpoint_created', undefined, { lastCheckpointHash: 'abc123' });
  const b = request(T + 30, usage(20, 200, 0, 1000, 0.02));
  const c = request(T + 40, usage(30, 300, 0, 2000, 0.03));

  it('Cline: the aggregate of requests already read is not counted again, across two restores', () => {
    const t = liveTask();
    t.write([task, a, checkpoint, b, c]);
    const engine = engineAt(t.home);
    engine.scan();
    const before = engine.report().totals;
    assert.equal(before.requests, 3);

    // restore: first the messages after the checkpoint go, then the aggregate is appended (two writes)
    t.write([task, a, checkpoint]);
    engine.scan();
    const deleted = sayMsg(T + 50, 'deleted_api_reqs', JSON.stringify(usage(50, 500, 0, 3000, 0.05)));
    t.write([task, a, checkpoint, deleted]);
    engine.scan();
    assert.deepEqual(engine.report().totals, before);

    const d = request(T + 60, usage(1, 1, 0, 0, 0.001));
    t.write([task, a, checkpoint, deleted, d]);
    engine.scan();
    assert.equal(engine.report().totals.requests, 4);
    const afterD = engine.report().totals;

    // A second restore, to the task start, in one go: the new aggregate sums the earlier aggregate too.
    const again = sayMsg(T + 70, 'deleted_api_reqs', JSON.stringify(usage(61, 601, 1000, 3000, 0.061)));
    t.write([task, again]);
    engine.scan();
    assert.deepEqual(engine.report().totals, afterD);
  });

  it('Cline: usage an aggregate holds beyond what was read (the request grew after the last read) is counted', () => {
    const t = liveTask();
    t.write([task, a, checkpoint, b]);
    const engine = engineAt(t.home);
    engine.scan();
    // b had streamed 200 output tokens when read; it ended at 260 before the user restored.
    t.write([task, a, checkpoint, sayMsg(T + 50, 'deleted_api_reqs', JSON.stringify(usage(20, 260, 0, 1000, 0.026)))]);
    engine.scan();
    const { totals } = engine.report();
    assert.equal(totals.outputTokens, 100 + 260);
    near(totals.costUsd, 0.01 + 0.026);
  });

  it('Roo/Kilo: api_req_deleted is the aggregate; the state survives a restart of the engine', () => {
    const t = liveTask(ROO_EXT, '0198a7c2-8888-7000-8000-000000000008');
    const R = Date.UTC(2026, 5, 1);
    const text = sayMsg(R, 'text', 'go');
    const ra = sayMsg(R + 10, 'api_req_started', JSON.stringify({ apiProtocol: 'anthropic', ...usage(1100, 100, 1000, 0, 0.01) }));
    const rb = sayMsg(R + 30, 'api_req_started', JSON.stringify({ apiProtocol: 'anthropic', ...usage(2200, 200, 0, 2000, 0.02) }));
    const stateDir = tempDir('agent-spend-state-');
    t.write([text, ra, sayMsg(R + 20, 'checkpoint_saved', 'abc'), rb]);
    const first = engineAt(t.home, { stateDir });
    first.scan();
    first.save();
    const before = first.report().totals;
    assert.equal(before.requests, 2);
    assert.equal(before.inputTokens, 100 + 200);

    t.write([text, ra, sayMsg(R + 20, 'checkpoint_saved', 'abc'), sayMsg(R + 40, 'api_req_deleted', JSON.stringify(usage(2200, 200, 0, 2000, 0.02)))]);
    const second = engineAt(t.home, { stateDir });
    second.scan();
    assert.deepEqual(second.report().totals, before);
  });
});

describe('the per-task state stays bounded (a long task)', () => {
  const T = 1783400000000;
  const N = 2000;
  /** A task of `n` requests, request i with i+1 output tokens and a cost of (i+1)/1e5. */
  const longTask = (n: number): Message[] => [
    sayMsg(T, 'task', 'a long one'),
    ...Array.from({ length: n }, (_, i) => request(T + 10 * (i + 1), usage(10, i + 1, 100, 1000, (i + 1) / 1e5))),
  ];
  /** A task of `total` requests restored to just after request `keep`: the rest replaced by their sum. */
  const restoredTo = (keep: number, total: number, at: number): Message[] => {
    const removed = Array.from({ length: total - keep }, (_, k) => keep + k + 1);
    const output = removed.reduce((sum, o) => sum + o, 0);
    const aggregate = usage(10 * removed.length, output, 100 * removed.length, 1000 * removed.length, output / 1e5);
    // The aggregate follows the restore point: everything after it went.
    return [...longTask(keep), sayMsg(at, 'deleted_api_reqs', JSON.stringify(aggregate))];
  };
  const stateSize = (file: string, previous?: string): { size: number; context?: string } => {
    const stat = fs.statSync(file);
    const read = clineSource.read(
      file,
      previous === undefined ? undefined : { offset: 0, size: -1, mtimeMs: 0, ino: stat.ino, tail: '', context: previous },
      { emit: () => undefined, counts: newReadCounts(), log: () => undefined },
    );
    assert.ok(read.cursor, read.error);
    return { size: read.cursor.context?.length ?? 0, context: read.cursor.context };
  };

  it('a 2000-request task keeps a state of a few kilobytes, read after read', () => {
    const t = liveTask();
    t.write(longTask(N));
    const first = stateSize(t.file);
    assert.ok(first.size < 12_000, `state of ${first.size} bytes`);
    t.write(longTask(N + 500));
    const second = stateSize(t.file, first.context);
    assert.ok(second.size < 12_000, `state of ${second.size} bytes`);
    assert.ok(second.size < first.size * 1.2, `${second.size} vs ${first.size}`);
  });

  for (const [keep, twoWrites] of [[100, false], [100, true], [1900, false], [1999, true], [0, false]] as const) {
    it(`a restore that removes ${N + 10 - keep} of the ${N + 10} requests already read counts nothing again${twoWrites ? ' (removal, then aggregate)' : ''}`, () => {
      const t = liveTask();
      t.write(longTask(N));
      const engine = engineAt(t.home);
      engine.scan();
      const before = engine.report().totals;
      assert.equal(before.requests, N);
      t.write(longTask(N + 10));
      engine.scan();
      const grown = engine.report().totals;
      if (twoWrites) {
        t.write(longTask(keep));
        engine.scan();
        assert.deepEqual(engine.report().totals, grown);
      }
      t.write(restoredTo(keep, N + 10, T + 10 * (N + 20)));
      engine.scan();
      const after = engine.report().totals;
      // The aggregate sums the restored requests, every one of them read (and counted) before.
      assert.equal(after.requests, grown.requests);
      assert.equal(after.outputTokens, grown.outputTokens);
      assert.equal(after.inputTokens, grown.inputTokens);
      near(after.costUsd, grown.costUsd ?? 0);
    });
  }
});

describe('whole-file reading', () => {
  it('a file caught mid-write is skipped without losing what was recorded; the next write is read', () => {
    const t = liveTask();
    const T = 1783200000000;
    const v1 = [sayMsg(T, 'task', 'x'), request(T + 1, usage(1, 10, 0, 0, 0.001))];
    t.write(v1);
    const engine = engineAt(t.home);
    engine.scan();
    const v2 = JSON.stringify([...v1, request(T + 2, usage(2, 20, 0, 0, 0.002))]);
    fs.writeFileSync(t.file, v2.slice(0, v2.length - 30)); // a non-atomic writer, read half-way
    let scan = engine.scan();
    assert.equal(scan.malformedLines, 1);
    assert.equal(engine.report().totals.requests, 1);
    fs.writeFileSync(t.file, v2);
    scan = engine.scan();
    assert.equal(scan.eventsAdded, 1);
    assert.equal(engine.report().totals.outputTokens, 30);
  });

  it('a watcher event for the file, or for the temporary file renamed over it, reads it', () => {
    const t = liveTask();
    const T = 1783300000000;
    t.write([sayMsg(T, 'task', 'x')]);
    const engine = engineAt(t.home);
    engine.scan();
    const tmp = t.write([sayMsg(T, 'task', 'x'), request(T + 1, usage(1, 10, 0, 0, 0.001))]);
    assert.equal(engine.scan([tmp]).eventsAdded, 1);
    t.write([sayMsg(T, 'task', 'x'), request(T + 1, usage(1, 10, 0, 0, 0.001)), request(T + 2, usage(2, 20, 0, 0, 0.002))]);
    assert.equal(engine.scan([t.file]).eventsAdded, 1);
    assert.equal(clineSource.fileFor(path.join(t.dir, 'api_conversation_history.json')), undefined);
    assert.equal(rooCodeSource.fileFor(path.join(t.dir, 'x.messages.json')), undefined);
  });

  it('an unreadable file is reported, not thrown', () => {
    const t = liveTask();
    const folder = path.join(t.dir, 'ui_messages.json');
    fs.mkdirSync(folder);
    const read = clineSource.read(folder, undefined, { emit: () => undefined, counts: newReadCounts(), log: () => undefined });
    assert.equal(read.cursor, undefined);
    assert.equal(read.errorCode, 'EISDIR');
  });
});

describe('Cline 4.x SDK sessions', () => {
  it("each assistant message's metrics is one call; inputTokens includes the cache; subagent files join the session", () => {
    const { engine, report } = fixture('sdk-session');
    assert.equal(report.sessions.length, 1);
    const [session] = report.sessions;
    assert.deepEqual([session.agent, session.sessionId, session.project], ['cline', '1783500000000_a1b2c', '/home/ana/src/shop']);
    const records = byTime(engine);
    assert.deepEqual(records.map(tokens), [
      [300, 60, 200, 1000],
      [900, 40, 0, 0],
      [100, 80, 300, 1700],
    ]);
    assert.deepEqual(
      records.map((r) => [r.model, r.sidechain]),
      [
        ['claude-sonnet-4-6', false],
        ['claude-haiku-4-5', true],
        ['claude-sonnet-4-6', false],
      ],
    );
    near(report.totals.costUsd, 0.021);
  });

  it('a legacy task resumed in the SDK: neither the migrated totals nor the written-back turns count twice', () => {
    const { engine, report } = fixture('sdk-legacy-resume');
    assert.equal(report.sessions.length, 1);
    assert.equal(report.sessions[0].project, '/home/ana/src/parser');
    assert.deepEqual(byTime(engine).map(tokens), [
      [10, 100, 5000, 0],
      [20, 200, 100, 5000],
      [300, 40, 0, 700],
    ]);
    near(report.totals.costUsd, 0.037);
  });

  it('a session file rewritten with a new turn adds that turn once', () => {
    const home = tempDir('agent-spend-cline-sdk-');
    const dir = path.join(home, '.cline', 'data', 'sessions', 's1');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 's1.messages.json');
    const turn = (id: string, ts: number, output: number) => ({
      id,
      role: 'assistant',
      content: [{ type: 'text', text: 'ok' }],
      ts,
      modelInfo: { id: 'claude-sonnet-4-6', provider: 'anthropic' },
      metrics: { inputTokens: 100, outputTokens: output, cacheReadTokens: 0, cacheWriteTokens: 0, cost: 0.001 },
    });
    const write = (messages: unknown[]) => fs.writeFileSync(file, JSON.stringify({ version: 1, agent: 'lead', sessionId: 's1', messages }));
    write([turn('a', 1783400000000, 5)]);
    const engine = engineAt(home, { sources: [clineSource] });
    assert.equal(engine.scan().eventsAdded, 1);
    write([turn('a', 1783400000000, 5), { id: 'u', role: 'user', content: 'more' }, turn('b', 1783400001000, 7)]);
    const scan = engine.scan();
    assert.deepEqual([scan.eventsAdded, scan.eventsReplaced], [1, 0]);
    assert.equal(engine.report().totals.outputTokens, 12);
  });
});

describe('Cline 4.x session index (sessions.db)', () => {
  before(() => loadSqlite());

  const INDEXED = path.join(FIXTURES, 'sdk-sessions-db');
  const A = '1783600000000_k2m9q';
  const B = '1783600900000_p4x7w';
  const C = `${A}__explorer`;
  const D = `${C}__grep`;
  const E = '1783601800000_r8c1n';
  const TT = `${A}__teamtask__coder__x3k9w`;
  const SHOP = '/home/ana/src/shop';
  const dbOf = (home: string) => path.join(home, '.cline', 'data', 'db', 'sessions.db');
  const teammateFile = (home: string) => path.join(home, '.cline', 'data', 'sessions', A, 'teamtask-x3k9w', 'coder', `${TT}.messages.json`);

  /** Per messages file (the folder in the key): [session, project, sidechain, model, output tokens]. */
  function attribution(engine: Engine): Record<string, [string, string, boolean, string, number]> {
    const out: Record<string, [string, string, boolean, string, number]> = {};
    for (const r of engine.ledger.records()) out[r.key.split(':').slice(1, 3).join(':')] = [r.sessionId, r.project, r.sidechain, r.model, r.outputTokens];
    return out;
  }

  /** What the messages files say alone: the manifest's project for A, the folder as the session for the others. */
  const WITHOUT_INDEX = {
    [`${A}:${A}`]: [A, SHOP, false, 'claude-sonnet-4-6', 50],
    [`${C}:${C}`]: [C, '(unknown project)', false, 'claude-haiku-4-5', 40],
    [`${D}:${D}`]: [D, '(unknown project)', false, '(unknown model)', 30],
    [`${B}:${B}`]: [B, '(unknown project)', false, 'claude-sonnet-4-6', 70],
    [`${E}:${E}`]: [E, '(unknown project)', false, 'claude-sonnet-4-6', 60],
  };

  function scanWithLog(home: string) {
    const lines: string[] = [];
    const engine = sourceEngine([clineSource], homeEnv(home), { log: (line) => lines.push(line) });
    const scan = engine.scan();
    return { engine, scan, lines };
  }

  it('a session without a manifest (or with a half-written one) gets its project from the index', () => {
    const { engine, scan } = scanWithLog(INDEXED);
    assert.deepEqual(scan.unreadable, []);
    const got = attribution(engine);
    assert.deepEqual(got[`${B}:${B}`], [B, '/home/ana/src/api', false, 'claude-sonnet-4-6', 70]); // its row is in the WAL only
    assert.deepEqual(got[`${E}:${E}`], [E, '/home/ana/src/docs/site', false, 'claude-sonnet-4-6', 60]); // cwd before workspace_root
    assert.deepEqual(got[`${A}:${A}`], [A, SHOP, false, 'claude-sonnet-4-6', 50]); // the manifest's, as before
    assert.deepEqual(engine.warnings(), []);
  });

  it('a subagent kept in a folder of its own is reported under its parent (parent_session_id), up a chain to the root', () => {
    const { engine, report } = scanReport(sourceEngine([clineSource], homeEnv(INDEXED)));
    const got = attribution(engine);
    assert.deepEqual(got[`${C}:${C}`], [A, SHOP, true, 'claude-haiku-4-5', 40]);
    // D's parent is C, whose parent is A; D has no cwd of its own (C's is used) and no modelInfo (its row's model).
    assert.deepEqual(got[`${D}:${D}`], [A, SHOP, true, 'claude-haiku-4-5', 30]);
    // Keys follow the files, not the index: one record per call.
    assert.equal(engine.ledger.records().length, 5);
    assert.deepEqual(report.sessions.map((s) => s.sessionId).sort(), [A, B, E].sort());
    const shop = report.sessions.find((s) => s.sessionId === A);
    assert.equal(shop?.requests, 3);
    assert.equal(shop?.project, SHOP);
  });

  it('a missing, garbage or foreign sessions.db changes nothing and fails nothing (logged once)', () => {
    const variants: Array<[string, (db: string) => void]> = [
      ['missing', (db) => fs.rmSync(path.dirname(db), { recursive: true })],
      ['garbage', (db) => {
        fs.writeFileSync(db, 'SQLite format 3\0 but not really'.repeat(40));
        fs.rmSync(`${db}-wal`);
      }],
      ['no sessions table', (db) => {
        fs.copyFileSync(path.join(REPO, 'test', 'fixtures', 'sqlite', 'checkpointed', 'app.db'), db);
        fs.rmSync(`${db}-wal`);
      }],
      ['empty', (db) => {
        fs.writeFileSync(db, '');
        fs.rmSync(`${db}-wal`);
      }],
    ];
    for (const [name, spoil] of variants) {
      const home = copyDir(INDEXED, 'agent-spend-cline-db-');
      spoil(dbOf(home));
      const { engine, scan, lines } = scanWithLog(home);
      assert.deepEqual(scan.unreadable, [], name);
      assert.deepEqual(engine.warnings(), [], name);
      assert.deepEqual(attribution(engine), WITHOUT_INDEX, name);
      const mentions = lines.filter((line) => line.includes('sessions.db'));
      assert.ok(mentions.length <= 1, `${name}: ${mentions.join('\n')}`);
      if (name !== 'missing') assert.equal(mentions.length, 1, `${name}: ${lines.join('\n')}`);
      // Left alone until it changes.
      assert.equal(engine.scan().filesRead, 0, name);
    }
  });

  it('a change of sessions.db (its -wal) is routed to it and re-emits the sessions it changed, under the same keys', () => {
    const home = copyDir(INDEXED, 'agent-spend-cline-db-');
    const db = dbOf(home);
    const engine = sourceEngine([clineSource], homeEnv(home));
    engine.scan();
    const before = engine.report().totals;
    assert.equal(engine.route(`${db}-wal`)?.file, db);
    assert.equal(engine.route(db)?.file, db);
    // Another folder's sessions.db is nobody's index.
    assert.equal(clineSource.fileFor(path.join(home, '.cline', 'data', 'sessions', 'sessions.db')), undefined);

    const reread = () => {
      const events: UsageEvent[] = [];
      const context = { emit: (e: UsageEvent) => events.push(e), counts: newReadCounts(), log: () => undefined };
      clineSource.read(db, engine.cursors.get(db), context);
      return events;
    };
    // A status change says nothing about where the usage belongs: nothing is re-read.
    appendWalCommit(db, (sql) => sql.run("UPDATE sessions SET status = 'completed', ended_at = '2026-07-09T13:00:00.000Z' WHERE session_id = ?", [B]));
    assert.deepEqual(reread(), []);
    // B's folder moved: B's call is emitted again, with the new project and its old key.
    appendWalCommit(db, (sql) => sql.run('UPDATE sessions SET cwd = ?, workspace_root = ? WHERE session_id = ?', ['/home/ana/src/api-v2', '/home/ana/src/api-v2', B]));
    const events = reread();
    assert.deepEqual(
      events.map((e) => [e.dedupeKey, e.sessionId, e.project]),
      [[`cline:${B}:${B}:m1`, B, '/home/ana/src/api-v2']],
    );

    const scan = engine.scan([`${db}-wal`]);
    assert.deepEqual([scan.filesRead, scan.eventsAdded, scan.unreadable.length], [1, 0, 0]);
    assert.deepEqual(engine.report().totals, before);
    assert.equal(engine.scan().filesRead, 0);
  });

  it('what a re-emitted call now says (a moved folder, a parent link that came later) replaces what the ledger held', () => {
    const home = copyDir(INDEXED, 'agent-spend-cline-db-');
    const db = dbOf(home);
    // C's row is not in the index yet when its messages file is first read (D, below C, stops at C).
    appendWalCommit(db, (sql) => {
      sql.run('CREATE TABLE later AS SELECT * FROM sessions WHERE session_id = ?', [C]);
      sql.run('DELETE FROM sessions WHERE session_id = ?', [C]);
    });
    const engine = sourceEngine([clineSource], homeEnv(home));
    engine.scan();
    assert.deepEqual(attribution(engine)[`${C}:${C}`], [C, '(unknown project)', false, 'claude-haiku-4-5', 40]);
    const before = engine.report().totals;

    appendWalCommit(db, (sql) => {
      sql.run('INSERT INTO sessions SELECT * FROM later');
      sql.run('UPDATE sessions SET cwd = ?, workspace_root = ? WHERE session_id = ?', ['/home/ana/src/api-v2', '/home/ana/src/api-v2', B]);
    });
    const scan = engine.scan([`${db}-wal`]);
    assert.equal(scan.eventsAdded, 0);
    const got = attribution(engine);
    assert.deepEqual(got[`${C}:${C}`], [A, SHOP, true, 'claude-haiku-4-5', 40]);
    assert.deepEqual(got[`${D}:${D}`], [A, SHOP, true, 'claude-haiku-4-5', 30]);
    assert.deepEqual(got[`${B}:${B}`], [B, '/home/ana/src/api-v2', false, 'claude-sonnet-4-6', 70]);
    assert.deepEqual(engine.report().totals, before);
    assert.deepEqual(engine.report().sessions.map((s) => s.sessionId).sort(), [A, B, E].sort());
  });

  it('messages kept elsewhere (messages_path) are read from the index, under the parent, and again when they change', () => {
    const home = copyDir(INDEXED, 'agent-spend-cline-db-');
    const db = dbOf(home);
    const file = teammateFile(home);
    const engine = sourceEngine([clineSource], homeEnv(home));
    engine.scan();
    // Too deep for a walk, and the index names it where it lay on another machine: not read.
    assert.equal(engine.ledger.records().length, 5);

    appendWalCommit(db, (sql) => sql.run('UPDATE sessions SET messages_path = ? WHERE session_id = ?', [file, TT]));
    const scan = engine.scan([`${db}-wal`]);
    assert.deepEqual([scan.filesRead, scan.eventsAdded], [1, 1]);
    assert.deepEqual(attribution(engine)[`coder:${TT}`], [A, SHOP, true, 'claude-sonnet-4-6', 20]);

    // Cline rewrites it with a new turn: the next look finds it (the index itself did not change).
    const payload = JSON.parse(fs.readFileSync(file, 'utf8'));
    payload.messages.push({ ...payload.messages[1], id: 'm2', ts: payload.messages[1].ts + 1000, metrics: { ...payload.messages[1].metrics, outputTokens: 33 } });
    fs.writeFileSync(file, JSON.stringify(payload));
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const again = engine.scan();
    assert.deepEqual([again.eventsAdded, again.eventsReplaced], [1, 0]);
    assert.equal(engine.ledger.records().filter((r) => r.sessionId === A).length, 5);
    assert.equal(engine.scan().filesRead, 0);
  });
});

describe('roots', () => {
  const rootsOf = (source: Source, options: Partial<SourceOptions> & { home: string }) =>
    source.roots({ env: homeEnv(options.home, options.env), platform: options.platform, extraDirs: options.extraDirs });

  it('Linux: every editor under XDG_CONFIG_HOME, remote servers, code-server, the Cline data folder', () => {
    const roots = rootsOf(clineSource, { home: '/h', platform: 'linux', env: { XDG_CONFIG_HOME: '/cfg', XDG_DATA_HOME: '/data' } });
    for (const editor of ['Code', 'Code - Insiders', 'VSCodium', 'Cursor', 'Windsurf']) {
      has(roots, path.join('/cfg', editor, 'User', 'globalStorage', CLINE_EXT, 'tasks'));
    }
    for (const server of ['.vscode-server', '.vscode-server-insiders', '.cursor-server', '.windsurf-server', '.vscodium-server']) {
      has(roots, path.join('/h', server, 'data', 'User', 'globalStorage', CLINE_EXT, 'tasks'));
    }
    has(roots, path.join('/data', 'code-server', 'User', 'globalStorage', CLINE_EXT, 'tasks'));
    has(roots, path.join('/h', '.cline', 'data', 'tasks'));
    has(roots, path.join('/h', '.cline', 'data', 'sessions'));
    has(roots, path.join('/h', '.cline', 'data', 'db', 'sessions.db'));
    // Precise: never a whole globalStorage, never another extension's folder; the session index is a file root.
    const precise = (root: string) => [`${path.sep}tasks`, `${path.sep}sessions`, `${path.sep}sessions.db`].some((end) => root.endsWith(end));
    assert.ok(roots.every(precise), roots.join('\n'));
    assert.ok(roots.every((root) => !root.includes(ROO_EXT) && !root.includes(KILO_EXT)), roots.join('\n'));
  });

  it('macOS and Windows user-data folders; VSCODE_APPDATA, VSCODE_PORTABLE and VSCODE_AGENT_FOLDER', () => {
    const mac = rootsOf(rooCodeSource, { home: '/Users/ana', platform: 'darwin' });
    has(mac, path.join('/Users/ana', 'Library', 'Application Support', 'Code', 'User', 'globalStorage', ROO_EXT, 'tasks'));
    has(mac, path.join('/Users/ana', '.vscode-mock', 'global-storage', 'tasks'));
    const win = rootsOf(kiloCodeSource, { home: 'C:\\Users\\ana', platform: 'win32', env: { APPDATA: 'C:\\Users\\ana\\AppData\\Roaming' } });
    has(win, path.join('C:\\Users\\ana\\AppData\\Roaming', 'Cursor', 'User', 'globalStorage', KILO_EXT, 'tasks'));
    has(win, path.join('C:\\Users\\ana', '.kilocode', 'globalStorage', KILO_EXT, 'tasks'));
    const moved = rootsOf(clineSource, {
      home: '/h',
      platform: 'linux',
      env: { VSCODE_APPDATA: '/appdata', VSCODE_PORTABLE: '/portable', VSCODE_AGENT_FOLDER: '/agent' },
      extraDirs: ['/mine'],
    });
    has(moved, path.join('/appdata', 'Code', 'User', 'globalStorage', CLINE_EXT, 'tasks'));
    assert.ok(!moved.includes(path.join('/h', '.config', 'Code', 'User', 'globalStorage', CLINE_EXT, 'tasks')), 'VSCODE_APPDATA replaces ~/.config');
    has(moved, path.join('/portable', 'user-data', 'User', 'globalStorage', CLINE_EXT, 'tasks'));
    has(moved, path.join('/agent', 'data', 'User', 'globalStorage', CLINE_EXT, 'tasks'));
    has(moved, '/mine');
  });

  it('CLINE_DATA_DIR, CLINE_DIR, CLINE_SESSION_DATA_DIR and CLINE_DB_DATA_DIR', () => {
    const a = rootsOf(clineSource, { home: '/h', platform: 'linux', env: { CLINE_DIR: '/c' } });
    has(a, path.join('/c', 'data', 'tasks'));
    has(a, path.join('/c', 'data', 'sessions'));
    has(a, path.join('/c', 'data', 'db', 'sessions.db'));
    const b = rootsOf(clineSource, { home: '/h', platform: 'linux', env: { CLINE_DIR: '/c', CLINE_DATA_DIR: '/d', CLINE_SESSION_DATA_DIR: '/s' } });
    has(b, path.join('/d', 'tasks'));
    has(b, '/s');
    has(b, path.join('/d', 'db', 'sessions.db'));
    has(rootsOf(clineSource, { home: '/h', platform: 'linux', env: { CLINE_DB_DATA_DIR: '/i' } }), path.join('/i', 'sessions.db'));
    assert.ok(!rootsOf(rooCodeSource, { home: '/h', platform: 'linux' }).some((root) => root.endsWith('sessions.db')), 'Roo has no index');
    assert.ok(!b.some((root) => root.startsWith('/c')), b.join('\n'));
  });

  it("Roo's and Kilo's customStoragePath setting, read from the editors' settings.json (JSONC)", () => {
    const home = tempDir('agent-spend-cline-settings-');
    const user = path.join(home, '.config', 'Code', 'User');
    fs.mkdirSync(user, { recursive: true });
    fs.writeFileSync(
      path.join(user, 'settings.json'),
      '{\n  // my storage\n  // "roo-cline.customStoragePath": "/not/this",\n  "roo-cline.customStoragePath": "/big/disk/roo",\n  "kilo-code.customStoragePath": "",\n}\n',
    );
    const roo = rootsOf(rooCodeSource, { home, platform: 'linux' });
    has(roo, path.join('/big/disk/roo', 'tasks'));
    assert.ok(!roo.includes(path.join('/not/this', 'tasks')), 'a commented-out setting is ignored');
    const kilo = rootsOf(kiloCodeSource, { home, platform: 'linux' });
    assert.ok(kilo.every((root) => path.isAbsolute(root) && root !== path.resolve('tasks')), kilo.join('\n')); // an empty setting is no folder
    assert.equal(settingFromJsonc('{"a.b": "x\\"y"}', 'a.b'), 'x"y');
  });

  it('a settings.json saved with a byte-order mark (Windows editors) is read, as VS Code reads it', () => {
    const home = tempDir('agent-spend-cline-settings-');
    const user = path.join(home, '.config', 'Code', 'User');
    fs.mkdirSync(user, { recursive: true });
    fs.writeFileSync(path.join(user, 'settings.json'), '\uFEFF{\n  "roo-cline.customStoragePath": "/big/disk/roo"\n}\n');
    has(rootsOf(rooCodeSource, { home, platform: 'linux' }), path.join('/big/disk/roo', 'tasks'));
  });

  it('a task under the custom folder is read', () => {
    const home = tempDir('agent-spend-cline-custom-');
    const custom = path.join(home, 'elsewhere');
    const user = path.join(home, '.config', 'Code', 'User');
    fs.mkdirSync(user, { recursive: true });
    fs.writeFileSync(path.join(user, 'settings.json'), JSON.stringify({ 'roo-cline.customStoragePath': custom }));
    const dir = path.join(custom, 'tasks', 't1');
    fs.mkdirSync(dir, { recursive: true });
    const R = Date.UTC(2026, 5, 2);
    fs.writeFileSync(path.join(dir, 'ui_messages.json'), JSON.stringify([sayMsg(R, 'api_req_started', JSON.stringify(usage(50, 5, 0, 40, 0.001)))]));
    const engine = engineAt(home, { sources: [rooCodeSource] });
    engine.scan();
    assert.equal(engine.report().totals.inputTokens, 10);
  });
});

describe('helpers', () => {
  it('scanApiHistory finds model stamps with their ts and the workspace line without parsing', () => {
    const history = Buffer.from(
      JSON.stringify([
        { role: 'user', content: [{ type: 'text', text: '<environment_details>\n<model>m-1</model>\n# Current Workspace Directory (/w) Files\n' }], ts: 5 },
        { role: 'assistant', content: [{ type: 'text', text: 'x' }], ts: 6 },
        { role: 'user', content: [{ type: 'text', text: '<model>m-2</model>' }], ts: 7 },
      ]),
    );
    const scan = scanApiHistory(history);
    assert.deepEqual(scan.stamps, [
      { at: 5, model: 'm-1' },
      { at: 7, model: 'm-2' },
    ]);
    assert.equal(scan.cwd, '/w');
  });

  it('emits events with agent-prefixed, rewrite-stable keys', () => {
    const t = liveTask(KILO_EXT, 'k1');
    const K = Date.UTC(2026, 5, 3);
    t.write([sayMsg(K, 'api_req_started', JSON.stringify(usage(5, 5, 0, 0, 0.001)))]);
    const events: UsageEvent[] = [];
    const context = { emit: (e: UsageEvent) => events.push(e), counts: newReadCounts(), log: () => undefined };
    const first = kiloCodeSource.read(t.file, undefined, context);
    t.write([sayMsg(K, 'api_req_started', JSON.stringify(usage(5, 9, 0, 0, 0.002))), sayMsg(K + 1, 'text', 'x')]);
    kiloCodeSource.read(t.file, first.cursor, context);
    assert.deepEqual(
      events.map((e) => e.dedupeKey),
      [`kilo-code:k1:${K}`, `kilo-code:k1:${K}`],
    );
  });
});
