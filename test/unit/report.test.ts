// buildReport against a plain, row-by-row reference: the report is one pass over typed columns, and must say
// exactly what one object per request would, for every grouping and period.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ledger } from '../../src/core/ledger';
import { LocalCalendar } from '../../src/core/localTime';
import { PriceBook } from '../../src/core/pricing/pricing';
import { buildReport, GROUP_BYS, type GroupBy, type ReportQuery, type Totals } from '../../src/core/report';
import type { UsageEvent } from '../../src/core/usage';

const prices = new PriceBook({
  'model-a': { input: 3, output: 15, cacheWrite5m: 3.75, cacheWrite1h: 6, cacheRead: 0.3 },
  'model-b': { input: 0.8, output: 4, cacheWrite5m: 1, cacheWrite1h: 1.6, cacheRead: 0.08 },
});

/** A ledger with sessions spread over days, shared session ids across agents, unpriced models and reported costs. */
function sampleLedger(): Ledger {
  const ledger = new Ledger(prices);
  // mulberry32: a small seeded generator, so that the sample is the same on every run.
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
  const start = Date.UTC(2026, 9, 1, 8);
  for (let i = 0; i < 3000; i++) {
    const session = random(40);
    const event: UsageEvent = {
      dedupeKey: `k:${i}`,
      requestTag: 0,
      // Session 7 exists under two agents: two sessions in the report.
      agent: session === 7 && i % 2 ? 'codex' : 'claude-code',
      timestamp: start + random(60) * 86_400_000 + random(86_400_000),
      sessionId: `session-${session}`,
      project: `/src/project-${random(5)}`,
      model: ['model-a', 'model-b', 'unknown-model'][random(3)],
      inputTokens: random(5000),
      outputTokens: random(2000),
      cacheWrite5mTokens: random(10_000),
      cacheWrite1hTokens: random(3) === 0 ? random(8000) : 0,
      cacheReadTokens: random(200_000),
      fast: false,
      sidechain: false,
    };
    if (random(10) === 0) event.reportedCostUsd = random(1000) / 997;
    ledger.upsert(event);
  }
  return ledger;
}

/** The report's numbers the obvious way: one pass, one object per request. */
function reference(ledger: Ledger, query: ReportQuery) {
  const calendar = new LocalCalendar();
  const records = ledger.records().filter((r) => {
    const day = calendar.dayNumber(r.timestamp);
    return day >= (query.sinceDay ?? -Infinity) && day <= (query.untilDay ?? Infinity);
  });
  const sum = (rows: typeof records): Totals => {
    let cost = 0;
    let priced = 0;
    for (const r of rows) {
      if (r.costUsd !== null) {
        cost += r.costUsd;
        priced++;
      }
    }
    return {
      inputTokens: rows.reduce((n, r) => n + r.inputTokens, 0),
      outputTokens: rows.reduce((n, r) => n + r.outputTokens, 0),
      cacheCreationTokens: rows.reduce((n, r) => n + r.cacheWrite5mTokens + r.cacheWrite1hTokens, 0),
      cacheReadTokens: rows.reduce((n, r) => n + r.cacheReadTokens, 0),
      costUsd: priced > 0 || rows.length === 0 ? Math.round(cost * 1e6) / 1e6 : null,
      requests: rows.length,
      unpricedRequests: rows.length - priced,
    };
  };
  const bySession = new Map<string, typeof records>();
  for (const r of records) {
    const key = `${r.agent}\0${r.sessionId}`;
    bySession.set(key, [...(bySession.get(key) ?? []), r]);
  }
  const sessions = [...bySession.values()].map((rows) => {
    const first = rows.reduce((a, b) => (b.timestamp < a.timestamp ? b : a));
    const last = Math.max(...rows.map((r) => r.timestamp));
    return {
      agent: rows[0].agent,
      sessionId: rows[0].sessionId,
      project: first.project,
      models: [...new Set(rows.map((r) => r.model))].sort(),
      firstAt: new Date(first.timestamp).toISOString(),
      lastAt: new Date(last).toISOString(),
      ...sum(rows),
    };
  });
  sessions.sort((a, b) => Date.parse(b.lastAt) - Date.parse(a.lastAt));
  const by = query.by ?? 'session';
  let groups: Array<{ key: string } & Totals> | undefined;
  if (by !== 'session') {
    const keyOf = (r: (typeof records)[number]): string =>
      by === 'day'
        ? LocalCalendar.dayLabel(calendar.dayNumber(r.timestamp))
        : by === 'hour'
          ? LocalCalendar.hourLabel(calendar.hourNumber(r.timestamp))
          : by === 'model'
            ? r.model
            : by === 'project'
              ? r.project
              : r.agent;
    const byKey = new Map<string, typeof records>();
    for (const r of records) byKey.set(keyOf(r), [...(byKey.get(keyOf(r)) ?? []), r]);
    groups = [...byKey].map(([key, rows]) => ({ key, ...sum(rows) }));
    groups.sort((a, b) => (by === 'day' || by === 'hour' ? a.key.localeCompare(b.key) : (b.costUsd ?? 0) - (a.costUsd ?? 0)));
  }
  return { totals: sum(records), sessions, groups };
}

describe('report', () => {
  const ledger = sampleLedger();
  const calendar = new LocalCalendar();
  const days = ledger.records().map((r) => calendar.dayNumber(r.timestamp));
  const firstDay = Math.min(...days);
  const periods: ReportQuery[] = [{}, { sinceDay: firstDay + 10 }, { untilDay: firstDay + 20 }, { sinceDay: firstDay + 5, untilDay: firstDay + 5 }];

  for (const by of GROUP_BYS as GroupBy[]) {
    it(`matches a row-by-row reference, by ${by}, over every period`, () => {
      for (const period of periods) {
        const query = { ...period, by };
        const report = buildReport(ledger, query);
        const expected = reference(ledger, query);
        assert.deepEqual(report.totals, expected.totals, `totals ${JSON.stringify(query)}`);
        assert.deepEqual(report.sessions, expected.sessions, `sessions ${JSON.stringify(query)}`);
        assert.deepEqual(report.groups?.rows, expected.groups, `groups ${JSON.stringify(query)}`);
      }
    });
  }

  it('the sample has what the reference must agree on: unpriced requests, a session id under two agents', () => {
    const report = buildReport(ledger);
    assert.ok(report.totals.unpricedRequests > 0 && report.totals.unpricedRequests < report.totals.requests);
    assert.equal(report.sessions.filter((s) => s.sessionId === 'session-7').length, 2);
    assert.equal(report.sessions.length, 41);
  });

  it('keeps each record under its own session, project and model when consecutive records switch back and forth', () => {
    // The ledger remembers the last value each column interned: A, B, A must not leave the third record under B.
    const switching = new Ledger(prices);
    const values = [
      ['s1', '/p1', 'model-a'],
      ['s2', '/p2', 'model-b'],
      ['s1', '/p1', 'model-a'],
      ['s1', '/p2', 'model-b'],
    ];
    values.forEach(([sessionId, project, model], i) =>
      switching.upsert({
        dedupeKey: `switch:${i}`,
        requestTag: 0,
        agent: i === 3 ? 'codex' : 'claude-code',
        timestamp: Date.UTC(2026, 9, 1, 8, i),
        sessionId,
        project,
        model,
        inputTokens: 1,
        outputTokens: 10 ** i,
        cacheWrite5mTokens: 0,
        cacheWrite1hTokens: 0,
        cacheReadTokens: 0,
        fast: false,
        sidechain: false,
      }),
    );
    const rows = buildReport(switching).sessions.map((s) => [s.agent, s.sessionId, s.project, s.models.join(','), s.outputTokens]);
    assert.deepEqual(
      rows.sort((a, b) => String(a).localeCompare(String(b))),
      [
        ['claude-code', 's1', '/p1', 'model-a', 101],
        ['claude-code', 's2', '/p2', 'model-b', 10],
        ['codex', 's1', '/p2', 'model-b', 1000],
      ],
    );
  });
});
