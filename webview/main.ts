// The token breakdown: totals for a period, budgets, sessions (sortable, filterable), and spend by model, project
// and day. Every string from a log reaches the page through textContent, never as markup. UI state (period, sort,
// filter, scroll) survives live updates and, through setState, a window reload.

import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-divider/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { BudgetState } from '../src/core/budget';
import type { GroupSummary, SessionSummary } from '../src/core/report';
import { costText, tokens, usd } from '../src/shared/format';
import { DEFAULT_STATE, PERIODS, type BreakdownState, type HostMessage, type Period, type RunningAgentView, type SortKey, type StoppedView, type WebviewMessage } from '../src/shared/protocol';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: BreakdownState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
let state: BreakdownState = { ...DEFAULT_STATE, ...((vscode.getState() as Partial<BreakdownState> | undefined) ?? {}) };
let latest: HostMessage | null = null;

function save(): void {
  vscode.setState(state);
}

// ---------------------------------------------------------------------------------------------------------------
// Small DOM helpers: elements are built, never parsed from strings.

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child); // strings become text nodes
  return node;
}

function custom(tag: string, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElement {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

const dateTime = (iso: string): string => {
  const d = new Date(iso);
  return `${d.toLocaleDateString()} ${d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
};
const durationMs = (s: SessionSummary): number => Date.parse(s.lastAt) - Date.parse(s.firstAt);
const duration = (ms: number): string => (ms < 3_600_000 ? `${Math.max(1, Math.round(ms / 60_000))} min` : `${(ms / 3_600_000).toFixed(1)} h`);
const burnRate = (s: SessionSummary): number | null => {
  const hours = durationMs(s) / 3_600_000;
  return s.costUsd === null || hours < 1 / 60 ? null : s.costUsd / hours;
};

// ---------------------------------------------------------------------------------------------------------------

const PERIOD_LABEL: Record<Period, string> = { today: 'Today', week: 'This week', month: 'This month', all: 'All time' };

const COLUMNS: Array<{ key: SortKey; label: string; numeric: boolean; cell: (s: SessionSummary) => string }> = [
  { key: 'agent', label: 'Agent', numeric: false, cell: (s) => s.agent },
  { key: 'project', label: 'Project', numeric: false, cell: (s) => s.project },
  { key: 'firstAt', label: 'Start', numeric: false, cell: (s) => dateTime(s.firstAt) },
  { key: 'lastAt', label: 'Last activity', numeric: false, cell: (s) => dateTime(s.lastAt) },
  { key: 'duration', label: 'Duration', numeric: true, cell: (s) => duration(durationMs(s)) },
  { key: 'requests', label: 'Requests', numeric: true, cell: (s) => String(s.requests) },
  { key: 'inputTokens', label: 'In', numeric: true, cell: (s) => tokens(s.inputTokens) },
  { key: 'outputTokens', label: 'Out', numeric: true, cell: (s) => tokens(s.outputTokens) },
  { key: 'cacheReadTokens', label: 'Cache read', numeric: true, cell: (s) => tokens(s.cacheReadTokens) },
  { key: 'cacheCreationTokens', label: 'Cache write', numeric: true, cell: (s) => tokens(s.cacheCreationTokens) },
  { key: 'costUsd', label: 'Cost', numeric: true, cell: (s) => costText(s) },
  { key: 'burnRate', label: 'Burn rate', numeric: true, cell: (s) => (burnRate(s) === null ? '–' : `${usd(burnRate(s)!)}/h`) },
];

function sortValue(s: SessionSummary, key: SortKey): number | string {
  switch (key) {
    case 'agent':
      return s.agent;
    case 'project':
      return s.project;
    case 'firstAt':
      return s.firstAt;
    case 'lastAt':
      return s.lastAt;
    case 'duration':
      return durationMs(s);
    case 'costUsd':
      return s.costUsd ?? -1;
    case 'burnRate':
      return burnRate(s) ?? -1;
    default:
      return s[key];
  }
}

function visibleSessions(sessions: SessionSummary[]): SessionSummary[] {
  const needle = state.filter.trim().toLowerCase();
  const rows = sessions.filter(
    (s) =>
      (!state.agent || s.agent === state.agent) &&
      (!needle || [s.agent, s.project, s.sessionId, ...s.models].some((text) => text.toLowerCase().includes(needle))),
  );
  const direction = state.sortDescending ? -1 : 1;
  return rows.sort((a, b) => {
    const x = sortValue(a, state.sortKey);
    const y = sortValue(b, state.sortKey);
    return (x < y ? -1 : x > y ? 1 : 0) * direction;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering. The frame (controls) is built once; the data sections are rebuilt on every snapshot.

const app = document.getElementById('app')!;
const frame = {
  period: custom('vscode-single-select', { id: 'period', 'aria-label': 'Period' }) as HTMLElement & { value: string },
  agent: custom('vscode-single-select', { id: 'agent', 'aria-label': 'Agent' }) as HTMLElement & { value: string },
  filter: custom('vscode-textfield', { id: 'filter', placeholder: 'Filter by agent, project, model or session', 'aria-label': 'Filter' }) as HTMLElement & { value: string },
  totals: el('section', { id: 'totals', 'aria-label': 'Totals' }),
  budgets: el('section', { id: 'budgets', 'aria-label': 'Budgets' }),
  running: el('section', { id: 'running', 'aria-label': 'Agents running in terminals' }),
  sessions: el('section', { id: 'sessions', 'aria-label': 'Sessions' }),
  groups: el('section', { id: 'groups', 'aria-label': 'Breakdowns' }),
};

function buildFrame(): void {
  for (const period of PERIODS) {
    frame.period.append(custom('vscode-option', { value: period, ...(period === state.period ? { selected: '' } : {}) }, PERIOD_LABEL[period]));
  }
  frame.period.addEventListener('change', () => {
    state.period = frame.period.value as Period;
    save();
    vscode.postMessage({ type: 'setPeriod', period: state.period });
  });
  frame.agent.addEventListener('change', () => {
    state.agent = frame.agent.value;
    save();
    render();
  });
  frame.filter.setAttribute('value', state.filter);
  frame.filter.addEventListener('input', () => {
    state.filter = frame.filter.value;
    save();
    render();
  });
  const refresh = custom('vscode-button', { secondary: '' }, 'Refresh');
  refresh.addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
  const budget = custom('vscode-button', { secondary: '' }, 'Set Budget…');
  budget.addEventListener('click', () => vscode.postMessage({ type: 'setBudget' }));
  const toolbar = el('header', { class: 'toolbar' }, frame.period, frame.agent, frame.filter, refresh, budget);
  app.replaceChildren(toolbar, frame.totals, frame.budgets, frame.running, frame.sessions, frame.groups);
  app.setAttribute('aria-busy', 'false');
  window.addEventListener('scroll', () => {
    state.scrollY = window.scrollY;
    save();
  });
}

function renderTotals(message: HostMessage): void {
  const t = message.report.totals;
  const card = (label: string, value: string) => el('div', { class: 'card' }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, value));
  frame.totals.replaceChildren(
    el('h2', {}, `${PERIOD_LABEL[message.period]}`),
    el(
      'div',
      { class: 'cards' },
      card('Cost', costText(t)),
      card('Requests', String(t.requests)),
      card('Input', tokens(t.inputTokens)),
      card('Output', tokens(t.outputTokens)),
      card('Cache read', tokens(t.cacheReadTokens)),
      card('Cache write', tokens(t.cacheCreationTokens)),
    ),
    ...(t.unpricedRequests > 0 ? [el('p', { class: 'muted' }, `${t.unpricedRequests} request(s) use a model with no known price: their cost is not included.`)] : []),
  );
}

function renderBudgets(budgets: BudgetState[]): void {
  if (budgets.length === 0) {
    frame.budgets.replaceChildren(el('p', { class: 'muted' }, 'No budget set. Use “Set Budget…” to cap spend per day, week, month, session or 5-hour block.'));
    return;
  }
  frame.budgets.replaceChildren(
    el('h2', {}, 'Budgets'),
    ...budgets.map((b) => {
      const spent = b.unit === 'usd' ? usd(b.spentUsd) : tokens(b.spentTokens);
      const limit = b.unit === 'usd' ? usd(b.limit) : tokens(b.limit);
      const gauge = el('div', { class: `gauge ${b.level}`, role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.round(b.fraction * 100)) });
      const fill = el('div', { class: 'fill' });
      // Through the CSSOM: the CSP forbids style attributes, not styles set from the script.
      fill.style.width = `${Math.min(100, Math.round(b.fraction * 100))}%`;
      gauge.append(fill);
      const who = b.sessionId ? ` · ${b.agent ?? ''} ${b.sessionId.slice(0, 8)}` : '';
      return el('div', { class: 'budget' }, el('div', {}, `${b.windowLabel}${who}: ${spent} of ${limit} (${Math.round(b.fraction * 100)}%)`), gauge);
    }),
  );
}

function renderRunning(running: RunningAgentView[]): void {
  if (running.length === 0) {
    frame.running.replaceChildren();
    return;
  }
  frame.running.replaceChildren(
    el('h2', {}, 'Agents in terminals'),
    el(
      'ul',
      { class: 'running' },
      ...running.map((agent) => {
        const stop = custom('vscode-button', { secondary: '', 'aria-label': `Stop ${agent.agent} in terminal ${agent.terminalName}` }, 'Stop…');
        stop.addEventListener('click', () => vscode.postMessage({ type: 'stopAgent', pid: agent.pid, startTicks: agent.startTicks }));
        const facts = [
          agent.agent,
          agent.sessionId ? `session ${agent.sessionId.slice(0, 8)}` : 'session not known',
          agent.usd !== null ? usd(agent.usd) : null,
          agent.burnPerHour ? `${usd(agent.burnPerHour)}/h` : null,
          agent.cwd,
        ].filter((x): x is string => !!x);
        return el('li', {}, el('strong', {}, agent.terminalName), ` · ${facts.join(' · ')} `, stop);
      }),
    ),
  );
}

function stoppedKey(agent: string, sessionId: string | null): string {
  return `${agent}\u0000${sessionId ?? ''}`;
}

function renderSessions(sessions: SessionSummary[], stopped: StoppedView[]): void {
  const stoppedSessions = new Map(stopped.map((m) => [stoppedKey(m.agent, m.sessionId), m]));
  const agents = [...new Set(sessions.map((s) => s.agent))].sort();
  frame.agent.replaceChildren(
    custom('vscode-option', { value: '', ...(state.agent === '' ? { selected: '' } : {}) }, 'All agents'),
    ...agents.map((agent) => custom('vscode-option', { value: agent, ...(agent === state.agent ? { selected: '' } : {}) }, agent)),
  );
  const rows = visibleSessions(sessions);
  const head = el(
    'tr',
    {},
    ...COLUMNS.map((column) => {
      const sorted = state.sortKey === column.key;
      const th = el('th', { scope: 'col', class: column.numeric ? 'num' : '', 'aria-sort': sorted ? (state.sortDescending ? 'descending' : 'ascending') : 'none', tabindex: '0' }, column.label + (sorted ? (state.sortDescending ? ' ▾' : ' ▴') : ''));
      const sort = () => {
        state.sortDescending = state.sortKey === column.key ? !state.sortDescending : column.numeric;
        state.sortKey = column.key;
        save();
        render();
      };
      th.addEventListener('click', sort);
      th.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') sort();
      });
      return th;
    }),
  );
  const body = el(
    'tbody',
    {},
    ...rows.map((s) => {
      const marker = stoppedSessions.get(stoppedKey(s.agent, s.sessionId));
      const row = el(
        'tr',
        { title: `${s.agent} session ${s.sessionId}\n${s.models.join(', ')}${marker ? `\nStopped by Agent Spend: ${marker.reason}` : ''}` },
        ...COLUMNS.map((column) =>
          column.key === 'project'
            ? // The end of a path tells projects apart: it stays visible, the full path is in the tooltip.
              el('td', { class: 'path', title: s.project }, el('bdi', {}, s.project))
            : el('td', { class: column.numeric ? 'num' : '' }, column.cell(s)),
        ),
      );
      if (marker) {
        row.classList.add('stopped');
        row.firstElementChild?.append(' ', custom('vscode-badge', { class: 'stopped-badge' }, 'stopped'));
      }
      return row;
    }),
  );
  frame.sessions.replaceChildren(
    el('h2', {}, 'Sessions ', custom('vscode-badge', {}, String(rows.length))),
    rows.length === 0 ? el('p', { class: 'muted' }, 'No session matches.') : el('div', { class: 'scroll' }, el('table', { id: 'sessions-table' }, el('thead', {}, head), body)),
  );
}

function groupTable(title: string, rows: GroupSummary[], keyLabel: string): HTMLElement {
  return el(
    'div',
    { class: 'group' },
    el('h3', {}, title),
    el(
      'table',
      {},
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, keyLabel), el('th', { scope: 'col', class: 'num' }, 'Requests'), el('th', { scope: 'col', class: 'num' }, 'Tokens'), el('th', { scope: 'col', class: 'num' }, 'Cost'))),
      el(
        'tbody',
        {},
        ...rows.map((r) =>
          el(
            'tr',
            {},
            el('td', {}, r.key),
            el('td', { class: 'num' }, String(r.requests)),
            el('td', { class: 'num' }, tokens(r.inputTokens + r.outputTokens + r.cacheReadTokens + r.cacheCreationTokens)),
            el('td', { class: 'num' }, costText(r)),
          ),
        ),
      ),
    ),
  );
}

let chart: uPlot | null = null;

/** A theme colour from VS Code's variables (the chart draws on a canvas, which cannot use var()). */
function themeColor(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** Local `YYYY-MM-DD` or `YYYY-MM-DDTHH:00` labels to seconds since the epoch, for uPlot's time axis. */
function labelSeconds(label: string): number {
  const [date, time] = label.split('T');
  const [y, m, d] = date.split('-').map(Number);
  return new Date(y, m - 1, d, time ? Number(time.slice(0, 2)) : 0).getTime() / 1000;
}

/** Cost over time: per hour for today, per day otherwise (uPlot, bars). */
/** The x range of the chart: the whole period (so one day of spend is one bar of a month), or the data's extent. */
function chartRange(period: Period, xs: number[]): [number, number] {
  const now = new Date();
  const seconds = (d: Date) => d.getTime() / 1000;
  const pad = period === 'today' ? 1800 : 43200;
  if (period === 'today') return [seconds(new Date(now.getFullYear(), now.getMonth(), now.getDate())) - pad, seconds(new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1)) - pad];
  if (period === 'month') return [seconds(new Date(now.getFullYear(), now.getMonth(), 1)) - pad, seconds(new Date(now.getFullYear(), now.getMonth() + 1, 1)) - pad];
  if (period === 'week') return [Math.min(...xs) - pad, Math.max(Math.min(...xs) + 6 * 86400, Math.max(...xs)) + pad];
  return [Math.min(...xs) - pad, Math.max(...xs) + pad];
}

function renderChart(container: HTMLElement, rows: GroupSummary[], period: Period): void {
  const hourly = period === 'today';
  chart?.destroy();
  chart = null;
  if (rows.length === 0) {
    container.replaceChildren(el('p', { class: 'muted' }, 'No spend in this period.'));
    return;
  }
  container.replaceChildren();
  const xs = rows.map((r) => labelSeconds(r.key));
  const ys = rows.map((r) => r.costUsd ?? 0);
  const bar = themeColor('--vscode-charts-blue', '#3794ff');
  const axis = { stroke: themeColor('--vscode-descriptionForeground', '#888'), grid: { stroke: themeColor('--vscode-panel-border', '#8884'), width: 1 }, ticks: { show: false } };
  chart = new uPlot(
    {
      width: Math.max(320, Math.min(900, container.clientWidth || 700)),
      height: 180,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: chartRange(period, xs) }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [axis, { ...axis, values: (_u, ticks) => ticks.map((v) => usd(v)) }],
      series: [{}, { label: 'Cost', stroke: bar, fill: bar, paths: uPlot.paths.bars!({ size: [0.7, 40] }), points: { show: false } }],
    },
    [xs, ys],
    container,
  );
  container.setAttribute('aria-label', `Cost per ${hourly ? 'hour' : 'day'}: ${rows.map((r) => `${r.key} ${costText(r)}`).join(', ')}`);
}

function renderGroups(message: HostMessage): void {
  if (!message.groups) {
    frame.groups.replaceChildren();
    return;
  }
  const hourly = message.period === 'today';
  const chartBox = el('div', { class: 'chart', role: 'img' });
  frame.groups.replaceChildren(
    el('h2', {}, 'Breakdown'),
    el('div', { class: 'group' }, el('h3', {}, hourly ? 'Cost per hour' : 'Cost per day'), chartBox),
    ...((message.groups.byAgent ?? []).length > 1 ? [groupTable('By agent', message.groups.byAgent, 'Agent')] : []),
    groupTable('By model', message.groups.byModel, 'Model'),
    groupTable('By project', message.groups.byProject, 'Project'),
  );
  renderChart(chartBox, hourly ? message.groups.byHour : message.groups.byDay, message.period);
}

function render(): void {
  if (!latest) return;
  renderTotals(latest);
  renderBudgets(latest.meter?.budgets ?? []);
  renderRunning(latest.running ?? []);
  renderSessions(latest.report.sessions, latest.stopped ?? []);
  renderGroups(latest);
}

window.addEventListener('message', (event: MessageEvent<HostMessage>) => {
  if (event.data?.type !== 'snapshot') return;
  const first = latest === null;
  latest = event.data;
  render();
  if (first) window.scrollTo(0, state.scrollY);
});

// VS Code swaps the body's theme class when the user changes theme: the chart's canvas colours follow.
new MutationObserver(() => render()).observe(document.body, { attributes: true, attributeFilter: ['class'] });

buildFrame();
vscode.postMessage({ type: 'ready', period: state.period });
