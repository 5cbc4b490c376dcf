// The stopping path must never stop the wrong process, nor the right one twice: each case here was found by a review
// and failed before its fix (session mapping, stale session files, repeated interrupts and stops, raised caps,
// processes that may not be signalled, scripts named like agents, terminals whose shell has exited).
// Nothing here signals a real process except the ones this file spawns (a `sleep` named claude), by pid.

import './useFakeVscode';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type * as vscode from 'vscode';
import { capTargets, mapSession, type RunningAgent, type SessionActivity } from '../../src/core/agentMapping';
import type { Budget, BudgetState } from '../../src/core/budget';
import type { Meter } from '../../src/core/meter';
import { AGENT_PATTERNS, agentOf, type ProcessInfo } from '../../src/core/processes';
import { stopAgent, type ProcessOps } from '../../src/core/stopper';
import { dueAlerts, pruneNotified, settledKeys, type Alert } from '../../src/host/alerts';
import type { StopConfig } from '../../src/host/config';
import { StopController } from '../../src/host/stopController';
import { TerminalAgents } from '../../src/host/terminalAgents';
import * as fake from './fakeVscode';
import { ownProcesses, tempDir, until } from './helpers';

const run = (pid: number, extra: Partial<RunningAgent> = {}): RunningAgent => ({
  terminalId: `t${pid}`, terminalName: `term ${pid}`, shellPid: pid - 1, pid, startTicks: pid * 10, agent: 'claude-code', startedAtMs: 1_000, cwd: '/w/shop', ...extra,
});
const session = (sessionId: string, extra: Partial<SessionActivity> = {}): SessionActivity => ({
  agent: 'claude-code', sessionId, project: '/w/shop', firstAt: 2_000, lastAt: 3_000, ...extra,
});

describe('R1 mapping: a process whose own evidence names another session is mapped by cwd', () => {
  it('codex holding ANOTHER session\'s rollout open is not the capped session\'s process', () => {
    const capped = session('019a0000-aaaa-7000-8000-000000000001', { agent: 'codex' }); // over its cap, finished
    const p = run(11, { agent: 'codex', openFiles: ['/h/.codex/sessions/2026/11/28/rollout-2026-11-28T10-00-00-019a0000-bbbb-7000-8000-000000000002.jsonl'] });
    const t = capTargets({ period: 'session', limitUsd: 1, warnAt: [], onCap: 'stop' }, { agent: 'codex', sessionId: capped.sessionId }, [p], [capped], []);
    assert.deepEqual(t.targets, [], `stopped pid ${t.targets[0]?.pid}, which is writing another session`);
  });

  it('claude whose session file names a new session (no usage yet) is not the capped session\'s process', () => {
    const capped = session('aaaaaaaa-0000-0000-0000-000000000001');
    const p = run(11, { sessionHint: 'cccccccc-0000-0000-0000-000000000003' });
    const m = mapSession(capped, [p], [capped]);
    assert.notEqual(m.kind, 'mapped', `mapped by ${m.kind === 'mapped' ? m.evidence : ''}`);
  });
});

describe('R2 stale ~/.claude/sessions/<pid>.json after pid reuse is believed', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  const spawned = ownProcesses();
  it('a file written for an earlier process with the same pid names a session this process never ran', async () => {
    const dir = tempDir();
    const configDir = path.join(dir, 'claude-config');
    fs.mkdirSync(path.join(configDir, 'sessions'), { recursive: true });
    const link = path.join(dir, 'claude');
    fs.symlinkSync('/bin/sleep', link); // a "claude" we own: sleep under that name
    const shell = spawn('/bin/sh', ['-c', `"${link}" 60; true`], { stdio: 'ignore' });
    spawned.push(shell);
    const { readProcessTable, agentsBelow } = await import('../../src/core/processes');
    const agent = await until(() => agentsBelow(readProcessTable(), shell.pid!)[0], 'the fake claude');
    // Left behind by a claude killed an hour ago (SIGKILL leaves it), whose pid the new process got.
    fs.writeFileSync(
      path.join(configDir, 'sessions', `${agent.pid}.json`),
      JSON.stringify({ pid: agent.pid, sessionId: 'old-session-0000-0000', cwd: '/w/other', startedAt: Date.now() - 3_600_000 }),
    );
    fake.window.terminals = [{ name: 'term', processId: Promise.resolve(shell.pid) }];
    const log = fake.window.createOutputChannel('x') as unknown as vscode.LogOutputChannel;
    const agents = new TerminalAgents({ patterns: AGENT_PATTERNS, includeClaudeExtension: false, intervalMs: 60_000, env: { CLAUDE_CONFIG_DIR: configDir } }, log);
    try {
      const [found] = await agents.scan();
      const old = session('old-session-0000-0000', { project: '/w/other', firstAt: Date.now() - 3_000_000, lastAt: Date.now() - 60_000 });
      const m = mapSession(old, [found], [old]);
      assert.equal(found.sessionHint, undefined, `hint ${found.sessionHint} from a file 1 h older than the process; mapping: ${m.kind}${m.kind === 'mapped' ? ` by ${m.evidence}` : ''}`);
    } finally {
      agents.dispose();
      fake.window.terminals = [];
    }
  });
});

// ---- stop controller helpers (fake table; nothing real is signalled)
const config = (over: Partial<StopConfig> = {}): StopConfig => ({
  allowed: true, countdownSeconds: 0, graceSeconds: 0.5, killAfterSeconds: 0.5, escalateInterrupt: false, interruptGraceSeconds: 60,
  includeClaudeExtension: false, patterns: AGENT_PATTERNS, scanIntervalSeconds: 10, ...over,
});
function state(budget: Budget, extra: Partial<BudgetState> = {}): BudgetState {
  return { index: 0, budget, windowKey: 'k', windowLabel: 'today', windowStart: 0, windowEnd: 1, spentUsd: 12, spentTokens: 0, unpricedRequests: 0,
    limit: 10, unit: 'usd', fraction: 1.2, level: 'cap', reached: [1], burnPerHour: 0, projectedCapAt: null, ...extra };
}
const alert = (s: BudgetState): Alert => ({ state: s, threshold: 1, severity: 'error', key: 'x' });
function controller(running: RunningAgent[], over: Partial<StopConfig>, kill: (pid: number, signal: NodeJS.Signals, table: ProcessInfo[]) => void, extraTable: ProcessInfo[] = [], meter: Partial<Meter> = {}) {
  const sent: string[] = [];
  const table: ProcessInfo[] = [
    ...running.flatMap((a) => [
      { pid: a.shellPid, ppid: 1, startTicks: 1, comm: 'bash', argv: ['bash'] },
      { pid: a.pid, ppid: a.shellPid, startTicks: a.startTicks, comm: 'claude', argv: ['claude'] },
    ]),
    ...extraTable,
  ];
  const terminals = new Map(running.map((a) => [a.terminalId, { name: a.terminalName, sendText: (text: string) => sent.push(`${a.terminalName}:${JSON.stringify(text)}`) }]));
  const agents = { running, scan: async () => running, terminalOf: (a: RunningAgent) => terminals.get(a.terminalId) } as unknown as TerminalAgents;
  const memento = new Map<string, unknown>();
  const globalState = { get: (k: string, d?: unknown) => memento.get(k) ?? d, update: async (k: string, v: unknown) => void memento.set(k, v) } as unknown as vscode.Memento;
  const stop = new StopController(
    agents,
    {
      processes: () => ({
        read: (pid: number) => table.find((p) => p.pid === pid),
        table: () => table,
        kill: (pid: number, signal: NodeJS.Signals) => {
          sent.push(`${pid}:${signal}`);
          kill(pid, signal, table);
        },
      }),
      meter: () => ({ running: [], budgets: [], ...meter }) as unknown as Meter,
      config: () => config(over),
      workspaceFolders: () => ['/w'],
      snooze: async () => undefined,
      showBreakdown: () => undefined,
    },
    globalState,
    fake.window.createOutputChannel('Agent Spend') as unknown as vscode.LogOutputChannel,
  );
  return { stop, sent };
}
const drop = (t: ProcessInfo[], pid: number) => {
  const i = t.findIndex((p) => p.pid === pid);
  if (i >= 0) t.splice(i, 1);
};

describe('R3 interrupt twice = quit', () => {
  it('two budgets reaching their cap in one update (day + session, both interrupt) type Ctrl+C once, not twice', async () => {
    const a = run(9_000_001, { cwd: '/w/shop', sessionHint: 's1-0000-0000' });
    const s = { agent: 'claude-code', sessionId: 's1-0000-0000', project: '/w/shop', model: 'm', usd: 12, unpricedRequests: 0, firstAt: 0, lastAt: 1, burnPerHour: 0 };
    const { stop, sent } = controller([a], {}, () => undefined, [], { running: [s] } as unknown as Partial<Meter>);
    const day = state({ period: 'day', limitUsd: 10, warnAt: [], onCap: 'interrupt' });
    const perSession = state({ period: 'session', limitUsd: 5, warnAt: [], onCap: 'interrupt' }, { index: 1, windowKey: 'k2', sessionId: s.sessionId, agent: 'claude-code' });
    // BudgetWarnings.update announces every due alert with `void this.announce(alert)`: concurrently.
    await Promise.all([stop.onCap(alert(day)), stop.onCap(alert(perSession))]);
    const ctrlC = sent.filter((x) => x.endsWith('"\\u0003"'));
    assert.equal(ctrlC.length, 1, `sent: ${JSON.stringify(sent)} (Claude Code and Codex quit on a second Ctrl+C)`);
  });
});

describe('R4 stopping twice', () => {
  it('Stop Now / Stop Agent during an automatic stop does not start a second escalation on the same pid', async () => {
    const a = run(9_000_001);
    // The fake agent ignores SIGINT and leaves on SIGTERM.
    const { stop, sent } = controller([a], {}, (pid, signal, t) => {
      if (signal === 'SIGTERM') drop(t, pid);
    });
    const st = state({ period: 'day', limitUsd: 10, warnAt: [], onCap: 'stop' });
    await Promise.all([stop.stopWithCountdown([a], st, 'budget reached'), stop.stop([a], 'stopped by you')]);
    assert.deepEqual(sent, ['9000001:SIGINT', '9000001:SIGTERM'], `signals: ${JSON.stringify(sent)}; markers: ${stop.stoppedMarkers().length}`);
  });
});

describe('R5 a raised cap is never enforced again in the same window', () => {
  it('after "Raise Cap…" from 10 to 20, reaching 20 alerts (and so stops) again', () => {
    const budget: Budget = { period: 'day', limitUsd: 10, warnAt: [0.8], onCap: 'stop' };
    const first = state(budget, { windowKey: '0:day:2026-11-28', reached: [0.8, 1] });
    const notified = new Set<string>();
    const a1 = dueAlerts([first], notified, new Map(), 0);
    assert.equal(a1[0]?.severity, 'error');
    for (const k of settledKeys(first)) notified.add(k);
    // The user raises the cap to 20 (same budget, same window); spend goes on to 21.
    const raised = { ...budget, limitUsd: 20 };
    const later = state(raised, { windowKey: '0:day:2026-11-28', limit: 20, spentUsd: 21, fraction: 1.05, reached: [0.8, 1] });
    const kept = new Set(pruneNotified(notified, [later]));
    const a2 = dueAlerts([later], kept, new Map(), 0);
    assert.equal(a2.length, 1, 'the new cap was crossed: no alert, no stop, for the rest of the day');
  });
});

describe('R6 one signal that fails (EPERM) aborts everything after it', () => {
  it('a left-over child the user may not signal (a sudo tool) does not turn into an exception that skips the other targets', async () => {
    const a = run(9_000_001);
    const b = run(9_000_011, { terminalId: 'tb', terminalName: 'term b' });
    const child: ProcessInfo = { pid: 9_000_002, ppid: a.pid, startTicks: 5, comm: 'sudo', argv: ['sudo', 'tail', '-f', 'x'] };
    const { stop, sent } = controller([a, b], {}, (pid, signal, t) => {
      if (pid === child.pid) throw Object.assign(new Error('kill EPERM'), { code: 'EPERM' });
      if (signal === 'SIGINT') {
        drop(t, pid);
        const c = t.find((p) => p.pid === child.pid);
        if (c) c.ppid = 1;
      }
    }, [child]);
    let error: unknown;
    try {
      await stop.stop([a, b], 'test');
    } catch (e) {
      error = e;
    }
    assert.equal(error, undefined, `stop() threw ${String(error)}; signals: ${JSON.stringify(sent)}; markers: ${stop.stoppedMarkers().length}`);
    assert.ok(sent.includes(`${b.pid}:SIGINT`), 'the second target was stopped too');
  });

  it('stopAgent itself: the agent is gone, the outcome says so (not a rejection)', async () => {
    const table: ProcessInfo[] = [
      { pid: 100, ppid: 1, startTicks: 1, comm: 'bash', argv: ['bash'] },
      { pid: 101, ppid: 100, startTicks: 2, comm: 'claude', argv: ['claude'] },
      { pid: 102, ppid: 101, startTicks: 3, comm: 'sudo', argv: ['sudo', 'x'] },
    ];
    const ops: ProcessOps = {
      read: (pid) => table.find((p) => p.pid === pid),
      table: () => table,
      kill: (pid) => {
        if (pid === 102) throw Object.assign(new Error('kill EPERM'), { code: 'EPERM' });
        drop(table, pid);
      },
      sleep: async () => undefined,
    };
    const out = await stopAgent({ pid: 101, startTicks: 2, agent: 'claude-code', shellPid: 100 }, ops, { graceMs: 100, killAfterMs: 100, platform: 'linux' }).catch((e: Error) => e);
    assert.ok(!(out instanceof Error), `rejected: ${String(out)}`);
  });
});

describe('R7 a user\'s own script named like an agent is an agent', () => {
  it('python gemini.py / node claude.js in a project are not agents', () => {
    const p = (argv: string[]): ProcessInfo => ({ pid: 1, ppid: 0, startTicks: 1, comm: path.basename(argv[0]), argv });
    assert.equal(agentOf(p(['python3', 'gemini.py'])), undefined);
    assert.equal(agentOf(p(['node', 'src/claude.js', '--port', '3000'])), undefined);
    assert.equal(agentOf(p(['node', '-r', 'amp', 'server.js'])), undefined, 'a preloaded module is not the script');
    assert.equal(agentOf(p(['node', '/usr/lib/node_modules/@openai/codex/bin/codex.js'])), 'codex', 'the installed agent still is');
  });
});

describe('R8 a terminal whose shell has exited still lends its (reusable) pid', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  const spawned = ownProcesses();
  it('a terminal with an exitStatus (task terminal, "press any key to close") has no agents: its old pid may be someone else now', async () => {
    const dir = tempDir();
    const link = path.join(dir, 'claude');
    fs.symlinkSync('/bin/sleep', link);
    // Stands for the process that got the dead shell's pid: e.g. another window's shell running claude.
    const other = spawn('/bin/sh', ['-c', `"${link}" 60; true`], { stdio: 'ignore' });
    spawned.push(other);
    const { readProcessTable, agentsBelow } = await import('../../src/core/processes');
    await until(() => agentsBelow(readProcessTable(), other.pid!)[0], 'the fake claude');
    fake.window.terminals = [{ name: 'build task', processId: Promise.resolve(other.pid), exitStatus: { code: 1, reason: 1 } }];
    const log = fake.window.createOutputChannel('x') as unknown as vscode.LogOutputChannel;
    const agents = new TerminalAgents({ patterns: AGENT_PATTERNS, includeClaudeExtension: false, intervalMs: 60_000, env: { CLAUDE_CONFIG_DIR: path.join(dir, 'none') } }, log);
    try {
      const found = await agents.scan();
      assert.deepEqual(found.map((a) => `${a.agent} pid ${a.pid} in '${a.terminalName}'`), []);
    } finally {
      agents.dispose();
      fake.window.terminals = [];
    }
  });
});
