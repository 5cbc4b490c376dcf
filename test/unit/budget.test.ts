// Budgets: windows, blocks, thresholds, scopes, burn rate and projection, and settings validation.

process.env.TZ = 'Asia/Tokyo'; // local windows are tested off UTC (UTC+9, no DST)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activeBlock, calendarWindow, evaluateBudgets, inWorkspace, mostPressing, parseBudgets, type Budget } from '../../src/core/budget';
import { Ledger } from '../../src/core/ledger';
import { PriceBook } from '../../src/core/pricing/pricing';
import type { UsageEvent } from '../../src/core/usage';

const HOUR = 3_600_000;
// $1 per input token: costs read as token counts.
const prices = new PriceBook({ 'test-model': { input: 1_000_000, output: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0 } });

let n = 0;
function event(at: string | number, usd: number, extra: Partial<UsageEvent> = {}): UsageEvent {
  n++;
  return {
    dedupeKey: `k${n}`,
    requestTag: 0,
    agent: 'claude-code',
    timestamp: typeof at === 'number' ? at : Date.parse(at),
    sessionId: 's1',
    project: '/work/shop',
    model: 'test-model',
    inputTokens: usd,
    outputTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    cacheReadTokens: 0,
    fast: false,
    sidechain: false,
    ...extra,
  };
}

function ledgerOf(events: UsageEvent[]): Ledger {
  const ledger = new Ledger(prices);
  for (const e of events) ledger.upsert(e);
  return ledger;
}

const day = (limitUsd: number, more: Partial<Budget> = {}): Budget => ({ period: 'day', limitUsd, warnAt: [0.5, 0.8], onCap: 'warn', ...more });

describe('budget windows', () => {
  it('days, weeks and months follow the local calendar and the first day of the week', () => {
    const now = Date.parse('2026-11-28T20:00:00Z'); // Sunday 05:00 in Tokyo
    const today = calendarWindow('day', now, 1);
    assert.equal(today.key, 'day:2026-11-29');
    assert.equal(today.start, Date.parse('2026-11-28T15:00:00Z'));
    assert.equal(calendarWindow('week', now, 1).key, 'week:2026-11-23', 'Monday-first week');
    assert.equal(calendarWindow('week', now, 0).key, 'week:2026-11-29', 'Sunday-first week');
    const month = calendarWindow('month', now, 1);
    assert.equal(month.key, 'month:2026-11');
    assert.equal(month.end, Date.parse('2026-11-30T15:00:00Z'));
  });

  it('5-hour blocks start at the hour of the first request after the last block ended', () => {
    const t = (s: string) => Date.parse(`2026-11-28T${s}:00Z`);
    const times = [t('01:20'), t('03:59'), t('06:10'), t('06:30')];
    assert.deepEqual(activeBlock(times, t('07:00')), { start: t('06:00'), end: t('11:00') });
    assert.deepEqual(activeBlock(times.slice(0, 2), t('05:59')), { start: t('01:00'), end: t('06:00') });
    assert.equal(activeBlock(times.slice(0, 2), t('06:00')), null, 'the block is over');
    assert.equal(activeBlock([], t('06:00')), null);
  });

  it('knows which projects lie in the workspace', () => {
    assert.ok(inWorkspace('/work/shop', ['/work/shop']));
    assert.ok(inWorkspace('/work/shop/api', ['/work/shop/']));
    assert.ok(!inWorkspace('/work/shopping', ['/work/shop']));
    assert.ok(inWorkspace('C:\\work\\shop\\api', ['C:\\work\\shop']));
  });
});

describe('evaluating budgets', () => {
  const now = Date.parse('2026-11-28T06:00:00Z'); // 15:00 in Tokyo
  const context = { now, weekStartsOn: 1, workspaceFolders: ['/work/shop'] };

  it('adds up the window, reports the thresholds reached and the level', () => {
    const ledger = ledgerOf([
      event('2026-11-27T12:00:00Z', 100), // yesterday in Tokyo (21:00 on the 27th)
      event('2026-11-27T16:00:00Z', 6), // 01:00 on the 28th: today
      event('2026-11-28T05:30:00Z', 3),
    ]);
    const [state] = evaluateBudgets(ledger, [day(10)], context);
    assert.equal(state.spentUsd, 9);
    assert.equal(state.level, 'warn');
    assert.deepEqual(state.reached, [0.5, 0.8]);
    assert.equal(state.windowLabel, 'today');
    const [capped] = evaluateBudgets(ledger, [day(9)], context);
    assert.equal(capped.level, 'cap');
    assert.deepEqual(capped.reached, [0.5, 0.8, 1]);
    const [fine] = evaluateBudgets(ledger, [day(100)], context);
    assert.equal(fine.level, 'ok');
  });

  it('a threshold reached exactly counts, whatever the float sum says ($2.40 of $3 is 80%)', () => {
    const ledger = ledgerOf([event('2026-11-28T05:00:00Z', 0, { reportedCostUsd: 2 }), event('2026-11-28T05:10:00Z', 0, { reportedCostUsd: 0.4 })]);
    const [state] = evaluateBudgets(ledger, [day(3, { warnAt: [0.8] })], context);
    assert.equal(state.spentUsd, 2.4);
    assert.deepEqual(state.reached, [0.8]);
    assert.equal(state.level, 'warn');
  });

  it('token limits count every kind of token', () => {
    const ledger = ledgerOf([event('2026-11-28T05:00:00Z', 10, { outputTokens: 5, cacheReadTokens: 85 })]);
    const [state] = evaluateBudgets(ledger, [{ period: 'day', limitTokens: 200, warnAt: [0.5], onCap: 'warn' }], context);
    assert.equal(state.unit, 'tokens');
    assert.equal(state.spentTokens, 100);
    assert.equal(state.fraction, 0.5);
  });

  it('an agents filter and the workspace scope narrow what counts', () => {
    const ledger = ledgerOf([
      event('2026-11-28T05:00:00Z', 4),
      event('2026-11-28T05:00:00Z', 2, { agent: 'codex' }),
      event('2026-11-28T05:00:00Z', 1, { project: '/elsewhere' }),
    ]);
    const [all, claude, workspace] = evaluateBudgets(ledger, [day(100), day(100, { agents: ['claude-code'] }), day(100, { scope: 'workspace' })], context);
    assert.equal(all.spentUsd, 7);
    assert.equal(claude.spentUsd, 5);
    assert.equal(workspace.spentUsd, 6);
  });

  it('burn rate over the last hour, and when the cap will be hit at that pace', () => {
    const ledger = ledgerOf([event(now - 60 * 60_000, 2), event(now - 30 * 60_000, 2), event(now - 1, 2)]);
    const [state] = evaluateBudgets(ledger, [day(12)], context);
    assert.ok(Math.abs(state.burnPerHour - 6) < 0.01, `${state.burnPerHour}`);
    assert.ok(state.projectedCapAt !== null && Math.abs(state.projectedCapAt - (now + HOUR)) < 60_000);
    const [far] = evaluateBudgets(ledger, [day(1000)], context);
    assert.equal(far.projectedCapAt, null, 'not before the day ends');
  });

  it('session budgets: one state per recently active session, the rest ignored', () => {
    const ledger = ledgerOf([
      event(now - 10 * 60_000, 3, { sessionId: 'active' }),
      event(now - 5 * 60_000, 3, { sessionId: 'active' }),
      event(now - 2 * 86_400_000, 50, { sessionId: 'old' }),
    ]);
    const states = evaluateBudgets(ledger, [{ period: 'session', limitUsd: 5, warnAt: [0.8], onCap: 'warn' }], context);
    assert.equal(states.length, 1);
    assert.equal(states[0].sessionId, 'active');
    assert.equal(states[0].spentUsd, 6);
    assert.equal(states[0].level, 'cap');
    assert.equal(states[0].windowKey, '0:session:claude-code:active');
  });

  it('the block budget counts the active block only', () => {
    const ledger = ledgerOf([event('2026-11-27T20:00:00Z', 40), event('2026-11-28T04:10:00Z', 5), event('2026-11-28T05:50:00Z', 1)]);
    const [state] = evaluateBudgets(ledger, [{ period: 'block5h', limitUsd: 10, warnAt: [0.5], onCap: 'warn' }], context);
    assert.equal(state.spentUsd, 6);
    assert.equal(state.windowStart, Date.parse('2026-11-28T04:00:00Z'));
  });

  it("the block budget is Claude Code's block: other agents neither open it nor count in it, unless named", () => {
    // A Codex request at 03:30 would otherwise open a block at 03:00 and add its $20 to Claude Code's.
    const ledger = ledgerOf([
      event('2026-11-28T03:30:00Z', 20, { agent: 'codex', sessionId: 'c1' }),
      event('2026-11-28T04:10:00Z', 5),
      event('2026-11-28T05:50:00Z', 1),
    ]);
    const [claude, named] = evaluateBudgets(
      ledger,
      [
        { period: 'block5h', limitUsd: 10, warnAt: [0.5], onCap: 'warn' },
        { period: 'block5h', limitUsd: 100, warnAt: [0.5], onCap: 'warn', agents: ['claude-code', 'codex'] },
      ],
      context,
    );
    assert.equal(claude.spentUsd, 6);
    assert.equal(claude.windowStart, Date.parse('2026-11-28T04:00:00Z'));
    assert.equal(named.spentUsd, 26, 'agents named: they count');
    assert.equal(named.windowStart, Date.parse('2026-11-28T03:00:00Z'));
  });

  it('unpriced requests are counted, never priced at 0 silently', () => {
    const ledger = ledgerOf([event('2026-11-28T05:00:00Z', 4), event('2026-11-28T05:00:00Z', 4, { model: 'no-such-model' })]);
    const [state] = evaluateBudgets(ledger, [day(100)], context);
    assert.equal(state.spentUsd, 4);
    assert.equal(state.unpricedRequests, 1);
  });

  it('the most pressing state is the fullest', () => {
    const ledger = ledgerOf([event('2026-11-28T05:00:00Z', 5)]);
    const states = evaluateBudgets(ledger, [day(100), { ...day(10), period: 'month' }], context);
    assert.equal(mostPressing(states)?.budget.period, 'month');
  });
});

describe('budget settings', () => {
  it('accepts good entries with defaults', () => {
    const { budgets, problems } = parseBudgets([{ period: 'week', limitUsd: 50 }]);
    assert.deepEqual(problems, []);
    assert.deepEqual(budgets, [{ period: 'week', limitUsd: 50, scope: 'all', warnAt: [0.8], onCap: 'warn' }]);
  });

  it('names each problem by its setting path and keeps the good entries', () => {
    const { budgets, problems } = parseBudgets([
      { period: 'fortnight', limitUsd: 5 },
      { period: 'day', limitUsd: -3 },
      { period: 'day', limitUsd: 5, limitTokens: 10 },
      { period: 'day' },
      'cheap',
      { period: 'day', limitUsd: '5' },
      { period: 'month', limitTokens: 1e6, warnAt: [2], onCap: 'explode', scope: 'galaxy', agents: 'claude' },
    ]);
    assert.equal(budgets.length, 1);
    assert.deepEqual(budgets[0], { period: 'month', limitTokens: 1e6, scope: 'all', warnAt: [0.8], onCap: 'warn' });
    const text = problems.join('\n');
    assert.match(text, /agentSpend\.budgets\[0\]\.period must be one of day, week, month, session, block5h \(got "fortnight"\)/);
    assert.match(text, /agentSpend\.budgets\[1\]\.limitUsd must be a positive number \(got -3\)/);
    assert.match(text, /agentSpend\.budgets\[2\] needs exactly one of limitUsd or limitTokens/);
    assert.match(text, /agentSpend\.budgets\[3\] needs exactly one of limitUsd or limitTokens/);
    assert.match(text, /agentSpend\.budgets\[4\] must be an object/);
    assert.match(text, /agentSpend\.budgets\[5\]\.limitUsd must be a positive number \(got "5"\)/);
    assert.match(text, /agentSpend\.budgets\[6\]\.warnAt must be a list of fractions/);
    assert.match(text, /agentSpend\.budgets\[6\]\.onCap must be one of warn, interrupt, stop/);
    assert.match(text, /agentSpend\.budgets\[6\]\.scope must be "all" or "workspace"/);
    assert.match(text, /agentSpend\.budgets\[6\]\.agents must be a list of agent names/);
    assert.deepEqual(parseBudgets({ period: 'day' }).problems, ['agentSpend.budgets must be a list of budgets, e.g. [{ "period": "day", "limitUsd": 20 }]']);
  });

  it('guesses no agent for a short name two edits away: another product ("cody", "warp") is not Codex or Amp', () => {
    const guess = (name: string) => /did you mean "([^"]+)"/.exec(parseBudgets([{ period: 'day', limitUsd: 5, agents: [name] }]).problems[0])?.[1];
    assert.equal(guess('cody'), undefined); // Sourcegraph's, not "codex"
    assert.equal(guess('warp'), undefined); // Warp's, not "amp"
    assert.equal(guess('a'), undefined);
    // Still guessed: a close misspelling, a prefix, a label.
    assert.equal(guess('codx'), 'codex');
    assert.equal(guess('cruhs'), 'crush');
    assert.equal(guess('gemni-cli'), 'gemini-cli');
    assert.equal(guess('qwen'), 'qwen-code');
    assert.equal(guess('Codex CLI'), 'codex');
  });

  it('a 5-hour block left with no known agent says it counts Claude Code alone (what it does), not every agent', () => {
    const { budgets, problems } = parseBudgets([
      { period: 'block5h', limitUsd: 5, agents: ['claud'] },
      { period: 'block5h', limitUsd: 5, agents: 'codex' },
    ]);
    assert.equal(budgets.length, 2);
    assert.equal(budgets[0].agents, undefined);
    assert.match(problems[0], /counting Claude Code alone/);
    assert.doesNotMatch(problems[0], /every agent/);
    assert.match(problems[1], /agents must be a list of agent names.*counting Claude Code alone/);
  });

  it('a budget whose agents are all misspelt warns, and never interrupts or stops the agents it was not meant for', () => {
    // Counting every agent instead keeps the cap from never firing; acting on every agent is not what was asked.
    const { budgets, problems } = parseBudgets([
      { period: 'day', limitUsd: 5, agents: ['claude'], onCap: 'stop' },
      { period: 'day', limitUsd: 5, agents: ['claude-code', 'gemini'], onCap: 'interrupt' },
    ]);
    assert.equal(budgets[0].agents, undefined);
    assert.equal(budgets[0].onCap, 'warn');
    assert.match(problems.join('\n'), /budgets\[0\] warns instead of stopping until the names in its agents are fixed/);
    assert.doesNotMatch(problems.join('\n'), /budgets\[1\] warns instead/);
    assert.equal(budgets[1].onCap, 'interrupt', 'a known name left: it acts on that agent, as set');
    assert.deepEqual(budgets[1].agents, ['claude-code']);
  });

  it('names a misspelt agent instead of keeping a budget that can never count anything', () => {
    // `["claude"]` would match no session, and its cap would never warn: the name is dropped with a message, and a
    // budget left with no known agent counts every agent (a cap reached early, rather than never).
    const { budgets, problems } = parseBudgets([
      { period: 'day', limitUsd: 5, agents: ['claude'] },
      { period: 'day', limitUsd: 5, agents: ['codex', 'gemini'] },
      { period: 'day', limitUsd: 5, agents: ['claude-code', 'codex'] },
    ]);
    assert.equal(budgets.length, 3);
    assert.equal(budgets[0].agents, undefined, 'no known agent left: every agent counts');
    assert.deepEqual(budgets[1].agents, ['codex']);
    assert.deepEqual(budgets[2].agents, ['claude-code', 'codex']);
    assert.equal(problems.length, 2);
    assert.match(problems[0], /agentSpend\.budgets\[0\]\.agents: "claude" is not an agent Agent Spend reads \(did you mean "claude-code"\?\).*counting every agent/);
    assert.match(problems[1], /agentSpend\.budgets\[1\]\.agents: "gemini" is not an agent Agent Spend reads \(did you mean "gemini-cli"\?\); ignoring it/);
  });
});
