// Aider's chat history and analytics log (../shared/formats/agent-logs.md §6): one test per trap, each on its own
// fixture folder under test/fixtures/aider/ (made by test/fixtures/make-aider-fixtures.mjs), used as the workspace
// folder. The session headers are local wall-clock times and the fixtures' analytics times read them as UTC.
process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { aiderRoots, aiderSource, HISTORY_FILE, parseTokenFigure, parseUsageReport, refreshAnalyticsLog } from '../../src/core/sources/aider';
import { newReadCounts, type ReadContext } from '../../src/core/sources/source';
import { copyDir, isolatedEnv, REPO, scanReport, sourceEngine, tempDir } from './helpers';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'aider');

/** An engine that reads only Aider, in the workspace folder `workspace` (HOME is an empty temp folder). */
function engineAt(workspace: string, env: NodeJS.ProcessEnv = {}, folders?: string[]): Engine {
  return sourceEngine([aiderSource], isolatedEnv(tempDir(), env), {
    workspaceFolders: [workspace],
    ...(folders ? { agents: { aider: { folders } } } : {}),
  });
}

function reportOf(trap: string, env: NodeJS.ProcessEnv = {}) {
  return scanReport(engineAt(path.join(FIXTURES, trap), env));
}

/** A writable copy of a fixture folder. */
function copyOf(trap: string): string {
  return copyDir(path.join(FIXTURES, trap), 'agent-spend-aider-');
}

function near(actual: number | null | undefined, expected: number): void {
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) < 1e-9, `${actual} vs ${expected}`);
}

const localMs = (text: string): number => {
  const [d, t] = text.split(' ');
  const [y, mo, day] = d.split('-').map(Number);
  const [h, mi, s] = t.split(':').map(Number);
  return new Date(y, mo - 1, day, h, mi, s).getTime();
};

describe('Aider traps', () => {
  it('rounded "k" figures are read as printed; a run costs its last session figure, not the sum of rounded messages', () => {
    const { report } = reportOf('rounded-figures');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 9800 + 12000 + 1234000);
    assert.equal(report.totals.outputTokens, 412 + 310 + 2100);
    // $0.01 + $0.01 + $3.74 printed per message; the session figure says $3.77.
    near(report.totals.costUsd, 3.77);
    const [session] = report.sessions;
    assert.equal(session.agent, 'aider');
    assert.equal(session.project, path.join(FIXTURES, 'rounded-figures'));
    assert.equal(session.sessionId, 'rounded-figures@2026-07-04 14:02:11');
    assert.deepEqual(session.models, ['claude-sonnet-4-20250514']);
    assert.equal(Date.parse(session.firstAt), localMs('2026-07-04 14:02:11'));
  });

  it('figures: exact below 1000, ±50 with one decimal, ±500 in whole thousands, commas in older releases', () => {
    assert.deepEqual(parseTokenFigure('310'), { text: '310', value: 310, lo: 310, hi: 310 });
    assert.deepEqual(parseTokenFigure('9.8k'), { text: '9.8k', value: 9800, lo: 9750, hi: 9850 });
    assert.deepEqual(parseTokenFigure('12k'), { text: '12k', value: 12000, lo: 11500, hi: 12500 });
    assert.deepEqual(parseTokenFigure('1,234'), { text: '1,234', value: 1234, lo: 1234, hi: 1234 });
    assert.equal(parseTokenFigure('12M'), undefined);
    assert.equal(parseUsageReport('> Tokens: lots sent, 3 received.'), undefined);
  });

  it('each "# aider chat started at" is a session of its own; the session cost starts again, /clear changes nothing', () => {
    const { report } = reportOf('sessions');
    assert.equal(report.sessions.length, 2);
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 2000 + 1100 + 3000);
    near(report.totals.costUsd, 0.02 + 0.02);
    const bySession = new Map(report.sessions.map((s) => [s.sessionId, s]));
    near(bySession.get('sessions@2026-07-05 09:00:00')?.costUsd, 0.02);
    near(bySession.get('sessions@2026-07-05 15:30:00')?.costUsd, 0.02);
  });

  it('two runs writing one transcript at once: a report costs its own growth, never the other run\'s total', () => {
    const workspace = tempDir('agent-spend-aider-');
    // Run A started first and has spent $5.00; run B starts in the same repo (aider appends to one file).
    fs.writeFileSync(
      path.join(workspace, HISTORY_FILE),
      [
        '# aider chat started at 2026-07-06 09:00:00',
        '',
        '> Main model: claude-sonnet-4-20250514 with diff edit format',
        '> Tokens: 20k sent, 2.0k received. Cost: $5.00 message, $5.00 session.  ',
        '',
        '# aider chat started at 2026-07-06 09:30:00',
        '',
        '> Main model: claude-sonnet-4-20250514 with diff edit format',
        '> Tokens: 1.0k sent, 100 received. Cost: $0.10 message, $0.10 session.  ',
        // A's next report, printed by run A after B's header.
        '> Tokens: 2.0k sent, 200 received. Cost: $0.05 message, $5.05 session.  ',
        '',
      ].join('\n'),
    );
    const { report } = scanReport(engineAt(workspace));
    assert.equal(report.totals.requests, 3);
    near(report.totals.costUsd, 5.0 + 0.1 + 0.05);
  });

  it('"sent" includes the cache write; the cost on its own line (cache write and hit both present) is still read', () => {
    const { report } = reportOf('cache-split');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 12000 - 1500 + (3200 - 2900));
    assert.equal(report.totals.cacheCreationTokens, 1500 + 2900);
    assert.equal(report.totals.cacheReadTokens, 8000);
    assert.equal(report.totals.outputTokens, 310 + 412);
    near(report.totals.costUsd, 0.03);
  });

  it("DeepSeek's \"sent\" includes its cache hits: they are not counted twice", () => {
    const { report } = reportOf('deepseek-cache');
    assert.equal(report.totals.inputTokens, 5000);
    assert.equal(report.totals.cacheReadTokens, 15000);
    assert.equal(report.totals.outputTokens, 500);
    near(report.totals.costUsd, 0.0032);
  });

  it('a model aider has no price for prints no cost: the request counts, its cost is unknown (not zero)', () => {
    const { report } = reportOf('no-cost');
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.inputTokens, 2200);
    assert.equal(report.totals.unpricedRequests, 1);
    assert.equal(report.totals.costUsd, null);
    assert.deepEqual(report.sessions[0].models, ['qwen2.5-coder:32b']);
  });

  it('older releases: "Models:" header, thousands separators and "request" costs', () => {
    const { report } = reportOf('old-format');
    assert.equal(report.totals.inputTokens, 1234);
    assert.equal(report.totals.outputTokens, 56);
    near(report.totals.costUsd, 0.0046);
    assert.deepEqual(report.sessions[0].models, ['claude-3-5-sonnet-20240620']);
  });

  it('a report before any session header is counted as undated, not given a made-up time', () => {
    const { report, scan } = reportOf('no-header');
    assert.equal(scan.undatedLines, 1);
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.outputTokens, 20);
  });

  it('/model mid-run: later reports are the new model (provider prefixes dropped for pricing)', () => {
    const { engine } = reportOf('model-switch');
    const models = engine.ledger.records().sort((a, b) => a.timestamp - b.timestamp).map((r) => r.model);
    assert.deepEqual(models, ['claude-sonnet-4-20250514', 'gpt-4o']);
  });

  it('with the analytics log next to the transcript, every report has its exact figures and cost', () => {
    const { report, engine } = reportOf('analytics-matched');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 9812 + 11733 + (14290 - 2000));
    assert.equal(report.totals.outputTokens, 412 + 1487 + 220);
    assert.equal(report.totals.cacheCreationTokens, 2000);
    assert.equal(report.totals.cacheReadTokens, 9500);
    near(report.totals.costUsd, 0.1143);
    const times = engine.ledger.records().map((r) => r.timestamp).sort();
    assert.deepEqual(times, [90, 180, 240].map((s) => localMs('2026-07-10 11:00:00') + s * 1000));
  });

  it('live: a report read before its analytics event is the lowest estimate; the exact event then replaces it', () => {
    const dir = copyOf('analytics-live');
    const engine = engineAt(dir);
    engine.scan();
    let totals = engine.report().totals;
    assert.equal(totals.requests, 1);
    assert.equal(totals.inputTokens, 11500);
    assert.equal(totals.outputTokens, 310);
    near(totals.costUsd, 0.05);

    fs.appendFileSync(path.join(dir, '.aider.analytics.jsonl'), fs.readFileSync(path.join(dir, 'message_send.jsonl.txt')));
    const scan = engine.scan();
    assert.equal(scan.eventsAdded, 0);
    assert.equal(scan.eventsReplaced, 1);
    totals = engine.report().totals;
    assert.equal(totals.requests, 1);
    assert.equal(totals.inputTokens, 11733);
    assert.equal(totals.outputTokens, 310);
    near(totals.costUsd, 0.0471);
    const again = engine.scan();
    assert.equal(again.eventsAdded + again.eventsReplaced, 0);
    assert.equal(again.filesRead, 0);
  });

  it('live, through the watcher: a change of the analytics log makes the transcript next to it read again', () => {
    const dir = copyOf('analytics-live');
    const engine = engineAt(dir);
    engine.scan();
    const log = path.join(dir, '.aider.analytics.jsonl');
    fs.appendFileSync(log, fs.readFileSync(path.join(dir, 'message_send.jsonl.txt')));
    assert.equal(engine.route(log)?.file, path.join(dir, HISTORY_FILE));
    const scan = engine.scan([log]);
    assert.equal(scan.eventsReplaced, 1);
    assert.equal(engine.report().totals.inputTokens, 11733);
  });

  it('a global analytics log named by $AIDER_ANALYTICS_LOG is used as well', () => {
    const env = { AIDER_ANALYTICS_LOG: path.join(FIXTURES, 'analytics-env', 'logs', 'aider-events.jsonl') };
    const engine = engineAt(path.join(FIXTURES, 'analytics-env', 'project'), env);
    engine.scan();
    const totals = engine.report().totals;
    assert.equal(totals.inputTokens, 5066);
    assert.equal(totals.outputTokens, 1021);
    near(totals.costUsd, 0.0305);
  });

  it('a JSONL file that only has "analytics" in its name is not read as an aider analytics log', () => {
    const dir = copyOf('rounded-figures');
    const without = scanReport(engineAt(copyOf('rounded-figures'))).report.totals;
    // Another tool's events, shaped enough like aider's to match the transcript's reports if they were taken.
    const start = Date.parse('2026-07-04T14:02:11Z') / 1000;
    const sales = path.join(dir, 'sales-analytics.jsonl');
    const line = (event: string, time: number, properties: Record<string, unknown> = {}) => JSON.stringify({ event, properties, time });
    fs.writeFileSync(
      sales,
      [
        line('launched', start + 1, { region: 'emea' }),
        line('message_send', start + 60, { prompt_tokens: 9812, completion_tokens: 412, cost: 0.0123 }),
        line('message_send', start + 120, { prompt_tokens: 12400, completion_tokens: 310, cost: 0.0139 }),
        'not json at all',
        '',
      ].join('\n'),
    );
    const engine = engineAt(dir);
    const { scan, report } = scanReport(engine);
    assert.deepEqual(report.totals, without);
    assert.equal(report.totals.inputTokens, 9800 + 12000 + 1234000);
    assert.equal(scan.malformedLines, 0);
    // Nothing of it is kept, and a change of it does not send the engine to the transcript.
    assert.equal(refreshAnalyticsLog(sales), undefined);
    assert.equal(aiderSource.fileFor(sales), undefined);
    fs.appendFileSync(sales, line('message_send', start + 130, { prompt_tokens: 1, completion_tokens: 1 }) + '\n');
    const again = engine.scan();
    assert.equal(again.eventsAdded + again.eventsReplaced, 0);
    assert.deepEqual(engine.report().totals, without);
  });

  it('a log whose first line is an aider event is used whatever its name says; one named by $AIDER_ANALYTICS_LOG always', () => {
    const dir = copyOf('analytics-matched');
    fs.renameSync(path.join(dir, '.aider.analytics.jsonl'), path.join(dir, 'team-analytics.jsonl'));
    assert.equal(scanReport(engineAt(dir)).report.totals.inputTokens, 9812 + 11733 + (14290 - 2000));
    assert.equal(aiderSource.fileFor(path.join(dir, 'team-analytics.jsonl')), path.join(dir, HISTORY_FILE));
  });

  it('an analytics log is read a chunk at a time: lines across chunks, a torn last line, an overlong line', () => {
    const dir = tempDir('agent-spend-aider-');
    const file = path.join(dir, '.aider.analytics.jsonl');
    const event = (name: string, time: number, properties: Record<string, unknown> = {}) =>
      JSON.stringify({ event: name, properties: { ...properties, aider_version: '0.86.1' }, user_id: 'u', time }) + '\n';
    const lines = [event('launched', 1_783_000_000)];
    for (let i = 0; i < 3000; i++) lines.push(event('message_send', 1_783_000_001 + i, { prompt_tokens: i, completion_tokens: 1, note: 'x'.repeat(i % 500) }));
    lines.push(JSON.stringify({ event: 'message_send', properties: { note: 'y'.repeat(100_000) }, time: 1 }) + '\n');
    fs.writeFileSync(file, lines.join(''));
    assert.ok(fs.statSync(file).size > 1_000_000);
    const counts = newReadCounts();
    assert.equal(refreshAnalyticsLog(file, counts)?.sends.length, 3000);
    const torn = event('message_send', 1_783_009_999, { prompt_tokens: 7, completion_tokens: 7 });
    fs.appendFileSync(file, torn.slice(0, 20));
    assert.equal(refreshAnalyticsLog(file, counts)?.sends.length, 3000);
    fs.appendFileSync(file, torn.slice(20));
    const log = refreshAnalyticsLog(file, counts);
    assert.equal(log?.sends.length, 3001);
    assert.equal(log?.sends.at(-1)?.prompt, 7);
    assert.equal(log?.launches.length, 1);
    assert.equal(counts.malformedLines, 0);
  });

  it('$AIDER_CHAT_HISTORY_FILE names the transcript (relative to the project)', () => {
    const { report } = reportOf('custom-history-name', { AIDER_CHAT_HISTORY_FILE: 'notes/chat-log.md' });
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.outputTokens, 70);
    near(report.totals.costUsd, 0.01);
  });

  it('appended reports count once; a torn last line waits for its newline; a second scan adds nothing', () => {
    const dir = copyOf('rounded-figures');
    const file = path.join(dir, HISTORY_FILE);
    const engine = engineAt(dir);
    engine.scan();
    assert.equal(engine.report().totals.requests, 3);

    fs.appendFileSync(file, '#### and the tax  \n\n> Tokens: lots sent, 3 received.  \nDone.\n\n> Tokens: 5.0k sent, 100 rec');
    const torn = engine.scan();
    assert.equal(torn.eventsAdded, 0);
    assert.equal(torn.malformedLines, 1);
    fs.appendFileSync(file, 'eived. Cost: $0.02 message, $3.79 session.  \n');
    const scan = engine.scan();
    assert.equal(scan.eventsAdded, 1);
    const report = engine.report();
    assert.equal(report.totals.requests, 4);
    assert.equal(report.totals.inputTokens, 1255800 + 5000);
    near(report.totals.costUsd, 3.79);
    // A report that arrives while reading live is dated by the write, not by the session start.
    const last = engine.ledger.records().find((r) => r.inputTokens === 5000);
    assert.equal(last?.timestamp, fs.statSync(file).mtimeMs);
    const again = engine.scan();
    assert.equal(again.eventsAdded + again.eventsReplaced + again.filesRead, 0);
  });

  it('a rewritten transcript is read again without counting anything twice', () => {
    const dir = copyOf('sessions');
    const file = path.join(dir, HISTORY_FILE);
    const engine = engineAt(dir);
    engine.scan();
    const text = fs.readFileSync(file, 'utf8');
    // Shorter than what was read (aider never does this, an editor might): read again from the start.
    fs.writeFileSync(file, text.replace('#### /clear  \n\n', ''));
    const scan = engine.scan();
    assert.equal(scan.filesRewritten, 1);
    assert.equal(scan.eventsAdded, 0);
    assert.equal(engine.report().totals.requests, 3);
  });

  it('an unreadable path is reported, not thrown', () => {
    const dir = tempDir();
    const context: ReadContext = { emit: () => assert.fail('no event'), counts: newReadCounts(), log: () => undefined };
    const read = aiderSource.read(path.join(dir, HISTORY_FILE), undefined, context);
    assert.equal(read.errorCode, 'ENOENT');
    fs.mkdirSync(path.join(dir, 'sub', HISTORY_FILE), { recursive: true });
    const directory = aiderSource.read(path.join(dir, 'sub', HISTORY_FILE), undefined, context);
    assert.ok(directory.error);
    assert.equal(directory.cursor, undefined);
  });

  it('roots: the workspace folders, the named folders, and the folders of $AIDER_CHAT_HISTORY_FILE / $AIDER_ANALYTICS_LOG', () => {
    for (const platform of ['linux', 'darwin', 'win32'] as const) {
      assert.deepEqual(aiderRoots({ env: { HOME: '/h' }, platform, workspaceFolders: ['/w/shop'], extraDirs: ['/more'] }), ['/w/shop', '/more']);
    }
    assert.deepEqual(
      aiderRoots({ env: { HOME: '/h', AIDER_CHAT_HISTORY_FILE: 'notes/chat.md', AIDER_ANALYTICS_LOG: '/logs/aider.jsonl' }, workspaceFolders: ['/w/shop'] }),
      ['/w/shop', path.resolve('/w/shop', 'notes'), '/logs'],
    );
    assert.deepEqual(aiderRoots({ env: { HOME: '/h' } }), []);
    assert.equal(aiderSource.fileFor('/w/shop/notes/chat.md'), '/w/shop/notes/chat.md');
    assert.equal(aiderSource.fileFor('/w/shop/README.md'), undefined);
  });
});
