// The extension host's logic against a fake `vscode`: activation, the meter from fixture logs, budget warnings
// once per threshold, bad settings, and the breakdown page's CSP. Pure formatting is tested directly.

import './useFakeVscode';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { dueAlerts, pruneNotified, settledKeys } from '../../src/host/alerts';
import { queryFor } from '../../src/host/breakdownPanel';
import { statusView } from '../../src/host/format';
import type { BudgetState } from '../../src/core/budget';
import { buildMeter, type Meter } from '../../src/core/meter';
import { Ledger } from '../../src/core/ledger';
import { PriceBook } from '../../src/core/pricing/pricing';
import { assistantLine, claudeHome, REPO, tempDir } from './helpers';

/** VS Code's own pattern for links in notification messages (src/vs/base/common/linkedText.ts). */
const NOTIFICATION_LINK = /\[([^\]]+)\]\(((?:https?:\/\/|command:|file:)[^\)\s]+)(?: (["'])(.+?)(\3))?\)/i;
import * as fake from './fakeVscode';

function waitUntil(check: () => boolean, what: string, ms = 20000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (check()) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > ms) {
        clearInterval(poll);
        reject(new Error(`timed out waiting for ${what}; log:\n${fake.recorded.log.join('\n')}`));
      }
    }, 25);
  });
}

const emptyWindow = { label: '', start: 0, end: 0, usd: 0, tokens: 0, requests: 0, unpricedRequests: 0 };

function budgetState(overrides: Partial<BudgetState>): BudgetState {
  return {
    index: 0,
    budget: { period: 'day', limitUsd: 10, warnAt: [0.5, 0.8], onCap: 'warn' },
    windowKey: '0:day:2026-11-28',
    windowLabel: 'today',
    windowStart: 0,
    windowEnd: 1,
    spentUsd: 0,
    spentTokens: 0,
    unpricedRequests: 0,
    limit: 10,
    unit: 'usd',
    fraction: 0,
    level: 'ok',
    reached: [],
    burnPerHour: 0,
    projectedCapAt: null,
    ...overrides,
  };
}

describe('status bar text', () => {
  const meter: Meter = { now: 0, today: { ...emptyWindow, usd: 12.4, tokens: 1_200_000 }, week: emptyWindow, month: emptyWindow, block: null, budgets: [], running: [], agentsToday: [] };

  it("shows today's spend without budgets, in dollars or tokens", () => {
    assert.equal(statusView(meter, 'usd').text, '$(pulse) $12.40 today');
    assert.equal(statusView(meter, 'tokens').text, '$(pulse) 1.2M tok today');
    assert.equal(statusView(meter, 'usd').level, 'ok');
  });

  it('shows the most pressing budget and its level', () => {
    const view = statusView({ ...meter, budgets: [budgetState({ spentUsd: 12.4, limit: 50, fraction: 0.248 }), budgetState({ index: 1, budget: { period: 'week', limitUsd: 20, warnAt: [0.5], onCap: 'warn' }, spentUsd: 15, limit: 20, fraction: 0.75, level: 'warn', reached: [0.5] })] }, 'usd');
    assert.equal(view.text, '$(pulse) $15.00 / $20.00 week');
    assert.equal(view.level, 'warn');
  });

  it('escapes log-derived strings in the tooltip', () => {
    const view = statusView({ ...meter, running: [{ agent: 'claude-code', sessionId: 's', project: '/p/<img src=x onerror=alert(1)>', model: 'claude-"q"[x](y)', usd: 1, unpricedRequests: 0, firstAt: 0, lastAt: 0, burnPerHour: 0 }] }, 'usd');
    assert.ok(view.tooltip.includes('\\<img src=x onerror=alert\\(1\\)\\>'), view.tooltip);
    assert.ok(view.tooltip.includes('claude\\-"q"\\[x\\]\\(y\\)'));
    assert.doesNotMatch(view.tooltip, /(^|[^\\])</, 'no unescaped angle bracket');
  });

  it('lists agents in terminals with a Stop link (the only command links allow), names escaped', () => {
    const running = [{ pid: 4242, startTicks: 777, agent: 'claude-code', terminalName: 'api <b>', cwd: '/w', sessionId: 'abcdef012345', usd: 2.5, burnPerHour: 1 }];
    const view = statusView(meter, 'usd', running);
    assert.match(view.tooltip, /\$\(terminal\) api \\<b\\> · claude\\-code · session abcdef01 · \$2\.50 · \$1\.00\/h · \[Stop\]\(command:agentSpend\.stopAgent\?%5B4242%2C777%5D /);
  });

  it('says "+?" where requests could not be priced: unpriced spend is not $0.00', () => {
    const ledger = new Ledger(new PriceBook());
    const now = Date.now();
    ledger.upsert({
      dedupeKey: 'a',
      requestTag: 0,
      agent: 'claude-code',
      timestamp: now - 60_000,
      sessionId: 's1',
      project: '/p',
      model: 'acme-coder-9',
      inputTokens: 5e6,
      outputTokens: 1e6,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      cacheReadTokens: 0,
      fast: false,
      sidechain: false,
    });
    const view = statusView(buildMeter(ledger, { budgets: [], weekStartsOn: 1, workspaceFolders: [] }, now), 'usd');
    assert.equal(view.text, '$(pulse) $0.00+? today');
    assert.match(view.tooltip, /acme\\-coder\\-9 · \$0\.00\+\?/);
  });

  it('shows today per agent when more than one agent spent today', () => {
    const two = { ...meter, agentsToday: [{ agent: 'codex', usd: 3, tokens: 10, requests: 1, unpricedRequests: 0 }, { agent: 'claude-code', usd: 1, tokens: 5, requests: 1, unpricedRequests: 0 }] };
    const tooltip = statusView(two, 'usd').tooltip;
    assert.ok(tooltip.indexOf('codex today | $3.00') < tooltip.indexOf('claude\\-code today | $1.00'), tooltip);
    assert.doesNotMatch(statusView({ ...meter, agentsToday: [two.agentsToday[0]] }, 'usd').tooltip, /codex today/);
  });
});

describe('budget alerts', () => {
  it('announce the highest new threshold once per window, and not while snoozed', () => {
    const state = budgetState({ fraction: 0.85, reached: [0.5, 0.8], level: 'warn' });
    const first = dueAlerts([state], new Set(), new Map(), 0);
    assert.equal(first.length, 1);
    assert.equal(first[0].threshold, 0.8);
    assert.equal(first[0].severity, 'warning');
    const notified = new Set(settledKeys(state));
    assert.deepEqual(dueAlerts([state], notified, new Map(), 0), [], 'not again');
    const capped = budgetState({ fraction: 1.1, reached: [0.5, 0.8, 1], level: 'cap' });
    assert.equal(dueAlerts([capped], notified, new Map(), 0)[0].severity, 'error');
    assert.deepEqual(dueAlerts([capped], notified, new Map([[0, 10]]), 5), [], 'snoozed');
    const tomorrow = budgetState({ windowKey: '0:day:2026-11-29', fraction: 0.6, reached: [0.5] });
    assert.equal(dueAlerts([tomorrow], notified, new Map(), 0).length, 1, 'a new window warns again');
    assert.deepEqual(pruneNotified(notified, [tomorrow]), [], 'keys of past windows are dropped');
  });
});

describe('breakdown periods', () => {
  it('map to report queries on local days', () => {
    const now = new Date(2026, 10, 28, 15).getTime(); // a Saturday
    assert.deepEqual(queryFor('all', now, 1), {});
    const today = queryFor('today', now, 1).sinceDay!;
    assert.equal(queryFor('week', now, 1).sinceDay, today - 5, 'Monday');
    assert.equal(queryFor('week', now, 6).sinceDay, today, 'Saturday');
    assert.equal(queryFor('month', now, 1).sinceDay, today - 27);
  });
});

describe('the engine service', () => {
  it('restarts a worker that crashed instead of leaving the meter stale', async () => {
    const { EngineService } = await import('../../src/host/engineService');
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript('dddddddd-dddd-4ddd-8ddd-dddddddddddd'), `${assistantLine({ messageId: 'c1', output: 7 })}\n`);
    // An extension folder whose worker crashes on its first run (as out of memory would), and works after.
    const extensionDir = tempDir();
    fs.mkdirSync(path.join(extensionDir, 'dist'));
    const crashed = path.join(extensionDir, 'crashed');
    fs.writeFileSync(
      path.join(extensionDir, 'dist', 'engineWorker.js'),
      `const fs = require('fs');
       if (!fs.existsSync(${JSON.stringify(crashed)})) { fs.writeFileSync(${JSON.stringify(crashed)}, ''); throw new Error('boom'); }
       require(${JSON.stringify(path.join(REPO, 'dist', 'engineWorker.js'))});`,
    );
    const lines: string[] = [];
    const log = { info: (l: string) => lines.push(l), error: (l: string) => lines.push(l), warn: () => {} };
    const service = new EngineService(tempDir(), extensionDir, log as never);
    try {
      service.start({ budgets: [], weekStartsOn: 1, unit: 'usd', claudeConfigDir: configDir, agents: {}, stop: {}, problems: [] } as never);
      await waitUntil(() => service.latest?.report.totals.outputTokens === 7, `a snapshot after the crash (log: ${lines.join(' | ')})`);
    } finally {
      service.dispose();
    }
  });
});

describe('the engine service, stopping', () => {
  it('shutdown() after dispose() still waits for the stop on its way (whichever VS Code runs first)', async () => {
    const { EngineService } = await import('../../src/host/engineService');
    const { Engine } = await import('../../src/core/engine');
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee'), `${assistantLine({ messageId: 'e1', output: 9 })}\n`);
    const log = { info: () => {}, error: () => {}, warn: () => {} };
    const storage = tempDir();
    const service = new EngineService(storage, REPO, log as never);
    service.start({ budgets: [], weekStartsOn: 1, unit: 'usd', claudeConfigDir: configDir, agents: {}, stop: {}, problems: [] } as never);
    await waitUntil(() => service.latest?.report.totals.outputTokens === 9, 'the first snapshot');
    fs.appendFileSync(transcript('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee'), `${assistantLine({ messageId: 'e2', output: 1 })}\n`);
    await waitUntil(() => service.latest?.report.totals.outputTokens === 10, 'the append');
    service.dispose();
    await service.shutdown();
    const saved = new Engine({ env: {}, stateDir: path.join(storage, 'state'), sources: [] });
    saved.open();
    assert.equal(saved.report().totals.outputTokens, 10, 'saved before shutdown() resolved');
  });
});

describe('the engine service, stopping after a restart', () => {
  it('shutdown() waits for every worker still stopping, not only the last one started (a restart just before)', async () => {
    const { EngineService } = await import('../../src/host/engineService');
    const { EngineClient } = await import('../../src/core/engineClient');
    const { configDir } = claudeHome();
    const log = { info: () => {}, error: () => {}, warn: () => {} };
    // Each worker's stop is held until released here, as a worker busy with a scan holds its stop message.
    const realStop = EngineClient.prototype.stop;
    const releases: Array<() => void> = [];
    const stops: Array<Promise<void>> = [];
    EngineClient.prototype.stop = function (this: InstanceType<typeof EngineClient>) {
      const stopped = realStop.call(this);
      const held = new Promise<void>((resolve) => releases.push(resolve));
      stops.push(Promise.all([stopped, held]).then(() => undefined));
      return stops[stops.length - 1];
    };
    const service = new EngineService(tempDir(), REPO, log as never);
    try {
      const config = { budgets: [], weekStartsOn: 1, unit: 'usd', claudeConfigDir: configDir, agents: {}, stop: {}, problems: [] };
      service.start(config as never);
      service.start({ ...config, claudeConfigDir: tempDir() } as never); // a restart: the first worker is stopping
      let done = false;
      const shutdown = service.shutdown().then(() => void (done = true));
      assert.equal(releases.length, 2);
      releases[1](); // the last worker's stop
      await stops[1];
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(done, false, 'the first worker is still stopping (and saving)');
      releases[0]();
      await shutdown;
    } finally {
      for (const release of releases) release();
      EngineClient.prototype.stop = realStop;
      service.dispose();
    }
  });
});

describe('the extension, activated against a fake VS Code', () => {
  const { configDir, transcript } = claudeHome();
  const session = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';
  const now = new Date().toISOString();
  fs.writeFileSync(transcript(session), `${assistantLine({ sessionId: session, messageId: 'm1', input: 100_000, output: 0, timestamp: now })}\n`);
  fake.recorded.settings.set('agentSpend.claudeCode.configDir', configDir);
  const storage = tempDir();
  let container: { dispose(): void } | undefined;
  after(() => container?.dispose());

  it('registers its commands, shows progress, then the spend from the logs', async () => {
    const { activate } = await import('../../src/host/extension');
    const context = {
      subscriptions: [] as Array<{ dispose(): void }>,
      globalStorageUri: fake.Uri.file(storage),
      extensionUri: fake.Uri.file(REPO),
      globalState: new fake.FakeMemento(),
    };
    container = activate(context as never);
    for (const command of ['agentSpend.showBreakdown', 'agentSpend.setBudget', 'agentSpend.refresh', 'agentSpend.showLog']) {
      assert.ok(fake.recorded.commands.has(command), command);
    }
    const item = fake.recorded.statusBarItems.find((i) => i.id === 'agentSpend.meter')!;
    assert.equal(item.name, 'Agent Spend');
    assert.equal(item.command, 'agentSpend.showBreakdown');
    assert.ok(item.visible);
    // Sonnet 4.5 input at $3 per million tokens (below the 200k long-context tier).
    await waitUntil(() => item.text === '$(pulse) $0.30 today', `the meter (now "${item.text}")`);
  });

  it('warns once when a budget threshold is crossed, and shows an error at the cap', async () => {
    const item = fake.recorded.statusBarItems.find((i) => i.id === 'agentSpend.meter')!;
    await fake.workspace.getConfiguration('agentSpend').update('budgets', [{ period: 'day', limitUsd: 0.5, warnAt: [0.5] }]);
    await waitUntil(() => fake.recorded.messages.some((m) => m.level === 'warning' && m.text.includes('50% of the budget for today')), 'the 50% warning');
    const warning = fake.recorded.messages.find((m) => m.text.includes('50% of the budget for today'))!;
    assert.deepEqual(warning.actions, ['Show Breakdown', 'Snooze 1 h', 'Raise Cap…']);
    assert.equal(item.text, '$(pulse) $0.30 / $0.50 today');
    assert.equal((item.backgroundColor as fake.ThemeColor).id, 'statusBarItem.warningBackground');
    fs.appendFileSync(transcript(session), `${assistantLine({ sessionId: session, messageId: 'm2', input: 100_000, output: 0, timestamp: new Date().toISOString() })}\n`);
    await waitUntil(() => fake.recorded.messages.some((m) => m.level === 'error' && m.text.includes('budget reached for today: $0.60 of $0.50')), 'the cap error');
    assert.equal((item.backgroundColor as fake.ThemeColor).id, 'statusBarItem.errorBackground');
    const warnings = fake.recorded.messages.filter((m) => m.text.includes('50% of the budget for today'));
    assert.equal(warnings.length, 1, 'the 50% warning is not repeated');
  });

  it('names a bad setting and keeps the meter going', async () => {
    const before = fake.recorded.messages.length;
    await fake.workspace.getConfiguration('agentSpend').update('budgets', [{ period: 'fortnight', limitUsd: 5 }]);
    const problem = fake.recorded.messages.slice(before).find((m) => m.level === 'warning');
    assert.ok(problem, 'a warning about the setting');
    assert.match(problem.text, /agentSpend\.budgets\[0\]\.period must be one of day, week, month, session, block5h/);
    const item = fake.recorded.statusBarItems.find((i) => i.id === 'agentSpend.meter')!;
    await waitUntil(() => item.text === '$(pulse) $0.60 today', `the meter without budgets (now "${item.text}")`);
  });

  it('never lets a setting value become a command link in a notification', async () => {
    // VS Code turns "[label](command:id?args)" in a notification message into a link that runs the command
    // (notificationsViewer: openerService.open(link, { allowCommands: true })). firstDayOfWeek is not a restricted
    // setting: a repository's .vscode/settings.json sets it even in an untrusted workspace.
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    assert.ok(!manifest.capabilities.untrustedWorkspaces.restrictedConfigurations.includes('agentSpend.firstDayOfWeek'));
    const settings = fake.workspace.getConfiguration('agentSpend');
    await settings.update('budgets', []);
    const before = fake.recorded.messages.length;
    const evil = '[Fix this setting](command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22touch%20%2Ftmp%2Fpwned%5Cn%22%7D)';
    await settings.update('firstDayOfWeek', evil, fake.ConfigurationTarget.Workspace);
    try {
      const shown = fake.recorded.messages.slice(before).find((m) => m.text.includes('firstDayOfWeek'));
      assert.ok(shown, 'the bad setting is named');
      assert.doesNotMatch(shown.text, NOTIFICATION_LINK, shown.text);
    } finally {
      fake.recorded.workspaceSettings.delete('agentSpend.firstDayOfWeek');
    }
  });

  it('gives the terminal scan a new agent pattern at once (a RegExp is {} to JSON.stringify)', async () => {
    const c = container as unknown as { terminalAgents: { options: { patterns: Record<string, RegExp> } } };
    await fake.workspace.getConfiguration('agentSpend').update('stop.agentPatterns', { 'claude-code': ['^claude-wrapper$'] });
    try {
      assert.match(c.terminalAgents.options.patterns['claude-code'].source, /claude-wrapper/);
    } finally {
      fake.recorded.settings.delete('agentSpend.stop.agentPatterns');
    }
  });

  it('gives the terminal scan the Claude Code folder of the settings once the workspace is trusted', async () => {
    const c = container as unknown as { terminalAgents: { options: { env: NodeJS.ProcessEnv } } };
    fake.workspace.isTrusted = false;
    fake.configChanged.fire({ affectsConfiguration: () => true });
    assert.equal(c.terminalAgents.options.env.CLAUDE_CONFIG_DIR, process.env.CLAUDE_CONFIG_DIR, 'untrusted: the setting is ignored');
    fake.workspace.isTrusted = true;
    fake.trustGranted.fire();
    assert.equal(c.terminalAgents.options.env.CLAUDE_CONFIG_DIR, configDir);
  });

  it('deactivation waits for the worker to save what it read last (VS Code awaits the promise)', async () => {
    const item = fake.recorded.statusBarItems.find((i) => i.id === 'agentSpend.meter')!;
    fs.appendFileSync(transcript(session), `${assistantLine({ sessionId: session, messageId: 'm3', input: 100_000, output: 0, timestamp: new Date().toISOString() })}\n`);
    await waitUntil(() => item.text === '$(pulse) $0.90 today', `the meter after the append (now "${item.text}")`);
    // The worker batches saves (2 s): deactivating now leaves only its last save on the way out.
    const { deactivate } = await import('../../src/host/extension');
    const { Engine } = await import('../../src/core/engine');
    const stopping = deactivate();
    assert.ok(stopping instanceof Promise, 'deactivate() returns what VS Code should wait for');
    await stopping;
    const saved = new Engine({ env: {}, stateDir: path.join(storage, 'state'), sources: [] });
    saved.open();
    assert.equal(saved.report().totals.requests, 3, 'the last request read is in the state file');
  });
});
