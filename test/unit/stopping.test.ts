// Auto-stop's decisions on a fake process table (mapping, ambiguity, pid reuse, escalation order), then the same
// stopper against real process trees this test spawns. Nothing here signals a process it did not start.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { capTargets, mapSession, type RunningAgent, type SessionActivity } from '../../src/core/agentMapping';
import { evaluateBudgets, type Budget } from '../../src/core/budget';
import { Engine } from '../../src/core/engine';
import {
  agentsBelow,
  descendants,
  isAlive,
  mergePatterns,
  parseCimOutput,
  parsePsOutput,
  readCwd,
  readProcess,
  readProcessTable,
  type ProcessInfo,
} from '../../src/core/processes';
import { stopAgent, systemOps, type ProcessOps } from '../../src/core/stopper';
import { claudeHome, isolatedEnv, ownProcesses, tempDir, until } from './helpers';

const run = (pid: number, extra: Partial<RunningAgent> = {}): RunningAgent => ({
  terminalId: `t${pid}`,
  terminalName: `term ${pid}`,
  shellPid: pid - 1,
  pid,
  startTicks: pid * 10,
  agent: 'claude-code',
  startedAtMs: 1_000,
  cwd: '/w/shop',
  ...extra,
});
const session = (sessionId: string, extra: Partial<SessionActivity> = {}): SessionActivity => ({
  agent: 'claude-code',
  sessionId,
  project: '/w/shop',
  firstAt: 2_000,
  lastAt: 3_000,
  ...extra,
});
const budget = (extra: Partial<Budget>): Budget => ({ period: 'day', limitUsd: 10, warnAt: [0.8], onCap: 'stop', ...extra });

describe('mapping sessions to processes', () => {
  it('maps by the only process working in the session folder', () => {
    const s = session('s1');
    const m = mapSession(s, [run(11), run(21, { cwd: '/w/other' }), run(31, { agent: 'codex' })], [s]);
    assert.equal(m.kind, 'mapped');
    assert.equal(m.kind === 'mapped' && m.process.pid, 11);
    assert.equal(m.kind === 'mapped' && m.evidence, 'cwd');
  });

  it('two processes in one folder are ambiguous, unless one holds the log open or its session file names it', () => {
    const s = session('session-0001');
    const two = [run(11), run(21)];
    const ambiguous = mapSession(s, two, [s]);
    assert.equal(ambiguous.kind, 'ambiguous');
    assert.deepEqual(ambiguous.kind === 'ambiguous' && ambiguous.candidates.map((p) => p.pid), [11, 21]);

    const byFile = mapSession(s, [run(11), run(21, { openFiles: ['/h/.codex/sessions/2026/11/28/rollout-x-session-0001.jsonl'] })], [s]);
    assert.equal(byFile.kind === 'mapped' && byFile.process.pid, 21);
    assert.equal(byFile.kind === 'mapped' && byFile.evidence, 'open-log');

    const byHint = mapSession(s, [run(11, { sessionHint: 'session-0001' }), run(21, { sessionHint: 's2' })], [s, session('s2', { lastAt: 2_500 })]);
    // A short (or empty) session id never matches an open file by accident.
    const empty = session('');
    assert.notEqual(mapSession(empty, [run(11, { openFiles: ['/x/opencode.db'] }), run(21)], [empty]).kind === 'mapped' && 'open-log', 'open-log');
    assert.equal(byHint.kind === 'mapped' && byHint.process.pid, 11);
    assert.equal(byHint.kind === 'mapped' && byHint.evidence, 'session-file');
  });

  it('a stale session file (after /clear the process writes a newer session) is not believed', () => {
    const old = session('old', { firstAt: 2_000, lastAt: 2_500 });
    const cleared = session('new', { firstAt: 2_600, lastAt: 3_500 });
    // The file still says "old"; the process started before both, and "new" began since and is written later.
    const p = run(11, { sessionHint: 'old', startedAtMs: 1_000 });
    const other = run(21, { sessionHint: 'zzz' });
    const m = mapSession(old, [p, other], [old, cleared]);
    assert.notEqual(m.kind === 'mapped' && m.evidence, 'session-file');
    assert.equal(m.kind, 'ambiguous', 'two processes in the folder and no believable claim');
  });

  it('no process of that agent: none', () => {
    assert.equal(mapSession(session('s1'), [run(11, { agent: 'codex' })], []).kind, 'none');
  });
});

describe('what a budget at its cap targets', () => {
  const running = [run(11), run(21, { cwd: '/elsewhere' }), run(31, { agent: 'codex', cwd: '/w/shop/api' }), run(41, { cwd: undefined })];
  it('a session budget: only that session\'s process, and nothing when ambiguous', () => {
    const s = session('s1');
    const t = capTargets(budget({ period: 'session' }), { agent: 'claude-code', sessionId: 's1' }, running, [s], ['/w']);
    assert.deepEqual(t.targets.map((p) => p.pid), [11]);
    const amb = capTargets(budget({ period: 'session' }), { agent: 'claude-code', sessionId: 's1' }, [run(11), run(21)], [s], []);
    assert.deepEqual(amb.targets, []);
    assert.deepEqual(amb.ambiguous.map((p) => p.pid), [11, 21]);
  });

  it('a day budget: every running agent it counts; agents filter and workspace scope apply', () => {
    assert.deepEqual(capTargets(budget({}), undefined, running, [], []).targets.map((p) => p.pid), [11, 21, 31, 41]);
    assert.deepEqual(capTargets(budget({ agents: ['codex'] }), undefined, running, [], []).targets.map((p) => p.pid), [31]);
    const scoped = capTargets(budget({ scope: 'workspace' }), undefined, running, [], ['/w/shop']);
    assert.deepEqual(scoped.targets.map((p) => p.pid), [11, 31]);
    assert.deepEqual(scoped.ambiguous.map((p) => p.pid), [41], 'unknown folder: offered, not stopped');
  });

  it("a 5-hour block naming no agents: Claude Code's processes alone, the requests it counts", () => {
    // The block counts Claude Code alone unless agents are named: its cap must not stop a Codex it never counted.
    assert.deepEqual(capTargets(budget({ period: 'block5h' }), undefined, running, [], []).targets.map((p) => p.pid), [11, 21, 41]);
    const named = capTargets(budget({ period: 'block5h', agents: ['claude-code', 'codex'] }), undefined, running, [], []);
    assert.deepEqual(named.targets.map((p) => p.pid), [11, 21, 31, 41]);
  });
});

/** A fake system: a table, signals that do what the script says, a clock that only moves when slept. */
function fakeSystem(table: ProcessInfo[], react: (pid: number, signal: NodeJS.Signals, table: ProcessInfo[]) => void) {
  const sent: Array<[number, NodeJS.Signals]> = [];
  const ops: ProcessOps = {
    read: (pid) => table.find((p) => p.pid === pid),
    table: () => table,
    kill: (pid, signal) => {
      sent.push([pid, signal]);
      react(pid, signal, table);
    },
    sleep: async () => undefined,
  };
  return { ops, sent };
}
const proc = (pid: number, ppid: number, argv: string[], startTicks = pid * 10): ProcessInfo => ({ pid, ppid, startTicks, comm: argv[0], argv });
const remove = (table: ProcessInfo[], pid: number) => table.splice(table.findIndex((p) => p.pid === pid), 1);

describe('escalation', () => {
  const base = () => [proc(100, 1, ['bash']), proc(101, 100, ['claude']), proc(102, 101, ['npm', 'test']), proc(103, 100, ['sleep', '9'])];
  const target = { pid: 101, startTicks: 1010, agent: 'claude-code', shellPid: 100 };
  const options = { graceMs: 1000, killAfterMs: 1000, platform: 'linux' as const, pollMs: 100 };

  it('SIGINT first; an agent that honours it is not signalled again; its children are left alone when they exit with it', async () => {
    const { ops, sent } = fakeSystem(base(), (pid, signal, t) => {
      if (pid === 101 && signal === 'SIGINT') {
        remove(t, 101);
        remove(t, 102);
      }
    });
    const out = await stopAgent(target, ops, options);
    assert.equal(out.stopped, true);
    assert.deepEqual(sent, [[101, 'SIGINT']]);
  });

  it('an agent that ignores SIGINT gets SIGTERM, then SIGKILL; then its left-over children are swept; the shell and the sibling never', async () => {
    const { ops, sent } = fakeSystem(base(), (pid, signal, t) => {
      if (pid === 101 && signal === 'SIGKILL') {
        remove(t, 101);
        t.find((p) => p.pid === 102)!.ppid = 1; // re-parented
      }
      if (pid === 102 && signal === 'SIGTERM') remove(t, 102);
    });
    const out = await stopAgent(target, ops, options);
    assert.equal(out.stopped, true);
    assert.deepEqual(sent, [[101, 'SIGINT'], [101, 'SIGTERM'], [101, 'SIGKILL'], [102, 'SIGTERM']]);
    assert.deepEqual(out.swept, [102]);
    assert.ok(!sent.some(([pid]) => pid === 100 || pid === 103));
  });

  it('a reused pid (same pid, another start time) is never signalled: the agent chosen is already gone', async () => {
    const t = base();
    t.find((p) => p.pid === 101)!.startTicks = 9999;
    const { ops, sent } = fakeSystem(t, () => undefined);
    const out = await stopAgent(target, ops, options);
    assert.deepEqual(sent, []);
    assert.equal(out.stopped, true);
  });

  it('a process moved out of the terminal (re-parented elsewhere) is refused before any signal', async () => {
    const t = base();
    t.find((p) => p.pid === 101)!.ppid = 1;
    const { ops, sent } = fakeSystem(t, () => undefined);
    const out = await stopAgent(target, ops, options);
    assert.deepEqual(sent, []);
    assert.match(out.refused ?? '', /no longer/);
  });

  it('a process that exec\'d into something else between two signals is not signalled again', async () => {
    const { ops, sent } = fakeSystem(base(), (pid, signal, t) => {
      if (pid === 101 && signal === 'SIGINT') t.find((p) => p.pid === 101)!.argv = ['vim'];
    });
    const out = await stopAgent(target, ops, options);
    assert.deepEqual(sent, [[101, 'SIGINT']]);
    assert.ok(out.refused);
    assert.equal(out.stopped, false);
  });

  it('never the shell, never this process, even when asked', async () => {
    const { ops, sent } = fakeSystem(base(), () => undefined);
    const shell = await stopAgent({ pid: 100, startTicks: 1000, agent: 'claude-code', shellPid: 100 }, ops, options);
    assert.ok(shell.refused);
    const table = [...base(), proc(process.pid, 101, ['claude'])];
    const self = await stopAgent({ pid: process.pid, startTicks: process.pid * 10, agent: 'claude-code', shellPid: 100 }, fakeSystem(table, () => undefined).ops, options);
    assert.ok(self.refused);
    assert.deepEqual(sent, []);
  });

  it('on Windows the keystroke comes first, then termination', async () => {
    let keys = 0;
    const { ops, sent } = fakeSystem(base(), (pid, signal, t) => {
      if (pid === 101 && signal === 'SIGTERM') remove(t, 101);
    });
    const out = await stopAgent(target, ops, { ...options, platform: 'win32', keystroke: () => keys++ });
    assert.equal(keys, 1);
    // The keystroke did not stop it (the fake ignores it): terminated, then its child swept.
    assert.deepEqual(sent, [[101, 'SIGTERM'], [102, 'SIGTERM'], [102, 'SIGKILL']]);
    assert.equal(out.stopped, true);
  });

  it('cancelled during the grace period: nothing more is sent', async () => {
    let cancel = false;
    const { ops, sent } = fakeSystem(base(), (_pid, signal) => {
      if (signal === 'SIGINT') cancel = true;
    });
    const out = await stopAgent(target, ops, { ...options, cancelled: () => cancel });
    assert.deepEqual(sent, [[101, 'SIGINT']]);
    assert.equal(out.cancelled, true);
  });
});

describe('process tables on other platforms and user patterns', () => {
  it('parses macOS ps output', () => {
    const table = parsePsOutput('  501   1 Sat Nov 28 17:48:27 2026     /bin/zsh -l\n  777 501 Sat Nov 28 17:50:01 2026     node /opt/homebrew/bin/claude --resume\n');
    assert.deepEqual(table.map((p) => [p.pid, p.ppid, p.argv[0]]), [[501, 1, '/bin/zsh'], [777, 501, 'node']]);
    assert.ok(table[1].startTicks > table[0].startTicks);
  });

  it('parses Windows CIM JSON (both date forms) and matches claude.exe', async () => {
    const json = JSON.stringify([
      { ProcessId: 10, ParentProcessId: 4, CreationDate: '/Date(1764350907123)/', Name: 'pwsh.exe', CommandLine: '"C:\\Program Files\\PowerShell\\7\\pwsh.exe"' },
      { ProcessId: 11, ParentProcessId: 10, CreationDate: '2026-11-28T17:50:01.5+00:00', Name: 'claude.exe', CommandLine: '"C:\\Users\\a\\.local\\bin\\claude.exe" --resume' },
    ]);
    const table = parseCimOutput(json);
    assert.equal(table[0].startTicks, 1764350907123);
    assert.equal(table[1].argv[0], 'C:\\Users\\a\\.local\\bin\\claude.exe');
    const { agentOf } = await import('../../src/core/processes');
    assert.equal(agentOf(table[1]), 'claude-code');
    assert.deepEqual(parseCimOutput('not json'), []);
  });

  it('user patterns extend the built-in ones; bad ones are reported, not thrown', () => {
    const { patterns, problems } = mergePatterns({ 'claude-code': ['^claude-wrapper$'], 'my-agent': '^myagent$', bad: ['('] });
    assert.ok(patterns['claude-code'].test('claude') && patterns['claude-code'].test('claude-wrapper'));
    assert.ok(patterns['my-agent'].test('myagent'));
    assert.equal(problems.length, 1);
    assert.match(problems[0], /agentSpend\.stop\.agentPatterns\.bad/);
    assert.deepEqual(mergePatterns('nope').problems.length, 1);
  });
});

describe('stopping real processes', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  const spawned = ownProcesses();

  /** A fake `claude`: ignores SIGINT, starts a tool child, and appends a usage line to its transcript every 50 ms. */
  function fakeClaude(dir: string, transcript: string, cwd: string): string {
    const file = path.join(dir, 'claude');
    const line = (i: string) =>
      `JSON.stringify({cwd:${JSON.stringify(cwd)},sessionId:'s-live',message:{id:'msg_live_'+${i},model:'claude-sonnet-4-5-20250929',usage:{input_tokens:1000,cache_creation_input_tokens:0,cache_read_input_tokens:0,output_tokens:100000}},requestId:'req_'+${i},type:'assistant',uuid:'u'+${i},timestamp:new Date().toISOString()})`;
    fs.writeFileSync(
      file,
      [
        `#!${process.execPath}`,
        `const { spawn } = require('child_process'); const fs = require('fs');`,
        `process.on('SIGINT', () => {}); // a stuck agent: only SIGTERM or SIGKILL end it`,
        `spawn('sleep', ['300'], { stdio: 'ignore' });`,
        `let i = 0; setInterval(() => { i++; fs.appendFileSync(${JSON.stringify(transcript)}, ${line('i')} + '\\n'); }, 50);`,
      ].join('\n'),
      { mode: 0o755 },
    );
    return file;
  }


  it('crossing a day cap stops the fake agent and its children; the shell, a sibling and a same-named bystander survive', async () => {
    const dir = tempDir();
    const { configDir, transcript } = claudeHome();
    const log = transcript('s-live');
    const agentFile = fakeClaude(dir, log, '/home/ana/src/shop');
    const bystanderLog = path.join(dir, 'bystander.jsonl');
    // The "terminal": a shell that runs the agent and a sibling, and waits.
    const shell = spawn('/bin/bash', ['-c', `"${agentFile}" & sleep 300 & wait`], { stdio: 'ignore' });
    // Same name, same kind of program, outside any terminal: must survive.
    const bystander = spawn(fakeClaude(tempDir(), bystanderLog, '/elsewhere'), [], { stdio: 'ignore' });
    spawned.push(shell, bystander);

    const engine = new Engine({ env: isolatedEnv(configDir), stateDir: null });
    const day: Budget = { period: 'day', limitUsd: 5, warnAt: [], onCap: 'stop' };
    const capped = await until(() => {
      engine.scan();
      const [state] = evaluateBudgets(engine.ledger, [day], { now: Date.now(), weekStartsOn: 1, workspaceFolders: [] });
      return state.level === 'cap' ? state : undefined;
    }, 'the fake agent to cross the cap');
    assert.ok(capped.spentUsd >= 5);

    const table = readProcessTable();
    const running: RunningAgent[] = agentsBelow(table, shell.pid!).map((p) => ({
      terminalId: 'api', terminalName: 'api', shellPid: shell.pid!, pid: p.pid, startTicks: p.startTicks, agent: p.agent, cwd: readCwd(p.pid),
    }));
    const { targets } = capTargets(day, undefined, running, [], []);
    assert.equal(targets.length, 1, 'one agent in the terminal');
    const agentChildren = descendants(table, targets[0].pid).map((p) => p.pid);
    assert.ok(agentChildren.length > 0, 'the fake agent has its tool child');
    const sibling = descendants(table, shell.pid!).find((p) => p.argv[0] === 'sleep' && p.ppid === shell.pid)!;
    assert.ok(sibling);

    const out = await stopAgent(targets[0], systemOps((pid) => readProcess(pid), () => readProcessTable()), { graceMs: 400, killAfterMs: 1000, pollMs: 20 });
    assert.equal(out.stopped, true, JSON.stringify(out));
    const sent = out.steps.filter((s) => s.action === 'signal').map((s) => (s as { signal: string }).signal);
    assert.deepEqual(sent, ['SIGINT', 'SIGTERM'], 'it ignored SIGINT, so SIGTERM followed; SIGKILL was not needed');
    assert.deepEqual(out.swept, agentChildren);
    await until(() => (agentChildren.every((pid) => !isAlive({ pid, startTicks: table.find((p) => p.pid === pid)!.startTicks })) ? true : undefined), 'the children to go');

    assert.ok(isAlive({ pid: shell.pid!, startTicks: readProcess(shell.pid!)!.startTicks }), 'the shell survives');
    assert.ok(isAlive(sibling), 'the sibling survives');
    assert.ok(isAlive({ pid: bystander.pid!, startTicks: readProcess(bystander.pid!)!.startTicks }), 'the bystander survives');
    // And the bystander keeps working.
    const size = fs.statSync(bystanderLog).size;
    await until(() => (fs.statSync(bystanderLog).size > size ? true : undefined), 'the bystander to write');
  });
});
