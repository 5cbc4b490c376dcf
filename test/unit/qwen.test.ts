// Qwen Code: one test per trap (../shared/formats/agent-logs.md §7, and what Qwen Code's chatRecordingService.ts
// shows) on its own fixture folder under test/fixtures/qwen-code/ (made by test/fixtures/make-qwen-fixtures.mjs), then
// the live path and the locations.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { qwenRoots, qwenSource } from '../../src/core/sources/qwen';
import { newReadCounts, type ReadContext } from '../../src/core/sources/source';
import { agentEnv, REPO, scanReport, sourceEngine, tempDir } from './helpers';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'qwen-code');
const SHOP = '/home/ana/src/shop';
const S = '69f0814a-8bfc-4c8e-93d3-05757f17b96f';

/** An engine that reads only Qwen Code, from `qwenHome` (HOME is an empty temp folder). */
function engineOn(qwenHome: string): Engine {
  return sourceEngine([qwenSource], agentEnv({ QWEN_HOME: qwenHome }));
}

function reportOf(trap: string) {
  return scanReport(engineOn(path.join(FIXTURES, trap)));
}

describe('Qwen Code traps', () => {
  it('ui_telemetry api_response events repeat each response: only the assistant records count', () => {
    const { report } = reportOf('ui-telemetry');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 500 + (600 - 50), 'promptTokenCount includes the cached tokens');
    assert.equal(report.totals.outputTokens, 25);
    assert.equal(report.totals.cacheReadTokens, 50);
    assert.equal(report.sessions[0].sessionId, S);
    assert.equal(report.sessions[0].project, '/home/ana/my_shop.v2', 'the records\u2019 cwd, not the sanitised folder name');
    assert.deepEqual(report.sessions[0].models, ['qwen3-coder-plus']);
  });

  it('reasoning inside candidates (OpenAI-compatible) is not counted twice; apart (Gemini API) it is added', () => {
    const { engine, report } = reportOf('reasoning');
    const byUuid = new Map(engine.ledger.records().map((r) => [r.key, r.outputTokens]));
    assert.equal(byUuid.get('qwen-code:r-a-1'), 300, 'total = prompt + candidates: thoughts are inside');
    assert.equal(byUuid.get('qwen-code:r-a-2'), 150 + 200, 'total = prompt + candidates + thoughts: thoughts are apart');
    assert.equal(byUuid.get('qwen-code:r-a-3'), 80, 'no total: Qwen Code\u2019s usual OpenAI-compatible reading');
    assert.equal(report.totals.inputTokens, 3000);
  });

  it('/branch copies (same uuid, forkedFrom) count once, for the session that made the request', () => {
    const { report } = reportOf('branch-fork');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 800 + 1600 + 2400);
    const bySession = new Map(report.sessions.map((s) => [s.sessionId, s.requests]));
    assert.equal(bySession.get(S), 2);
    assert.equal(bySession.get('0a1c0d2e-1111-4111-8111-0f0f0f0f0f0f'), 1);
  });

  it('subagent records (isSidechain) count for the session, marked as a side chain', () => {
    const { engine, report } = reportOf('subagent');
    assert.equal(report.sessions.length, 1);
    assert.equal(report.sessions[0].requests, 2);
    const byModel = new Map(engine.ledger.records().map((r) => [r.model, r.sidechain]));
    assert.equal(byModel.get('qwen3-coder-flash'), true);
    assert.equal(byModel.get('qwen3-coder-plus'), false);
  });

  it('a rewound response stays billed', () => {
    const { report } = reportOf('rewind');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 6000);
    assert.equal(report.totals.outputTokens, 60);
  });

  it('the legacy tmp/<hash>/chats/session-*.json whole file is read; its hash folder names no project', () => {
    const { report } = reportOf('legacy-json');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 800 + 1000);
    assert.equal(report.totals.outputTokens, 100 + 50);
    assert.equal(report.totals.cacheReadTokens, 1200);
    assert.equal(report.sessions[0].sessionId, '5e5e5e5e-2222-4222-8222-222222222222');
    assert.equal(report.sessions[0].project, '(unknown project)');
  });

  it('bad lines are skipped and counted; a torn line that ran into the next record gives that record back', () => {
    const { report, scan } = reportOf('malformed');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 300);
    assert.equal(report.totals.outputTokens, 30);
    assert.equal(scan.malformedLines, 2);
    assert.equal(scan.recoveredLines, 1);
    assert.equal(scan.undatedLines, 1);
  });

  it('models without a bundled price keep their tokens with an unknown cost, never 0', () => {
    const { report } = reportOf('ui-telemetry');
    assert.equal(report.totals.unpricedRequests, 2);
    assert.equal(report.totals.costUsd, null);
  });
});

function assistantRecord(uuid: string, prompt: number, candidates: number, timestamp = '2026-07-21T10:00:01.000Z'): string {
  return JSON.stringify({
    uuid, parentUuid: null, sessionId: S, timestamp, type: 'assistant', cwd: SHOP, version: '0.18.1', model: 'qwen3-coder-plus',
    message: { role: 'model', parts: [{ text: 'ok' }] },
    usageMetadata: { promptTokenCount: prompt, candidatesTokenCount: candidates, thoughtsTokenCount: 0, totalTokenCount: prompt + candidates, cachedContentTokenCount: 0 },
  });
}

function telemetryRecord(prompt: number, candidates: number): string {
  return JSON.stringify({
    uuid: `t-${prompt}`, parentUuid: null, sessionId: S, timestamp: '2026-07-21T10:00:00.000Z', type: 'system', cwd: SHOP, version: '0.18.1', subtype: 'ui_telemetry',
    systemPayload: { uiEvent: { 'event.name': 'qwen-code.api_response', input_token_count: prompt, output_token_count: candidates, total_token_count: prompt + candidates } },
  });
}

/** A QWEN_HOME with one project's chats folder; returns the session file path. */
function qwenHome(): { home: string; file: string } {
  const home = tempDir('agent-spend-qwen-');
  const chats = path.join(home, 'projects', '-home-ana-src-shop', 'chats');
  fs.mkdirSync(chats, { recursive: true });
  return { home, file: path.join(chats, `${S}.jsonl`) };
}

describe('Qwen Code live reading', () => {
  it('an appended response moves the totals once; its telemetry twin and a second scan add nothing', () => {
    const { home, file } = qwenHome();
    fs.writeFileSync(file, `${telemetryRecord(100, 10)}\n${assistantRecord('a-1', 100, 10)}\n`);
    const engine = engineOn(home);
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
    fs.appendFileSync(file, `${telemetryRecord(200, 20)}\n${assistantRecord('a-2', 200, 20)}\n`);
    const scan = engine.scan();
    assert.equal(scan.eventsAdded, 1);
    assert.equal(engine.report().totals.requests, 2);
    assert.equal(engine.report().totals.inputTokens, 300);
    assert.equal(engine.report().sessions[0].project, SHOP);
    const again = engine.scan();
    assert.equal(again.filesRead, 0);
    assert.equal(again.eventsAdded, 0);
  });

  it('a torn last line waits for its newline, then counts once', () => {
    const { home, file } = qwenHome();
    const line = assistantRecord('a-1', 100, 10);
    fs.writeFileSync(file, line.slice(0, 200));
    const engine = engineOn(home);
    assert.equal(engine.scan().malformedLines, 0);
    assert.equal(engine.report().totals.requests, 0);
    fs.appendFileSync(file, `${line.slice(200)}\n`);
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
    fs.appendFileSync(file, '\n');
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
  });

  it('an unreadable path is reported, never thrown', () => {
    const { file } = qwenHome();
    fs.mkdirSync(file);
    const context: ReadContext = { emit: () => assert.fail('nothing to emit'), counts: newReadCounts(), log: () => undefined };
    const read = qwenSource.read(file, undefined, context);
    assert.equal(read.cursor, undefined);
    assert.equal(read.errorCode, 'EISDIR');
  });
});

describe('Qwen Code log locations', () => {
  it('QWEN_RUNTIME_DIR wins, then QWEN_HOME (the .qwen folder itself)', () => {
    assert.deepEqual(qwenRoots({ env: { QWEN_RUNTIME_DIR: '/run/qwen', QWEN_HOME: '/cfg/qwen', HOME: '/home/ana' }, platform: 'linux' }), ['/run/qwen/projects', '/run/qwen/tmp']);
    assert.deepEqual(qwenRoots({ env: { QWEN_HOME: '/cfg/qwen', HOME: '/home/ana' }, platform: 'linux' }), ['/cfg/qwen/projects', '/cfg/qwen/tmp']);
    assert.deepEqual(qwenRoots({ env: { QWEN_RUNTIME_DIR: '~/qwen-out', HOME: '/home/ana' }, platform: 'linux' }), ['/home/ana/qwen-out/projects', '/home/ana/qwen-out/tmp']);
  });

  it('otherwise ~/.qwen on Linux and macOS, the profile folder on Windows', () => {
    assert.deepEqual(qwenRoots({ env: { HOME: '/home/ana' }, platform: 'linux' }), ['/home/ana/.qwen/projects', '/home/ana/.qwen/tmp']);
    assert.deepEqual(qwenRoots({ env: { HOME: '/Users/ana' }, platform: 'darwin' }), ['/Users/ana/.qwen/projects', '/Users/ana/.qwen/tmp']);
    assert.deepEqual(qwenRoots({ env: { USERPROFILE: 'C:\\Users\\ana', HOME: 'C:\\msys\\home\\ana' }, platform: 'win32' }), ['C:\\Users\\ana\\.qwen\\projects', 'C:\\Users\\ana\\.qwen\\tmp']);
  });

  it('folders the user named come after the defaults', () => {
    assert.deepEqual(qwenRoots({ env: { HOME: '/home/ana' }, platform: 'linux', extraDirs: ['/mnt/old/.qwen/projects'] }), ['/home/ana/.qwen/projects', '/home/ana/.qwen/tmp', '/mnt/old/.qwen/projects']);
  });

  it('only session files are read', () => {
    const chats = '/home/ana/.qwen/projects/-home-ana-src-shop/chats';
    assert.equal(qwenSource.fileFor(`${chats}/${S}.jsonl`), `${chats}/${S}.jsonl`);
    assert.equal(qwenSource.fileFor('/home/ana/.qwen/tmp/ab12/chats/session-2025-09-01T10-00-5e5e5e5e.json'), '/home/ana/.qwen/tmp/ab12/chats/session-2025-09-01T10-00-5e5e5e5e.json');
    assert.equal(qwenSource.fileFor('/home/ana/.qwen/tmp/ab12/logs.json'), undefined);
    assert.equal(qwenSource.fileFor('/home/ana/.qwen/settings.json'), undefined);
  });
});
