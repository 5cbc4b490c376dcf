// What happens when a budget reaches its cap, per its `onCap`: warn (with "Stop Now"), interrupt (Ctrl+C to the
// agent's terminal, escalating to a stop only if allowed and spend keeps growing), or stop (a countdown that can be
// cancelled, then the stopper's SIGINT -> SIGTERM -> SIGKILL on the agent process alone). Interrupt and stop act only
// in a trusted workspace, and only on processes tied to the budget without doubt; anything ambiguous is offered in a
// pick list, never acted on by itself.

import * as vscode from 'vscode';
import { capTargets, mapSession, type RunningAgent, type SessionActivity } from '../core/agentMapping';
import type { BudgetState } from '../core/budget';
import type { Meter } from '../core/meter';
import * as fs from 'node:fs';
import { processReader, stillTheAgent } from '../core/processes';
import { stopAgent, systemOps, type ProcessOps, type StopOutcome } from '../core/stopper';
import { usd } from '../shared/format';
import type { Alert } from './alerts';
import { alertMessage, ACTIONS, raiseCap } from './budgetWarnings';
import type { StopConfig } from './config';
import { noLinks } from './format';
import { Disposable } from './lifecycle';
import type { TerminalAgent, TerminalAgents } from './terminalAgents';

const STOPPED = 'agentSpend.stoppedSessions';
/** The terminalId TerminalAgents gives the Claude Code extension's own claude (below the extension host). */
const EXTENSION_HOST = 'extension-host';
/** How long an interrupted process is not interrupted again. */
const INTERRUPT_QUIET_MS = 10_000;
export const STOP_NOW = 'Stop Now';

/** A session Agent Spend stopped, shown as a marker in the breakdown. */
export interface StoppedMarker {
  agent: string;
  sessionId: string | undefined;
  terminalName: string;
  pid: number;
  at: number;
  spentUsd: number | undefined;
  reason: string;
}

export interface StopControllerHost {
  meter(): Meter | undefined;
  /** How processes are read and signalled (default: the system's; tests give a fake table). */
  processes?: () => ReturnType<typeof processReader> & { kill?: (pid: number, signal: NodeJS.Signals) => void };
  config(): StopConfig;
  workspaceFolders(): string[];
  snooze(budgetIndex: number): Promise<void>;
  showBreakdown(): void;
}

export class StopController extends Disposable {
  private readonly stoppedEmitter = this.register(new vscode.EventEmitter<StoppedMarker[]>());
  readonly onDidStop = this.stoppedEmitter.event;
  /** Stops in progress, by pid: a second cap alert for the same agent does not start a second countdown. */
  private readonly inProgress = new Set<number>();
  /** Pids being signalled now (by any path: countdown, Stop Now, Stop Agent…): one escalation per process. */
  private readonly stopping = new Set<number>();
  /** Recent interrupts by pid:startTicks: a second Ctrl+C makes Claude Code and Codex quit, so one per cap event. */
  private readonly interrupted = new Map<string, number>();
  /** Escalation timers, cleared when the extension goes away. */
  private readonly timers = new Set<NodeJS.Timeout>();
  private gone = false;

  constructor(
    private readonly agents: TerminalAgents,
    private readonly host: StopControllerHost,
    private readonly state: vscode.Memento,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
  }

  /** The sessions active now, for mapping processes to sessions. */
  sessions(): SessionActivity[] {
    return (this.host.meter()?.running ?? []).map((s) => ({ agent: s.agent, sessionId: s.sessionId, project: s.project, firstAt: s.firstAt, lastAt: s.lastAt }));
  }

  /** The session a running agent is writing, when that can be told without doubt. */
  sessionOf(agent: RunningAgent): SessionActivity | undefined {
    const sessions = this.sessions();
    return sessions.find((s) => {
      const mapping = mapSession(s, this.agents.running, sessions);
      return mapping.kind === 'mapped' && mapping.process.pid === agent.pid;
    });
  }

  stoppedMarkers(): StoppedMarker[] {
    return this.state.get<StoppedMarker[]>(STOPPED, []);
  }

  /** Called for every cap alert (warn-level alerts never reach here). */
  async onCap(alert: Alert): Promise<void> {
    const { state } = alert;
    const config = this.host.config();
    await this.agents.scan();
    const { targets, ambiguous, note } = capTargets(state.budget, state, this.agents.running, this.sessions(), this.host.workspaceFolders());
    let action = state.budget.onCap;
    let why = '';
    if (action !== 'warn' && !config.allowed) {
      why = ` Agent Spend does not ${action} agents in an untrusted workspace.`;
      action = 'warn';
    } else if (action !== 'warn' && targets.length === 0) {
      why = ` Nothing was ${action === 'stop' ? 'stopped' : 'interrupted'} automatically: ${note ?? 'no agent in scope is running in a VS Code terminal'}.`;
      action = 'warn';
    }
    this.log.warn(`${alertMessage(alert)} onCap=${state.budget.onCap}, acting: ${action}; targets: ${describe(targets)}; ambiguous: ${describe(ambiguous)}${why}`);
    if (action === 'warn') return this.warn(alert, [...targets, ...ambiguous], why);
    if (action === 'interrupt') return this.interrupt(targets, state);
    await this.stopWithCountdown(targets, state, `budget reached: ${state.windowLabel}`);
    if (ambiguous.length > 0) await this.warn(alert, ambiguous, ` ${note ?? ''}`);
  }

  private async warn(alert: Alert, candidates: RunningAgent[], why: string): Promise<void> {
    // Stopping is never offered where it is not allowed (an untrusted workspace).
    const canStop = candidates.length > 0 && this.host.config().allowed;
    const actions = [...(canStop ? [STOP_NOW] : []), ACTIONS.snooze, ACTIONS.raise, ACTIONS.breakdown];
    const choice = await vscode.window.showErrorMessage(noLinks(`${alertMessage(alert)}${why}`), ...actions);
    if (choice === STOP_NOW) {
      const chosen = await this.pick(candidates, 'Stop which agent?');
      if (chosen.length > 0) await this.stop(chosen, `stopped by you at the cap of ${alert.state.windowLabel}`, alert.state);
    } else if (choice === ACTIONS.snooze) await this.host.snooze(alert.state.index);
    else if (choice === ACTIONS.raise) await raiseCap(alert.state);
    else if (choice === ACTIONS.breakdown) this.host.showBreakdown();
  }

  /**
   * Ctrl+C to each agent: the turn ends, the session stays resumable. The keystroke goes to whatever is in the
   * terminal's foreground, so it is typed only when the agent is that (checked again right before); an agent in the
   * background of its terminal gets SIGINT itself, after the same identity check as any signal.
   */
  private interrupt(targets: RunningAgent[], state: BudgetState): void {
    const config = this.host.config();
    const reader = this.reader();
    // Remembered only for the 10 s in which they block another interrupt of the same process.
    const now = Date.now();
    for (const [id, at] of this.interrupted) if (now - at >= INTERRUPT_QUIET_MS) this.interrupted.delete(id);
    for (const target of this.allowedTargets(targets)) {
      const id = `${target.pid}:${target.startTicks}`;
      if (this.stopping.has(target.pid) || this.inProgress.has(target.pid) || now - (this.interrupted.get(id) ?? -Infinity) < INTERRUPT_QUIET_MS) {
        this.log.info(`not interrupting ${target.agent} (pid ${target.pid}) again: it was interrupted moments ago or is being stopped`);
        continue;
      }
      this.interrupted.set(id, now);
      const terminal = this.agents.terminalOf(target);
      if (!terminal || !stillTheAgent(target, target.shellPid, reader.read, config.patterns)) {
        this.log.warn(`not interrupting ${target.agent} (pid ${target.pid}): it is no longer the agent in terminal '${target.terminalName}'`);
        continue;
      }
      const foreground = inForeground(target.pid);
      if (foreground === false) {
        try {
          this.ops(reader).kill(target.pid, 'SIGINT');
        } catch (error) {
          this.log.warn(`could not interrupt ${target.agent} (pid ${target.pid}): ${(error as Error).message}`);
          continue;
        }
        this.log.info(`sent SIGINT to ${target.agent} (pid ${target.pid}), in the background of terminal '${target.terminalName}': ${state.windowLabel} reached its cap`);
        continue;
      }
      terminal.sendText('\u0003', false);
      this.log.info(`sent Ctrl+C to ${target.agent} (pid ${target.pid}) in terminal '${target.terminalName}': ${state.windowLabel} reached its cap`);
    }
    void vscode.window.showWarningMessage(
      noLinks(`Agent Spend interrupted ${describe(targets)}: the budget for ${state.windowLabel} is reached.${config.escalateInterrupt ? ` If spending goes on, it will be stopped in ${config.interruptGraceSeconds} s.` : ''}`),
    );
    if (!config.escalateInterrupt) return;
    const spentThen = spent(state);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      // Decided again when it fires: the user may have raised the cap, changed onCap or switched escalation off.
      const now = this.host.meter()?.budgets.find((b) => b.index === state.index && b.windowKey === state.windowKey);
      if (!this.host.config().escalateInterrupt || !now || now.level !== 'cap' || now.budget.onCap !== 'interrupt' || spent(now) <= spentThen) {
        this.log.info(`no escalation after the interrupt on ${state.windowLabel}: spend held, or the budget or settings changed`);
        return;
      }
      const still = targets.filter((t) => this.agents.running.some((r) => r.pid === t.pid && r.startTicks === t.startTicks));
      this.log.warn(`spend on ${state.windowLabel} kept growing after the interrupt: stopping ${describe(still)}`);
      void this.stopWithCountdown(still, now, `kept spending after an interrupt at the cap of ${state.windowLabel}`);
    }, config.interruptGraceSeconds * 1000);
    this.timers.add(timer);
  }

  private reader(): ReturnType<typeof processReader> & { kill?: (pid: number, signal: NodeJS.Signals) => void } {
    return this.host.processes ? this.host.processes() : processReader();
  }

  /** The system's process operations over `reader`'s table, with the kill the host injected (tests) when it did. */
  private ops(reader: ReturnType<StopController['reader']>): ProcessOps {
    const ops = systemOps(reader.read, reader.table);
    return reader.kill ? { ...ops, kill: reader.kill } : ops;
  }

  /** Targets this window may act on: the extension host's own claude only while its setting is on. */
  private allowedTargets(targets: RunningAgent[]): RunningAgent[] {
    const includeExtension = this.host.config().includeClaudeExtension;
    return targets.filter((t) => includeExtension || t.terminalId !== EXTENSION_HOST);
  }

  /** "Stopping claude in terminal 'api' in 10 s", with Cancel; then the stop. */
  async stopWithCountdown(targets: RunningAgent[], state: BudgetState | undefined, reason: string): Promise<void> {
    const fresh = targets.filter((t) => !this.inProgress.has(t.pid));
    if (fresh.length === 0) return;
    for (const t of fresh) this.inProgress.add(t.pid);
    try {
      const seconds = Math.round(this.host.config().countdownSeconds);
      const cancelled = seconds > 0 && (await countdown(`Stopping ${describe(fresh)}`, seconds));
      if (cancelled) {
        this.log.info(`stop of ${describe(fresh)} cancelled by you`);
        return;
      }
      // The cap may have been raised (Raise Cap…), or the budget changed, while the countdown ran.
      if (seconds > 0 && state && !this.stillCallsForStop(state)) {
        this.log.info(`stop of ${describe(fresh)} dropped: the budget for ${state.windowLabel} no longer asks for it`);
        return;
      }
      await this.stop(fresh, reason, state);
    } finally {
      for (const t of fresh) this.inProgress.delete(t.pid);
    }
  }

  /** Whether the latest meter still has this budget window at its cap with onCap "stop". */
  private stillCallsForStop(state: BudgetState): boolean {
    const now = this.host.meter()?.budgets?.find((b) => b.windowKey === state.windowKey);
    return !!now && now.level === 'cap' && now.budget.onCap === 'stop';
  }

  /** Stops each target now (the stopper re-checks every one of them before every signal). */
  async stop(targets: RunningAgent[], reason: string, state?: BudgetState): Promise<StopOutcome[]> {
    const config = this.host.config();
    if (!config.allowed) {
      this.log.warn(`not stopping ${describe(targets)}: this workspace is not trusted`);
      return [];
    }
    targets = this.allowedTargets(targets);
    const reader = this.reader();
    const outcomes: StopOutcome[] = [];
    for (const target of targets) {
      const who = `${target.agent} (pid ${target.pid}) in terminal '${target.terminalName}'`;
      if (this.stopping.has(target.pid)) {
        this.log.info(`${who} is already being stopped`);
        continue;
      }
      const session = this.sessionOf(target);
      const terminal = this.agents.terminalOf(target);
      this.stopping.add(target.pid);
      let outcome: StopOutcome;
      try {
        outcome = await stopAgent(target, this.ops(reader), {
          graceMs: config.graceSeconds * 1000,
          killAfterMs: config.killAfterSeconds * 1000,
          patterns: config.patterns,
          keystroke: terminal ? () => terminal.sendText('\u0003', false) : undefined,
          cancelled: () => this.gone,
          log: (line) => this.log.info(line),
        });
      } catch (error) {
        // One target's failure must not leave the others running.
        this.log.error(`stopping ${who} failed: ${(error as Error).message}`);
        void vscode.window.showErrorMessage(noLinks(`Agent Spend could not stop ${who}: ${(error as Error).message}`));
        continue;
      } finally {
        this.stopping.delete(target.pid);
      }
      outcomes.push(outcome);
      if (outcome.stopped && outcome.steps.length === 0) {
        // Gone before anything was sent (it exited, or another stop got there first): not ours to mark.
        this.log.info(`${who} had already exited`);
        continue;
      }
      const spentText = state ? ` at ${state.unit === 'usd' ? usd(state.spentUsd) : `${Math.round(state.spentTokens)} tokens`}` : '';
      if (outcome.stopped) {
        this.log.warn(`stopped ${who}${spentText}: ${reason}`);
        await this.mark({
          agent: target.agent,
          sessionId: session?.sessionId ?? target.sessionHint,
          terminalName: target.terminalName,
          pid: target.pid,
          at: Date.now(),
          spentUsd: state?.spentUsd,
          reason,
        });
        void vscode.window.showInformationMessage(noLinks(`Agent Spend stopped ${who}${spentText}: ${reason}.`));
      } else if (outcome.refused) {
        this.log.warn(`did not stop ${who}: ${outcome.refused}`);
        void vscode.window.showWarningMessage(noLinks(`Agent Spend did not stop ${who}: ${outcome.refused}.`));
      } else if (!outcome.cancelled) {
        this.log.error(`${who} is still running after SIGKILL`);
        void vscode.window.showErrorMessage(noLinks(`Agent Spend could not stop ${who}.`));
      }
    }
    void this.agents.scan();
    return outcomes;
  }

  /** "Agent Spend: Stop Agent…": pick among the running agents (or the one given, from a tooltip link). */
  async stopCommand(pid?: number, startTicks?: number): Promise<void> {
    await this.agents.scan();
    const running = this.agents.running;
    if (running.length === 0) {
      void vscode.window.showInformationMessage('Agent Spend: no agent is running in a VS Code terminal.');
      return;
    }
    if (!this.host.config().allowed) {
      void vscode.window.showWarningMessage('Agent Spend does not stop agents in an untrusted workspace.');
      return;
    }
    // A link names a process by pid and start time: a pid reused since the link was drawn matches nothing.
    const chosen = pid !== undefined ? running.filter((r) => r.pid === pid && r.startTicks === startTicks) : await this.pick(running, 'Stop which agent?');
    if (pid !== undefined && chosen.length === 0) {
      void vscode.window.showWarningMessage('Agent Spend: that agent is no longer running.');
      return;
    }
    if (chosen.length === 0) return;
    const confirm = await vscode.window.showWarningMessage(
      `Stop ${describe(chosen)}? Agent Spend sends SIGINT, then SIGTERM and SIGKILL if it does not exit, to the agent process only (not the shell).`,
      { modal: true },
      'Stop',
    );
    if (confirm === 'Stop') await this.stop(chosen, 'stopped by you');
  }

  /** Always asks, even for one candidate: the user names the process before anything is done to it. */
  private async pick(candidates: RunningAgent[], title: string): Promise<RunningAgent[]> {
    const items = candidates.map((agent) => {
      const session = this.sessionOf(agent);
      const running = this.host.meter()?.running.find((r) => r.sessionId === session?.sessionId);
      return {
        label: `$(terminal) ${agent.terminalName}`,
        description: `${agent.agent} · pid ${agent.pid}`,
        detail: [agent.cwd, session ? `session ${session.sessionId.slice(0, 8)}` : 'session unknown', running ? usd(running.usd) : undefined].filter(Boolean).join(' · '),
        agent,
      };
    });
    const picked = await vscode.window.showQuickPick(items, { title, canPickMany: true, placeHolder: 'Only the agent process is signalled, never its shell' });
    return (picked ?? []).map((item) => item.agent);
  }

  override dispose(): void {
    this.gone = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    super.dispose();
  }

  private async mark(marker: StoppedMarker): Promise<void> {
    const markers = [...this.stoppedMarkers(), marker].slice(-200);
    await this.state.update(STOPPED, markers);
    this.stoppedEmitter.fire(markers);
  }
}

/** Whether `pid` is its terminal's foreground process group (Linux); undefined where that cannot be told. */
function inForeground(pid: number): boolean | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): the process group is field 5, the terminal's foreground group field 8.
    return fields[2] === fields[5];
  } catch {
    return undefined;
  }
}

function spent(state: BudgetState): number {
  return state.unit === 'usd' ? state.spentUsd : state.spentTokens;
}

export function describe(agents: RunningAgent[]): string {
  if (agents.length === 0) return 'none';
  return agents.map((a) => `${a.agent.replace(/-code$|-cli$/, '')} in terminal '${a.terminalName}'`).join(', ');
}

/** A cancellable notification counting down; resolves true when the user cancelled. */
function countdown(what: string, seconds: number): Thenable<boolean> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Agent Spend', cancellable: true },
    async (progress, token) => {
      for (let left = seconds; left > 0; left--) {
        if (token.isCancellationRequested) return true;
        progress.report({ message: noLinks(`${what} in ${left} s`), increment: 100 / seconds });
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      return token.isCancellationRequested;
    },
  );
}

export type { TerminalAgent };
