// Every service of the extension, built once at activation and disposed in reverse order.

import * as vscode from 'vscode';
import { BreakdownPanel } from './breakdownPanel';
import { BudgetWarnings } from './budgetWarnings';
import { readConfig, SECTION, type AgentSpendConfig } from './config';
import { EngineService } from './engineService';
import { Disposable } from './lifecycle';
import { setBudget } from './setBudget';
import { SpendStatusBar } from './statusBar';

export const COMMANDS = {
  showBreakdown: 'agentSpend.showBreakdown',
  setBudget: 'agentSpend.setBudget',
  refresh: 'agentSpend.refresh',
  showLog: 'agentSpend.showLog',
} as const;

export class Container extends Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly engine: EngineService;
  readonly statusBar: SpendStatusBar;
  readonly breakdown: BreakdownPanel;
  readonly warnings: BudgetWarnings;
  /** How long activate() took, for the log and the tests. */
  activationMs = 0;
  private config: AgentSpendConfig;
  private reportedProblems = '';

  constructor(context: vscode.ExtensionContext) {
    super();
    this.log = this.register(vscode.window.createOutputChannel('Agent Spend', { log: true }));
    this.config = readConfig();
    this.reportProblems();
    this.statusBar = this.register(new SpendStatusBar(COMMANDS.showBreakdown));
    this.engine = this.register(new EngineService(context.globalStorageUri.fsPath, context.extensionUri.fsPath, this.log));
    this.breakdown = this.register(new BreakdownPanel(context.extensionUri, this.engine, this.log, () => this.config.weekStartsOn));
    const warnings = (this.warnings = this.register(
      new BudgetWarnings(context.globalState, () => void vscode.commands.executeCommand(COMMANDS.showBreakdown), this.log),
    ));

    this.register(this.engine.onProgress(({ filesDone, filesTotal }) => this.statusBar.progress(filesDone, filesTotal)));
    this.register(
      this.engine.onSnapshot((snapshot) => {
        if (!snapshot.meter) return;
        this.statusBar.show(snapshot.meter, this.config.unit);
        void warnings.update(snapshot.meter).catch((error: unknown) => this.log.error(`budget warnings: ${String(error)}`));
      }),
    );
    this.register(vscode.commands.registerCommand(COMMANDS.showBreakdown, () => this.breakdown.show()));
    this.register(vscode.commands.registerCommand(COMMANDS.setBudget, () => setBudget()));
    this.register(vscode.commands.registerCommand(COMMANDS.refresh, () => this.engine.refresh()));
    this.register(vscode.commands.registerCommand(COMMANDS.showLog, () => this.log.show()));
    this.register(vscode.window.registerWebviewPanelSerializer(BreakdownPanel.viewType, this.breakdown));
    this.register(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (!event.affectsConfiguration(SECTION)) return;
        const previous = this.config;
        this.config = readConfig();
        this.reportProblems();
        if (previous.claudeConfigDir !== this.config.claudeConfigDir) this.engine.start(this.config);
        else this.engine.configure(this.config);
        if (this.engine.latest?.meter) this.statusBar.show(this.engine.latest.meter, this.config.unit);
      }),
    );
    this.register(vscode.workspace.onDidGrantWorkspaceTrust(() => {
      this.config = readConfig();
      this.engine.start(this.config);
    }));
    this.register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.engine.configure(this.config)));
    this.engine.start(this.config);
  }

  /** The problems found in the settings, each naming its setting. */
  get problems(): string[] {
    return this.config.problems;
  }

  /** A bad setting is named once in a notification and in the log; the meter goes on with the fallback. */
  private reportProblems(): void {
    const text = this.config.problems.join('\n');
    if (text === this.reportedProblems) return;
    this.reportedProblems = text;
    for (const problem of this.config.problems) this.log.warn(`setting: ${problem}`);
    if (this.config.problems.length > 0) {
      void vscode.window.showWarningMessage(`Agent Spend: ${this.config.problems[0]}${this.config.problems.length > 1 ? ` (and ${this.config.problems.length - 1} more, see the log)` : ''}`);
    }
  }
}
