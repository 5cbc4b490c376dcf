// Aggregation of the ledger into the report / snapshot every consumer reads (CLI table and JSON, status bar,
// breakdown). One pass over the columns; days are local calendar days.

import type { Ledger } from './ledger';
import { LocalCalendar, localTimeZoneName } from './localTime';

export const REPORT_SCHEMA = 'agent-spend/report@1';

export type GroupBy = 'session' | 'hour' | 'day' | 'model' | 'project' | 'agent';
export const GROUP_BYS: GroupBy[] = ['session', 'hour', 'day', 'model', 'project', 'agent'];

export interface Totals {
  inputTokens: number;
  outputTokens: number;
  /** 5-minute and 1-hour cache writes together. */
  cacheCreationTokens: number;
  cacheReadTokens: number;
  /** USD of the priced requests; null when none of them could be priced. */
  costUsd: number | null;
  requests: number;
  /** Requests whose model has no known price: their tokens count, their cost is unknown (never 0). */
  unpricedRequests: number;
}

export interface SessionSummary extends Totals {
  agent: string;
  sessionId: string;
  project: string;
  models: string[];
  firstAt: string;
  lastAt: string;
}

export interface GroupSummary extends Totals {
  key: string;
}

export interface ReportQuery {
  /** Local day numbers (see LocalCalendar), inclusive. */
  sinceDay?: number;
  untilDay?: number;
  by?: GroupBy;
  /** Only these agents' requests count (the CLI's `--agent` / `--no-agent`); every agent's when absent. */
  agents?: readonly string[];
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  generatedAt: string;
  timeZone: string;
  since: string | null;
  until: string | null;
  totals: Totals;
  sessions: SessionSummary[];
  /** Present when grouped by day, model, project or agent. */
  groups?: { by: GroupBy; rows: GroupSummary[] };
  warnings: string[];
}

/**
 * Sums per slot (a session, a day, a model...) in typed arrays: one tight loop over the ledger's columns, with no
 * object per row or per group.
 */
class Sums {
  input: Float64Array;
  output: Float64Array;
  cacheCreation: Float64Array;
  cacheRead: Float64Array;
  cost: Float64Array;
  priced: Float64Array;
  requests: Float64Array;
  size = 0;

  constructor(capacity = 64) {
    this.input = new Float64Array(capacity);
    this.output = new Float64Array(capacity);
    this.cacheCreation = new Float64Array(capacity);
    this.cacheRead = new Float64Array(capacity);
    this.cost = new Float64Array(capacity);
    this.priced = new Float64Array(capacity);
    this.requests = new Float64Array(capacity);
  }

  /** A new zeroed slot. */
  slot(): number {
    if (this.size === this.input.length) {
      for (const name of ['input', 'output', 'cacheCreation', 'cacheRead', 'cost', 'priced', 'requests'] as const) {
        const bigger = new Float64Array(this.input.length * 2);
        bigger.set(this[name]);
        this[name] = bigger;
      }
    }
    return this.size++;
  }

  add(slot: number, input: number, output: number, cacheCreation: number, cacheRead: number, cost: number): void {
    this.input[slot] += input;
    this.output[slot] += output;
    this.cacheCreation[slot] += cacheCreation;
    this.cacheRead[slot] += cacheRead;
    if (cost === cost) {
      this.cost[slot] += cost;
      this.priced[slot]++;
    }
    this.requests[slot]++;
  }

  totals(slot: number): Totals {
    const requests = this.requests[slot];
    const priced = this.priced[slot];
    return {
      inputTokens: this.input[slot],
      outputTokens: this.output[slot],
      cacheCreationTokens: this.cacheCreation[slot],
      cacheReadTokens: this.cacheRead[slot],
      costUsd: priced > 0 || requests === 0 ? roundUsd(this.cost[slot]) : null,
      requests,
      unpricedRequests: requests - priced,
    };
  }
}

function roundUsd(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** Slots keyed by a small integer (a string id, a day number): a dense array, with a map for stragglers. */
class SlotIndex {
  private readonly dense: Int32Array;
  private readonly sparse = new Map<number, number>();

  constructor(private readonly base: number, size: number) {
    this.dense = new Int32Array(Math.max(0, size)).fill(-1);
  }

  get(key: number): number {
    const i = key - this.base;
    if (i >= 0 && i < this.dense.length) return this.dense[i];
    return this.sparse.get(key) ?? -1;
  }

  set(key: number, slot: number): void {
    const i = key - this.base;
    if (i >= 0 && i < this.dense.length) this.dense[i] = slot;
    else this.sparse.set(key, slot);
  }
}

export function buildReport(ledger: Ledger, query: ReportQuery = {}, warnings: string[] = []): Report {
  const calendar = new LocalCalendar();
  const c = ledger.columns;
  const strings = ledger.strings.values;
  const by = query.by ?? 'session';
  const filterDays = query.sinceDay !== undefined || query.untilDay !== undefined;
  const sinceDay = query.sinceDay ?? -Infinity;
  const untilDay = query.untilDay ?? Infinity;
  // Per interned string: whether it names an agent whose requests count (null: every agent's do).
  let countedAgent: Uint8Array | null = null;
  if (query.agents) {
    countedAgent = new Uint8Array(strings.length);
    strings.forEach((value, id) => {
      if (query.agents!.includes(value)) countedAgent![id] = 1;
    });
  }

  const total = new Sums(1);
  total.slot();
  // Sessions are keyed by their id string (ids are UUIDs: one agent's never collides with another's, and the
  // agent is checked anyway).
  const sessionSlots = new SlotIndex(0, strings.length);
  const sessions = new Sums(256);
  const sessionAgent: number[] = [];
  const sessionId: number[] = [];
  const sessionProject: number[] = [];
  const sessionFirst: number[] = [];
  const sessionLast: number[] = [];
  const sessionModels: Array<Set<number>> = [];
  const sessionLastModel: number[] = [];
  const collidingSessions = new Map<string, number>();

  const groupByDay = by === 'day';
  const groupByHour = by === 'hour';
  // Days fit a dense index around today; hours go to the sparse map; the rest are string ids.
  const groupSlots = new SlotIndex(groupByDay ? calendar.dayNumber(Date.now()) - 4000 : 0, groupByDay ? 8000 : groupByHour ? 0 : strings.length);
  const groups = new Sums(64);
  const groupKeys: number[] = [];
  // Declared once, not per row: a closure per row was most of a cold (not yet optimised) report.
  const newSession = (agent: number, session: number, project: number, timestamp: number): number => {
    const created = sessions.slot();
    sessionAgent[created] = agent;
    sessionId[created] = session;
    sessionProject[created] = project;
    sessionFirst[created] = timestamp;
    sessionLast[created] = timestamp;
    sessionModels[created] = new Set();
    sessionLastModel[created] = -1;
    return created;
  };

  for (let row = 0; row < ledger.size; row++) {
    const agent = c.agent[row];
    if (countedAgent !== null && countedAgent[agent] === 0) continue;
    const timestamp = c.timestamp[row];
    let day = 0;
    if (filterDays || groupByDay) {
      day = calendar.dayNumber(timestamp);
      if (day < sinceDay || day > untilDay) continue;
    }
    const input = c.inputTokens[row];
    const output = c.outputTokens[row];
    const cacheCreation = c.cacheWrite5mTokens[row] + c.cacheWrite1hTokens[row];
    const cacheRead = c.cacheReadTokens[row];
    const cost = c.costUsd[row];
    total.add(0, input, output, cacheCreation, cacheRead, cost);

    const session = c.session[row];
    let slot = sessionSlots.get(session);
    if (slot >= 0 && sessionAgent[slot] !== agent) {
      const key = `${agent}:${session}`;
      slot = collidingSessions.get(key) ?? -1;
      if (slot < 0) collidingSessions.set(key, (slot = newSession(agent, session, c.project[row], timestamp)));
    } else if (slot < 0) {
      sessionSlots.set(session, (slot = newSession(agent, session, c.project[row], timestamp)));
    }
    sessions.add(slot, input, output, cacheCreation, cacheRead, cost);
    const model = c.model[row];
    if (model !== sessionLastModel[slot]) {
      sessionModels[slot].add(model);
      sessionLastModel[slot] = model;
    }
    if (timestamp < sessionFirst[slot]) {
      sessionFirst[slot] = timestamp;
      sessionProject[slot] = c.project[row];
    }
    if (timestamp > sessionLast[slot]) sessionLast[slot] = timestamp;

    if (by !== 'session') {
      const key = groupByDay
        ? day
        : groupByHour
          ? calendar.hourNumber(timestamp)
          : by === 'model'
            ? model
            : by === 'project'
              ? c.project[row]
              : agent;
      let group = groupSlots.get(key);
      if (group < 0) {
        groupSlots.set(key, (group = groups.slot()));
        groupKeys.push(key);
      }
      groups.add(group, input, output, cacheCreation, cacheRead, cost);
    }

  }

  const order = Array.from({ length: sessions.size }, (_, slot) => slot).sort((a, b) => sessionLast[b] - sessionLast[a]);
  // Plain object literals, no spread: this runs once per report over every session, before anything is optimised.
  const sessionRows: SessionSummary[] = [];
  for (const slot of order) {
    const models: string[] = [];
    for (const m of sessionModels[slot]) models.push(strings[m]);
    const totals = sessions.totals(slot);
    sessionRows.push({
      agent: strings[sessionAgent[slot]],
      sessionId: strings[sessionId[slot]],
      project: strings[sessionProject[slot]],
      models: models.sort(),
      firstAt: new Date(sessionFirst[slot]).toISOString(),
      lastAt: new Date(sessionLast[slot]).toISOString(),
      inputTokens: totals.inputTokens,
      outputTokens: totals.outputTokens,
      cacheCreationTokens: totals.cacheCreationTokens,
      cacheReadTokens: totals.cacheReadTokens,
      costUsd: totals.costUsd,
      requests: totals.requests,
      unpricedRequests: totals.unpricedRequests,
    });
  }

  const report: Report = {
    schema: REPORT_SCHEMA,
    generatedAt: new Date().toISOString(),
    timeZone: localTimeZoneName(),
    since: query.sinceDay !== undefined ? LocalCalendar.dayLabel(query.sinceDay) : null,
    until: query.untilDay !== undefined ? LocalCalendar.dayLabel(query.untilDay) : null,
    totals: total.totals(0),
    sessions: sessionRows,
    warnings,
  };
  if (by !== 'session') {
    const rows = groupKeys.map((key, slot) => ({
      key: groupByDay ? LocalCalendar.dayLabel(key) : groupByHour ? LocalCalendar.hourLabel(key) : strings[key],
      ...groups.totals(slot),
    }));
    rows.sort((a, b) => (groupByDay || groupByHour ? a.key.localeCompare(b.key) : (b.costUsd ?? 0) - (a.costUsd ?? 0)));
    report.groups = { by, rows };
  }
  return report;
}
