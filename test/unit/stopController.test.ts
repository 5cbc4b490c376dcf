// The stop controller's decisions against a fake `vscode`: what each onCap does, that an untrusted workspace only
// warns, that an ambiguous session is offered and never stopped by itself. The processes here are fakes that are
// never signalled: any signal would go through stopAgent, which the tests watch through the log.

import './useFakeVscode';
import assert from 'node:assert/strict';
import { beforeEach, describe, it, mock } from 'node:test';
import type * as vscode from 'vscode';
import type { RunningAgent } from '../../src/core/agentMapping';
import type { Budget, BudgetState } from '../../src/core/budget';
import type { Meter } from '../../src/core/meter';
import { AGENT_PATTERNS, type ProcessInfo } from '../../src/core/processes';
import type { Alert } from '../../src/host/alerts';
import type { StopConfig } from '../../src/host/config';
import { STOP_NOW, StopController } from '../../src/host/stopController';
import type { TerminalAgents } from '../../src/host/terminalAgents';
import * as fake from './fakeVscode';

const config = (allowed: boolean): StopConfig => ({
  allowed,
  countdownSeconds: 0,
  graceSeconds: 1,
  killAfterSeconds: 1,
  escalateInterrupt: false,
  interruptGraceSeconds: 60,
  includeClaudeExtension: false,
  patterns: AGENT_PATTERNS,
  scanIntervalSeconds: 10,
});

function state(budget: Budget, extra: Partial<BudgetState> = {}): BudgetState {
  return {
    index: 0, budget, windowKey: 'k', windowLabel: 'today', windowStart: 0, windowEnd: 1, spentUsd: 12, spentTokens: 0, unpricedRequests: 0,
    limit: 10, unit: 'usd', fraction: 1.2, level: 'cap', reached: [1], burnPerHour: 0, projectedCapAt: null, ...extra,
  };
}

function agent(pid: number, cwd: string): RunningAgent {
  // pids far above any real one: even a mistaken signal could reach nothing.
  return { terminalId: `t${pid}`, terminalName: `term ${pid}`, shellPid: pid - 1, pid, startTicks: 1, agent: 'claude-code', cwd };
}

function controller(running: RunningAgent[], allowed: boolean, meter?: Partial<Meter>, overrides: Partial<StopConfig> = {}, meterNow?: () => Partial<Meter>) {
  const sent: string[] = [];
  // The fake agents exist only in this table: a shell (pid - 1) running `claude` (pid).
  const table: ProcessInfo[] = running.flatMap((a) => [
    { pid: a.shellPid, ppid: 1, startTicks: 1, comm: 'bash', argv: ['bash'] },
    { pid: a.pid, ppid: a.shellPid, startTicks: a.startTicks, comm: 'claude', argv: ['claude'] },
  ]);
  const terminals = new Map(running.map((a) => [a.terminalId, { name: a.terminalName, sendText: (text: string) => sent.push(`${a.terminalName}:${JSON.stringify(text)}`) }]));
  const agents = {
    running,
    scan: async () => running,
    terminalOf: (a: RunningAgent) => terminals.get(a.terminalId),
  } as unknown as TerminalAgents;
  const memento = new Map<string, unknown>();
  const globalState = { get: (k: string, d?: unknown) => memento.get(k) ?? d, update: async (k: string, v: unknown) => void memento.set(k, v) } as unknown as vscode.Memento;
  const log = fake.window.createOutputChannel('Agent Spend') as unknown as vscode.LogOutputChannel;
  const stop = new StopController(
    agents,
    {
      // The fake agents exist only in this table: a shell (pid - 1) running `claude` (pid).
      processes: () => ({
        read: (pid: number) => table.find((p) => p.pid === pid),
        table: () => table,
        // The fake agent exits on SIGINT; nothing real is ever signalled.
        kill: (pid: number) => void table.splice(table.findIndex((p) => p.pid === pid), 1),
      }),
      meter: () => ({ running: [], ...meter, ...meterNow?.() }) as Meter,
      config: () => ({ ...config(allowed), ...overrides }),
      workspaceFolders: () => ['/w'],
      snooze: async () => undefined,
      showBreakdown: () => undefined,
    },
    globalState,
    log,
  );
  return { stop, sent };
}

const alert = (s: BudgetState): Alert => ({ state: s, threshold: 1, severity: 'error', key: 'x' }) as Alert;

describe('stop controller', () => {
  beforeEach(() => {
    fake.recorded.messages.length = 0;
    fake.recorded.log.length = 0;
    fake.recorded.answer = undefined;
  });

  it('onCap warn: an error notification offering Stop Now; nothing is sent anywhere', async () => {
    const { stop, sent } = controller([agent(9_000_001, '/w/a')], true);
    await stop.onCap(alert(state({ period: 'day', limitUsd: 10, warnAt: [], onCap: 'warn' })));
    const [message] = fake.recorded.messages;
    assert.equal(message.level, 'error');
    assert.ok(message.actions.includes(STOP_NOW));
    assert.deepEqual(sent, []);
  });

  it('an untrusted workspace only warns, whatever onCap says, and says why', async () => {
    const { stop, sent } = controller([agent(9_000_001, '/w/a')], false);
    await stop.onCap(alert(state({ period: 'day', limitUsd: 10, warnAt: [], onCap: 'interrupt' })));
    assert.deepEqual(sent, []);
    assert.match(fake.recorded.messages[0].text, /does not interrupt agents in an untrusted workspace/);
    assert.ok(!fake.recorded.messages[0].actions.includes(STOP_NOW), 'no Stop Now offered where stopping is off');
  });

  it('onCap interrupt: Ctrl+C to each counted agent\'s terminal, nothing else', async () => {
    const { stop, sent } = controller([agent(9_000_001, '/w/a'), agent(9_000_003, '/elsewhere')], true);
    await stop.onCap(alert(state({ period: 'day', limitUsd: 10, warnAt: [], onCap: 'interrupt', scope: 'workspace' })));
    assert.deepEqual(sent, ['term 9000001:"\\u0003"']);
    assert.ok(fake.recorded.log.some((l) => /sent Ctrl\+C to claude-code \(pid 9000001\)/.test(l)));
  });

  it('forgets interrupts once they are past the 10 s in which they block another (a window open for weeks)', async () => {
    const clock = mock.method(Date, 'now', () => 1_000_000);
    try {
      const running = [agent(9_000_001, '/w/a')];
      const { stop, sent } = controller(running, true);
      const interrupt = () => stop.onCap(alert(state({ period: 'day', limitUsd: 10, warnAt: [], onCap: 'interrupt' })));
      await interrupt();
      await interrupt();
      assert.equal(sent.length, 1, 'not again within 10 s');
      clock.mock.mockImplementation(() => 1_011_000);
      await interrupt();
      assert.equal(sent.length, 2, 'again after 10 s');
      const remembered = (stop as unknown as { interrupted: Map<string, number> }).interrupted;
      assert.equal(remembered.size, 1);
      // Another process, 10 s later: the first one's entry is gone.
      clock.mock.mockImplementation(() => 1_030_000);
      running.splice(0, 1, agent(9_000_003, '/w/a'));
      await interrupt();
      assert.deepEqual([...remembered.keys()].map((key) => key.split(':')[0]), ['9000003']);
    } finally {
      clock.mock.restore();
    }
  });

  it('a terminal name (a process can set it with an escape sequence) never becomes a command link in a notification', async () => {
    // VS Code runs "[label](command:id?args)" in a notification message when clicked (linkedText.ts, allowCommands).
    const NOTIFICATION_LINK = /\[([^\]]+)\]\(((?:https?:\/\/|command:|file:)[^\)\s]+)(?: (["'])(.+?)(\3))?\)/i;
    const named = { ...agent(9_000_001, '/w/a'), terminalName: '[Resume the agent](command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22id%5Cn%22%7D)' };
    const { stop } = controller([named], true);
    await stop.onCap(alert(state({ period: 'day', limitUsd: 10, warnAt: [], onCap: 'interrupt' })));
    assert.ok(fake.recorded.messages.length > 0);
    for (const message of fake.recorded.messages) assert.doesNotMatch(message.text, NOTIFICATION_LINK, message.text);
  });

  it('a stop whose budget changed during its countdown (cap raised, or onCap set to warn) does not happen', async () => {
    const budget: Budget = { period: 'day', limitUsd: 10, warnAt: [], onCap: 'stop' };
    const capped = state(budget, { windowKey: '0:day:2026-11-29' });
    const outcomes: Array<[string, boolean]> = [];
    const cases: Array<[string, BudgetState | undefined]> = [
      ['still at its cap', capped],
      ['cap raised', { ...capped, limit: 50, fraction: 0.24, level: 'ok', reached: [] }],
      ['onCap set to warn', { ...capped, budget: { ...budget, onCap: 'warn' } }],
      ['budget removed', undefined],
    ];
    for (const [name, after] of cases) {
      let now: BudgetState | undefined = capped;
      const { stop } = controller([agent(9_000_001, '/w/a')], true, undefined, { countdownSeconds: 1 }, () => ({ budgets: now ? [now] : [] }));
      const stopping = stop.onCap(alert(capped));
      now = after; // what the meter says once the settings changed, during the countdown
      await stopping;
      outcomes.push([name, stop.stoppedMarkers().length > 0]);
    }
    assert.deepEqual(outcomes, [['still at its cap', true], ['cap raised', false], ['onCap set to warn', false], ['budget removed', false]]);
    assert.ok(fake.recorded.log.some((l) => /no longer asks for it/.test(l)));
  });

  it('a session budget whose session two processes could be running: offered, never stopped by itself', async () => {
    const running = [agent(9_000_001, '/w/a'), agent(9_000_003, '/w/a')];
    const session = { agent: 'claude-code', sessionId: 's1', project: '/w/a', model: 'm', usd: 12, unpricedRequests: 0, firstAt: 0, lastAt: 1, burnPerHour: 0 };
    const { stop, sent } = controller(running, true, { running: [session] });
    await stop.onCap(alert(state({ period: 'session', limitUsd: 10, warnAt: [], onCap: 'stop' }, { sessionId: 's1', agent: 'claude-code' })));
    assert.deepEqual(sent, []);
    assert.deepEqual(stop.stoppedMarkers(), []);
    const [message] = fake.recorded.messages;
    assert.match(message.text, /Nothing was stopped automatically: 2 processes could be running this session/);
    assert.ok(message.actions.includes(STOP_NOW), 'the user can pick');
  });

  it('Raise Cap… writes the new limit where the budget is set (here: the workspace), leaving the user settings alone', async () => {
    const { raiseCap } = await import('../../src/host/budgetWarnings');
    const budget: Budget = { period: 'day', limitUsd: 10, warnAt: [0.8], onCap: 'stop' };
    fake.recorded.workspaceSettings.set('agentSpend.budgets', [budget]);
    fake.recorded.settings.delete('agentSpend.budgets');
    fake.recorded.inputAnswer = '25';
    try {
      await raiseCap(state(budget));
      assert.deepEqual(fake.recorded.workspaceSettings.get('agentSpend.budgets'), [{ ...budget, limitUsd: 25 }]);
      assert.equal(fake.recorded.settings.has('agentSpend.budgets'), false);
    } finally {
      fake.recorded.inputAnswer = undefined;
      fake.recorded.workspaceSettings.clear();
    }
  });

  it('Set Budget… asks window, unit, limit, agents and what happens at the cap, and writes one budget', async () => {
    const { setBudget } = await import('../../src/host/setBudget');
    type Item = { label: string; id?: string };
    fake.recorded.settings.set('agentSpend.budgets', [{ period: 'week', limitUsd: 100 }]);
    fake.recorded.quickPicks.push(
      (items) => (items as Item[]).find((i) => i.label === 'Per day'),
      (items) => (items as Item[]).find((i) => i.label === 'US dollars'),
      (items) => (items as Item[]).filter((i) => i.id === 'codex' || i.id === 'claude-code'),
      (items) => (items as Item[]).find((i) => i.label === 'Stop the agent'),
    );
    fake.recorded.inputAnswer = '20';
    try {
      await setBudget();
      assert.deepEqual(fake.recorded.settings.get('agentSpend.budgets'), [
        { period: 'week', limitUsd: 100 },
        { period: 'day', limitUsd: 20, agents: ['claude-code', 'codex'], warnAt: [0.5, 0.8], onCap: 'stop' },
      ]);
    } finally {
      fake.recorded.inputAnswer = undefined;
      fake.recorded.quickPicks.length = 0;
      fake.recorded.settings.delete('agentSpend.budgets');
    }
  });

  it('Set Budget… for a 5-hour block with every agent picked counts every agent (none named would be Claude Code alone)', async () => {
    const { setBudget } = await import('../../src/host/setBudget');
    const { AGENTS } = await import('../../src/core/agentIds');
    type Item = { label: string; id?: string };
    fake.recorded.quickPicks.push(
      (items) => (items as Item[]).find((i) => i.label === 'Per 5-hour block'),
      (items) => (items as Item[]).find((i) => i.label === 'US dollars'),
      (items) => items,
      (items) => (items as Item[]).find((i) => i.label === 'Warn'),
    );
    fake.recorded.inputAnswer = '20';
    try {
      await setBudget();
      assert.deepEqual(fake.recorded.settings.get('agentSpend.budgets'), [
        { period: 'block5h', limitUsd: 20, agents: AGENTS.map((a) => a.id).sort(), warnAt: [0.5, 0.8], onCap: 'warn' },
      ]);
    } finally {
      fake.recorded.inputAnswer = undefined;
      fake.recorded.quickPicks.length = 0;
      fake.recorded.settings.delete('agentSpend.budgets');
    }
  });

  it('interrupt escalates to a stop only when allowed and only when spend kept growing', async () => {
    const budget: Budget = { period: 'day', limitUsd: 10, warnAt: [], onCap: 'interrupt' };
    const capped = state(budget);
    // Spend after the interrupt: still growing in one case, flat in the other.
    for (const [grew, allowed, expectStop] of [
      [true, true, true],
      [false, true, false],
      [true, false, false],
    ] as const) {
      fake.recorded.log.length = 0;
      const later = grew ? 13 : 12;
      const { stop, sent } = controller([agent(9_000_001, '/w/a')], true, undefined, { escalateInterrupt: allowed, interruptGraceSeconds: 0.05 }, () => ({
        budgets: [{ ...capped, spentUsd: later }],
      }));
      await stop.onCap(alert(capped));
      assert.deepEqual(sent, ['term 9000001:"\\u0003"']);
      await new Promise((r) => setTimeout(r, 300));
      // The fake agent leaves the fake table on SIGINT: stopped, and marked.
      assert.equal(stop.stoppedMarkers().length, expectStop ? 1 : 0, `grew=${grew} allowed=${allowed}: ${fake.recorded.log.join(' | ')}`);
      if (expectStop) assert.match(stop.stoppedMarkers()[0].reason, /kept spending after an interrupt/);
    }
  });

  it('the extension host\'s own claude is left alone unless its setting is on', async () => {
    const own = { ...agent(9_000_001, '/w/a'), terminalId: 'extension-host', terminalName: 'Claude Code extension' };
    for (const include of [false, true]) {
      const { stop } = controller([own], true, undefined, { includeClaudeExtension: include });
      await stop.stop([own], 'test');
      assert.equal(stop.stoppedMarkers().length, include ? 1 : 0, `includeClaudeExtension=${include}`);
    }
  });

  it('a Stop link names pid and start time: a reused pid stops nothing; a single candidate is still asked for', async () => {
    const one = agent(9_000_001, '/w/a');
    const { stop } = controller([one], true);
    fake.recorded.answer = 'Stop';
    try {
      await stop.stopCommand(one.pid, one.startTicks + 1);
      assert.equal(stop.stoppedMarkers().length, 0, 'another process now has that pid');
      assert.match(fake.recorded.messages.at(-1)!.text, /no longer running/);
      // Stop Now on a warning with one candidate: the pick list is shown (and dismissed here), nothing is stopped.
      fake.recorded.answer = STOP_NOW;
      let asked = 0;
      fake.recorded.quickPicks.push(() => (asked++, undefined));
      await stop.onCap(alert(state({ period: 'day', limitUsd: 10, warnAt: [], onCap: 'warn' })));
      assert.equal(asked, 1);
      assert.equal(stop.stoppedMarkers().length, 0);
    } finally {
      fake.recorded.answer = undefined;
      fake.recorded.quickPicks.length = 0;
    }
  });

  it('no escalation when the cap was raised meanwhile, even though spend grew', async () => {
    const budget: Budget = { period: 'day', limitUsd: 10, warnAt: [], onCap: 'interrupt' };
    const capped = state(budget);
    const { stop } = controller([agent(9_000_001, '/w/a')], true, undefined, { escalateInterrupt: true, interruptGraceSeconds: 0.05 }, () => ({
      budgets: [{ ...capped, spentUsd: 14, limit: 20, level: 'ok' as const }],
    }));
    await stop.onCap(alert(capped));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(stop.stoppedMarkers().length, 0);
  });

  it('a budget that stops or interrupts is honoured only from user settings; from a workspace it warns, and says so', async () => {
    const { readConfig } = await import('../../src/host/config');
    const stopping = { period: 'day', limitUsd: 1, onCap: 'stop' };
    try {
      fake.recorded.workspaceSettings.set('agentSpend.budgets', [stopping]);
      const fromWorkspace = readConfig();
      assert.equal(fromWorkspace.budgets[0].onCap, 'warn');
      assert.ok(fromWorkspace.problems.some((p) => /agentSpend\.budgets\[0\]\.onCap "stop" is honoured only in user settings/.test(p)));
      fake.recorded.workspaceSettings.clear();
      fake.recorded.settings.set('agentSpend.budgets', [stopping]);
      assert.equal(readConfig().budgets[0].onCap, 'stop');
    } finally {
      fake.recorded.workspaceSettings.clear();
      fake.recorded.settings.delete('agentSpend.budgets');
    }
  });

  it('untrusted: a log folder in the settings is ignored, with a message naming the setting', async () => {
    const { readConfig } = await import('../../src/host/config');
    fake.recorded.settings.set('agentSpend.claudeCode.configDir', '/elsewhere/claude');
    try {
      fake.workspace.isTrusted = false;
      const untrusted = readConfig();
      assert.equal(untrusted.claudeConfigDir, undefined);
      assert.ok(untrusted.problems.some((p) => p === 'agentSpend.claudeCode.configDir is ignored until this workspace is trusted'));
      assert.equal(untrusted.stop.allowed, false);
      fake.workspace.isTrusted = true;
      assert.equal(readConfig().claudeConfigDir, '/elsewhere/claude');
    } finally {
      fake.workspace.isTrusted = true;
      fake.recorded.settings.delete('agentSpend.claudeCode.configDir');
    }
  });
});
