// Extension entry point. Kept thin on purpose: activation must return fast and never scan (the engine worker
// does that). The status bar, budgets and the breakdown arrive with the extension issue.

import * as vscode from 'vscode';

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('Agent Spend', { log: true });
  context.subscriptions.push(output);
  output.info(`Agent Spend ${context.extension.packageJSON.version as string} activated`);
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
