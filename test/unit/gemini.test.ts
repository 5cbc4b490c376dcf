// Gemini CLI: one test per trap of ../shared/formats/agent-logs.md §3 on its own fixture folder under
// test/fixtures/gemini-cli/ (made by test/fixtures/make-gemini-fixtures.mjs), then the live paths and the locations.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { geminiRoots, geminiSource, partitionGeminiTokens, type GeminiTokens } from '../../src/core/sources/gemini';
import { newReadCounts, type ReadContext } from '../../src/core/sources/source';
import type { UsageEvent } from '../../src/core/usage';
import { agentEnv, REPO, scanReport, sourceEngine, tempDir } from './helpers';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'gemini-cli');
const SHOP = '/home/ana/src/shop';
const S = '9b2d7c1e-5a6f-4e3b-8c9d-0e1f2a3b4c5d';

/** An engine that reads only Gemini CLI, from `geminiHome` (HOME is an empty temp folder). */
function engineOn(geminiHome: string): Engine {
  return sourceEngine([geminiSource], agentEnv({ GEMINI_CLI_HOME: geminiHome }));
}

function reportOf(trap: string) {
  return scanReport(engineOn(path.join(FIXTURES, trap)));
}

describe('Gemini CLI traps', () => {
  it('a message appended again on every change (null tokens, tokens, tool calls) is one request', () => {
    const { report, scan } = reportOf('repeated-message');
    assert.equal(report.totals.requests, 2);
    assert.equal(scan.eventsAdded, 2);
    assert.equal(report.totals.inputTokens, 14210 - 11800 + (15000 - 14000));
    assert.equal(report.totals.outputTokens, 96 + 350 + 120);
    assert.equal(report.totals.cacheReadTokens, 11800 + 14000);
    assert.equal(report.sessions[0].sessionId, S);
    assert.equal(report.sessions[0].project, SHOP);
  });

  it('$set.messages checkpoints repeat every message with its tokens and add nothing; $patch lines are ignored', () => {
    const { report } = reportOf('checkpoint');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 1000 + 1500 + 2000);
    assert.equal(report.totals.outputTokens, 60);
    assert.equal(report.totals.cacheReadTokens, 1500);
  });

  it('$rewindTo (and $patch removeIds) take messages out of the conversation, not out of the bill', () => {
    const { report } = reportOf('rewind');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 4500);
    assert.equal(report.totals.outputTokens, 60);
  });

  it('tokens queued for the next message count once, on whichever message carries them', () => {
    const { report } = reportOf('queued-tokens');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 4500);
    assert.equal(report.totals.outputTokens, 60);
  });

  it('input includes cached; thoughts are priced as output, the tool-use prompt as input; no cost field, so computed', () => {
    const { engine, report } = reportOf('token-partition');
    assert.equal(report.totals.inputTokens, 14210 - 11800 + 40);
    assert.equal(report.totals.outputTokens, 96 + 350);
    assert.equal(report.totals.cacheReadTokens, 11800);
    assert.equal(report.totals.cacheCreationTokens, 0);
    const [record] = engine.ledger.records();
    assert.equal(record.costProvenance, 'computed');
    // gemini-2.5-pro up to 200k prompt tokens: 1.25 input, 10 output, 0.125 cache read ($/MTok)
    const expected = (2450 * 1.25 + 446 * 10 + 11800 * 0.125) / 1e6;
    assert.ok(Math.abs(record.costUsd! - expected) < 1e-12, `${record.costUsd} vs ${expected}`);
  });

  it('a subagent file under chats/<parent session id>/ counts for the parent session, as a side chain', () => {
    const { engine, report } = reportOf('subagent');
    assert.equal(report.sessions.length, 1);
    const [session] = report.sessions;
    assert.equal(session.sessionId, 'aaaaaaaa-1111-4111-8111-111111111111');
    assert.equal(session.requests, 2);
    assert.equal(session.project, SHOP);
    assert.deepEqual(session.models, ['gemini-2.5-flash', 'gemini-2.5-pro']);
    const byModel = new Map(engine.ledger.records().map((r) => [r.model, r]));
    assert.equal(byModel.get('gemini-2.5-flash')?.sidechain, true);
    assert.equal(byModel.get('gemini-2.5-pro')?.sidechain, false);
  });

  it('the legacy session-*.json whole file is read', () => {
    const { report } = reportOf('legacy-json');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 1000 + 1500);
    assert.equal(report.totals.cacheReadTokens, 500);
    assert.equal(report.sessions[0].sessionId, 'cccccccc-3333-4333-8333-333333333333');
    assert.equal(report.sessions[0].project, SHOP);
  });

  it('a legacy .json and the .jsonl it was migrated into are one session, counted once', () => {
    const { report, engine } = reportOf('legacy-migrated');
    assert.equal(engine.discover().length, 2);
    assert.equal(report.sessions.length, 1);
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 4500);
  });

  it('hashed folders: matched against the registry (never decoded), migration copies counted once', () => {
    const { report } = reportOf('hashed-folder');
    const bySession = new Map(report.sessions.map((s) => [s.sessionId.slice(0, 8), s]));
    assert.equal(report.totals.requests, 4);
    assert.equal(bySession.get('dddddddd')?.project, SHOP, 'a hash folder that was never migrated');
    assert.equal(bySession.get('eeeeeeee')?.requests, 1, 'copied into the slug folder, counted once');
    assert.equal(bySession.get('eeeeeeee')?.project, SHOP);
    assert.equal(bySession.get('ffffffff')?.project, SHOP);
    assert.equal(bySession.get('12121212')?.project, '(unknown project)', 'a hash nothing names stays unknown');
  });

  it('the project is .project_root (or the registry path of the slug), never the slug read as a path', () => {
    const { report } = reportOf('slug-project');
    assert.deepEqual(report.sessions.map((s) => s.project).sort(), ['/home/ana/Other Thing', '/home/ana/my_shop.v2']);
  });

  it('a recovered rewrite is read once; its .unreadable-<time> backup and .tmp-<pid> leftovers are not session files', () => {
    const { report, engine } = reportOf('recovered-rewrite');
    assert.deepEqual(engine.discover().map((f) => path.basename(f)), ['session-2026-07-12T09-00-9b2d7c1e.jsonl']);
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 1000 + 1500);
  });

  it('bad lines are skipped and counted; a torn line that ran into the next record gives that record back', () => {
    const { report, scan } = reportOf('malformed');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 300);
    assert.equal(report.totals.outputTokens, 30);
    // The garbage line holds no "tokens" key and is never parsed; the two torn records are.
    assert.equal(scan.malformedLines, 2);
    assert.equal(scan.recoveredLines, 1);
    assert.equal(scan.undatedLines, 1);
  });
});

describe('Gemini token partition', () => {
  const t = (o: Partial<GeminiTokens>): GeminiTokens => ({ prompt: 1000, candidates: 100, cached: 400, thoughts: 50, tool: 0, total: 0, ...o });

  it('without a total, thoughts are apart from candidates (the Gemini API)', () => {
    assert.deepEqual(partitionGeminiTokens(t({}), false), { inputTokens: 600, outputTokens: 150, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, cacheReadTokens: 400 });
  });

  it('the total tells when candidates already hold the thoughts (an OpenAI-compatible provider)', () => {
    assert.equal(partitionGeminiTokens(t({ total: 1100 }), false).outputTokens, 100);
    assert.equal(partitionGeminiTokens(t({ total: 1150 }), true).outputTokens, 150);
  });

  it('tool-use prompt tokens are input, unless the total shows them inside the prompt', () => {
    assert.equal(partitionGeminiTokens(t({ tool: 30, total: 1180 }), false).inputTokens, 630);
    assert.equal(partitionGeminiTokens(t({ tool: 30, total: 1150 }), false).inputTokens, 600);
  });
});

/** A GEMINI_CLI_HOME with one slug project folder; returns where its session files go. */
function geminiHome(): { home: string; chats: string } {
  const home = tempDir('agent-spend-gemini-');
  const project = path.join(home, '.gemini', 'tmp', 'shop');
  fs.mkdirSync(path.join(project, 'chats'), { recursive: true });
  fs.writeFileSync(path.join(project, '.project_root'), SHOP);
  return { home, chats: path.join(project, 'chats') };
}

const metaLine = (sessionId = S) => JSON.stringify({ sessionId, projectHash: 'ab'.repeat(32), startTime: '2026-07-20T10:00:00.000Z', lastUpdated: '2026-07-20T10:00:00.000Z' });
function messageLine(id: string, input: number, output: number, extra: Record<string, unknown> = {}): string {
  const tokens = { input, output, cached: 0, thoughts: 0, tool: 0, total: input + output };
  return JSON.stringify({ id, timestamp: '2026-07-20T10:00:01.000Z', type: 'gemini', content: 'ok', thoughts: [], tokens, model: 'gemini-2.5-pro', ...extra });
}
function legacyFile(messages: string[]): string {
  return JSON.stringify({ sessionId: S, projectHash: 'ab'.repeat(32), startTime: '2026-03-01T10:00:00.000Z', lastUpdated: '2026-03-01T10:00:00.000Z', messages: messages.map((m) => JSON.parse(m) as unknown) }, null, 2);
}

describe('Gemini CLI live reading', () => {
  it('an appended record moves the totals once; a re-appended message and a second scan add nothing', () => {
    const { home, chats } = geminiHome();
    const file = path.join(chats, 'session-2026-07-20T10-00-9b2d7c1e.jsonl');
    fs.writeFileSync(file, `${metaLine()}\n${messageLine('g-1', 100, 10)}\n`);
    const engine = engineOn(home);
    engine.scan();
    fs.appendFileSync(file, `${messageLine('g-1', 100, 10, { toolCalls: [{ id: 'c1', name: 'ls', status: 'success' }] })}\n${JSON.stringify({ $set: { lastUpdated: '2026-07-20T10:00:02.000Z' } })}\n${messageLine('g-2', 200, 20)}\n`);
    const scan = engine.scan();
    assert.equal(scan.eventsAdded, 1);
    assert.equal(engine.report().totals.requests, 2);
    assert.equal(engine.report().totals.inputTokens, 300);
    const again = engine.scan();
    assert.equal(again.filesRead, 0);
    assert.equal(again.eventsAdded, 0);
    assert.equal(engine.report().totals.requests, 2);
  });

  it('a .jsonl replaced by its recovery rewrite (old file renamed .unreadable-<time>) is re-read without adding', () => {
    const { home, chats } = geminiHome();
    const file = path.join(chats, 'session-2026-07-20T10-00-9b2d7c1e.jsonl');
    const g1 = messageLine('g-1', 100, 10);
    const g2 = messageLine('g-2', 200, 20);
    fs.writeFileSync(file, `${metaLine()}\n${g1}\n${g1}\n${g2}\n`);
    const engine = engineOn(home);
    engine.scan();
    fs.renameSync(file, `${file}.unreadable-1784541600000`);
    fs.writeFileSync(`${file}.tmp-4242`, `${metaLine()}\n${g1}\n${g2}\n`);
    fs.renameSync(`${file}.tmp-4242`, file);
    const scan = engine.scan();
    assert.equal(scan.filesRewritten, 1);
    assert.equal(scan.eventsAdded, 0);
    assert.equal(engine.report().totals.requests, 2);
    assert.equal(engine.report().totals.inputTokens, 300);
  });

  it('a legacy .json rewritten in place replaces its requests rather than adding them', () => {
    const { home, chats } = geminiHome();
    const file = path.join(chats, 'session-2026-03-01T10-00-9b2d7c1e.json');
    fs.writeFileSync(file, legacyFile([messageLine('g-1', 100, 10)]));
    const engine = engineOn(home);
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
    fs.writeFileSync(file, legacyFile([messageLine('g-1', 100, 10), messageLine('g-2', 200, 20)]));
    const scan = engine.scan();
    assert.equal(scan.filesRewritten, 1);
    assert.equal(scan.eventsAdded, 1);
    assert.equal(engine.report().totals.requests, 2);
    assert.equal(engine.report().totals.inputTokens, 300);
    fs.appendFileSync(file, '\n'); // rewritten again, same requests
    assert.equal(engine.scan().eventsAdded, 0);
    assert.equal(engine.report().totals.requests, 2);
  });

  it('a legacy .json caught mid-write is counted as malformed and read again on its next change', () => {
    const { home, chats } = geminiHome();
    const file = path.join(chats, 'session-2026-03-01T10-00-9b2d7c1e.json');
    const whole = legacyFile([messageLine('g-1', 100, 10)]);
    fs.writeFileSync(file, whole.slice(0, whole.length / 2));
    const engine = engineOn(home);
    assert.equal(engine.scan().malformedLines, 1);
    fs.writeFileSync(file, whole);
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
  });

  it('a torn last line waits for its newline, then counts once', () => {
    const { home, chats } = geminiHome();
    const file = path.join(chats, 'session-2026-07-20T10-00-9b2d7c1e.jsonl');
    const line = messageLine('g-1', 100, 10);
    fs.writeFileSync(file, `${metaLine()}\n${line.slice(0, 90)}`);
    const engine = engineOn(home);
    const first = engine.scan();
    assert.equal(first.malformedLines, 0);
    assert.equal(engine.report().totals.requests, 0);
    fs.appendFileSync(file, `${line.slice(90)}\n`);
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
    assert.equal(engine.report().totals.outputTokens, 10);
  });

  it('a whole last line without its newline counts now and not again when the newline arrives', () => {
    const { home, chats } = geminiHome();
    const file = path.join(chats, 'session-2026-07-20T10-00-9b2d7c1e.jsonl');
    fs.writeFileSync(file, `${metaLine()}\n${messageLine('g-1', 100, 10)}`);
    const engine = engineOn(home);
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
    fs.appendFileSync(file, '\n');
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
  });

  it('a file whose metadata line is not written yet keys its messages by the session id once it is', () => {
    const { home, chats } = geminiHome();
    const file = path.join(chats, 'session-2026-07-20T10-00-9b2d7c1e.jsonl');
    fs.writeFileSync(file, metaLine().slice(0, 20));
    const engine = engineOn(home);
    engine.scan();
    fs.appendFileSync(file, `${metaLine().slice(20)}\n${messageLine('g-1', 100, 10)}\n`);
    engine.scan();
    assert.deepEqual(engine.ledger.records().map((r) => r.key), [`gemini-cli:${S}:g-1`]);
  });

  it('an unreadable path is reported, never thrown', () => {
    const { chats } = geminiHome();
    const events: UsageEvent[] = [];
    const context: ReadContext = { emit: (e) => events.push(e), counts: newReadCounts(), log: () => undefined };
    for (const name of ['session-x.jsonl', 'session-x.json']) {
      const dir = path.join(chats, name);
      fs.mkdirSync(dir);
      const read = geminiSource.read(dir, undefined, context);
      assert.equal(read.cursor, undefined);
      assert.equal(read.errorCode, 'EISDIR');
    }
    assert.equal(events.length, 0);
  });
});

describe('Gemini CLI log locations', () => {
  it('GEMINI_CLI_HOME replaces the home folder', () => {
    assert.deepEqual(geminiRoots({ env: { GEMINI_CLI_HOME: '/cfg/gem', HOME: '/home/ana' }, platform: 'linux' }), ['/cfg/gem/.gemini/tmp']);
  });

  it('otherwise ~/.gemini/tmp on Linux and macOS, the profile folder on Windows', () => {
    assert.deepEqual(geminiRoots({ env: { HOME: '/home/ana' }, platform: 'linux' }), ['/home/ana/.gemini/tmp']);
    assert.deepEqual(geminiRoots({ env: { HOME: '/Users/ana' }, platform: 'darwin' }), ['/Users/ana/.gemini/tmp']);
    assert.deepEqual(geminiRoots({ env: { USERPROFILE: 'C:\\Users\\ana', HOME: 'C:\\msys\\home\\ana' }, platform: 'win32' }), ['C:\\Users\\ana\\.gemini\\tmp']);
  });

  it('folders the user named come after the defaults', () => {
    assert.deepEqual(geminiRoots({ env: { HOME: '/home/ana' }, platform: 'linux', extraDirs: ['/mnt/old/.gemini/tmp'] }), ['/home/ana/.gemini/tmp', '/mnt/old/.gemini/tmp']);
  });

  it('only session files are read: not logs.json, checkpoints, the registry or recovery leftovers', () => {
    const chats = path.join('/home/ana/.gemini/tmp/shop/chats');
    for (const wanted of ['session-2026-07-20T10-00-9b2d7c1e.jsonl', 'session-2026-03-01T10-00-9b2d7c1e.json', `${S}/0b1c2d3e.jsonl`]) {
      assert.equal(geminiSource.fileFor(path.join(chats, wanted)), path.join(chats, wanted));
    }
    for (const ignored of ['../logs.json', 'checkpoint-foo.json', 'session-x.jsonl.unreadable-1783846861000', 'session-x.jsonl.tmp-4242', '../../../projects.json']) {
      assert.equal(geminiSource.fileFor(path.join(chats, ignored)), undefined, ignored);
    }
  });
});
