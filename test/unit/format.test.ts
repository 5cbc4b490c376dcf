// The CLI's tables (src/cli/format.ts).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReport } from '../../src/cli/format';
import { usd } from '../../src/shared/format';
import type { Report, SessionSummary } from '../../src/core/report';

function session(sessionId: string, project = '/home/ana/src/shop'): SessionSummary {
  return {
    agent: 'codex',
    sessionId,
    project,
    models: ['gpt-5'],
    firstAt: '2026-07-01T10:00:00.000Z',
    lastAt: '2026-07-01T11:00:00.000Z',
    requests: 1,
    inputTokens: 10,
    outputTokens: 20,
    cacheCreationTokens: 0,
    cacheReadTokens: 0,
    costUsd: 0.5,
    unpricedRequests: 0,
  } as SessionSummary;
}

function report(sessions: SessionSummary[]): Report {
  return {
    schema: 'agent-spend/report@1',
    generatedAt: '2026-07-01T12:00:00.000Z',
    timeZone: 'UTC',
    since: null,
    until: null,
    totals: { requests: sessions.length, inputTokens: 0, outputTokens: 0, cacheCreationTokens: 0, cacheReadTokens: 0, costUsd: 0, unpricedRequests: 0 },
    sessions,
    warnings: [],
  } as unknown as Report;
}

/** The Session column of each session row (between the agent and the project). */
function shownIds(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => / codex /.test(line))
    .map((line) => line.split(/\s{2,}/)[2]);
}

describe('the session table', () => {
  it('shows session ids as long as it takes to tell them apart (UUIDv7 ids of one minute share their first 8)', () => {
    const ids = ['0198f1a2-3b4c-7d00-8000-000000000001', '0198f1a2-3b4c-7d00-8000-000000000002', '0198f1a2-9999-7d00-8000-000000000003'];
    const shown = shownIds(formatReport(report(ids.map((id) => session(id)))));
    assert.equal(new Set(shown).size, 3, shown.join(' '));
    for (const [i, id] of ids.entries()) assert.ok(id.startsWith(shown[i]), `${shown[i]} is a prefix of ${id}`);
    // Ids that differ early keep the short form.
    assert.deepEqual(shownIds(formatReport(report([session('aaaaaaaa-1'), session('bbbbbbbb-1')]))), ['aaaaaaaa', 'bbbbbbbb']);
  });

  it('lines up columns by what a terminal shows: wide characters take two cells, combining marks none', () => {
    const text = formatReport(report([session('aaaaaaaa-1', '/home/ana/日本語のプロジェクト'), session('bbbbbbbb-1', '/home/ana/cafe\u0301'), session('cccccccc-1', '/home/ana/plain')]));
    const rows = text.split('\n').filter((line) => / codex /.test(line));
    const modelsAt = rows.map((line) => displayWidth(line.slice(0, line.indexOf('gpt-5'))));
    assert.deepEqual(new Set(modelsAt).size, 1, rows.join('\n'));
  });
});

/** Terminal cells, for the test's own check: CJK wide, combining marks zero. */
function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code >= 0x300 && code <= 0x36f) continue;
    width += (code >= 0x3000 && code <= 0x9fff) || (code >= 0xff00 && code <= 0xff60) ? 2 : 1;
  }
  return width;
}

describe('money', () => {
  it('a spend under half a cent is not shown as free', () => {
    assert.equal(usd(0), '$0.00');
    assert.equal(usd(0.00126), '<$0.01');
    assert.equal(usd(0.005), '$0.01');
    assert.equal(usd(12.345), '$12.35');
    assert.equal(usd(1234.5), '$1,235');
  });
});
