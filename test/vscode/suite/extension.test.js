// Agent Spend in a real VS Code extension host (the real `vscode` API). The runner points CLAUDE_CONFIG_DIR at a
// fixture folder it wrote, with one Claude Code request timestamped today: $0.30 of Sonnet 4.5 input.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');
const { until } = require('./until');

const EXTENSION_ID = 'agent-spend.agent-spend';

describe('Agent Spend in VS Code', function () {
  let container;

  before(async function () {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is installed`);
    container = await extension.activate();
    assert.ok(container, 'activate returns the container');
    console.log(`[measure] activate() took ${container.activationMs.toFixed(1)} ms`);
    assert.ok(container.activationMs < 1000, 'activation does no scanning and returns fast');
  });

  after(async function () {
    await vscode.workspace.getConfiguration('agentSpend').update('budgets', undefined, vscode.ConfigurationTarget.Global);
  });

  it('registers its commands in the palette', async function () {
    const commands = await vscode.commands.getCommands(true);
    for (const command of ['agentSpend.showBreakdown', 'agentSpend.setBudget', 'agentSpend.refresh', 'agentSpend.showLog', 'agentSpend.stopAgent']) {
      assert.ok(commands.includes(command), command);
    }
  });

  it("shows today's spend from the fixture logs in the status bar", async function () {
    await until(() => container.statusBar.text === '$(pulse) $0.30 today', `the meter (now "${container.statusBar.text}")`);
  });

  it('warns when a budget threshold is crossed', async function () {
    const alerts = [];
    const subscription = container.warnings.onDidAlert((alert) => alerts.push(alert));
    try {
      await vscode.workspace
        .getConfiguration('agentSpend')
        .update('budgets', [{ period: 'day', limitUsd: 0.5, warnAt: [0.5] }], vscode.ConfigurationTarget.Global);
      const alert = await until(() => alerts.find((a) => a.threshold === 0.5), 'the 50% warning');
      assert.equal(alert.severity, 'warning');
      await until(() => container.statusBar.text === '$(pulse) $0.30 / $0.50 today', `the budget in the meter (now "${container.statusBar.text}")`);
    } finally {
      subscription.dispose();
    }
  });

  it('names a bad setting and keeps the meter', async function () {
    await vscode.workspace.getConfiguration('agentSpend').update('budgets', [{ period: 'fortnight', limitUsd: 5 }], vscode.ConfigurationTarget.Global);
    await until(() => container.problems.some((p) => /agentSpend\.budgets\[0\]\.period must be one of/.test(p)), 'the setting problem');
    await until(() => container.statusBar.text === '$(pulse) $0.30 today', `the meter without budgets (now "${container.statusBar.text}")`);
  });

  it('opens the token breakdown', async function () {
    await vscode.commands.executeCommand('agentSpend.showBreakdown');
    await until(() => vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.label === 'Agent Spend: Token Breakdown')), 'the breakdown tab');
  });

  it('updates the meter when an agent appends to its log', async function () {
    const transcript = process.env.AGENT_SPEND_TEST_TRANSCRIPT;
    assert.ok(transcript && fs.existsSync(transcript), 'the runner says where the fixture transcript is');
    const line = JSON.parse(fs.readFileSync(transcript, 'utf8').trim().split('\n')[0]);
    line.message.id = 'msg_appended';
    line.requestId = 'req_appended';
    line.timestamp = new Date().toISOString();
    const appended = Date.now();
    fs.appendFileSync(transcript, `${JSON.stringify(line)}\n`);
    await until(() => container.statusBar.text === '$(pulse) $0.60 today', `the meter after the append (now "${container.statusBar.text}")`);
    console.log(`[measure] append to status bar: ${Date.now() - appended} ms (polled every 10 ms)`);
    assert.ok(path.isAbsolute(transcript));
  });
});
