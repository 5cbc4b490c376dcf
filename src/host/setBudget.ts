// "Agent Spend: Set Budget…": a budget through quick picks and an input box, written to the user settings.

import * as vscode from 'vscode';
import { AGENTS } from '../core/agentIds';
import type { BudgetPeriod, CapAction } from '../core/budget';
import { SECTION } from './config';

const STEPS = 5;
const ON_CAP: Array<{ label: string; description: string; onCap: CapAction }> = [
  { label: 'Warn', description: 'an error notification with Stop Now, Snooze and Raise Cap', onCap: 'warn' },
  { label: 'Interrupt the agent', description: 'Ctrl+C in its terminal: the turn ends, the session can go on', onCap: 'interrupt' },
  { label: 'Stop the agent', description: 'after a countdown you can cancel: SIGINT, then SIGTERM, then SIGKILL', onCap: 'stop' },
];

const PERIODS: Array<{ label: string; description: string; period: BudgetPeriod }> = [
  { label: 'Per day', description: 'local calendar day', period: 'day' },
  { label: 'Per week', description: 'from the first day of the week setting', period: 'week' },
  { label: 'Per month', description: 'calendar month', period: 'month' },
  { label: 'Per agent session', description: 'each session of an agent', period: 'session' },
  { label: 'Per 5-hour block', description: 'as Claude Code counts its usage limits', period: 'block5h' },
];

export async function setBudget(): Promise<void> {
  const period = await vscode.window.showQuickPick(PERIODS, { title: `Agent Spend: Set Budget (1/${STEPS})`, placeHolder: 'Which window does the cap cover?' });
  if (!period) return;
  const unit = await vscode.window.showQuickPick(
    [
      { label: 'US dollars', unit: 'usd' as const },
      { label: 'Tokens', description: 'input, output and cache together', unit: 'tokens' as const },
    ],
    { title: `Agent Spend: Set Budget (2/${STEPS})`, placeHolder: 'Cap spend in dollars or in tokens?' },
  );
  if (!unit) return;
  const limit = await vscode.window.showInputBox({
    title: `Agent Spend: Set Budget (3/${STEPS})`,
    prompt: `Cap ${period.label.toLowerCase()}, in ${unit.unit === 'usd' ? 'US dollars' : 'tokens'}`,
    placeHolder: unit.unit === 'usd' ? '20' : '5000000',
    validateInput: (text) => (Number(text) > 0 && Number.isFinite(Number(text)) ? undefined : 'Enter a positive number'),
  });
  if (limit === undefined) return;
  const picked = await vscode.window.showQuickPick(
    AGENTS.map((agent) => ({ label: agent.label, description: agent.id, id: agent.id })),
    {
      title: `Agent Spend: Set Budget (4/${STEPS})`,
      // A 5-hour block naming no agents counts Claude Code alone (budgetAgents()).
      placeHolder: `Which agents does it count? None picked: ${period.period === 'block5h' ? 'Claude Code alone' : 'all of them'}`,
      canPickMany: true,
    },
  );
  if (!picked) return;
  const onCap = await vscode.window.showQuickPick(ON_CAP, { title: `Agent Spend: Set Budget (5/${STEPS})`, placeHolder: 'What happens at the cap?' });
  if (!onCap) return;
  // Every agent picked is written as no list, which means every agent, except for a 5-hour block (Claude Code alone).
  const agents = picked.length > 0 && (picked.length < AGENTS.length || period.period === 'block5h') ? picked.map((p) => p.id).sort() : undefined;
  const config = vscode.workspace.getConfiguration(SECTION);
  const current = (config.inspect<unknown[]>('budgets')?.globalValue as unknown[] | undefined) ?? [];
  // One budget per window and set of agents: setting it again replaces its cap.
  const sameAgents = (entry: { agents?: unknown }) => JSON.stringify(Array.isArray(entry.agents) ? [...entry.agents].sort() : undefined) === JSON.stringify(agents);
  const others = current.filter(
    (entry) => !(typeof entry === 'object' && entry !== null && (entry as { period?: string }).period === period.period && sameAgents(entry as { agents?: unknown })),
  );
  const budget = {
    period: period.period,
    [unit.unit === 'usd' ? 'limitUsd' : 'limitTokens']: Number(limit),
    ...(agents ? { agents } : {}),
    warnAt: [0.5, 0.8],
    onCap: onCap.onCap,
  };
  await config.update('budgets', [...others, budget], vscode.ConfigurationTarget.Global);
  void vscode.window.showInformationMessage(`Agent Spend: budget set, ${period.label.toLowerCase()} ${unit.unit === 'usd' ? `$${limit}` : `${limit} tokens`}.`);
}
