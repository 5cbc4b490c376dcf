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

/** Zero-width code points: combining marks, joiners, variation selectors. */
const ZERO_WIDTH = /^[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u200b-\u200f\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f]$/;

/** East Asian wide and fullwidth code points, and the emoji blocks, which terminals draw two cells wide. */
function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0x303e) ||
    (code >= 0x3041 && code <= 0x33ff) ||
    (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x4e00 && code <= 0x9fff) ||
    (code >= 0xa000 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1f64f) ||
    (code >= 0x1f900 && code <= 0x1f9ff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  );
}

/** How many terminal cells `text` takes (so that columns line up under CJK project names and accents). */
export function cellWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    if (ZERO_WIDTH.test(char)) continue;
    width += isWide(char.codePointAt(0)!) ? 2 : 1;
  }
  return width;
}

function table(headers: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = headers.map((h, i) => Math.max(cellWidth(h), ...rows.map((r) => cellWidth(r[i]))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => {
        const pad = ' '.repeat(widths[i] - cellWidth(cell));
        return rightAligned.has(i) ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
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

/**
 * How much of each session id to show: 8 characters, or as many as it takes for the sessions listed to differ (the
 * ids of one minute share their first 8 when they are UUIDv7, as Codex's are).
 */
function idLength(sessions: readonly SessionSummary[]): number {
  const longest = Math.max(8, ...sessions.map((s) => s.sessionId.length));
  for (let length = 8; length < longest; length++) {
    const seen = new Set<string>();
    let distinct = true;
    for (const { agent, sessionId } of sessions) {
      const key = `${agent}\0${sessionId.slice(0, length)}`;
      if (seen.has(key)) {
        distinct = false;
        break;
      }
      seen.add(key);
    }
    if (distinct) return length;
  }
  return longest;
}

function sessionRow(s: SessionSummary, idChars: number): string[] {
  return [
    localDateTime(s.lastAt),
    s.agent,
    printable(s.sessionId.slice(0, idChars)),
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
    const idChars = idLength(sessions);
    const rows = sessions.map((s) => sessionRow(s, idChars));
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
