// Extension entry point. Kept thin: activation builds the container and returns; the engine worker does the
// reading, so nothing here waits on the disk.

import type * as vscode from 'vscode';
import { Container } from './container';

let container: Container | undefined;

export function activate(context: vscode.ExtensionContext): Container {
  const started = performance.now();
  container = new Container(context);
  context.subscriptions.push(container);
  container.activationMs = performance.now() - started;
  container.log.info(`activated in ${container.activationMs.toFixed(1)} ms`);
  return container;
}

export function deactivate(): void {
  container = undefined; // disposed through context.subscriptions
}
