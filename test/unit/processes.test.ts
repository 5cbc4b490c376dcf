// Recognising agents in a terminal's process tree: parsing /proc, fake tables, and real process trees that this
// test spawns (and stops by pid: nothing here signals a process it did not make).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { agentOf, agentsBelow, descendants, parseProcStat, readProcess, readProcessTable, stillTheAgent, type ProcessInfo } from '../../src/core/processes';
import { ownProcesses, tempDir, until } from './helpers';

const p = (pid: number, ppid: number, argv: string[], startTicks = pid * 10): ProcessInfo => ({ pid, ppid, startTicks, comm: path.basename(argv[0] ?? ''), argv });

describe('process table', () => {
  it('parses /proc/<pid>/stat, comm with spaces and parentheses included', () => {
    const stat = '4242 (we (ird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200 18446744073709551615';
    assert.deepEqual(parseProcStat(stat), { pid: 4242, comm: 'we (ird) name', ppid: 17, startTicks: 987654, zombie: false });
    assert.equal(parseProcStat('garbage'), undefined);
  });

  it('recognises agents by program or by the script an interpreter runs, never by an argument', () => {
    assert.equal(agentOf(p(1, 0, ['/usr/local/bin/claude', '--resume'])), 'claude-code');
    assert.equal(agentOf(p(1, 0, ['node', '/home/a/.npm-global/bin/claude'])), 'claude-code');
    assert.equal(agentOf(p(1, 0, ['/usr/bin/node', '--max-old-space-size=4096', '/opt/codex/bin/codex'])), 'codex');
    assert.equal(agentOf(p(1, 0, ['python3', '/usr/bin/aider', '--model', 'x'])), 'aider');
    assert.equal(agentOf(p(1, 0, ['vim', 'claude'])), undefined, 'a file named claude being edited');
    assert.equal(agentOf(p(1, 0, ['grep', 'codex', 'notes.md'])), undefined);
    assert.equal(agentOf(p(1, 0, ['bash'])), undefined);
  });

  it('finds the outermost agent of each branch below a shell, not its helpers or the shell', () => {
    const table = [
      p(100, 1, ['/bin/bash']), // the terminal's shell
      p(101, 100, ['node', '/usr/bin/claude']),
      p(102, 101, ['node', '/usr/bin/claude']), // a re-exec of itself: part of 101
      p(103, 102, ['/bin/bash', '-c', 'npm test']), // a tool it runs
      p(104, 100, ['sleep', '100']), // a sibling
      p(105, 100, ['codex']),
      p(200, 1, ['claude']), // same name, outside the terminal
    ];
    assert.deepEqual(descendants(table, 100).map((x) => x.pid).sort(), [101, 102, 103, 104, 105]);
    assert.deepEqual(agentsBelow(table, 100).map((x) => [x.pid, x.agent]), [[101, 'claude-code'], [105, 'codex']]);
  });

  it('survives a loop in a corrupted table', () => {
    assert.deepEqual(descendants([p(2, 3, ['a']), p(3, 2, ['b'])], 2).map((x) => x.pid), [3]);
  });
});

describe('real process trees', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  const spawned = ownProcesses();

  function fakeAgent(dir: string): string {
    const file = path.join(dir, 'claude');
    // A fake agent: a Node script named claude that starts a child of its own and waits.
    fs.writeFileSync(file, `#!${process.execPath}\nconst { spawn } = require('child_process');\nspawn('sleep', ['300'], { stdio: 'ignore' });\nsetInterval(() => {}, 1000);\n`, { mode: 0o755 });
    return file;
  }


  it('finds the fake agent below the shell, not the sibling, not a same-named bystander; checks identity before acting', async () => {
    const dir = tempDir();
    const agentFile = fakeAgent(dir);
    // The "terminal": a shell that runs the agent and a sibling, then waits.
    const shell = spawn('/bin/bash', ['-c', `"${agentFile}" & sleep 300 & wait`], { stdio: 'ignore' });
    const bystander = spawn(agentFile, [], { stdio: 'ignore' });
    spawned.push(shell, bystander);
    const found = await until(() => {
      const table = readProcessTable();
      const agents = agentsBelow(table, shell.pid!);
      const ready = agents.length === 1 && descendants(table, agents[0].pid).length > 0 && descendants(table, bystander.pid!).length > 0;
      return ready ? agents : undefined;
    }, 'the fake agents and their children');
    const [agent] = found;
    assert.equal(agent.agent, 'claude-code');
    assert.notEqual(agent.pid, bystander.pid);
    const table = readProcessTable();
    assert.ok(descendants(table, shell.pid!).some((x) => x.argv[0] === 'sleep' && x.ppid === shell.pid), 'the sibling is there');
    assert.equal(agentsBelow(table, shell.pid!).length, 1, 'the sibling and the agent\'s own child are not agents');

    assert.ok(stillTheAgent(agent, shell.pid!));
    assert.ok(!stillTheAgent({ ...agent, startTicks: agent.startTicks + 1 }, shell.pid!), 'a reused pid is not the agent');
    assert.ok(!stillTheAgent({ ...agent, agent: 'codex' }, shell.pid!), 'not another agent');
    assert.ok(!stillTheAgent({ pid: shell.pid!, startTicks: readProcess(shell.pid!)!.startTicks, agent: 'claude-code' }, shell.pid!), 'never the shell');
    assert.ok(!stillTheAgent({ pid: bystander.pid!, startTicks: readProcess(bystander.pid!)!.startTicks, agent: 'claude-code' }, shell.pid!), 'not outside the terminal');
    assert.ok(!stillTheAgent({ pid: process.pid, startTicks: readProcess(process.pid)!.startTicks, agent: 'claude-code' }, shell.pid!), 'never this process');
  });
});
