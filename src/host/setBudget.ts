// "Agent Spend: Set Budget…": a budget through quick picks and an input box, written to the user settings.

import * as vscode from 'vscode';
import type { BudgetPeriod } from '../core/budget';
import { SECTION } from './config';

const PERIODS: Array<{ label: string; description: string; period: BudgetPeriod }> = [
  { label: 'Per day', description: 'local calendar day', period: 'day' },
  { label: 'Per week', description: 'from the first day of the week setting', period: 'week' },
  { label: 'Per month', description: 'calendar month', period: 'month' },
  { label: 'Per agent session', description: 'each session of an agent', period: 'session' },
  { label: 'Per 5-hour block', description: 'as Claude Code counts its usage limits', period: 'block5h' },
];

export async function setBudget(): Promise<void> {
  const period = await vscode.window.showQuickPick(PERIODS, { title: 'Agent Spend: Set Budget (1/3)', placeHolder: 'Which window does the cap cover?' });
  if (!period) return;
  const unit = await vscode.window.showQuickPick(
    [
      { label: 'US dollars', unit: 'usd' as const },
      { label: 'Tokens', description: 'input, output and cache together', unit: 'tokens' as const },
    ],
    { title: 'Agent Spend: Set Budget (2/3)', placeHolder: 'Cap spend in dollars or in tokens?' },
  );
  if (!unit) return;
  const limit = await vscode.window.showInputBox({
    title: 'Agent Spend: Set Budget (3/3)',
    prompt: `Cap ${period.label.toLowerCase()}, in ${unit.unit === 'usd' ? 'US dollars' : 'tokens'}`,
    placeHolder: unit.unit === 'usd' ? '20' : '5000000',
    validateInput: (text) => (Number(text) > 0 && Number.isFinite(Number(text)) ? undefined : 'Enter a positive number'),
  });
  if (limit === undefined) return;
  const config = vscode.workspace.getConfiguration(SECTION);
  const current = (config.inspect<unknown[]>('budgets')?.globalValue as unknown[] | undefined) ?? [];
  // One budget per window: setting a window again replaces its cap.
  const others = current.filter((entry) => !(typeof entry === 'object' && entry !== null && (entry as { period?: string }).period === period.period));
  const budget = { period: period.period, [unit.unit === 'usd' ? 'limitUsd' : 'limitTokens']: Number(limit), warnAt: [0.5, 0.8], onCap: 'warn' };
  await config.update('budgets', [...others, budget], vscode.ConfigurationTarget.Global);
  void vscode.window.showInformationMessage(`Agent Spend: budget set, ${period.label.toLowerCase()} ${unit.unit === 'usd' ? `$${limit}` : `${limit} tokens`}.`);
}
