// One test per trap of Claude Code's transcripts (../shared/formats/agent-logs.md §1d), each on its own fixture
// folder under test/fixtures/claude-code/ (made by test/fixtures/make-claude-code-fixtures.mjs).

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { claudeCodeRoots, lineText, parseTimestamp, scanClaudeLine, LineKind, newClaudeLine } from '../../src/core/sources/claudeCode';
import * as fs from 'node:fs';
import { setSimdEnabled } from '../../src/core/simd/search';
import { assistantLine, claudeHome, engineFor, FIXTURES, reportOf } from './helpers';

const SESSION = '11111111-1111-4111-8111-111111111111';

describe('Claude Code traps', () => {
  it('one response written as several lines keeps the largest output, never the sum', () => {
    const { report } = reportOf('streamed-response');
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.outputTokens, 300);
    assert.equal(report.totals.inputTokens, 10);
    assert.equal(report.totals.cacheCreationTokens, 1000);
    assert.equal(report.totals.cacheReadTokens, 20000);
  });

  it('lines copied into a resumed session are counted once, in the session that made them', () => {
    const { report } = reportOf('resumed-copy');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 600);
    assert.equal(report.totals.outputTokens, 180);
    const bySession = new Map(report.sessions.map((s) => [s.sessionId, s]));
    assert.equal(bySession.get(SESSION)?.requests, 2);
    assert.equal(bySession.get('22222222-2222-4222-8222-222222222222')?.requests, 1);
  });

  it('subagent usage counts for the parent session; a side chain replaying a parent message is not counted again', () => {
    const { report } = reportOf('subagent');
    assert.equal(report.sessions.length, 1);
    const [session] = report.sessions;
    assert.equal(session.sessionId, SESSION);
    assert.equal(session.requests, 2);
    assert.equal(session.outputTokens, 40 + 90);
    assert.equal(session.cacheReadTokens, 30000);
    assert.deepEqual(session.models, ['claude-haiku-4-5-20251001', 'claude-sonnet-4-5-20250929']);
  });

  it('lines without a requestId are deduplicated by message id', () => {
    const { report } = reportOf('missing-request-id');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.outputTokens, 25 + 30);
  });

  it('<synthetic> error lines are not billed requests', () => {
    const { report, scan } = reportOf('synthetic');
    assert.equal(report.totals.requests, 1);
    assert.equal(scan.syntheticLines, 1);
    assert.deepEqual(report.sessions[0].models, ['claude-sonnet-4-5-20250929']);
  });

  it('a zero top-level cache_creation_input_tokens defers to the nested 5m/1h split, each at its own price', () => {
    const { engine, report } = reportOf('nested-cache-creation');
    assert.equal(report.totals.cacheCreationTokens, 1000);
    const [record] = engine.ledger.records();
    assert.equal(record.cacheWrite5mTokens, 300);
    assert.equal(record.cacheWrite1hTokens, 700);
    // Sonnet 4.5: 3 input, 3.75 5m write, 6 1h write, 0.30 read, 15 output ($/MTok)
    const expected = (4 * 3 + 300 * 3.75 + 700 * 6 + 1000 * 0.3 + 50 * 15) / 1e6;
    assert.ok(Math.abs((report.totals.costUsd ?? 0) - expected) < 1e-9, `${report.totals.costUsd} vs ${expected}`);
  });

  it('speed: "fast" is priced at the fast-mode premium', () => {
    const { engine } = reportOf('fast-mode');
    const [fast, standard] = engine.ledger.records().sort((a, b) => a.timestamp - b.timestamp);
    assert.equal(fast.fast, true);
    assert.equal(standard.fast, false);
    assert.ok(standard.costUsd! > 0);
    assert.ok(Math.abs(fast.costUsd! - 6 * standard.costUsd!) < 1e-12);
  });

  it('the project is the cwd the records carry, never a decoding of the folder name', () => {
    const { report } = reportOf('cwd-from-records');
    assert.equal(report.sessions[0].project, '/home/ana/my_shop.v2');
  });

  it('other line types are skipped, even huge ones with usage-shaped JSON inside', () => {
    const { report, scan } = reportOf('other-line-types');
    assert.equal(report.totals.requests, 1);
    assert.equal(report.totals.inputTokens, 11);
    assert.equal(report.totals.outputTokens, 22);
    assert.equal(scan.malformedLines, 0);
  });

  it('a non-assistant line is known from its type; the rest is walked over, so that a cut one is not taken as whole', () => {
    const line = Buffer.from(
      `{"parentUuid":null,"cwd":"/x","type":"user","message":{"role":"user","content":"${'y'.repeat(100000)}","usage":{"input_tokens":9}},"uuid":"u"}`,
    );
    const out = newClaudeLine();
    assert.equal(scanClaudeLine(line, 0, line.length, out), LineKind.Other);
    assert.equal(lineText(out, out.cwdStart, out.cwdEnd), '/x');
    assert.equal(out.messageIdStart, -1, 'nothing is read past the type: not the message');
    assert.equal(out.uuidStart, -1, 'nor the uuid');
    // Cut short (a torn record), it is malformed: the recovery then looks for a whole record run into it.
    assert.equal(scanClaudeLine(line, 0, 60, newClaudeLine()), LineKind.Malformed);
  });

  it('malformed lines are skipped; a torn line that ran into the next record gives that record back', () => {
    const { report, scan } = reportOf('malformed-lines');
    assert.equal(report.totals.requests, 3);
    assert.equal(report.totals.inputTokens, 60);
    assert.equal(report.totals.outputTokens, 120);
    // Garbage and a torn envelope hold no "usage" key and are never parsed; the line where a torn record ran into
    // a whole one is, is counted as malformed, and gives the whole one back.
    assert.equal(scan.malformedLines, 1);
    assert.equal(scan.recoveredLines, 1);
  });

  describe('a torn record that ran into a whole one gives the whole one back, wherever the tear is', () => {
    // A record cut short by a crash, then the next record appended to the same line. Tears inside the message used to
    // stop the recovery at an object of the torn record (the message, a content block), which read as a line of
    // another type: the whole record's usage was lost.
    const SIMD_OFF_TOO = [true, false];
    const whole = () => assistantLine({ sessionId: SESSION, messageId: 'msg_whole', output: 7, input: 3 });
    const torn = assistantLine({
      sessionId: SESSION,
      messageId: 'msg_torn',
      output: 5,
      content: Array.from({ length: 20 }, (_, i) => ({ type: 'text', text: `block ${i}` })),
    });
    const cases: Array<[string, string]> = [
      ['in the message id', torn.slice(0, torn.indexOf('"id":"msg_t') + 11)],
      ['after the message type', torn.slice(0, torn.indexOf('"type":"message"') + 16)],
      ['inside a content block', torn.slice(0, torn.indexOf('"text":"block 3') + 14)],
      ['after twenty content blocks', torn.slice(0, torn.indexOf('"stop_reason"'))],
      ['in a record whose type comes first', '{"type":"file-history-snapshot","messageId":"m1","snapshot":{"trackedFileBackups":{"a.txt":{"content":"xx'],
      ['in a record of another type, after its type', '{"parentUuid":null,"message":{"role":"user","content":"hi"},"type":"user","uuid":"u1","times'],
    ];
    for (const [where, cut] of cases) {
      for (const simd of SIMD_OFF_TOO) {
        it(`${where}${simd ? '' : ' (JavaScript scanner)'}`, () => {
          const { configDir, transcript } = claudeHome();
          fs.writeFileSync(transcript(SESSION), `${cut}${whole()}\n`);
          const previous = process.env.AGENT_SPEND_NO_SIMD;
          if (!simd) setSimdEnabled(false);
          try {
            const engine = engineFor(configDir);
            const scan = engine.scan();
            assert.equal(engine.report().totals.outputTokens, 7);
            assert.equal(engine.report().totals.inputTokens, 3);
            assert.equal(scan.recoveredLines, 1);
          } finally {
            setSimdEnabled(true);
            if (previous !== undefined) process.env.AGENT_SPEND_NO_SIMD = previous;
          }
        });
      }
    }
  });

  it('a rewritten transcript does not keep the cwd of the file it replaced', () => {
    const { configDir, transcript } = claudeHome();
    const file = transcript(SESSION);
    fs.writeFileSync(file, `${assistantLine({ sessionId: SESSION, messageId: 'm1', cwd: '/old/project' })}\n`);
    const engine = engineFor(configDir);
    engine.scan();
    // Replaced by a shorter file whose lines name no cwd: its records belong to no known project.
    const noCwd = (id: string) => assistantLine({ sessionId: SESSION, messageId: id }).replace(/"cwd":"[^"]*",/, '');
    fs.writeFileSync(file, `${noCwd('m2')}\n`);
    const scan = engine.scan();
    assert.equal(scan.filesRewritten, 1);
    const projects = engine.report({ by: 'project' }).groups!.rows.map((row) => [row.key, row.requests]);
    assert.deepEqual(projects.sort(), [['/old/project', 1], ['(unknown project)', 1]].sort());
  });

  it('lines whose type comes after a huge message (the real key order) are skipped without being parsed', () => {
    // A user line cut short inside its message: parsing it would call it malformed; it holds no "usage" key.
    const { configDir, transcript } = claudeHome();
    const userLine = `{"parentUuid":null,"cwd":"/x","message":{"role":"user","content":"${'y'.repeat(200000)}`;
    fs.writeFileSync(transcript(SESSION), `${userLine}\n${assistantLine({ sessionId: SESSION, messageId: 'm1', output: 7 })}\n`);
    const engine = engineFor(configDir);
    const scan = engine.scan();
    assert.equal(scan.malformedLines, 0);
    assert.equal(engine.report().totals.outputTokens, 7);
  });

  it('two main-chain requests that a gateway gave one message id stay two requests', () => {
    const { report } = reportOf('reused-message-id');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 300);
  });

  it('an unknown model keeps its tokens and has an unknown cost, never 0', () => {
    const { engine, report } = reportOf('unknown-model');
    assert.equal(report.totals.requests, 2);
    assert.equal(report.totals.inputTokens, 2000);
    assert.equal(report.totals.unpricedRequests, 1);
    const unknown = engine.ledger.records().find((r) => r.model === 'acme-coder-9000')!;
    assert.equal(unknown.costUsd, null);
    assert.equal(unknown.costProvenance, 'unknown');
    assert.ok(report.totals.costUsd! > 0, 'the priced request still counts');
  });

  it('hostile strings from a log are kept verbatim as data', () => {
    const { report } = reportOf('hostile-strings');
    assert.equal(report.sessions[0].project, '/home/ana/<img src=x onerror=alert(1)>');
    assert.deepEqual(report.sessions[0].models, ['claude-"quoted"\\model']);
  });
});

describe('Claude Code log locations', () => {
  it('CLAUDE_CONFIG_DIR replaces every other root', () => {
    assert.deepEqual(claudeCodeRoots({ CLAUDE_CONFIG_DIR: '/cfg/claude', HOME: '/home/ana' }), [path.resolve('/cfg/claude')]);
  });

  it('otherwise $XDG_CONFIG_HOME/claude and ~/.claude', () => {
    assert.deepEqual(claudeCodeRoots({ HOME: '/home/ana', XDG_CONFIG_HOME: '/xdg' }), ['/xdg/claude', '/home/ana/.claude']);
    assert.deepEqual(claudeCodeRoots({ HOME: '/home/ana' }), ['/home/ana/.config/claude', '/home/ana/.claude']);
  });

  it('finds subagent transcripts below the session folder', () => {
    const { engine } = reportOf('subagent');
    const files = engine.discover().map((f) => path.relative(path.join(FIXTURES, 'subagent'), f)).sort();
    assert.deepEqual(files, [
      path.join('projects', '-home-ana-src-shop', `${SESSION}.jsonl`),
      path.join('projects', '-home-ana-src-shop', SESSION, 'subagents', 'agent-a1b2c3.jsonl'),
    ]);
  });
});

describe('timestamp parsing', () => {
  it('reads the usual format from bytes and anything else as Date.parse does', () => {
    for (const text of [
      '2026-07-01T10:15:02.118Z',
      '2026-07-01T10:15:02Z',
      '2026-12-31T23:59:59.999Z',
      '2026-07-01T12:15:02.118+02:00',
      '2026-07-01T10:15:02.118123Z',
      '2026-02-30T10:15:02.118Z',
      'yesterday',
    ]) {
      const buf = Buffer.from(JSON.stringify(text));
      const expected = Date.parse(text);
      const actual = parseTimestamp(buf, 0, buf.length);
      if (Number.isNaN(expected)) assert.ok(Number.isNaN(actual), text);
      else assert.equal(actual, expected, text);
    }
  });

  it('a string with an escape JSON does not allow keeps its text instead of failing the file', () => {
    const { configDir, transcript } = claudeHome();
    // `\q` is not a JSON escape; a careless writer produced it. The line and the ones after it still count.
    const bad = assistantLine({ sessionId: SESSION, messageId: 'm-bad', cwd: 'CWD' }).replace('"CWD"', '"C:\\q\\shop"'.replace(/\\\\/g, '\\'));
    assert.ok(bad.includes('"C:\\q\\shop"'), bad.slice(0, 200));
    fs.writeFileSync(transcript(SESSION), `${bad}\n${assistantLine({ sessionId: SESSION, messageId: 'm-next' })}\n`);
    const engine = engineFor(configDir);
    const scan = engine.scan();
    assert.deepEqual(scan.unreadable, []);
    assert.equal(engine.report().totals.requests, 2);
    assert.ok(engine.report().sessions.some((s) => s.project === 'C:\\q\\shop'));
  });
  it('message ids, models, sessions and cwds decode exactly, escaped, non-ASCII, empty or long', () => {
    // The id is decoded into its key in one piece, and repeated texts are compared with their last value instead of
    // decoded again: both must give what JSON.parse gives, whatever the bytes.
    const { configDir, transcript } = claudeHome();
    const long = `msg_${'x'.repeat(400)}`;
    const lines = [
      assistantLine({ messageId: 'msg_plain', model: 'claude-sonnet-4-5-20250929', cwd: '/home/ana/src/shop' }),
      assistantLine({ messageId: 'msg_esc\u00e9', model: 'claude-sonnet-4-5-20250929', cwd: '/home/ana/src/shop' }).replace('msg_esc\u00e9', 'msg_esc\\u00e9'),
      assistantLine({ messageId: 'msg_\u00e9t\u00e9', model: 'claude-sonnet-4-5-20250929', cwd: '/home/ana/src/caf\u00e9' }),
      assistantLine({ messageId: long, model: 'claude-opus-4-1-20250805', cwd: '/home/ana/src/caf\u00e9' }),
      assistantLine({ messageId: 'msg_q"uote', model: 'claude-opus-4-1-20250805', cwd: '/home/ana/src/shop' }),
      // Same length as the cwd before, other bytes: must not be taken for it.
      assistantLine({ messageId: 'msg_last', model: 'claude-opus-4-1-20250805', cwd: '/home/ana/src/shoq' }),
      assistantLine({ messageId: '', requestId: 'req_empty_id', model: 'claude-opus-4-1-20250805', cwd: '/home/ana/src/shoq' }),
    ];
    fs.writeFileSync(transcript(SESSION), `${lines.join('\n')}\n`);
    const engine = engineFor(configDir);
    engine.scan();
    const keys = engine.ledger.records().map((r) => [r.key, r.model, r.project]);
    assert.deepEqual(keys, [
      ['cc:msg_plain', 'claude-sonnet-4-5-20250929', '/home/ana/src/shop'],
      ['cc:msg_esc\u00e9', 'claude-sonnet-4-5-20250929', '/home/ana/src/shop'],
      ['cc:msg_\u00e9t\u00e9', 'claude-sonnet-4-5-20250929', '/home/ana/src/caf\u00e9'],
      [`cc:${long}`, 'claude-opus-4-1-20250805', '/home/ana/src/caf\u00e9'],
      ['cc:msg_q"uote', 'claude-opus-4-1-20250805', '/home/ana/src/shop'],
      ['cc:msg_last', 'claude-opus-4-1-20250805', '/home/ana/src/shoq'],
      ['cc:r:req_empty_id', 'claude-opus-4-1-20250805', '/home/ana/src/shoq'],
    ]);
  });
});
