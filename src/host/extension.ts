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

/**
 * VS Code waits for the returned promise (for a few seconds) before it ends the extension host: long enough for the
 * engine's worker to save what it read since its last save (saves are batched). The rest is disposed through
 * context.subscriptions.
 */
export function deactivate(): Promise<void> | undefined {
  const stopping = container?.engine.shutdown();
  container = undefined;
  return stopping;
}
