// What the status bar and the warnings need, computed in the engine's thread: spend in the standard windows, the
// budgets' states, and the sessions running now.

import { activeBlock, calendarWindow, evaluateBudgets, type Budget, type BudgetState } from './budget';
import type { Ledger } from './ledger';

export interface WindowSpend {
  label: string;
  start: number;
  end: number;
  usd: number;
  tokens: number;
  requests: number;
  unpricedRequests: number;
}

export interface RunningSession {
  agent: string;
  sessionId: string;
  project: string;
  model: string;
  usd: number;
  /** Requests of the session whose model has no known price (their cost is not in `usd`). */
  unpricedRequests: number;
  /** The session's first request. */
  firstAt: number;
  lastAt: number;
  /** USD per hour over the last hour. */
  burnPerHour: number;
}

export interface Meter {
  now: number;
  today: WindowSpend;
  week: WindowSpend;
  month: WindowSpend;
  /** The active 5-hour block, if any request opened one. */
  block: WindowSpend | null;
  budgets: BudgetState[];
  running: RunningSession[];
  /** Today's spend per agent, most first (agents with none today are left out). */
  agentsToday: Array<{ agent: string; usd: number; tokens: number; requests: number; unpricedRequests: number }>;
}

export interface MeterOptions {
  budgets: Budget[];
  weekStartsOn: number;
  workspaceFolders: string[];
  /** A session is running when it wrote within this long (default 10 minutes). */
  runningWithinMs?: number;
}

const HOUR_MS = 3_600_000;

function spendIn(ledger: Ledger, label: string, start: number, end: number): WindowSpend {
  const c = ledger.columns;
  const spend: WindowSpend = { label, start, end, usd: 0, tokens: 0, requests: 0, unpricedRequests: 0 };
  for (let row = 0; row < ledger.size; row++) {
    const t = c.timestamp[row];
    if (t < start || t >= end) continue;
    const cost = c.costUsd[row];
    if (cost === cost) spend.usd += cost;
    else spend.unpricedRequests++;
    spend.tokens += c.inputTokens[row] + c.outputTokens[row] + c.cacheWrite5mTokens[row] + c.cacheWrite1hTokens[row] + c.cacheReadTokens[row];
    spend.requests++;
  }
  return spend;
}

export function buildMeter(ledger: Ledger, options: MeterOptions, now = Date.now()): Meter {
  const day = calendarWindow('day', now, options.weekStartsOn);
  const week = calendarWindow('week', now, options.weekStartsOn);
  const month = calendarWindow('month', now, options.weekStartsOn);
  const c = ledger.columns;
  const strings = ledger.strings.values;

  const times: number[] = [];
  for (let row = 0; row < ledger.size; row++) times.push(c.timestamp[row]);
  times.sort((a, b) => a - b);
  const block = activeBlock(times, now);

  // Running sessions: written to within the last few minutes.
  const runningWithin = options.runningWithinMs ?? 10 * 60_000;
  const sessions = new Map<number, RunningSession & { firstRecent: number; recentUsd: number }>();
  for (let row = 0; row < ledger.size; row++) {
    const t = c.timestamp[row];
    if (t < now - runningWithin) continue;
    const key = c.agent[row] * 0x1000000 + c.session[row];
    if (!sessions.has(key)) {
      sessions.set(key, {
        agent: strings[c.agent[row]],
        sessionId: strings[c.session[row]],
        project: strings[c.project[row]],
        model: strings[c.model[row]],
        usd: 0,
        unpricedRequests: 0,
        firstAt: t,
        lastAt: t,
        burnPerHour: 0,
        firstRecent: Infinity,
        recentUsd: 0,
      });
    }
  }
  if (sessions.size > 0) {
    for (let row = 0; row < ledger.size; row++) {
      const session = sessions.get(c.agent[row] * 0x1000000 + c.session[row]);
      if (!session) continue;
      const t = c.timestamp[row];
      const cost = c.costUsd[row];
      if (cost === cost) session.usd += cost;
      else session.unpricedRequests++;
      if (t < session.firstAt) session.firstAt = t;
      if (t >= session.lastAt) {
        session.lastAt = t;
        session.model = strings[c.model[row]];
        session.project = strings[c.project[row]];
      }
      if (t >= now - HOUR_MS) {
        if (cost === cost) session.recentUsd += cost;
        session.firstRecent = Math.min(session.firstRecent, t);
      }
    }
  }
  const running = [...sessions.values()]
    .map(({ firstRecent, recentUsd, ...session }) => ({
      ...session,
      burnPerHour: recentUsd > 0 ? (recentUsd / Math.max(now - Math.min(firstRecent, now), 5 * 60_000)) * HOUR_MS : 0,
    }))
    .sort((a, b) => b.lastAt - a.lastAt);

  const perAgent = new Map<number, Meter['agentsToday'][number]>();
  for (let row = 0; row < ledger.size; row++) {
    const t = c.timestamp[row];
    if (t < day.start || t >= day.end) continue;
    let spend = perAgent.get(c.agent[row]);
    if (!spend) perAgent.set(c.agent[row], (spend = { agent: strings[c.agent[row]], usd: 0, tokens: 0, requests: 0, unpricedRequests: 0 }));
    const cost = c.costUsd[row];
    if (cost === cost) spend.usd += cost;
    else spend.unpricedRequests++;
    spend.tokens += c.inputTokens[row] + c.outputTokens[row] + c.cacheWrite5mTokens[row] + c.cacheWrite1hTokens[row] + c.cacheReadTokens[row];
    spend.requests++;
  }

  return {
    now,
    agentsToday: [...perAgent.values()].sort((a, b) => b.usd - a.usd || b.tokens - a.tokens),
    today: spendIn(ledger, day.label, day.start, day.end),
    week: spendIn(ledger, week.label, week.start, week.end),
    month: spendIn(ledger, month.label, month.start, month.end),
    block: block ? spendIn(ledger, 'this 5-hour block', block.start, block.end) : null,
    budgets: evaluateBudgets(ledger, options.budgets, { now, weekStartsOn: options.weekStartsOn, workspaceFolders: options.workspaceFolders }),
    running,
  };
}
