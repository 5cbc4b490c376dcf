// Every service of the extension, built once at activation and disposed in reverse order.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { BreakdownPanel } from './breakdownPanel';
import { BudgetHookService } from './budgetHookCommands';
import { BudgetWarnings } from './budgetWarnings';
import { readConfig, SECTION, type AgentSpendConfig } from './config';
import { EngineService, workspaceFolders } from './engineService';
import { noLinks } from './format';
import type { RunningAgentView } from '../shared/protocol';
import { Disposable } from './lifecycle';
import { setBudget } from './setBudget';
import { SpendStatusBar } from './statusBar';
import { StopController } from './stopController';
import { TerminalAgents } from './terminalAgents';

export const COMMANDS = {
  showBreakdown: 'agentSpend.showBreakdown',
  setBudget: 'agentSpend.setBudget',
  refresh: 'agentSpend.refresh',
  showLog: 'agentSpend.showLog',
  stopAgent: 'agentSpend.stopAgent',
} as const;

export class Container extends Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly engine: EngineService;
  readonly statusBar: SpendStatusBar;
  readonly breakdown: BreakdownPanel;
  readonly warnings: BudgetWarnings;
  readonly terminalAgents: TerminalAgents;
  readonly stopper: StopController;
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
    this.breakdown = this.register(
      new BreakdownPanel(context.extensionUri, this.engine, this.log, () => this.config.weekStartsOn, () => ({
        running: this.runningView(),
        stopped: this.stopper.stoppedMarkers().map((m) => ({ ...m, sessionId: m.sessionId ?? null, spentUsd: m.spentUsd ?? null })),
      })),
    );
    const showBreakdown = () => void vscode.commands.executeCommand(COMMANDS.showBreakdown);
    this.terminalAgents = this.register(new TerminalAgents(this.terminalAgentOptions(), this.log));
    this.stopper = this.register(
      new StopController(
        this.terminalAgents,
        {
          meter: () => this.engine.latest?.meter,
          config: () => this.config.stop,
          workspaceFolders,
          snooze: (index) => this.warnings.snooze(index),
          showBreakdown,
        },
        context.globalState,
        this.log,
      ),
    );
    const warnings = (this.warnings = this.register(
      new BudgetWarnings(context.globalState, showBreakdown, this.log, (alert) => this.stopper.onCap(alert)),
    ));
    const redrawStatus = () => {
      if (this.engine.latest?.meter) this.statusBar.show(this.engine.latest.meter, this.config.unit, this.runningView());
    };
    const hook = this.register(new BudgetHookService(path.join(context.globalStorageUri.fsPath, 'claude-hook'), this.log));
    this.register(this.terminalAgents.onDidChange(redrawStatus));
    this.register(this.stopper.onDidStop(() => this.breakdown.refreshView()));
    this.register(this.terminalAgents.onDidChange(() => this.breakdown.refreshView()));

    this.register(this.engine.onProgress(({ filesDone, filesTotal }) => this.statusBar.progress(filesDone, filesTotal)));
    this.register(
      this.engine.onSnapshot((snapshot) => {
        if (!snapshot.meter) return;
        this.statusBar.show(snapshot.meter, this.config.unit, this.runningView());
        hook.update(snapshot.meter.budgets);
        void warnings.update(snapshot.meter).catch((error: unknown) => this.log.error(`budget warnings: ${String(error)}`));
      }),
    );
    this.register(vscode.commands.registerCommand(COMMANDS.showBreakdown, () => this.breakdown.show()));
    this.register(vscode.commands.registerCommand(COMMANDS.setBudget, () => setBudget()));
    this.register(vscode.commands.registerCommand(COMMANDS.refresh, () => this.engine.refresh()));
    this.register(vscode.commands.registerCommand(COMMANDS.showLog, () => this.log.show()));
    this.register(
      vscode.commands.registerCommand(COMMANDS.stopAgent, (pid?: unknown, startTicks?: unknown) =>
        this.stopper.stopCommand(typeof pid === 'number' ? pid : undefined, typeof startTicks === 'number' ? startTicks : undefined),
      ),
    );
    this.register(vscode.window.registerWebviewPanelSerializer(BreakdownPanel.viewType, this.breakdown));
    // Settings are read again when they change and when the workspace becomes trusted (from then on the Claude Code
    // folder, extra log folders and stopping count): both go the same way, to the engine, the terminal scan and
    // the status bar.
    const applyConfig = () => {
      const previous = this.config;
      this.config = readConfig();
      this.reportProblems();
      if (this.engine.needsRestart(this.config)) this.engine.start(this.config);
      else this.engine.configure(this.config);
      if (terminalKey(previous) !== terminalKey(this.config)) this.terminalAgents.configure(this.terminalAgentOptions());
      redrawStatus();
    };
    this.register(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration(SECTION)) applyConfig();
      }),
    );
    this.register(vscode.workspace.onDidGrantWorkspaceTrust(applyConfig));
    this.register(
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        if (this.engine.needsRestart(this.config)) this.engine.start(this.config);
        else this.engine.configure(this.config);
      }),
    );
    this.engine.start(this.config);
  }

  /** The running agents as the status bar and the breakdown show them: terminal, session, spend. */
  runningView(): RunningAgentView[] {
    const meter = this.engine.latest?.meter;
    return this.terminalAgents.running.map((agent) => {
      const session = this.stopper.sessionOf(agent);
      const spend = session ? meter?.running.find((r) => r.sessionId === session.sessionId && r.agent === session.agent) : undefined;
      return {
        pid: agent.pid,
        startTicks: agent.startTicks,
        agent: agent.agent,
        terminalName: agent.terminalName,
        cwd: agent.cwd ?? null,
        sessionId: session?.sessionId ?? null,
        usd: spend?.usd ?? null,
        burnPerHour: spend?.burnPerHour ?? null,
      };
    });
  }

  private terminalAgentOptions() {
    return {
      patterns: this.config.stop.patterns,
      includeClaudeExtension: this.config.stop.includeClaudeExtension,
      intervalMs: this.config.stop.scanIntervalSeconds * 1000,
      env: this.config.claudeConfigDir ? { ...process.env, CLAUDE_CONFIG_DIR: this.config.claudeConfigDir } : process.env,
    };
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
      // A problem quotes the setting's value, which a workspace's settings can choose: never a link.
      void vscode.window.showWarningMessage(noLinks(`Agent Spend: ${this.config.problems[0]}${this.config.problems.length > 1 ? ` (and ${this.config.problems.length - 1} more, see the log)` : ''}`));
    }
  }
}

/**
 * What the terminal scan is configured from: the stop settings (patterns by their source: JSON.stringify turns a
 * RegExp into {}) and the Claude Code folder its session hints read.
 */
function terminalKey(config: AgentSpendConfig): string {
  return JSON.stringify([config.stop, config.claudeConfigDir ?? null], (_key, value: unknown) => (value instanceof RegExp ? `/${value.source}/${value.flags}` : value));
}
