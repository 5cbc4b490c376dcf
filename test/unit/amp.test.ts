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
