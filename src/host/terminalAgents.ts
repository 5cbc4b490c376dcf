// Which VS Code terminals run an agent right now. For each terminal, the process tree below its shell
// (`Terminal.processId`) is walked and agents are recognised by program / script name; shell-integration command
// lines only prompt an earlier look. Reading the process table is asynchronous and runs when terminals open or
// close, when a command starts in one, and on a modest interval while terminals exist: never on a hot path.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunningAgent } from '../core/agentMapping';
import { agentsBelow, readCwdAsync, readOpenFiles, readProcessTableAsync, type ProcessInfo } from '../core/processes';
import { claudeCodeRoots } from '../core/sources/claudeCode';
import { Disposable } from './lifecycle';

export interface TerminalAgent extends RunningAgent {
  /** Undefined for the Claude Code extension's own process (a child of the extension host). */
  terminal: vscode.Terminal | undefined;
}

export interface TerminalAgentsOptions {
  patterns: Record<string, RegExp>;
  /** Also the `claude` processes the Claude Code VS Code extension starts below this extension host (off by default). */
  includeClaudeExtension: boolean;
  intervalMs: number;
  env: NodeJS.ProcessEnv;
}

/** Linux start ticks -> ms since the epoch (boot time + ticks / USER_HZ, which is 100 on every Linux build that matters). */
function bootTimeMs(): number | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('btime '));
    return line ? Number(line.slice(6)) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function startedAtMs(p: ProcessInfo): number | undefined {
  if (process.platform === 'linux') {
    const boot = bootTimeMs();
    return boot === undefined ? undefined : boot + p.startTicks * 10;
  }
  return process.platform === 'darwin' ? p.startTicks * 1000 : p.startTicks;
}

/** Claude Code's `sessions/<pid>.json`: the session a running `claude` says it is (may be stale; see agentMapping). */
async function claudeSessionHint(pid: number, startedAtMs: number | undefined, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const root of claudeCodeRoots(env)) {
    try {
      const record = JSON.parse(await fs.promises.readFile(path.join(root, 'sessions', `${pid}.json`), 'utf8')) as { sessionId?: unknown; pid?: unknown; startedAt?: unknown };
      if (typeof record.sessionId !== 'string') continue;
      if (record.pid !== undefined && record.pid !== pid) continue;
      // Left behind by an earlier process with this pid (a crash or SIGKILL leaves the file): written before this
      // process started. A few seconds of slack for the clock granularity of either side.
      const written = typeof record.startedAt === 'number' ? record.startedAt : typeof record.startedAt === 'string' ? Date.parse(record.startedAt) : Number.NaN;
      if (startedAtMs !== undefined && Number.isFinite(written) && written < startedAtMs - 5_000) continue;
      return record.sessionId;
    } catch {
      // no file for this pid under this root
    }
  }
  return undefined;
}

export class TerminalAgents extends Disposable {
  private agents: TerminalAgent[] = [];
  private readonly changeEmitter = this.register(new vscode.EventEmitter<TerminalAgent[]>());
  readonly onDidChange = this.changeEmitter.event;
  private scanning: Promise<TerminalAgent[]> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly ids = new WeakMap<vscode.Terminal, string>();
  /** The shell each terminal had when first seen (pid and start time): a reused pid is not that shell. */
  private readonly shellIdentity = new WeakMap<vscode.Terminal, { pid: number; startTicks: number }>();
  private nextId = 1;

  constructor(
    private options: TerminalAgentsOptions,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    const soon = () => void this.scan();
    this.register(vscode.window.onDidOpenTerminal(soon));
    this.register(vscode.window.onDidCloseTerminal(soon));
    // A command line is a hint that something started: look now rather than at the next tick.
    const shellExecution = (vscode.window as { onDidStartTerminalShellExecution?: vscode.Event<unknown> }).onDidStartTerminalShellExecution;
    if (shellExecution) this.register(shellExecution(() => setTimeout(soon, 1500)));
    this.schedule();
    soon();
  }

  get running(): TerminalAgent[] {
    return this.agents;
  }

  configure(options: TerminalAgentsOptions): void {
    this.options = options;
    this.schedule();
    void this.scan();
  }

  /** A stable id per terminal for this window (terminals have none of their own). */
  terminalId(terminal: vscode.Terminal): string {
    let id = this.ids.get(terminal);
    if (!id) {
      id = `terminal-${this.nextId++}`;
      this.ids.set(terminal, id);
    }
    return id;
  }

  terminalOf(agent: RunningAgent): vscode.Terminal | undefined {
    return vscode.window.terminals.find((t) => this.terminalId(t) === agent.terminalId);
  }

  /** Looks again; concurrent calls share one walk (and one more runs after it if asked meanwhile). */
  scan(): Promise<TerminalAgent[]> {
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = this.walk()
      .catch((error: unknown) => {
        this.log.warn(`could not read the process table: ${String(error)}`);
        return this.agents;
      })
      .finally(() => {
        this.scanning = null;
        if (this.again) {
          this.again = false;
          void this.scan();
        }
      });
    return this.scanning;
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (vscode.window.terminals.length > 0 || this.options.includeClaudeExtension || this.agents.length > 0) void this.scan();
    }, this.options.intervalMs);
  }

  private async walk(): Promise<TerminalAgent[]> {
    const terminals = vscode.window.terminals;
    const shells: Array<{ terminal: vscode.Terminal | undefined; shellPid: number; name: string }> = [];
    for (const terminal of terminals) {
      // A terminal whose shell has exited (a task terminal, "press any key to close") still gives its old pid, which
      // the kernel may have handed to anyone's process since.
      if (terminal.exitStatus !== undefined) continue;
      const pid = await terminal.processId;
      if (pid) shells.push({ terminal, shellPid: pid, name: terminal.name });
    }
    if (this.options.includeClaudeExtension) shells.push({ terminal: undefined, shellPid: process.pid, name: 'Claude Code extension' });
    let found: TerminalAgent[] = [];
    if (shells.length > 0) {
      const table = await readProcessTableAsync();
      for (const shell of shells) {
        if (shell.terminal) {
          const row = table.find((p) => p.pid === shell.shellPid);
          if (!row) continue;
          const known = this.shellIdentity.get(shell.terminal);
          if (!known || known.pid !== shell.shellPid) this.shellIdentity.set(shell.terminal, { pid: row.pid, startTicks: row.startTicks });
          else if (known.startTicks !== row.startTicks) continue; // the shell exited and its pid was reused
        }
        for (const p of agentsBelow(table, shell.shellPid, this.options.patterns)) {
          // Below the extension host only the Claude Code extension's own `claude` is ever a candidate.
          if (!shell.terminal && p.agent !== 'claude-code') continue;
          found.push({
            terminal: shell.terminal,
            terminalId: shell.terminal ? this.terminalId(shell.terminal) : 'extension-host',
            terminalName: shell.name,
            shellPid: shell.shellPid,
            pid: p.pid,
            startTicks: p.startTicks,
            agent: p.agent,
            startedAtMs: startedAtMs(p),
            cwd: await readCwdAsync(p.pid),
            openFiles: process.platform === 'linux' ? readOpenFiles(p.pid) : undefined,
            sessionHint: p.agent === 'claude-code' ? await claudeSessionHint(p.pid, startedAtMs(p), this.options.env) : undefined,
          });
        }
      }
    }
    found = found.sort((a, b) => a.terminalName.localeCompare(b.terminalName) || a.pid - b.pid);
    const before = this.agents.map((a) => `${a.pid}:${a.startTicks}:${a.cwd}:${a.sessionHint}`).join();
    this.agents = found;
    if (found.map((a) => `${a.pid}:${a.startTicks}:${a.cwd}:${a.sessionHint}`).join() !== before) {
      this.log.info(
        found.length === 0
          ? 'no agent running in a terminal'
          : `agents in terminals: ${found.map((a) => `${a.agent} (pid ${a.pid}) in '${a.terminalName}'${a.cwd ? ` at ${a.cwd}` : ''}`).join('; ')}`,
      );
      this.changeEmitter.fire(found);
    }
    return found;
  }

  override dispose(): void {
    if (this.timer) clearInterval(this.timer);
    super.dispose();
  }
}
