// A small fake of the `vscode` module: enough of the API for the host's unit tests, recording what the extension
// shows. The real API is exercised by the extension-host suite; this one runs anywhere node:test does.

import * as path from 'node:path';

type Listener<T> = (value: T) => void;

export class EventEmitter<T> {
  private listeners: Array<Listener<T>> = [];
  event = (listener: Listener<T>) => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export const ProgressLocation = { SourceControl: 1, Window: 10, Notification: 15 };

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class MarkdownString {
  isTrusted = false;
  supportHtml = false;
  constructor(
    readonly value = '',
    readonly supportThemeIcons = false,
  ) {}
}

export const StatusBarAlignment = { Left: 1, Right: 2 };
export const ConfigurationTarget = { Global: 1, Workspace: 2, WorkspaceFolder: 3 };
export const ViewColumn = { Active: -1, One: 1 };

export class Uri {
  constructor(readonly fsPath: string) {}
  static file(p: string): Uri {
    return new Uri(p);
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(path.join(base.fsPath, ...parts));
  }
  toString(): string {
    return `file://${this.fsPath}`;
  }
}

export interface FakeStatusBarItem {
  id: string;
  name: string;
  text: string;
  tooltip: unknown;
  command: string;
  backgroundColor: ThemeColor | undefined;
  visible: boolean;
  show(): void;
  hide(): void;
  dispose(): void;
}

/** Everything the fake records, and the answers it gives. */
export const recorded = {
  statusBarItems: [] as FakeStatusBarItem[],
  messages: [] as Array<{ level: 'info' | 'warning' | 'error'; text: string; actions: string[] }>,
  log: [] as string[],
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  settings: new Map<string, unknown>(),
  /** What the next notification resolves to (an action title), by default nothing. */
  answer: undefined as string | undefined,
  /** Answers the next quick picks, in order: each gets the items and returns the choice (or a list of them). */
  quickPicks: [] as Array<(items: unknown[]) => unknown>,
  /** What the next input box returns. */
  inputAnswer: undefined as string | undefined,
  /** Settings written to the workspace (the ones in `settings` are the user's). */
  workspaceSettings: new Map<string, unknown>(),
};

export const configChanged = new EventEmitter<{ affectsConfiguration(section: string): boolean }>();
/** Fire after setting `workspace.isTrusted` to true, as VS Code does when the user trusts the workspace. */
export const trustGranted = new EventEmitter<void>();

function notify(level: 'info' | 'warning' | 'error') {
  return (text: string, ...actions: string[]) => {
    recorded.messages.push({ level, text, actions });
    return Promise.resolve(recorded.answer);
  };
}

function logLine(level: string) {
  return (message: string) => recorded.log.push(`[${level}] ${message}`);
}

export const window = {
  createStatusBarItem(id: string): FakeStatusBarItem {
    const item: FakeStatusBarItem = {
      id,
      name: '',
      text: '',
      tooltip: undefined,
      command: '',
      backgroundColor: undefined,
      visible: false,
      show() {
        item.visible = true;
      },
      hide() {
        item.visible = false;
      },
      dispose() {
        item.visible = false;
      },
    };
    recorded.statusBarItems.push(item);
    return item;
  },
  createOutputChannel(name: string) {
    return { name, info: logLine('info'), warn: logLine('warn'), error: logLine('error'), debug: logLine('debug'), show() {}, dispose() {} };
  },
  showInformationMessage: notify('info'),
  showWarningMessage: notify('warning'),
  showErrorMessage: notify('error'),
  showInputBox: () => Promise.resolve(recorded.inputAnswer),
  showQuickPick: (items: unknown[]) => Promise.resolve(recorded.quickPicks.shift()?.(items)),
  registerWebviewPanelSerializer: () => ({ dispose() {} }),
  terminals: [] as unknown[],
  onDidOpenTerminal: new EventEmitter<unknown>().event,
  onDidCloseTerminal: new EventEmitter<unknown>().event,
  withProgress: <R>(_options: unknown, task: (progress: { report(v: unknown): void }, token: { isCancellationRequested: boolean }) => Promise<R>) =>
    task({ report() {} }, { isCancellationRequested: false }),
  createWebviewPanel: () => {
    throw new Error('not faked');
  },
};

export const workspace = {
  isTrusted: true,
  workspaceFolders: undefined as Array<{ uri: Uri }> | undefined,
  getConfiguration(section: string) {
    return {
      get<T>(key: string, fallback?: T): T | undefined {
        const full = `${section}.${key}`;
        // A workspace value wins over the user's, as in VS Code.
        if (recorded.workspaceSettings.has(full)) return recorded.workspaceSettings.get(full) as T;
        return recorded.settings.has(full) ? (recorded.settings.get(full) as T) : fallback;
      },
      inspect(key: string) {
        return { globalValue: recorded.settings.get(`${section}.${key}`), workspaceValue: recorded.workspaceSettings.get(`${section}.${key}`) };
      },
      update(key: string, value: unknown, target: number = ConfigurationTarget.Global) {
        (target === ConfigurationTarget.Global ? recorded.settings : recorded.workspaceSettings).set(`${section}.${key}`, value);
        configChanged.fire({ affectsConfiguration: (s: string) => `${section}.${key}`.startsWith(s) });
        return Promise.resolve();
      },
    };
  },
  onDidChangeConfiguration: configChanged.event,
  onDidGrantWorkspaceTrust: trustGranted.event,
  onDidChangeWorkspaceFolders: new EventEmitter<void>().event,
};

export const commands = {
  registerCommand(id: string, run: (...args: unknown[]) => unknown) {
    recorded.commands.set(id, run);
    return { dispose: () => recorded.commands.delete(id) };
  },
  executeCommand(id: string, ...args: unknown[]) {
    return Promise.resolve(recorded.commands.get(id)?.(...args));
  },
};

/** A Memento kept in memory. */
export class FakeMemento {
  private readonly values = new Map<string, unknown>();
  get<T>(key: string, fallback?: T): T | undefined {
    return this.values.has(key) ? (this.values.get(key) as T) : fallback;
  }
  update(key: string, value: unknown): Promise<void> {
    this.values.set(key, value);
    return Promise.resolve();
  }
  keys(): string[] {
    return [...this.values.keys()];
  }
}
