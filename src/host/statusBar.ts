// The status-bar budget meter: one item named "Agent Spend", its text and colour from the most pressing budget, a
// Markdown tooltip with the windows, budgets and running sessions; a click opens the breakdown.

import * as vscode from 'vscode';
import type { Meter } from '../core/meter';
import { statusView, type MeterUnit } from './format';
import { Disposable } from './lifecycle';
import type { RunningAgentView } from '../shared/protocol';

export const STOP_COMMAND = 'agentSpend.stopAgent';

export const STATUS_BAR_ID = 'agentSpend.meter';

export class SpendStatusBar extends Disposable {
  private readonly item = this.register(vscode.window.createStatusBarItem(STATUS_BAR_ID, vscode.StatusBarAlignment.Right, 100));

  constructor(command: string) {
    super();
    this.item.name = 'Agent Spend';
    this.item.command = command;
    this.item.text = '$(sync~spin) Agent Spend: reading logs…';
    this.item.tooltip = 'Agent Spend is reading your agents’ logs for the first time.';
    this.item.show();
  }

  progress(filesDone: number, filesTotal: number): void {
    this.item.text = `$(sync~spin) Agent Spend: reading logs ${filesDone}/${filesTotal}`;
  }

  show(meter: Meter, unit: MeterUnit, running: RunningAgentView[] = []): void {
    const view = statusView(meter, unit, running);
    this.item.text = view.text;
    const tooltip = new vscode.MarkdownString(view.tooltip, true);
    // Links may run one command only: "Stop" next to a running agent (it asks before doing anything).
    tooltip.isTrusted = { enabledCommands: [STOP_COMMAND] };
    tooltip.supportHtml = false;
    this.item.tooltip = tooltip;
    this.item.backgroundColor =
      view.level === 'cap'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.level === 'warn'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  get text(): string {
    return this.item.text;
  }
}
