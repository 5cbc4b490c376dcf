// Budgets: caps over calendar windows, agent sessions and Claude Code's 5-hour blocks; where spend stands against
// them, how fast it is going, and when the cap will be hit at that pace. Pure: the ledger and a clock in, states out.

import { AGENTS } from './agentIds';
import type { Ledger } from './ledger';

export const BUDGET_PERIODS = ['day', 'week', 'month', 'session', 'block5h'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];
export const CAP_ACTIONS = ['warn', 'interrupt', 'stop'] as const;
export type CapAction = (typeof CAP_ACTIONS)[number];

export interface Budget {
  period: BudgetPeriod;
  /** Exactly one of the two limits is set. */
  limitUsd?: number;
  /** Tokens of every kind: input, output, cache writes and cache reads. */
  limitTokens?: number;
  /** Agents this budget counts (e.g. ["claude-code"]); all when absent. */
  agents?: string[];
  /** `workspace`: only sessions whose project lies in one of the open workspace folders. */
  scope?: 'all' | 'workspace';
  /** Fractions of the limit that warn, ascending (the cap itself, 1, always counts). */
  warnAt: number[];
  onCap: CapAction;
}

export type BudgetLevel = 'ok' | 'warn' | 'cap';

export interface BudgetState {
  /** Index of the budget in the configured list. */
  index: number;
  budget: Budget;
  /** Identifies the window (a day, a week, a session, a block): thresholds are crossed once per window. */
  windowKey: string;
  windowLabel: string;
  windowStart: number;
  /** Exclusive; for sessions, the last activity. */
  windowEnd: number;
  spentUsd: number;
  spentTokens: number;
  /** Requests whose cost is unknown: the USD figure is a lower bound when > 0. */
  unpricedRequests: number;
  limit: number;
  unit: 'usd' | 'tokens';
  /** spent / limit. */
  fraction: number;
  level: BudgetLevel;
  /** Every threshold (warnAt values and 1) already reached in this window, ascending. */
  reached: number[];
  /** Spend per hour over the last hour of activity in this window (USD or tokens, as the limit). */
  burnPerHour: number;
  /** When the limit will be reached at the current burn rate, if before the window ends. */
  projectedCapAt: number | null;
  /** The agent session this state is about (session budgets only). */
  sessionId?: string;
  agent?: string;
}

export interface BudgetContext {
  now: number;
  /** 0 = Sunday ... 6 = Saturday. */
  weekStartsOn: number;
  /** Absolute paths of the open workspace folders, for `scope: workspace`. */
  workspaceFolders: string[];
  /** Only sessions active this recently get a session budget state (default 6 h). */
  sessionActiveWithinMs?: number;
}

const HOUR_MS = 3_600_000;
/** Slack for float sums: $2.40 of a $3 cap is 0.7999999999999999 of it, and must still reach 0.8. */
const FRACTION_EPSILON = 1e-9;
const BLOCK_MS = 5 * HOUR_MS;
const BURN_WINDOW_MS = HOUR_MS;

/** True when `project` is one of `folders` or below one of them. */
export function inWorkspace(project: string, folders: string[]): boolean {
  return folders.some((folder) => {
    const base = folder.replace(/[\\/]+$/, '');
    return project === base || project.startsWith(`${base}/`) || project.startsWith(`${base}\\`);
  });
}

function localDate(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Local calendar window [start, end) holding `now` (months and weeks follow the local clock, DST included). */
export function calendarWindow(period: 'day' | 'week' | 'month', now: number, weekStartsOn: number): { start: number; end: number; key: string; label: string } {
  const date = new Date(now);
  const startOfDay = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate());
  if (period === 'day') {
    const start = startOfDay(date);
    const end = new Date(start.getFullYear(), start.getMonth(), start.getDate() + 1);
    return { start: start.getTime(), end: end.getTime(), key: `day:${localDate(start)}`, label: 'today' };
  }
  if (period === 'week') {
    const today = startOfDay(date);
    const back = (today.getDay() - weekStartsOn + 7) % 7;
    const start = new Date(today.getFullYear(), today.getMonth(), today.getDate() - back);
    const end = new Date(start.getFullYear(), start.getMonth(), start.getDate() + 7);
    return { start: start.getTime(), end: end.getTime(), key: `week:${localDate(start)}`, label: 'this week' };
  }
  const start = new Date(date.getFullYear(), date.getMonth(), 1);
  const end = new Date(date.getFullYear(), date.getMonth() + 1, 1);
  return {
    start: start.getTime(),
    end: end.getTime(),
    key: `month:${start.getFullYear()}-${String(start.getMonth() + 1).padStart(2, '0')}`,
    label: 'this month',
  };
}

/**
 * Claude Code's 5-hour usage blocks, as ccusage counts them: a block starts at the hour of the first request after
 * the previous block ended, and lasts five hours. Returns the block holding `now`, if any request opened one.
 */
export function activeBlock(timestamps: number[], now: number): { start: number; end: number } | null {
  let start = Number.NaN;
  for (const t of timestamps) {
    if (t > now) continue;
    if (Number.isNaN(start) || t >= start + BLOCK_MS) start = Math.floor(t / HOUR_MS) * HOUR_MS;
  }
  if (Number.isNaN(start) || now >= start + BLOCK_MS) return null;
  return { start, end: start + BLOCK_MS };
}

interface Sums {
  usd: number;
  tokens: number;
  unpriced: number;
  recentUsd: number;
  recentTokens: number;
  firstRecent: number;
}

/** Whose requests a `block5h` budget counts when it names no agents. */
const BLOCK_AGENTS: readonly string[] = ['claude-code'];

/**
 * The agents a budget counts (and, at its cap, acts on): the ones it names; when it names none, every agent (undefined),
 * but Claude Code alone for the 5-hour block, Claude Code's usage window: other agents' requests neither open one nor
 * count in it.
 */
export function budgetAgents(budget: Pick<Budget, 'period' | 'agents'>): readonly string[] | undefined {
  return budget.agents ?? (budget.period === 'block5h' ? BLOCK_AGENTS : undefined);
}

/** Evaluates every budget at `context.now`. Rows are read once per budget; budgets are few. */
export function evaluateBudgets(ledger: Ledger, budgets: Budget[], context: BudgetContext): BudgetState[] {
  const c = ledger.columns;
  const strings = ledger.strings.values;
  const states: BudgetState[] = [];
  const now = context.now;
  const activeWithin = context.sessionActiveWithinMs ?? 6 * HOUR_MS;

  budgets.forEach((budget, index) => {
    const agents = budgetAgents(budget);
    const agentIds = agents ? new Set(agents) : null;
    const projectOk = new Map<number, boolean>();
    const counts = (row: number): boolean => {
      if (agentIds && !agentIds.has(strings[c.agent[row]])) return false;
      if (budget.scope === 'workspace') {
        const project = c.project[row];
        let ok = projectOk.get(project);
        if (ok === undefined) projectOk.set(project, (ok = inWorkspace(strings[project], context.workspaceFolders)));
        if (!ok) return false;
      }
      return true;
    };
    const unit = budget.limitUsd !== undefined ? 'usd' : 'tokens';
    const limit = budget.limitUsd ?? budget.limitTokens ?? 0;

    const sum = (from: number, to: number, extra?: (row: number) => boolean): Sums => {
      const sums: Sums = { usd: 0, tokens: 0, unpriced: 0, recentUsd: 0, recentTokens: 0, firstRecent: Infinity };
      for (let row = 0; row < ledger.size; row++) {
        const t = c.timestamp[row];
        if (t < from || t >= to || !counts(row) || (extra && !extra(row))) continue;
        const cost = c.costUsd[row];
        const tokens = c.inputTokens[row] + c.outputTokens[row] + c.cacheWrite5mTokens[row] + c.cacheWrite1hTokens[row] + c.cacheReadTokens[row];
        if (cost === cost) sums.usd += cost;
        else sums.unpriced++;
        sums.tokens += tokens;
        if (t >= now - BURN_WINDOW_MS) {
          if (cost === cost) sums.recentUsd += cost;
          sums.recentTokens += tokens;
          if (t < sums.firstRecent) sums.firstRecent = t;
        }
      }
      return sums;
    };

    const push = (window: { start: number; end: number; key: string; label: string }, sums: Sums, session?: { id: string; agent: string }) => {
      const spent = unit === 'usd' ? sums.usd : sums.tokens;
      const fraction = limit > 0 ? spent / limit : 0;
      const thresholds = [...new Set([...budget.warnAt, 1])].sort((a, b) => a - b);
      const reached = thresholds.filter((threshold) => fraction >= threshold - FRACTION_EPSILON);
      const capped = fraction >= 1 - FRACTION_EPSILON;
      // Burn rate over the last hour of activity: an hour of data, or since the first recent request.
      const recent = unit === 'usd' ? sums.recentUsd : sums.recentTokens;
      const span = Math.max(now - Math.min(sums.firstRecent, now), 5 * 60_000);
      const burnPerHour = recent > 0 ? (recent / span) * HOUR_MS : 0;
      let projectedCapAt: number | null = null;
      if (burnPerHour > 0 && !capped) {
        const at = now + ((limit - spent) / burnPerHour) * HOUR_MS;
        if (session || at < window.end) projectedCapAt = at;
      }
      states.push({
        index,
        budget,
        windowKey: `${index}:${window.key}`,
        windowLabel: window.label,
        windowStart: window.start,
        windowEnd: window.end,
        spentUsd: sums.usd,
        spentTokens: sums.tokens,
        unpricedRequests: sums.unpriced,
        limit,
        unit,
        fraction,
        level: capped ? 'cap' : reached.length > 0 ? 'warn' : 'ok',
        reached,
        burnPerHour,
        projectedCapAt,
        ...(session ? { sessionId: session.id, agent: session.agent } : {}),
      });
    };

    switch (budget.period) {
      case 'day':
      case 'week':
      case 'month': {
        const window = calendarWindow(budget.period, now, context.weekStartsOn);
        push(window, sum(window.start, window.end));
        break;
      }
      case 'block5h': {
        const times: number[] = [];
        for (let row = 0; row < ledger.size; row++) if (counts(row)) times.push(c.timestamp[row]);
        times.sort((a, b) => a - b);
        const block = activeBlock(times, now);
        const window = block
          ? { ...block, key: `block:${new Date(block.start).toISOString()}`, label: 'this 5-hour block' }
          : { start: now, end: now + BLOCK_MS, key: 'block:none', label: 'no active 5-hour block' };
        push(window, block ? sum(block.start, block.end) : sum(0, 0));
        break;
      }
      case 'session': {
        // One state per recently active session of the budget's agents.
        const last = new Map<number, { agent: number; first: number; last: number }>();
        for (let row = 0; row < ledger.size; row++) {
          if (!counts(row)) continue;
          const key = c.agent[row] * 0x1000000 + c.session[row];
          const t = c.timestamp[row];
          const seen = last.get(key);
          if (!seen) last.set(key, { agent: c.agent[row], first: t, last: t });
          else {
            if (t < seen.first) seen.first = t;
            if (t > seen.last) seen.last = t;
          }
        }
        for (const [key, info] of last) {
          if (now - info.last > activeWithin) continue;
          const session = key % 0x1000000;
          const sums = sum(-Infinity, Infinity, (row) => c.session[row] === session && c.agent[row] === info.agent);
          push(
            { start: info.first, end: info.last, key: `session:${strings[info.agent]}:${strings[session]}`, label: 'this session' },
            sums,
            { id: strings[session], agent: strings[info.agent] },
          );
        }
        break;
      }
    }
  });
  return states;
}

/** The state the status bar shows: the highest fraction, ties to the shortest window. */
export function mostPressing(states: BudgetState[]): BudgetState | undefined {
  return [...states].sort((a, b) => b.fraction - a.fraction || a.windowEnd - a.windowStart - (b.windowEnd - b.windowStart))[0];
}

/**
 * Reads budgets from settings, naming every problem by its setting path. A bad entry is dropped (the others still
 * count); nothing here throws.
 */
const AGENT_IDS: ReadonlySet<string> = new Set(AGENTS.map((agent) => agent.id));

/** The agent id a misspelt or misnamed one most likely meant ("claude", "Claude Code", "gemini"), if any. */
function closestAgent(name: string): string | undefined {
  const wanted = name.trim().toLowerCase().replace(/[\s_]+/g, '-');
  for (const { id, label } of AGENTS) if (wanted === id || wanted === label.toLowerCase().replace(/\s+/g, '-')) return id;
  const prefixed = AGENTS.filter(({ id }) => id.startsWith(wanted) || wanted.startsWith(id));
  if (prefixed.length === 1) return prefixed[0].id;
  let best: string | undefined;
  // At most two edits, and fewer for a short name: two make "cody" (another product) "codex", and "a" "amp".
  let bestDistance = (wanted.length >= 5 ? 2 : wanted.length >= 3 ? 1 : 0) + 1;
  for (const { id } of AGENTS) {
    const distance = editDistance(wanted, id);
    if (distance < bestDistance) [best, bestDistance] = [id, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

export function parseBudgets(value: unknown, setting = 'agentSpend.budgets'): { budgets: Budget[]; problems: string[] } {
  const problems: string[] = [];
  const budgets: Budget[] = [];
  if (value === undefined || value === null) return { budgets, problems };
  if (!Array.isArray(value)) {
    problems.push(`${setting} must be a list of budgets, e.g. [{ "period": "day", "limitUsd": 20 }]`);
    return { budgets, problems };
  }
  value.forEach((entry: unknown, i) => {
    const at = `${setting}[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${at} must be an object like { "period": "day", "limitUsd": 20 }`);
      return;
    }
    const e = entry as Record<string, unknown>;
    if (!BUDGET_PERIODS.includes(e.period as BudgetPeriod)) {
      problems.push(`${at}.period must be one of ${BUDGET_PERIODS.join(', ')} (got ${JSON.stringify(e.period)})`);
      return;
    }
    const positive = (name: string): number | undefined => {
      const v = e[name];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        problems.push(`${at}.${name} must be a positive number (got ${JSON.stringify(v)})`);
        return Number.NaN;
      }
      return v;
    };
    const limitUsd = positive('limitUsd');
    const limitTokens = positive('limitTokens');
    if (Number.isNaN(limitUsd) || Number.isNaN(limitTokens)) return;
    if ((limitUsd === undefined) === (limitTokens === undefined)) {
      problems.push(`${at} needs exactly one of limitUsd or limitTokens`);
      return;
    }
    let warnAt = [0.8];
    if (e.warnAt !== undefined) {
      if (!Array.isArray(e.warnAt) || !e.warnAt.every((f) => typeof f === 'number' && f > 0 && f <= 1)) {
        problems.push(`${at}.warnAt must be a list of fractions between 0 and 1, e.g. [0.5, 0.8] (got ${JSON.stringify(e.warnAt)}); using [0.8]`);
      } else {
        warnAt = [...(e.warnAt as number[])].sort((a, b) => a - b);
      }
    }
    let agents: string[] | undefined;
    /** The agents were named, but none could be read: the budget counts as one naming none. */
    let agentsUnclear = false;
    // What a budget naming no agents counts (see budgetAgents()).
    const unnamed = e.period === 'block5h' ? 'counting Claude Code alone' : 'counting every agent';
    if (e.agents !== undefined) {
      if (!Array.isArray(e.agents) || !e.agents.every((a) => typeof a === 'string' && a.length > 0)) {
        problems.push(`${at}.agents must be a list of agent names, e.g. ["claude-code"]; ${unnamed}`);
        agentsUnclear = true;
      } else if (e.agents.length > 0) {
        // A name Agent Spend does not read would match no session, and the cap would never be reached.
        const names = e.agents as string[];
        const unknown = names.filter((name) => !AGENT_IDS.has(name));
        const known = names.filter((name) => AGENT_IDS.has(name));
        if (unknown.length > 0) {
          const named = unknown.map((name) => {
            const guess = closestAgent(name);
            return `"${name}" is not an agent Agent Spend reads${guess ? ` (did you mean "${guess}"?)` : ''}`;
          });
          problems.push(
            `${at}.agents: ${named.join('; ')}; ` +
              (known.length > 0 ? `ignoring ${unknown.length === 1 ? 'it' : 'them'}` : `${unnamed} (known: ${[...AGENT_IDS].join(', ')})`),
          );
        }
        if (known.length > 0) agents = known;
        else agentsUnclear = true;
      }
    }
    let scope: 'all' | 'workspace' = 'all';
    if (e.scope !== undefined) {
      if (e.scope !== 'all' && e.scope !== 'workspace') problems.push(`${at}.scope must be "all" or "workspace"; using "all"`);
      else scope = e.scope;
    }
    let onCap: CapAction = 'warn';
    if (e.onCap !== undefined) {
      if (!CAP_ACTIONS.includes(e.onCap as CapAction)) problems.push(`${at}.onCap must be one of ${CAP_ACTIONS.join(', ')}; using "warn"`);
      else onCap = e.onCap as CapAction;
    }
    // Counting more agents than meant keeps the cap from never firing; acting on agents never meant is another matter.
    if (agentsUnclear && onCap !== 'warn') {
      problems.push(`${at} warns instead of ${onCap === 'stop' ? 'stopping' : 'interrupting'} until the names in its agents are fixed`);
      onCap = 'warn';
    }
    budgets.push({
      period: e.period as BudgetPeriod,
      ...(limitUsd !== undefined ? { limitUsd } : { limitTokens: limitTokens as number }),
      ...(agents ? { agents } : {}),
      scope,
      warnAt,
      onCap,
    });
  });
  return { budgets, problems };
}
