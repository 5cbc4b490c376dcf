// Stopping one agent process, and nothing else.
//
// Escalation: SIGINT (the agent's own graceful path: Claude Code and Codex end the turn and save), then SIGTERM, then
// SIGKILL, with a grace period between each; afterwards the agent's left-over children (tool processes it started)
// are swept. On Windows a signal is a hard kill, so the terminal gets the interrupt keystroke first and the process
// is terminated only if it is still there after the grace period.
//
// Right before every signal the target is checked again: same pid AND same start time (the kernel reuses pids),
// still a descendant of the terminal's shell, still the agent it was chosen as. Never the shell, never a process
// group, never by name, never this process.

import { descendants, isAlive, stillTheAgent, type ProcessIdentity, type ProcessInfo } from './processes';

export interface StopTarget extends ProcessIdentity {
  agent: string;
  /** The pid of the terminal's shell (VS Code's `Terminal.processId`). */
  shellPid: number;
}

/** How the stopper touches the system; tests pass a fake table and a fake clock. */
export interface ProcessOps {
  read(pid: number): ProcessInfo | undefined;
  table(): ProcessInfo[];
  kill(pid: number, signal: NodeJS.Signals): void;
  sleep(ms: number): Promise<void>;
}

export interface StopOptions {
  /** Wait after SIGINT (or the keystroke) before SIGTERM. */
  graceMs: number;
  /** Wait after SIGTERM before SIGKILL. */
  killAfterMs: number;
  platform?: NodeJS.Platform;
  /** Sends the interrupt keystroke (Ctrl+C) to the agent's terminal; used first on Windows. */
  keystroke?: () => void;
  patterns?: Record<string, RegExp>;
  /** How often to look whether the process has exited while waiting. */
  pollMs?: number;
  /** Cancels before the next step (the user changed their mind during the grace period). */
  cancelled?: () => boolean;
  log?: (line: string) => void;
}

export type StopStep =
  | { action: 'keystroke' }
  | { action: 'signal'; pid: number; signal: NodeJS.Signals }
  | { action: 'sweep'; pid: number; signal: NodeJS.Signals }
  | { action: 'refused'; pid: number; reason: string };

export interface StopOutcome {
  /** The agent is gone (it exited, on its own or by a signal). */
  stopped: boolean;
  /** Nothing more was done because the target stopped being the agent chosen (pid reuse, moved, exec'd). */
  refused?: string;
  cancelled?: boolean;
  steps: StopStep[];
  /** Left-over children that were signalled after the agent exited. */
  swept: number[];
}

/** The real system: Linux /proc (reads), process.kill (signals, by pid only), setTimeout. */
export function systemOps(read: (pid: number) => ProcessInfo | undefined, table: () => ProcessInfo[]): ProcessOps {
  return {
    read,
    table,
    kill: (pid, signal) => {
      try {
        process.kill(pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // gone meanwhile: nothing to do
      }
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

async function waitForExit(identity: ProcessIdentity, ops: ProcessOps, ms: number, pollMs: number, cancelled?: () => boolean): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += pollMs) {
    if (!isAlive(identity, ops.read)) return true;
    if (cancelled?.()) return false;
    await ops.sleep(Math.min(pollMs, ms - waited));
  }
  return !isAlive(identity, ops.read);
}

export async function stopAgent(target: StopTarget, ops: ProcessOps, options: StopOptions): Promise<StopOutcome> {
  const steps: StopStep[] = [];
  const log = options.log ?? (() => undefined);
  const pollMs = options.pollMs ?? 100;
  const outcome: StopOutcome = { stopped: false, steps, swept: [] };
  const check = (): string | undefined => {
    if (!isAlive(target, ops.read)) return undefined;
    if (!stillTheAgent(target, target.shellPid, ops.read, options.patterns)) {
      return `pid ${target.pid} is no longer the ${target.agent} process chosen in that terminal (it exited and the pid was reused, or it moved or changed program)`;
    }
    return undefined;
  };
  const first = check();
  if (first) {
    steps.push({ action: 'refused', pid: target.pid, reason: first });
    return { ...outcome, refused: first };
  }
  if (!isAlive(target, ops.read)) return { ...outcome, stopped: true };
  // The agent's children now: after it exits they are re-parented and can no longer be found through it.
  const children = descendants(ops.table(), target.pid).map((p) => ({ pid: p.pid, startTicks: p.startTicks }));

  const windows = (options.platform ?? process.platform) === 'win32';
  const plan: Array<{ signal: NodeJS.Signals | 'keystroke'; waitMs: number }> = windows
    ? [
        { signal: 'keystroke', waitMs: options.graceMs },
        { signal: 'SIGTERM', waitMs: options.killAfterMs }, // TerminateProcess: Windows has no gentler signal
      ]
    : [
        { signal: 'SIGINT', waitMs: options.graceMs },
        { signal: 'SIGTERM', waitMs: options.killAfterMs },
        { signal: 'SIGKILL', waitMs: options.killAfterMs },
      ];
  for (const { signal, waitMs } of plan) {
    if (options.cancelled?.()) return { ...outcome, cancelled: true };
    if (signal === 'keystroke') {
      if (!options.keystroke) continue;
      options.keystroke();
      steps.push({ action: 'keystroke' });
      log(`sent Ctrl+C to the terminal of ${target.agent} (pid ${target.pid})`);
    } else {
      const refused = check();
      if (refused) {
        steps.push({ action: 'refused', pid: target.pid, reason: refused });
        log(`not signalling: ${refused}`);
        return { ...outcome, refused };
      }
      if (!isAlive(target, ops.read)) break;
      try {
        ops.kill(target.pid, signal);
      } catch (error) {
        // EPERM: not ours to signal (another user's, setuid). Nothing else will be tried on it.
        const reason = `could not send ${signal} to pid ${target.pid}: ${(error as Error).message}`;
        steps.push({ action: 'refused', pid: target.pid, reason });
        log(reason);
        return { ...outcome, refused: reason };
      }
      steps.push({ action: 'signal', pid: target.pid, signal });
      log(`sent ${signal} to ${target.agent} (pid ${target.pid})`);
    }
    if (await waitForExit(target, ops, waitMs, pollMs, options.cancelled)) break;
  }
  outcome.stopped = !isAlive(target, ops.read);
  if (!outcome.stopped) return outcome;

  // Tool processes the agent left behind: the same processes (pid and start time) that were its children.
  // One child that cannot be signalled (a setuid tool: EPERM) must not end the sweep, nor the stop, in an exception.
  const trySweep = (pid: number, signal: NodeJS.Signals): boolean => {
    try {
      ops.kill(pid, signal);
      steps.push({ action: 'sweep', pid, signal });
      return true;
    } catch (error) {
      log(`could not send ${signal} to left-over pid ${pid}: ${(error as Error).message}`);
      return false;
    }
  };
  const leftovers = children.filter((child) => child.pid !== target.shellPid && child.pid !== process.pid && isAlive(child, ops.read));
  const signalled = leftovers.filter((child) => trySweep(child.pid, 'SIGTERM'));
  outcome.swept.push(...signalled.map((child) => child.pid));
  for (const child of signalled) {
    if (await waitForExit(child, ops, options.killAfterMs, pollMs)) continue;
    if (!isAlive(child, ops.read)) continue;
    trySweep(child.pid, 'SIGKILL');
  }
  if (leftovers.length > 0) log(`swept ${leftovers.length} left-over child process(es) of ${target.agent}: ${leftovers.map((c) => c.pid).join(', ')}`);
  return outcome;
}
