// One small base for things that own other disposables: register them as they are made, dispose them once, in
// reverse order.

import type * as vscode from 'vscode';

export abstract class Disposable implements vscode.Disposable {
  private readonly owned: vscode.Disposable[] = [];
  private disposed = false;

  /** Whether dispose() has run: work scheduled before it (a timer, a restart) checks this before acting. */
  protected get isDisposed(): boolean {
    return this.disposed;
  }

  protected register<T extends vscode.Disposable>(disposable: T): T {
    if (this.disposed) disposable.dispose();
    else this.owned.push(disposable);
    return disposable;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    while (this.owned.length > 0) {
      try {
        this.owned.pop()!.dispose();
      } catch {
        // one failing disposal must not keep the others alive
      }
    }
  }
}
