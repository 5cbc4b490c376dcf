// Aggregation of the ledger into the report / snapshot every consumer reads (CLI table and JSON, status bar,
// breakdown). One pass over the columns; days are local calendar days.

import type { Ledger } from './ledger';
import { LocalCalendar } from './localTime';

export const REPORT_SCHEMA = 'agent-spend/report@1';

export type GroupBy = 'session' | 'day' | 'model' | 'project' | 'agent';
export const GROUP_BYS: GroupBy[] = ['session', 'day', 'model', 'project', 'agent'];

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

interface Accumulator {
  input: number;
  output: number;
  cacheCreation: number;
  cacheRead: number;
  cost: number;
  priced: number;
  requests: number;
}

function newAccumulator(): Accumulator {
  return { input: 0, output: 0, cacheCreation: 0, cacheRead: 0, cost: 0, priced: 0, requests: 0 };
}

function totalsOf(acc: Accumulator): Totals {
  return {
    inputTokens: acc.input,
    outputTokens: acc.output,
    cacheCreationTokens: acc.cacheCreation,
    cacheReadTokens: acc.cacheRead,
    costUsd: acc.priced > 0 || acc.requests === 0 ? roundUsd(acc.cost) : null,
    requests: acc.requests,
    unpricedRequests: acc.requests - acc.priced,
  };
}

function roundUsd(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

interface SessionAccumulator extends Accumulator {
  agent: number;
  session: number;
  project: number;
  models: Set<number>;
  first: number;
  last: number;
}

export function buildReport(ledger: Ledger, query: ReportQuery = {}, warnings: string[] = []): Report {
  const calendar = new LocalCalendar();
  const c = ledger.columns;
  const strings = ledger.strings.values;
  const total = newAccumulator();
  const sessions = new Map<number, SessionAccumulator>();
  const groups = new Map<string | number, Accumulator>();
  const by = query.by ?? 'session';
  const filterDays = query.sinceDay !== undefined || query.untilDay !== undefined;
  const sinceDay = query.sinceDay ?? -Infinity;
  const untilDay = query.untilDay ?? Infinity;

  for (let row = 0; row < ledger.size; row++) {
    const timestamp = c.timestamp[row];
    let day = 0;
    if (filterDays || by === 'day') {
      day = calendar.dayNumber(timestamp);
      if (day < sinceDay || day > untilDay) continue;
    }
    const input = c.inputTokens[row];
    const output = c.outputTokens[row];
    const cacheCreation = c.cacheWrite5mTokens[row] + c.cacheWrite1hTokens[row];
    const cacheRead = c.cacheReadTokens[row];
    const cost = c.costUsd[row];
    const priced = Number.isNaN(cost) ? 0 : 1;

    add(total, input, output, cacheCreation, cacheRead, cost, priced);

    const sessionKey = c.agent[row] * 0x1000000 + c.session[row];
    let session = sessions.get(sessionKey);
    if (!session) {
      session = {
        ...newAccumulator(),
        agent: c.agent[row],
        session: c.session[row],
        project: c.project[row],
        models: new Set(),
        first: timestamp,
        last: timestamp,
      };
      sessions.set(sessionKey, session);
    }
    add(session, input, output, cacheCreation, cacheRead, cost, priced);
    session.models.add(c.model[row]);
    if (timestamp < session.first) {
      session.first = timestamp;
      session.project = c.project[row];
    }
    if (timestamp > session.last) session.last = timestamp;

    if (by !== 'session') {
      const groupKey =
        by === 'day' ? day : by === 'model' ? c.model[row] : by === 'project' ? c.project[row] : c.agent[row];
      let group = groups.get(groupKey);
      if (!group) groups.set(groupKey, (group = newAccumulator()));
      add(group, input, output, cacheCreation, cacheRead, cost, priced);
    }
  }

  const sessionRows: SessionSummary[] = [...sessions.values()]
    .sort((a, b) => b.last - a.last)
    .map((s) => ({
      agent: strings[s.agent],
      sessionId: strings[s.session],
      project: strings[s.project],
      models: [...s.models].map((m) => strings[m]).sort(),
      firstAt: new Date(s.first).toISOString(),
      lastAt: new Date(s.last).toISOString(),
      ...totalsOf(s),
    }));

  const report: Report = {
    schema: REPORT_SCHEMA,
    generatedAt: new Date().toISOString(),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    since: query.sinceDay !== undefined ? LocalCalendar.dayLabel(query.sinceDay) : null,
    until: query.untilDay !== undefined ? LocalCalendar.dayLabel(query.untilDay) : null,
    totals: totalsOf(total),
    sessions: sessionRows,
    warnings,
  };
  if (by !== 'session') {
    const rows = [...groups.entries()].map(([key, acc]) => ({
      key: by === 'day' ? LocalCalendar.dayLabel(key as number) : strings[key as number],
      ...totalsOf(acc),
    }));
    rows.sort((a, b) => (by === 'day' ? a.key.localeCompare(b.key) : (b.costUsd ?? 0) - (a.costUsd ?? 0)));
    report.groups = { by, rows };
  }
  return report;
}

function add(
  acc: Accumulator,
  input: number,
  output: number,
  cacheCreation: number,
  cacheRead: number,
  cost: number,
  priced: number,
): void {
  acc.input += input;
  acc.output += output;
  acc.cacheCreation += cacheCreation;
  acc.cacheRead += cacheRead;
  if (priced) acc.cost += cost;
  acc.priced += priced;
  acc.requests++;
}
