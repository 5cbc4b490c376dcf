// Budget notifications: a warning per threshold crossing per window (an error at the cap), with "Show Breakdown",
// "Snooze 1 h" and "Raise Cap…". What was announced is kept in globalState, so a reload does not repeat it.

import * as vscode from 'vscode';
import type { BudgetState } from '../core/budget';
import type { Meter } from '../core/meter';
import { dueAlerts, pruneNotified, settledKeys, type Alert } from './alerts';
import { SECTION } from './config';
import { noLinks } from './format';
import { tokens, usd } from '../shared/format';

const NOTIFIED = 'agentSpend.notifiedThresholds';
const SNOOZED = 'agentSpend.snoozedBudgets';
const HOUR_MS = 3_600_000;

export const ACTIONS = { breakdown: 'Show Breakdown', snooze: 'Snooze 1 h', raise: 'Raise Cap…' } as const;

function amount(state: BudgetState, value: number): string {
  return state.unit === 'usd' ? usd(value) : `${tokens(value)} tokens`;
}

export function alertMessage(alert: Alert): string {
  const { state } = alert;
  const spent = amount(state, state.unit === 'usd' ? state.spentUsd : state.spentTokens);
  const limit = amount(state, state.limit);
  const what = state.sessionId ? `${state.agent} session ${state.sessionId.slice(0, 8)}` : state.windowLabel;
  if (alert.severity === 'error') return `Agent Spend: budget reached for ${what}: ${spent} of ${limit}.`;
  return `Agent Spend: ${Math.round(alert.threshold * 100)}% of the budget for ${what}: ${spent} of ${limit}.`;
}

export class BudgetWarnings implements vscode.Disposable {
  private readonly alertEmitter = new vscode.EventEmitter<Alert>();
  /** Fires for every alert shown (auto-stop will act on the cap ones; tests observe them). */
  readonly onDidAlert = this.alertEmitter.event;

  constructor(
    private readonly state: vscode.Memento,
    private readonly showBreakdown: () => void,
    private readonly log: vscode.LogOutputChannel,
    /** Takes over cap alerts (the stop controller: warn with "Stop Now", interrupt or stop). */
    private readonly onCap?: (alert: Alert) => Promise<void>,
  ) {}

  /** Announces what is due in `meter`, and remembers it. */
  async update(meter: Meter): Promise<void> {
    const notified = new Set(this.state.get<string[]>(NOTIFIED, []));
    const snoozed = new Map(Object.entries(this.state.get<Record<string, number>>(SNOOZED, {})).map(([k, v]) => [Number(k), v]));
    const alerts = dueAlerts(meter.budgets, notified, snoozed, meter.now);
    for (const alert of alerts) for (const key of settledKeys(alert.state)) notified.add(key);
    await this.state.update(NOTIFIED, pruneNotified(notified, meter.budgets));
    for (const alert of alerts) void this.announce(alert);
  }

  dispose(): void {
    this.alertEmitter.dispose();
  }

  private async announce(alert: Alert): Promise<void> {
    const message = alertMessage(alert);
    this.log.warn(message);
    this.alertEmitter.fire(alert);
    if (alert.severity === 'error' && this.onCap) return this.onCap(alert);
    const show = alert.severity === 'error' ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
    const choice = await show(noLinks(message), ACTIONS.breakdown, ACTIONS.snooze, ACTIONS.raise);
    if (choice === ACTIONS.breakdown) this.showBreakdown();
    else if (choice === ACTIONS.snooze) await this.snooze(alert.state.index);
    else if (choice === ACTIONS.raise) await raiseCap(alert.state);
  }

  async snooze(index: number): Promise<void> {
    const snoozed = this.state.get<Record<string, number>>(SNOOZED, {});
    await this.state.update(SNOOZED, { ...snoozed, [index]: Date.now() + HOUR_MS });
    this.log.info(`budget ${index + 1} snoozed for an hour`);
  }
}

/** Asks for a new limit for the budget behind `state` and writes it where the budgets are set. */
export async function raiseCap(state: BudgetState): Promise<void> {
  const unitWord = state.unit === 'usd' ? 'USD' : 'tokens';
  const answer = await vscode.window.showInputBox({
    title: 'Agent Spend: Raise Cap',
    prompt: `New limit in ${unitWord} for ${state.windowLabel} (now ${amount(state, state.limit)})`,
    value: String(Math.ceil(state.limit * 1.5)),
    validateInput: (text) => (Number(text) > 0 && Number.isFinite(Number(text)) ? undefined : 'Enter a positive number'),
  });
  if (answer === undefined) return;
  const config = vscode.workspace.getConfiguration(SECTION);
  const inspect = config.inspect<unknown[]>('budgets');
  // The budget is changed where it is set: the most specific scope that sets the list wins, as VS Code reads it.
  const scopes: Array<[unknown[] | undefined, vscode.ConfigurationTarget]> = [
    [inspect?.workspaceFolderValue, vscode.ConfigurationTarget.WorkspaceFolder],
    [inspect?.workspaceValue, vscode.ConfigurationTarget.Workspace],
    [inspect?.globalValue, vscode.ConfigurationTarget.Global],
  ];
  const found = scopes.find(([value]) => Array.isArray(value));
  const budgets = [...((found?.[0] as unknown[]) ?? [])];
  const entry = budgets[state.index];
  if (!found || typeof entry !== 'object' || entry === null) {
    void vscode.window.showWarningMessage('Agent Spend: this budget is not in your settings files; edit it where it is set.');
    return;
  }
  budgets[state.index] = { ...(entry as object), [state.unit === 'usd' ? 'limitUsd' : 'limitTokens']: Number(answer) };
  await config.update('budgets', budgets, found[1]);
}
