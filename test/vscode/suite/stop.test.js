// Auto-stop in a real VS Code: fake agents (test/vscode/fakeAgent.js, installed as `claude`) run in real terminals;
// a session budget at its cap interrupts or stops exactly that agent; the shell and a second terminal keep running.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const vscode = require('vscode');
const { until } = require('./until');

const EXTENSION_ID = 'agent-spend.agent-spend';

function alive(pid) {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('Auto-stop in VS Code', function () {
  this.timeout(120000);
  let container;
  let bin;
  let projects;
  const terminals = [];
  const ownPids = [];

  before(async function () {
    container = await vscode.extensions.getExtension(EXTENSION_ID).activate();
    projects = path.dirname(process.env.AGENT_SPEND_TEST_TRANSCRIPT);
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-spend-fake-agent-'));
    const agent = path.join(bin, 'claude');
    fs.writeFileSync(agent, `#!${process.execPath}\n${fs.readFileSync(path.join(__dirname, '..', 'fakeAgent.js'), 'utf8')}`, { mode: 0o755 });
    const settings = vscode.workspace.getConfiguration('agentSpend');
    await settings.update('stop.countdownSeconds', 1, vscode.ConfigurationTarget.Global);
    await settings.update('stop.graceSeconds', 1, vscode.ConfigurationTarget.Global);
    await settings.update('stop.killAfterSeconds', 2, vscode.ConfigurationTarget.Global);
    await settings.update('stop.scanIntervalSeconds', 2, vscode.ConfigurationTarget.Global);
  });

  // Each test sets its own budget once its agent is found: the one before must not act on the next test's agent meanwhile
  // (a session cap with onCap "stop" would stop any new session that crosses it).
  beforeEach(async function () {
    await vscode.workspace.getConfiguration('agentSpend').update('budgets', undefined, vscode.ConfigurationTarget.Global);
  });

  after(async function () {
    const settings = vscode.workspace.getConfiguration('agentSpend');
    for (const key of ['budgets', 'stop.countdownSeconds', 'stop.graceSeconds', 'stop.killAfterSeconds', 'stop.scanIntervalSeconds', 'stop.includeClaudeCodeExtension']) {
      await settings.update(key, undefined, vscode.ConfigurationTarget.Global);
    }
    // Only what this suite started, by pid: the fake agents and their children, then the terminals.
    for (const pid of ownPids) {
      for (const child of childrenOf(pid)) try { process.kill(child, 'SIGKILL'); } catch {}
      try { process.kill(pid, 'SIGKILL'); } catch {}
    }
    for (const terminal of terminals) terminal.dispose();
    fs.rmSync(bin, { recursive: true, force: true });
  });

  async function terminalRunning(name, command) {
    const terminal = vscode.window.createTerminal({ name, shellPath: '/bin/bash', shellArgs: ['--norc', '--noprofile'], cwd: vscode.workspace.workspaceFolders[0].uri.fsPath });
    terminals.push(terminal);
    const shellPid = await terminal.processId;
    terminal.sendText(command, true);
    return { terminal, shellPid };
  }

  async function agentIn(terminalName) {
    return until(() => {
      void container.terminalAgents.scan();
      return container.terminalAgents.running.find((a) => a.terminalName === terminalName);
    }, `the fake agent in terminal '${terminalName}'`, 30000);
  }

  it('finds the agent in its terminal and stops it at a session cap; its shell and another terminal survive', async function () {
    const session = 'eeeeeeee-0000-4000-8000-00000000000a';
    const transcript = path.join(projects, `${session}.jsonl`);
    const other = await terminalRunning('bystander', 'sleep 600');
    const { shellPid } = await terminalRunning('agent-stop', `${path.join(bin, 'claude')} ${transcript} ${session} stubborn`);
    const found = await agentIn('agent-stop');
    assert.equal(found.agent, 'claude-code');
    assert.equal(found.shellPid, shellPid);
    ownPids.push(found.pid);
    const toolChild = await until(() => childrenOf(found.pid)[0], 'the fake agent\'s own child');
    const bystanderSleep = await until(() => childrenOf(other.shellPid)[0], 'the sleep in the other terminal');

    await vscode.workspace
      .getConfiguration('agentSpend')
      .update('budgets', [{ period: 'session', limitUsd: 1, warnAt: [], onCap: 'stop', agents: ['claude-code'] }], vscode.ConfigurationTarget.Global);
    const stopped = await until(() => container.stopper.stoppedMarkers().find((m) => m.sessionId === session), 'the stop marker', 60000);
    assert.equal(stopped.pid, found.pid);
    assert.equal(stopped.terminalName, 'agent-stop');
    await until(() => !alive(found.pid), 'the fake agent to be gone');
    await until(() => !alive(toolChild), 'its tool child to be swept');
    assert.ok(alive(shellPid), 'the agent\'s shell survives');
    assert.ok(alive(other.shellPid), 'the other terminal\'s shell survives');
    assert.ok(alive(bystanderSleep), 'the other terminal\'s command survives');
  });

  it('interrupts with Ctrl+C when onCap is interrupt: the agent stays alive, only its turn ends', async function () {
    const session = 'eeeeeeee-0000-4000-8000-00000000000b';
    const transcript = path.join(projects, `${session}.jsonl`);
    const { shellPid } = await terminalRunning('agent-interrupt', `${path.join(bin, 'claude')} ${transcript} ${session} interruptible`);
    const found = await agentIn('agent-interrupt');
    ownPids.push(found.pid);
    await vscode.workspace
      .getConfiguration('agentSpend')
      .update('budgets', [{ period: 'session', limitUsd: 1, warnAt: [], onCap: 'interrupt' }], vscode.ConfigurationTarget.Global);
    await until(() => fs.existsSync(`${transcript}.interrupted`), 'the Ctrl+C to reach the agent', 60000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(alive(found.pid), 'an interrupted agent keeps running (the session stays resumable)');
    assert.ok(alive(shellPid), 'its shell too');
  });

  it('a claude started by an extension (below the extension host) counts only when the setting says so', async function () {
    const session = 'eeeeeeee-0000-4000-8000-00000000000c';
    const transcript = path.join(projects, `${session}.jsonl`);
    // This suite runs in the extension host, so its child is where the Claude Code extension's own claude would be.
    const child = spawn(path.join(bin, 'claude'), [transcript, session, 'interruptible'], { stdio: 'ignore', cwd: vscode.workspace.workspaceFolders[0].uri.fsPath });
    ownPids.push(child.pid);
    await until(() => fs.existsSync(transcript), 'the extension-host child to start writing');
    await container.terminalAgents.scan();
    assert.ok(!container.terminalAgents.running.some((a) => a.pid === child.pid), 'off by default');
    await vscode.workspace.getConfiguration('agentSpend').update('stop.includeClaudeCodeExtension', true, vscode.ConfigurationTarget.Global);
    const found = await until(() => {
      void container.terminalAgents.scan();
      return container.terminalAgents.running.find((a) => a.pid === child.pid);
    }, 'the extension-host claude once the setting is on');
    assert.equal(found.terminalName, 'Claude Code extension');
    assert.equal(found.shellPid, process.pid);
    assert.equal(found.terminal, undefined);
  });
});
