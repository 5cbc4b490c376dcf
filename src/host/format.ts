// What the status bar says, as pure functions of the engine's meter (no vscode here: unit-tested as is).

import type { BudgetState } from '../core/budget';
import { mostPressing } from '../core/budget';
import type { Meter, WindowSpend } from '../core/meter';
import { tokens, usd } from '../shared/format';
import type { RunningAgentView } from '../shared/protocol';

export type MeterUnit = 'usd' | 'tokens';

function amount(state: Pick<BudgetState, 'unit'>, value: number): string {
  return state.unit === 'usd' ? usd(value) : `${tokens(value)} tok`;
}

const PERIOD_WORD: Record<string, string> = {
  day: 'today',
  week: 'week',
  month: 'month',
  session: 'session',
  block5h: '5h block',
};

export interface StatusView {
  text: string;
  level: 'ok' | 'warn' | 'cap';
  /** Markdown for the tooltip; every log-derived string in it is escaped. */
  tooltip: string;
}

/** Escapes text for a MarkdownString (which renders Markdown and, unless trusted, no HTML). */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`);
}

/**
 * Text for a notification (showInformationMessage and the like, progress messages too). VS Code turns
 * `[label](command:id?args)` (also `https:` and `file:` targets) in such a message into a link and runs the command
 * when it is clicked, with any arguments. Any text from elsewhere (a setting's value, a terminal's title, a path) is
 * kept a text by a space between `]` and `(`.
 */
export function noLinks(text: string): string {
  return text.replace(/\]\(/g, '] (');
}

function clock(at: number): string {
  const d = new Date(at);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

function windowLine(w: WindowSpend, unit: MeterUnit): string {
  const main = unit === 'usd' ? usd(w.usd) : `${tokens(w.tokens)} tokens`;
  const unknown = w.unpricedRequests > 0 ? ` (+${w.unpricedRequests} unpriced request${w.unpricedRequests === 1 ? '' : 's'})` : '';
  return `${main}${unknown}`;
}

/** The meter's text: the most pressing budget, or today's spend when no budget is set. */
export function statusView(meter: Meter, unit: MeterUnit, running: RunningAgentView[] = []): StatusView {
  const pressing = mostPressing(meter.budgets);
  let text: string;
  let level: StatusView['level'] = 'ok';
  if (pressing) {
    // Unpriced requests are not free: a USD figure that leaves them out says so ("+?"), as the report does.
    const unknown = pressing.unit === 'usd' && pressing.unpricedRequests > 0 ? '+?' : '';
    text = `$(pulse) ${amount(pressing, pressing.unit === 'usd' ? pressing.spentUsd : pressing.spentTokens)}${unknown} / ${amount(pressing, pressing.limit)} ${PERIOD_WORD[pressing.budget.period]}`;
    level = pressing.level;
  } else {
    const unknown = unit === 'usd' && meter.today.unpricedRequests > 0 ? '+?' : '';
    text = `$(pulse) ${unit === 'usd' ? `${usd(meter.today.usd)}${unknown}` : `${tokens(meter.today.tokens)} tok`} today`;
  }
  return { text, level, tooltip: tooltipMarkdown(meter, unit, running) };
}

export function tooltipMarkdown(meter: Meter, unit: MeterUnit, running: RunningAgentView[] = []): string {
  const lines: string[] = ['**Agent Spend**', ''];
  lines.push(`| | |`, `|:--|--:|`);
  lines.push(`| Today | ${windowLine(meter.today, unit)} |`);
  lines.push(`| This week | ${windowLine(meter.week, unit)} |`);
  lines.push(`| This month | ${windowLine(meter.month, unit)} |`);
  if (meter.block) lines.push(`| 5-hour block (until ${clock(meter.block.end)}) | ${windowLine(meter.block, unit)} |`);
  // Per agent only when there is more than one: one agent's line would repeat "Today".
  if ((meter.agentsToday ?? []).length > 1) {
    for (const agent of meter.agentsToday) {
      lines.push(`| &nbsp;&nbsp;${escapeMarkdown(agent.agent)} today | ${windowLine({ ...meter.today, ...agent }, unit)} |`);
    }
  }
  lines.push('');
  for (const state of meter.budgets) {
    const spent = state.unit === 'usd' ? state.spentUsd : state.spentTokens;
    const percent = Math.round(state.fraction * 100);
    let line = `${state.level === 'cap' ? '$(error)' : state.level === 'warn' ? '$(warning)' : '$(check)'} Budget ${escapeMarkdown(state.windowLabel)}: ${amount(state, spent)} of ${amount(state, state.limit)} (${percent}%)`;
    if (state.sessionId) line += ` · ${escapeMarkdown(state.agent ?? '')} ${escapeMarkdown(state.sessionId.slice(0, 8))}`;
    if (state.burnPerHour > 0) line += ` · ${amount(state, state.burnPerHour)}/h`;
    if (state.projectedCapAt !== null) line += ` · cap at ${clock(state.projectedCapAt)} at this rate`;
    if (state.unpricedRequests > 0) line += ` · ${state.unpricedRequests} unpriced`;
    lines.push(`${line}  `);
  }
  if (running.length > 0) {
    lines.push('', '**Agents in terminals**', '');
    for (const agent of running) {
      const args = encodeURIComponent(JSON.stringify([agent.pid, agent.startTicks]));
      const parts = [
        `$(terminal) ${escapeMarkdown(agent.terminalName)}`,
        escapeMarkdown(agent.agent),
        agent.sessionId ? `session ${escapeMarkdown(agent.sessionId.slice(0, 8))}` : 'session not known',
        agent.usd !== null ? usd(agent.usd) : undefined,
        agent.burnPerHour ? `${usd(agent.burnPerHour)}/h` : undefined,
      ].filter(Boolean);
      lines.push(`- ${parts.join(' · ')} · [Stop](command:agentSpend.stopAgent?${args} "Stop this agent (asks first)")`);
    }
  }
  if (meter.running.length > 0) {
    lines.push('', '**Running now**', '');
    for (const session of meter.running) {
      lines.push(
        `- ${escapeMarkdown(session.agent)} · ${escapeMarkdown(session.project)} · ${escapeMarkdown(session.model)} · ${usd(session.usd)}${session.unpricedRequests > 0 ? '+?' : ''}${session.burnPerHour > 0 ? ` · ${usd(session.burnPerHour)}/h` : ''}`,
      );
    }
  }
  lines.push('', '_Click for the token breakdown._');
  return lines.join('\n');
}
