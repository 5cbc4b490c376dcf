// Codex CLI: one test per trap of its rollouts (../shared/formats/agent-logs.md §2c), each on its own fixture folder
// under test/fixtures/codex/ (a CODEX_HOME, made by test/fixtures/make-codex-fixtures.mjs), plus the live paths
// (appends, torn lines, compression) on temp folders. No test reads the real home: HOME, USERPROFILE, XDG_* and
// CODEX_HOME always point at fixtures or temp folders.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { codexHome, codexRoots, codexSource, decompressZstd, threadIdOfFile } from '../../src/core/sources/codex';
import { newReadCounts, type ReadContext } from '../../src/core/sources/source';
import type { UsageEvent } from '../../src/core/usage';
import { isolatedEnv, REPO, scanReport, sourceEngine, tempDir } from './helpers';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'codex');
const A = '0198f1a2-0000-7000-8000-00000000000a';
const B = '0198f1a2-0000-7000-8000-00000000000b';
const C = '0198f1a2-0000-7000-8000-00000000000c';
const D = '0198f1a2-0000-7000-8000-00000000000d';

/** An engine that reads only Codex, with CODEX_HOME at `home` and every other folder in a fresh temp dir. */
function engineAt(home: string, extra: NodeJS.ProcessEnv = {}): Engine {
  const env = isolatedEnv(path.join(tempDir('agent-spend-claude-'), 'none'), {
    CODEX_HOME: home,
    XDG_DATA_HOME: path.join(tempDir('agent-spend-xdg-'), 'data'),
    ...extra,
  });
  return sourceEngine([codexSource], env);
}

function reportOf(fixture: string) {
  return scanReport(engineAt(path.join(FIXTURES, fixture)));
}

function sessionsById(report: ReturnType<Engine['report']>) {
  return new Map(report.sessions.map((s) => [s.sessionId, s]));
}

// ---- lines shaped as Codex writes them, for the live tests --------------------------------------------------

const line = (timestamp: string, type: string, payload: unknown): string => JSON.stringify({ timestamp, type, payload });
const usage = (i: number, c: number, o: number, r = 0) => ({
  input_tokens: i,
  cached_input_tokens: c,
  output_tokens: o,
  reasoning_output_tokens: r,
  total_tokens: i + o,
});
const meta = (id: string, ts = '2026-07-09T08:00:00.000Z') =>
  line(ts, 'session_meta', { id, timestamp: ts, cwd: '/home/ana/src/shop', originator: 'codex_cli_rs', cli_version: '0.128.0', source: 'cli', model_provider: 'openai' });
const turn = (model: string, turnId = 'turn-1', ts = '2026-07-09T08:00:01.000Z') =>
  line(ts, 'turn_context', { turn_id: turnId, cwd: '/home/ana/src/shop', approval_policy: 'on-request', model, effort: 'medium', summary: 'auto' });
const tokens = (ts: string, total: ReturnType<typeof usage>, last: ReturnType<typeof usage>) =>
  line(ts, 'event_msg', { type: 'token_count', info: { total_token_usage: total, last_token_usage: last, model_context_window: 258400 }, rate_limits: null });

/** A temp CODEX_HOME with one dated rollout path for `id`. */
function codexTemp(id = A): { home: string; rollout: string } {
  const home = tempDir('agent-spend-codex-');
  const dir = path.join(home, 'sessions', '2026', '07', '09');
  fs.mkdirSync(dir, { recursive: true });
  return { home, rollout: path.join(dir, `rollout-2026-07-09T10-00-00-${id}.jsonl`) };
}

/** A zstd frame of raw (stored) blocks, RFC 8878 §3.1.1: what a decoder must read, with no compressor needed. */
function rawZstdFrame(data: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32LE(0xfd2fb528, 0);
  header[4] = 0xe0; // 8-byte Frame_Content_Size, Single_Segment, no checksum, no dictionary
  header.writeBigUInt64LE(BigInt(data.length), 5);
  const parts: Buffer[] = [header];
  let at = 0;
  do {
    const size = Math.min(128 * 1024, data.length - at);
    const block = Buffer.alloc(3);
    block.writeUIntLE((size << 3) | (at + size >= data.length ? 1 : 0), 0, 3); // Raw_Block, Last_Block flag
    parts.push(block, data.subarray(at, at + size));
    at += size;
  } while (at < data.length);
  return Buffer.concat(parts);
}

function readContext(events: UsageEvent[] = []): ReadContext {
  return { emit: (event) => events.push(event), counts: newReadCounts(), log: () => undefined };
}

// ---- traps --------------------------------------------------------------------------------------------------

describe('Codex traps', () => {
  it('spend is the difference of cumulative totals; input includes cached input, output includes reasoning', () => {
    const { engine, report } = reportOf('cumulative');
    assert.equal(report.totals.requests, 3);
    // Final total_token_usage: input 28500 (18360 of it cached), output 1210 (356 of it reasoning).
    assert.equal(report.totals.inputTokens, 28500 - 18360);
    assert.equal(report.totals.cacheReadTokens, 18360);
    assert.equal(report.totals.outputTokens, 1210);
    assert.equal(report.totals.cacheCreationTokens, 0);
    const records = engine.ledger.records().sort((a, b) => a.timestamp - b.timestamp);
    assert.deepEqual(
      records.map((r) => [r.inputTokens, r.cacheReadTokens, r.outputTokens]),
      [
        [9000, 0, 300],
        [540, 8960, 410],
        [600, 9400, 500],
      ],
    );
    assert.ok(records.every((r) => r.model === 'gpt-5' && !r.fast && !r.sidechain));
    // GPT-5: 1.25 input, 0.125 cached input, 10 output ($/MTok).
    const expected = (10140 * 1.25 + 18360 * 0.125 + 1210 * 10) / 1e6;
    assert.ok(Math.abs((report.totals.costUsd ?? 0) - expected) < 1e-9, `${report.totals.costUsd} vs ${expected}`);
    assert.equal(report.sessions[0].sessionId, A);
    assert.equal(report.sessions[0].project, '/home/ana/src/shop');
  });

  it('token_count events repeated with new rate limits (and info: null) bill nothing', () => {
    const { report, scan } = reportOf('repeated-token-count');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 8000 + 2000);
    assert.equal(report.totals.cacheReadTokens, 4000 + 11000);
    assert.equal(report.totals.outputTokens, 800 + 600);
    assert.equal(scan.malformedLines, 0);
  });

  it('a total that drops is a reset: no negative and no phantom spend', () => {
    const { engine, report } = reportOf('total-reset');
    const sessions = sessionsById(report);
    // Overflow: the total is rewritten to {total_tokens: window}; the marker bills nothing, the next step adds on.
    const overflow = sessions.get(A)!;
    assert.equal(overflow.requests, 3);
    assert.equal(overflow.inputTokens, 50000 + 5000 + 40000);
    assert.equal(overflow.cacheReadTokens, 150000 + 55000);
    assert.equal(overflow.outputTokens, 3000 + 2000 + 1500);
    // A counter that restarted: the step that dropped is its own last usage.
    const restarted = sessions.get(B)!;
    assert.equal(restarted.requests, 3);
    assert.equal(restarted.inputTokens, 5000 + 2000 + 500);
    assert.equal(restarted.cacheReadTokens, 1000 + 3500);
    assert.equal(restarted.outputTokens, 200 + 150 + 100);
    for (const r of engine.ledger.records()) {
      assert.ok(r.inputTokens >= 0 && r.outputTokens >= 0 && r.cacheReadTokens >= 0, JSON.stringify(r));
    }
  });

  it('a counter that started over is a reset even when its first step is larger than the old total in every count', () => {
    const { home, rollout } = codexTemp();
    fs.writeFileSync(
      rollout,
      [
        meta(A),
        turn('gpt-5'),
        tokens('2026-07-09T08:00:10.000Z', usage(1000, 0, 50), usage(1000, 0, 50)),
        // Resumed the next day by a build that does not re-seed the total: it starts over from this step alone.
        meta(A, '2026-07-10T09:00:00.000Z'),
        turn('gpt-5', 'turn-2', '2026-07-10T09:00:01.000Z'),
        tokens('2026-07-10T09:00:10.000Z', usage(3000, 1000, 150, 20), usage(3000, 1000, 150, 20)),
        tokens('2026-07-10T09:00:11.000Z', usage(3000, 1000, 150, 20), usage(3000, 1000, 150, 20)), // rate-limit repeat
        tokens('2026-07-10T09:00:30.000Z', usage(7000, 4500, 250, 20), usage(4000, 3500, 100, 0)),
      ].join('\n') + '\n',
    );
    const { report } = scanReport(engineAt(home));
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 1000 + 2000 + 500);
    assert.equal(report.totals.cacheReadTokens, 1000 + 3500);
    assert.equal(report.totals.outputTokens, 50 + 150 + 100);
  });

  it('the model comes from the latest turn_context; none is an unknown model; codex-auto-review is priced', () => {
    const { engine, report } = reportOf('model-from-turn-context');
    const byModel = new Map(engine.ledger.records().map((r) => [r.model, r]));
    assert.deepEqual([...byModel.keys()].sort(), ['(unknown model)', 'gpt-5.1-codex-max', 'gpt-5.2-codex', 'gpt-5.5']);
    assert.equal(byModel.get('gpt-5.2-codex')!.inputTokens, 5000);
    assert.equal(byModel.get('gpt-5.1-codex-max')!.outputTokens, 200);
    assert.equal(byModel.get('(unknown model)')!.costUsd, null);
    assert.equal(byModel.get('(unknown model)')!.inputTokens, 3000);
    const review = byModel.get('gpt-5.5')!;
    assert.ok(review.costUsd! > 0);
    assert.equal(review.sidechain, true, 'the auto-review runs as a subagent');
    assert.equal(review.sessionId, C);
    assert.equal(report.totals.unpricedRequests, 1);
  });

  it('a fork replays its parent: copied steps count once, in the parent; the child adds only its own', () => {
    const { engine, report } = reportOf('fork');
    assert.equal(report.totals.requests, 4);
    const sessions = sessionsById(report);
    assert.equal(sessions.get(A)?.requests, 3);
    assert.equal(sessions.get(B)?.requests, 1);
    assert.equal(report.totals.inputTokens, 8000 + 1100 + 800 + 1600);
    assert.equal(report.totals.cacheReadTokens, 7900 + 9200 + 7900);
    assert.equal(report.totals.outputTokens, 400 + 300 + 700 + 350);
    const child = engine.ledger.records().filter((r) => r.sessionId === B);
    assert.deepEqual(child.map((r) => [r.inputTokens, r.cacheReadTokens, r.outputTokens]), [[1600, 7900, 350]]);
    assert.equal(child[0].timestamp, Date.parse('2026-07-04T08:05:40.000Z'));
  });

  it('a fork read alone still counts the history it copied, once', () => {
    const home = tempDir('agent-spend-codex-');
    const rel = path.join('sessions', '2026', '07', '04', `rollout-2026-07-04T10-05-00-${B}.jsonl`);
    fs.mkdirSync(path.dirname(path.join(home, rel)), { recursive: true });
    fs.copyFileSync(path.join(FIXTURES, 'fork', rel), path.join(home, rel));
    const engine = engineAt(home);
    engine.scan();
    assert.equal(engine.report().totals.requests, 3);
    assert.equal(engine.report().totals.outputTokens, 400 + 300 + 350);
  });

  it('thread_spawn subagents replay the parent; siblings with identical usage stay apart', () => {
    const { engine, report } = reportOf('thread-spawn');
    assert.equal(report.totals.requests, 3 + 2 + 1);
    const sessions = sessionsById(report);
    assert.equal(sessions.get(A)?.requests, 3);
    assert.equal(sessions.get(B)?.requests, 2);
    assert.equal(sessions.get(C)?.requests, 1);
    assert.deepEqual(sessions.get(B)?.models, ['gpt-5.4']);
    assert.deepEqual(sessions.get(A)?.models, ['gpt-5.5']);
    assert.equal(report.totals.outputTokens, 500 + 300 + 900 + 250 + 150 + 250);
    for (const r of engine.ledger.records()) assert.equal(r.sidechain, r.sessionId !== A, r.sessionId);
  });

  it('an archived copy of a rollout is the same session, counted once', () => {
    const { engine, report } = reportOf('archived-copy');
    assert.equal(engine.discover().length, 2);
    assert.equal(report.totals.requests, 2);
    assert.equal(report.sessions.length, 1);
    assert.equal(report.totals.inputTokens, 11000 + 1100);
  });

  it('compressed history (.jsonl.zst) is read', () => {
    const { report, scan } = reportOf('compressed');
    assert.equal(scan.unreadable.length, 0);
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 15000 + 1100);
    assert.equal(report.totals.cacheReadTokens, 14900);
    assert.equal(report.totals.outputTokens, 1200);
    assert.equal(report.sessions[0].sessionId, D);
  });

  it('when x.jsonl and x.jsonl.zst both exist the plain file wins', () => {
    const { engine, report } = reportOf('plain-wins');
    assert.equal(engine.discover().length, 2);
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.inputTokens, 4000);
    assert.equal(report.totals.outputTokens, 100);
  });

  it('timestamps are the lines\' UTC times, not the local time in file and folder names', () => {
    const { engine } = reportOf('local-time-names');
    const [record] = engine.ledger.records();
    assert.equal(record.timestamp, Date.parse('2026-07-02T23:30:20.250Z'));
  });

  it('malformed lines are skipped and counted; a torn line that ran into the next record gives it back', () => {
    const { report, scan } = reportOf('malformed');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 1000 + 1000 + 200);
    assert.equal(report.totals.cacheReadTokens, 0 + 1000 + 800);
    assert.equal(report.totals.outputTokens, 100 + 200 + 100);
    // garbage, the torn line, the count that is not a number
    assert.equal(scan.malformedLines, 3);
    assert.equal(scan.recoveredLines, 1);
    assert.equal(scan.undatedLines, 1);
  });

  it('a second scan with nothing new adds nothing', () => {
    const engine = engineAt(path.join(FIXTURES, 'thread-spawn'));
    engine.scan();
    const before = engine.report().totals;
    const again = engine.scan();
    assert.equal(again.filesRead, 0);
    assert.equal(again.eventsAdded, 0);
    assert.equal(again.eventsReplaced, 0);
    assert.deepEqual(engine.report().totals, before);
  });
});

// ---- live files ---------------------------------------------------------------------------------------------

describe('Codex live rollouts', () => {
  it('an append is read from the offset: state (model, last total) carries over, totals move exactly once', () => {
    const { home, rollout } = codexTemp();
    fs.writeFileSync(rollout, [meta(A), turn('gpt-5.2-codex'), tokens('2026-07-09T08:00:10.000Z', usage(1000, 0, 50), usage(1000, 0, 50))].join('\n') + '\n');
    const engine = engineAt(home);
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
    const appended = [
      tokens('2026-07-09T08:00:11.000Z', usage(1000, 0, 50), usage(1000, 0, 50)), // rate-limit repeat
      tokens('2026-07-09T08:00:30.000Z', usage(2500, 900, 120), usage(1500, 900, 70)),
    ].join('\n') + '\n';
    fs.appendFileSync(rollout, appended);
    const scan = engine.scan();
    assert.equal(scan.bytesRead, Buffer.byteLength(appended));
    assert.equal(scan.eventsAdded, 1);
    const report = engine.report();
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 1000 + 600);
    assert.equal(report.totals.cacheReadTokens, 900);
    assert.equal(report.totals.outputTokens, 120);
    assert.deepEqual(report.sessions[0].models, ['gpt-5.2-codex']);
    assert.equal(engine.scan().filesRead, 0, 'an unchanged file is not opened again');
  });

  it('a torn last line waits for its newline, then counts once', () => {
    const { home, rollout } = codexTemp();
    const last = tokens('2026-07-09T08:00:30.000Z', usage(2000, 0, 100), usage(1000, 0, 50));
    fs.writeFileSync(rollout, [meta(A), turn('gpt-5'), tokens('2026-07-09T08:00:10.000Z', usage(1000, 0, 50), usage(1000, 0, 50)), last.slice(0, 90)].join('\n'));
    const engine = engineAt(home);
    const first = engine.scan();
    assert.equal(first.malformedLines, 0, 'a line still being written is not malformed');
    assert.equal(engine.report().totals.requests, 1);
    fs.appendFileSync(rollout, `${last.slice(90)}\n`);
    engine.scan();
    assert.equal(engine.report().totals.requests, 2);
    assert.equal(engine.report().totals.outputTokens, 100);
    // A whole last line without its newline counts now, and not again when the newline arrives.
    fs.appendFileSync(rollout, tokens('2026-07-09T08:00:50.000Z', usage(3000, 0, 160), usage(1000, 0, 60)));
    engine.scan();
    assert.equal(engine.report().totals.outputTokens, 160);
    fs.appendFileSync(rollout, '\n');
    const after = engine.scan();
    assert.equal(after.eventsAdded, 0);
    assert.equal(engine.report().totals.requests, 3);
    assert.equal(engine.report().totals.outputTokens, 160);
  });

  it('a rewritten file is read again from the start without counting anything twice', () => {
    const { home, rollout } = codexTemp();
    const lines = [meta(A), turn('gpt-5'), tokens('2026-07-09T08:00:10.000Z', usage(1000, 0, 50), usage(1000, 0, 50)), tokens('2026-07-09T08:00:20.000Z', usage(2000, 0, 90), usage(1000, 0, 40))];
    fs.writeFileSync(rollout, lines.join('\n') + '\n');
    const engine = engineAt(home);
    engine.scan();
    fs.writeFileSync(rollout, lines.slice(0, 3).join('\n') + '\n'); // shorter: replaced
    const scan = engine.scan();
    assert.equal(scan.filesRewritten, 1);
    assert.equal(scan.eventsAdded, 0);
    assert.equal(engine.report().totals.requests, 2);
    assert.equal(engine.report().totals.outputTokens, 90);
  });

  it('compressing a read rollout (plain file replaced by .zst) adds nothing; a watcher event on the plain path reads the .zst', () => {
    const { home, rollout } = codexTemp();
    const text = [meta(A), turn('gpt-5'), tokens('2026-07-09T08:00:10.000Z', usage(1000, 0, 50), usage(1000, 0, 50))].join('\n') + '\n';
    fs.writeFileSync(rollout, text);
    const engine = engineAt(home);
    engine.scan();
    fs.writeFileSync(`${rollout}.zst`, rawZstdFrame(Buffer.from(text)));
    assert.equal(engine.scan().eventsAdded, 0, 'the .zst is hidden by its plain sibling');
    fs.rmSync(rollout);
    assert.equal(codexSource.fileFor(rollout), `${rollout}.zst`);
    const watched = engine.scan([rollout]);
    assert.equal(watched.filesRead, 1);
    assert.equal(watched.eventsAdded, 0);
    assert.equal(engine.report().totals.requests, 1);
    // Materialised back to plain for an append: only the new step is added.
    fs.writeFileSync(rollout, text + tokens('2026-07-09T09:00:00.000Z', usage(1800, 900, 80), usage(800, 900, 30)) + '\n');
    fs.rmSync(`${rollout}.zst`);
    const resumed = engine.scan();
    assert.equal(resumed.eventsAdded, 1);
    assert.equal(engine.report().totals.requests, 2);
    assert.equal(engine.report().totals.outputTokens, 80);
  });

  it('a .zst that is not zstd is reported as unreadable, never fatal, and the rest is read', () => {
    const { home, rollout } = codexTemp();
    fs.writeFileSync(rollout, [meta(A), turn('gpt-5'), tokens('2026-07-09T08:00:10.000Z', usage(1000, 0, 50), usage(1000, 0, 50))].join('\n') + '\n');
    const archived = path.join(home, 'archived_sessions');
    fs.mkdirSync(archived);
    const broken = path.join(archived, `rollout-2026-07-01T10-00-00-${B}.jsonl.zst`);
    fs.writeFileSync(broken, 'this is not zstd at all');
    const engine = engineAt(home);
    const scan = engine.scan();
    assert.deepEqual(scan.unreadable.map((u) => u.path), [broken]);
    assert.match(scan.unreadable[0].error, /zstd/);
    assert.equal(engine.report().totals.requests, 1);
    assert.ok(engine.report().warnings.some((w) => w.includes(broken)));
  });

  it('an unreadable path (a folder with a rollout name) returns an error instead of throwing', () => {
    const { rollout } = codexTemp();
    fs.mkdirSync(rollout);
    fs.mkdirSync(`${rollout}.zst`);
    const plain = codexSource.read(rollout, undefined, readContext());
    assert.equal(plain.cursor, undefined);
    assert.equal(plain.errorCode, 'EISDIR');
    fs.rmdirSync(rollout);
    const compressed = codexSource.read(`${rollout}.zst`, undefined, readContext());
    assert.equal(compressed.cursor, undefined);
    assert.ok(compressed.error);
  });

  it('only event_msg token_count lines bill: other lines that look like usage do not', () => {
    const { home, rollout } = codexTemp();
    const fake = { type: 'token_count', info: { total_token_usage: usage(90000, 0, 900), last_token_usage: usage(90000, 0, 900) } };
    fs.writeFileSync(
      rollout,
      [
        meta(A),
        turn('gpt-5'),
        line('2026-07-09T08:00:05.000Z', 'response_item', fake),
        line('2026-07-09T08:00:06.000Z', 'response_item', { type: 'function_call_output', call_id: 'c1', output: tokens('2026-07-09T08:00:06.000Z', usage(80000, 0, 800), usage(80000, 0, 800)) }),
        line('2026-07-09T08:00:07.000Z', 'compacted', { message: 'summary', replacement_history: [fake] }),
        tokens('2026-07-09T08:00:10.000Z', usage(1000, 0, 50), usage(1000, 0, 50)),
      ].join('\n') + '\n',
    );
    const engine = engineAt(home);
    const scan = engine.scan();
    assert.equal(scan.malformedLines, 0);
    assert.equal(engine.report().totals.requests, 1);
    assert.equal(engine.report().totals.inputTokens, 1000);
  });

  it('a rollout without session_meta takes its session from the file name', () => {
    const { home, rollout } = codexTemp(D);
    fs.writeFileSync(rollout, [turn('gpt-5'), tokens('2026-07-09T08:00:10.000Z', usage(1000, 0, 50), usage(1000, 0, 50))].join('\n') + '\n');
    const engine = engineAt(home);
    engine.scan();
    const [session] = engine.report().sessions;
    assert.equal(session.sessionId, D);
    assert.equal(session.project, '/home/ana/src/shop', 'the turn_context cwd');
    assert.equal(threadIdOfFile(`${rollout}.zst`), D);
  });
});

describe('zstd', () => {
  const committed = fs.readFileSync(
    path.join(FIXTURES, 'compressed', 'archived_sessions', `rollout-2026-07-07T10-00-00-${D}.jsonl.zst`),
  );

  it('fzstd reads frames made by the zstd command and raw-block frames', () => {
    const text = decompressZstd(committed, undefined).toString('utf8');
    assert.match(text, /^\{"timestamp":"2026-07-07T08:00:00.000Z","type":"session_meta"/);
    const big = Buffer.from('x'.repeat(300 * 1024) + '\n'); // three raw blocks
    assert.deepEqual(decompressZstd(rawZstdFrame(big), undefined), big);
  });

  it('the native decoder is used when Node has one', () => {
    let called = false;
    const native = (data: Buffer): Buffer => {
      called = true;
      return data;
    };
    decompressZstd(Buffer.from('abc'), native);
    assert.equal(called, true);
  });

  it('garbage is an error that says so', () => {
    assert.throws(() => decompressZstd(Buffer.from('nope'), undefined), /not a readable zstd file/);
  });
});

// ---- where the logs are -------------------------------------------------------------------------------------

describe('Codex log locations', () => {
  it('CODEX_HOME replaces the default', () => {
    assert.deepEqual(codexRoots({ env: { CODEX_HOME: '/cfg/codex', HOME: '/home/ana' }, platform: 'linux' }), [
      '/cfg/codex/sessions',
      '/cfg/codex/archived_sessions',
    ]);
    assert.equal(codexHome({ env: { CODEX_HOME: '  ', HOME: '/home/ana' }, platform: 'linux' }), '/home/ana/.codex');
  });

  it('~/.codex on Linux and macOS', () => {
    for (const platform of ['linux', 'darwin'] as const) {
      assert.deepEqual(codexRoots({ env: { HOME: '/home/ana', XDG_CONFIG_HOME: '/xdg' }, platform }), [
        '/home/ana/.codex/sessions',
        '/home/ana/.codex/archived_sessions',
      ]);
    }
  });

  it('%USERPROFILE%\\.codex on Windows, whatever HOME says', () => {
    assert.deepEqual(codexRoots({ env: { USERPROFILE: 'C:\\Users\\ana', HOME: '/c/Users/ana' }, platform: 'win32' }), [
      'C:\\Users\\ana\\.codex\\sessions',
      'C:\\Users\\ana\\.codex\\archived_sessions',
    ]);
    assert.deepEqual(codexRoots({ env: { CODEX_HOME: 'D:\\codex', USERPROFILE: 'C:\\Users\\ana' }, platform: 'win32' }), [
      'D:\\codex\\sessions',
      'D:\\codex\\archived_sessions',
    ]);
  });

  it('extra folders are read too', () => {
    assert.deepEqual(codexRoots({ env: { HOME: '/home/ana' }, platform: 'linux', extraDirs: ['/mnt/old/.codex'] }).at(-1), '/mnt/old/.codex');
    const extra = path.join(FIXTURES, 'cumulative'); // a whole Codex home, named as an extra folder
    const env = isolatedEnv(path.join(tempDir(), 'none'), { CODEX_HOME: path.join(tempDir(), 'empty') });
    const engine = new Engine({ env, stateDir: null, sources: [codexSource], agents: { codex: { folders: [extra] } } });
    engine.scan();
    assert.equal(engine.report().totals.requests, 3);
  });

  it('only rollout files are read; the watcher path of one maps to itself', () => {
    assert.equal(codexSource.walk.isWanted(`rollout-2026-07-02T10-00-00-${A}.jsonl`), true);
    assert.equal(codexSource.walk.isWanted(`rollout-2026-07-02T10-00-00-${A}.jsonl.zst`), true);
    assert.equal(codexSource.walk.isWanted('history.jsonl'), false);
    assert.equal(codexSource.walk.isWanted('rollout-x.json'), false);
    assert.equal(codexSource.fileFor('/h/.codex/sessions/2026/07/02/notes.txt'), undefined);
    const live = path.join(FIXTURES, 'cumulative', 'sessions', '2026', '07', '02', `rollout-2026-07-02T10-00-00-${A}.jsonl`);
    assert.equal(codexSource.fileFor(live), live);
  });
});
