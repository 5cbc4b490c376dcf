// Amp's thread files (../shared/formats/agent-logs.md §7): one test per trap, each on its own fixture folder under
// test/fixtures/amp/ (made by test/fixtures/make-amp-fixtures.mjs), used as AMP_DATA_DIR.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { ampRoots, ampSource } from '../../src/core/sources/amp';
import { newReadCounts, type ReadContext } from '../../src/core/sources/source';
import { isolatedEnv, REPO, scanReport, sourceEngine, tempDir } from './helpers';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'amp');
const THREAD = 'T-019ba25f-c9f7-752e-9a1c-ea44dcd3eea4';

/** An engine that reads only Amp, with AMP_DATA_DIR at `dataDir` (HOME is an empty temp folder). */
function engineAt(dataDir: string): Engine {
  return sourceEngine([ampSource], isolatedEnv(tempDir(), { AMP_DATA_DIR: dataDir }));
}

function reportOf(trap: string) {
  return scanReport(engineAt(path.join(FIXTURES, trap)));
}

function near(actual: number | null, expected: number): void {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${actual} vs ${expected}`);
}

describe('Amp traps', () => {
  it("message usage is Anthropic's partition (totalInputTokens is not added again); credits are the reported cost", () => {
    const { report, engine } = reportOf('message-usage');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 22);
    assert.equal(report.totals.outputTokens, 400);
    assert.equal(report.totals.cacheCreationTokens, 7304);
    assert.equal(report.totals.cacheReadTokens, 39646);
    near(report.totals.costUsd, 0.0912 + 0.0301);
    assert.ok(engine.ledger.records().every((r) => r.costProvenance === 'reported'));
    const [session] = report.sessions;
    assert.equal(session.agent, 'amp');
    assert.equal(session.sessionId, THREAD);
    assert.equal(session.project, '/home/ana/src/my shop');
    assert.equal(session.firstAt, '2026-07-10T10:00:05.000Z');
  });

  it('legacy threads: the usage ledger alone (input and output, no cache split)', () => {
    const { report } = reportOf('ledger-only');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 130);
    assert.equal(report.totals.outputTokens, 55);
    assert.equal(report.totals.cacheReadTokens, 0);
    near(report.totals.costUsd, 1.75);
  });

  it('a ledger event and a message for the same request count once, with the split and the credits', () => {
    const { report } = reportOf('ledger-and-messages');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 100 + 40 + 300);
    assert.equal(report.totals.outputTokens, 50 + 20 + 10);
    assert.equal(report.totals.cacheCreationTokens, 500);
    assert.equal(report.totals.cacheReadTokens, 200 + 900);
    near(report.totals.costUsd, 0.75 + 0.4 + 0.01);
  });

  it('a message re-run after an edit is a new request; a message copied into a forked thread is not', () => {
    const { report } = reportOf('rerun-and-fork');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.outputTokens, 120 + 100 + 60);
    near(report.totals.costUsd, 0.03 + 0.02 + 0.01);
  });

  it("usage without a timestamp takes the thread's creation time; with no time at all it is counted as undated", () => {
    const { report, scan, engine } = reportOf('timestamps');
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.outputTokens, 70);
    assert.equal(engine.ledger.records()[0].timestamp, 1783674000000);
    assert.equal(scan.undatedLines, 1);
  });

  it('a thread caught mid-write or not a thread is counted and skipped; other JSON files are not read', () => {
    const { report, scan } = reportOf('damaged');
    assert.equal(scan.filesSeen, 3);
    assert.equal(scan.malformedLines, 2);
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.outputTokens, 4);
  });

  it('a thread rewritten whole moves the totals by what is new, exactly once', () => {
    const dataDir = tempDir('agent-spend-amp-');
    const file = path.join(dataDir, 'threads', `${THREAD}.json`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const thread = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'message-usage', 'threads', `${THREAD}.json`), 'utf8'));
    fs.writeFileSync(file, JSON.stringify(thread));
    const engine = engineAt(dataDir);
    engine.scan();
    assert.equal(engine.report().totals.requests, 2);

    // Amp fills in the last message's usage and bumps the version: one more request.
    thread.v++;
    thread.messages[4].usage = { model: 'claude-sonnet-4-5-20250929', inputTokens: 5, outputTokens: 50, cacheCreationInputTokens: 0, cacheReadInputTokens: 23500, totalInputTokens: 23505, credits: 0.01, timestamp: '2026-07-10T10:02:00.000Z' };
    fs.writeFileSync(file, JSON.stringify(thread, null, 1));
    const scan = engine.scan();
    assert.equal(scan.eventsAdded, 1);
    assert.equal(scan.eventsReplaced, 0);
    assert.equal(engine.report().totals.outputTokens, 450);
    near(engine.report().totals.costUsd, 0.1313);

    const again = engine.scan();
    assert.equal(again.filesRead, 0);
    // The same content written again (a new mtime): read, but nothing moves.
    fs.writeFileSync(file, JSON.stringify(thread));
    const rewritten = engine.scan();
    assert.equal(rewritten.filesRead, 1);
    assert.equal(rewritten.eventsAdded + rewritten.eventsReplaced, 0);
    assert.equal(engine.report().totals.requests, 3);
  });

  describe('a request with both a message usage and a ledger event, written in either order, counts once', () => {
    const FORK = 'T-019ba25f-ffff-752e-9a1c-ea44dcd3eea4';
    const SONNET = 'claude-sonnet-4-5-20250929';
    const user = (messageId: number) => ({ role: 'user', messageId, content: [{ type: 'text', text: 'go' }] });
    const usage = (input: number, output: number, read: number, timestamp: string, credits?: number) => ({
      model: SONNET, inputTokens: input, outputTokens: output, cacheCreationInputTokens: 0, cacheReadInputTokens: read,
      totalInputTokens: input + read, ...(credits === undefined ? {} : { credits }), timestamp,
    });
    const assistant = (messageId: number, withUsage?: object) => ({ role: 'assistant', messageId, content: [{ type: 'text', text: 'ok' }], ...(withUsage ? { usage: withUsage } : {}) });
    // Message 1 is named by its ledger event; message 3's event names no message (matched by model and counts).
    const messages = (withUsage: boolean) => [
      user(0),
      assistant(1, withUsage ? usage(100, 50, 500, '2026-01-05T10:00:01.000Z', 0.75) : undefined),
      user(2),
      assistant(3, withUsage ? usage(40, 20, 900, '2026-01-05T10:02:01.000Z', 0.4) : undefined),
    ];
    const ledger = { events: [
      { id: 'evt-a', timestamp: '2026-01-05T10:00:02.000Z', model: SONNET, credits: 0.75, tokens: { input: 100, output: 50 }, fromMessageId: 0, toMessageId: 1 },
      { id: 'evt-b', timestamp: '2026-01-05T10:02:02.000Z', model: SONNET, credits: 0.4, tokens: { input: 40, output: 20 } },
    ] };
    const thread = (id: string, o: { usage: boolean; ledger: boolean }) => ({
      v: 1, id, created: 1783670400000, messages: messages(o.usage), ...(o.ledger ? { usageLedger: ledger } : {}),
      env: { initial: { trees: [{ uri: 'file:///home/ana/src/shop' }] } },
    });
    function threads(): { dataDir: string; write: (id: string, value: object) => void } {
      const dataDir = tempDir('agent-spend-amp-');
      fs.mkdirSync(path.join(dataDir, 'threads'));
      return { dataDir, write: (id, value) => fs.writeFileSync(path.join(dataDir, 'threads', `${id}.json`), JSON.stringify(value)) };
    }
    /** The totals of a first read of the thread as it ends up, usage and ledger both in it. */
    const fromScratch = () => {
      const { dataDir, write } = threads();
      write(THREAD, thread(THREAD, { usage: true, ledger: true }));
      return scanReport(engineAt(dataDir)).report.totals;
    };

    it('usage first, the ledger in a later save of the thread', () => {
      const { dataDir, write } = threads();
      write(THREAD, thread(THREAD, { usage: true, ledger: false }));
      const engine = engineAt(dataDir);
      engine.scan();
      assert.equal(engine.report().totals.requests, 2);
      write(THREAD, { ...thread(THREAD, { usage: true, ledger: true }), v: 2 });
      const scan = engine.scan();
      assert.equal(scan.filesRead, 1);
      assert.equal(scan.eventsAdded, 0);
      const totals = engine.report().totals;
      assert.equal(totals.requests, 2);
      assert.equal(totals.outputTokens, 70);
      assert.equal(totals.cacheReadTokens, 1400);
      assert.deepEqual(totals, fromScratch());
    });

    it('the ledger first (messages without usage yet), the usage in a later save', () => {
      const { dataDir, write } = threads();
      write(THREAD, thread(THREAD, { usage: false, ledger: true }));
      const engine = engineAt(dataDir);
      engine.scan();
      assert.equal(engine.report().totals.requests, 2);
      near(engine.report().totals.costUsd, 0.75 + 0.4);
      write(THREAD, { ...thread(THREAD, { usage: true, ledger: true }), v: 2 });
      const scan = engine.scan();
      assert.equal(scan.filesRead, 1);
      assert.equal(scan.eventsAdded, 0);
      const totals = engine.report().totals;
      assert.equal(totals.requests, 2);
      assert.equal(totals.outputTokens, 70);
      assert.equal(totals.cacheReadTokens, 1400);
      near(totals.costUsd, 0.75 + 0.4);
      assert.deepEqual(totals, fromScratch());
      // Saved again (a new version, nothing new): still once.
      write(THREAD, { ...thread(THREAD, { usage: true, ledger: true }), v: 3 });
      assert.equal(engine.scan().eventsAdded, 0);
      assert.equal(engine.report().totals.requests, 2);
    });

    it('an edit removes a message (its ledger event stays): nothing moves; the re-run is one request more', () => {
      const { dataDir, write } = threads();
      write(THREAD, thread(THREAD, { usage: true, ledger: true }));
      const engine = engineAt(dataDir);
      engine.scan();
      const before = engine.report().totals;
      const edited = thread(THREAD, { usage: true, ledger: true });
      edited.messages = edited.messages.slice(0, 3);
      write(THREAD, { ...edited, v: 2 });
      const scan = engine.scan();
      assert.equal(scan.filesRead, 1);
      assert.equal(scan.eventsAdded, 0);
      assert.deepEqual(engine.report().totals, before);

      edited.messages.push(assistant(3, usage(40, 30, 900, '2026-01-05T10:05:01.000Z', 0.5)));
      edited.usageLedger = { events: [...ledger.events, { id: 'evt-c', timestamp: '2026-01-05T10:05:02.000Z', model: SONNET, credits: 0.5, tokens: { input: 40, output: 30 } }] };
      write(THREAD, { ...edited, v: 3 });
      assert.equal(engine.scan().eventsAdded, 1);
      assert.equal(engine.report().totals.requests, 3);
      assert.equal(engine.report().totals.outputTokens, 70 + 30);
    });

    it('a fork copies the messages with their usage but not the ledger', () => {
      const { dataDir, write } = threads();
      write(THREAD, thread(THREAD, { usage: true, ledger: true }));
      write(FORK, thread(FORK, { usage: true, ledger: false }));
      const { report } = scanReport(engineAt(dataDir));
      assert.equal(report.totals.requests, 2);
      assert.equal(report.totals.outputTokens, 70);
      near(report.totals.costUsd, 0.75 + 0.4);
    });
  });

  it('an unreadable path is reported, not thrown', () => {
    const dir = tempDir();
    const context: ReadContext = { emit: () => assert.fail('no event'), counts: newReadCounts(), log: () => undefined };
    const read = ampSource.read(path.join(dir, 'T-x.json'), undefined, context);
    assert.equal(read.errorCode, 'ENOENT');
    const directory = ampSource.read(dir, undefined, context);
    assert.ok(directory.error);
    assert.equal(directory.cursor, undefined);
  });

  it('roots: AMP_DATA_DIR alone when set, else $XDG_DATA_HOME/amp, plus the app-data folder on macOS and Windows', () => {
    assert.deepEqual(ampRoots({ env: { HOME: '/h', AMP_DATA_DIR: '/data/amp', XDG_DATA_HOME: '/x' } }), [path.join('/data/amp', 'threads')]);
    assert.deepEqual(ampRoots({ env: { HOME: '/h' }, platform: 'linux', extraDirs: ['/more'] }), [path.join('/h', '.local', 'share', 'amp', 'threads'), '/more']);
    assert.deepEqual(ampRoots({ env: { HOME: '/h', XDG_DATA_HOME: '/x' }, platform: 'linux' }), [path.join('/x', 'amp', 'threads')]);
    assert.deepEqual(ampRoots({ env: { HOME: '/h' }, platform: 'darwin' }), [
      path.join('/h', '.local', 'share', 'amp', 'threads'),
      path.join('/h', 'Library', 'Application Support', 'amp', 'threads'),
    ]);
    assert.deepEqual(ampRoots({ env: { USERPROFILE: 'C:\\Users\\ana', APPDATA: 'C:\\Users\\ana\\AppData\\Roaming' }, platform: 'win32' }), [
      path.join('C:\\Users\\ana', '.local', 'share', 'amp', 'threads'),
      path.join('C:\\Users\\ana\\AppData\\Roaming', 'amp', 'threads'),
    ]);
  });
});
