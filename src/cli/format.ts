// Human-readable tables for the terminal. Pure functions of a Report.

import type { GroupSummary, Report, SessionSummary, Totals } from '../core/report';
import { costText, tokens } from '../shared/format';

function localDateTime(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function shortenPath(project: string, width: number): string {
  if (project.length <= width) return project;
  return `…${project.slice(project.length - width + 1)}`;
}

/** Strips control characters so that a hostile path or model name cannot drive the terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function table(headers: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const TOKEN_HEADERS = ['Requests', 'Input', 'Output', 'Cache write', 'Cache read', 'Cost'];

function tokenCells(t: Totals): string[] {
  return [
    String(t.requests),
    tokens(t.inputTokens),
    tokens(t.outputTokens),
    tokens(t.cacheCreationTokens),
    tokens(t.cacheReadTokens),
    costText(t),
  ];
}

function sessionRow(s: SessionSummary): string[] {
  return [
    localDateTime(s.lastAt),
    s.agent,
    printable(s.sessionId.slice(0, 8)),
    printable(shortenPath(s.project, 36)),
    printable(s.models.map((m) => m.replace(/^claude-/, '').replace(/-\d{8}$/, '')).join(',')),
    ...tokenCells(s),
  ];
}

export function formatReport(report: Report, limit = Infinity): string {
  const right = new Set([5, 6, 7, 8, 9, 10]);
  let body: string;
  if (report.groups) {
    const rows = report.groups.rows.map((g: GroupSummary) => [printable(g.key), ...tokenCells(g)]);
    rows.push(['Total', ...tokenCells(report.totals)]);
    body = table([report.groups.by[0].toUpperCase() + report.groups.by.slice(1), ...TOKEN_HEADERS], rows, new Set([1, 2, 3, 4, 5, 6]));
  } else {
    const sessions = report.sessions.slice(0, limit);
    const rows = sessions.map(sessionRow);
    if (report.sessions.length > sessions.length) {
      rows.push([`… ${report.sessions.length - sessions.length} older session(s)`, '', '', '', '', '', '', '', '', '', '']);
    }
    rows.push(['Total', '', `${report.sessions.length}`, '', '', ...tokenCells(report.totals)]);
    body = table(['Last activity', 'Agent', 'Session', 'Project', 'Models', ...TOKEN_HEADERS], rows, right);
  }
  const range = report.since || report.until ? ` (${report.since ?? '…'} to ${report.until ?? 'now'})` : '';
  const notes: string[] = [];
  if (report.totals.unpricedRequests > 0) {
    notes.push(`${report.totals.unpricedRequests} request(s) use a model with no known price: their cost is shown as "?" (add it with --prices).`);
  }
  for (const warning of report.warnings) notes.push(`warning: ${warning}`);
  return [`Agent Spend${range}, times in ${report.timeZone}`, '', body, ...(notes.length ? ['', ...notes] : [])].join('\n');
}
