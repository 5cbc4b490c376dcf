// The `agent-spend` command as a user runs it (dist/cli.js, built by `npm test`'s pretest step).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { assistantLine, claudeHome, CLI, FIXTURES, isolatedEnv, REPO, tempDir } from './helpers';

function cli(args: string[], env: NodeJS.ProcessEnv, cwd = tempDir('agent-spend-cwd-')) {
  // A fresh working folder: agents that log inside projects (Aider, Crush) look in the current folder by default.
  return spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', cwd });
}

describe('agent-spend CLI', () => {
  it('report --json prints the documented schema', () => {
    const run = cli(['report', '--json', '--no-state'], isolatedEnv(path.join(FIXTURES, 'subagent')));
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.schema, 'agent-spend/report@1');
    for (const field of ['inputTokens', 'outputTokens', 'cacheCreationTokens', 'cacheReadTokens', 'costUsd', 'requests']) {
      assert.equal(typeof report.totals[field], 'number', `totals.${field}`);
    }
    const [session] = report.sessions;
    for (const field of ['agent', 'sessionId', 'project', 'firstAt', 'lastAt']) assert.equal(typeof session[field], 'string', field);
    assert.ok(Array.isArray(session.models));
    for (const field of ['requests', 'inputTokens', 'outputTokens', 'cacheCreationTokens', 'cacheReadTokens', 'costUsd']) {
      assert.equal(typeof session[field], 'number', `session.${field}`);
    }
    assert.equal(session.agent, 'claude-code');
  });

  it('prints a readable table by default, control characters from logs neutralised', () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript('99999999-9999-4999-8999-999999999999'), `${assistantLine({ cwd: '/tmp/\u001b[31mred' })}\n`);
    const run = cli(['report', '--no-state'], isolatedEnv(configDir));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Last activity\s+Agent\s+Session\s+Project/);
    assert.match(run.stdout, /claude-code/);
    assert.doesNotMatch(run.stdout, /\u001b/);
  });

  it('--by day|model|project|agent groups the totals', () => {
    const env = isolatedEnv(path.join(FIXTURES, 'subagent'));
    for (const by of ['hour', 'day', 'model', 'project', 'agent']) {
      const run = cli(['report', '--json', '--no-state', '--by', by], env);
      assert.equal(run.status, 0, run.stderr);
      const report = JSON.parse(run.stdout);
      assert.equal(report.groups.by, by);
      const sum = report.groups.rows.reduce((n: number, r: { requests: number }) => n + r.requests, 0);
      assert.equal(sum, report.totals.requests);
    }
    const models = JSON.parse(cli(['report', '--json', '--no-state', '--by', 'model'], env).stdout);
    assert.deepEqual(models.groups.rows.map((r: { key: string }) => r.key).sort(), ['claude-haiku-4-5-20251001', 'claude-sonnet-4-5-20250929']);
  });

  it('--since/--until filter by local calendar day, inclusive', () => {
    const { configDir, transcript } = claudeHome();
    // 23:30 UTC on the 1st is already the 2nd in Tokyo (UTC+9).
    fs.writeFileSync(
      transcript('99999999-9999-4999-8999-999999999999'),
      [
        assistantLine({ messageId: 'a', timestamp: '2026-07-01T10:00:00.000Z', output: 1 }),
        assistantLine({ messageId: 'b', timestamp: '2026-07-01T23:30:00.000Z', output: 10 }),
        assistantLine({ messageId: 'c', timestamp: '2026-07-03T10:00:00.000Z', output: 100 }),
      ].join('\n') + '\n',
    );
    const outputOf = (tz: string, ...args: string[]) =>
      JSON.parse(cli(['report', '--json', '--no-state', ...args], isolatedEnv(configDir, { TZ: tz })).stdout).totals.outputTokens;
    assert.equal(outputOf('UTC', '--since', '2026-07-01', '--until', '2026-07-01'), 11);
    assert.equal(outputOf('Asia/Tokyo', '--since', '2026-07-01', '--until', '2026-07-01'), 1);
    assert.equal(outputOf('Asia/Tokyo', '--since', '2026-07-02'), 110);
    assert.equal(outputOf('UTC', '--until', '2026-07-02'), 11);
    const days = JSON.parse(cli(['report', '--json', '--no-state', '--by', 'day'], isolatedEnv(configDir, { TZ: 'Asia/Tokyo' })).stdout);
    assert.deepEqual(days.groups.rows.map((r: { key: string }) => r.key), ['2026-07-01', '2026-07-02', '2026-07-03']);
    const hours = JSON.parse(cli(['report', '--json', '--no-state', '--by', 'hour'], isolatedEnv(configDir, { TZ: 'Asia/Tokyo' })).stdout);
    assert.deepEqual(hours.groups.rows.map((r: { key: string }) => r.key), ['2026-07-01T19:00', '2026-07-02T08:00', '2026-07-03T19:00']);
  });

  for (const args of [['--bogus'], ['report', '--since', '2026-13-01'], ['report', '--since', 'yesterday'], ['report', '--by', 'week'], ['frobnicate'], ['report', '--state-dir'], ['report', '--since', '2026-07-02', '--until', '2026-07-01'], ['report', '--no-state', '--state-dir', '/tmp/x'], ['report', '--json=false'], ['report', '--no-state=1'], ['report', '--no-state', '--state-dir='], ['report', '--state-dir', ''], ['report', '--prices', ''], ['report', '--project', ''], ['report', 'report'], ['report', 'watch']]) {
    it(`bad input ${JSON.stringify(args)} prints usage and exits 2`, () => {
      const run = cli(args, isolatedEnv(tempDir()));
      assert.equal(run.status, 2);
      assert.match(run.stderr, /^agent-spend: .+\n\nUsage:/);
      assert.equal(run.stdout, '');
    });
  }

  it('no log folders: a clear message, zero totals, exit 0', () => {
    const home = tempDir();
    const run = cli(['report', '--json', '--no-state'], { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') });
    assert.equal(run.status, 0);
    assert.match(run.stderr, /no logs found under .*\.config\/claude\/projects, .*\.claude\/projects/);
    const report = JSON.parse(run.stdout);
    assert.equal(report.totals.requests, 0);
    assert.equal(report.totals.costUsd, 0);
  });

  it('no log folders, with state: the next run finds its state whole (nothing set aside, no warning)', () => {
    // Found by a run in an empty home: each report took the state written by the one before for damaged.
    const home = tempDir();
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_STATE_HOME: path.join(home, '.local', 'state') };
    for (let i = 0; i < 3; i++) {
      const run = cli(['report', '--json'], env);
      assert.equal(run.status, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /warning/, `run ${i + 1}`);
    }
    assert.deepEqual(fs.readdirSync(path.join(home, '.local', 'state', 'agent-spend')).filter((name) => name.includes('corrupt')), []);
  });

  it('a bad --prices file is refused with its reason, exit 2', () => {
    const file = path.join(tempDir(), 'prices.json');
    fs.writeFileSync(file, '{"m": {"input": "cheap"}}');
    const run = cli(['report', '--no-state', '--prices', file], isolatedEnv(tempDir()));
    assert.equal(run.status, 2);
    assert.match(run.stderr, /"m.input" must be a non-negative number/);
  });

  it('--prices prices an unknown model', () => {
    const file = path.join(tempDir(), 'prices.json');
    fs.writeFileSync(file, '{"acme-coder-9000": {"input": 1000, "output": 0}}');
    const run = cli(['report', '--json', '--no-state', '--prices', file], isolatedEnv(path.join(FIXTURES, 'unknown-model')));
    const report = JSON.parse(run.stdout);
    assert.equal(report.totals.unpricedRequests, 0);
    assert.ok(report.totals.costUsd > 1);
  });

  it('uses AGENT_SPEND_HOME for its state by default', () => {
    const state = tempDir();
    const run = cli(['report'], isolatedEnv(path.join(FIXTURES, 'subagent'), { AGENT_SPEND_HOME: state }));
    assert.equal(run.status, 0, run.stderr);
    assert.ok(fs.existsSync(path.join(state, 'ledger.bin')));
  });

  it('agent flags: --agent and --no-agent choose agents, --dir adds a folder, bad ids are usage errors', () => {
    const env = isolatedEnv(path.join(FIXTURES, 'subagent'));
    const all = JSON.parse(cli(['report', '--json', '--no-state'], env).stdout);
    assert.ok(all.totals.requests > 0);
    const none = cli(['report', '--json', '--no-state', '--no-agent', 'claude-code'], env);
    assert.equal(none.status, 0, none.stderr);
    assert.equal(JSON.parse(none.stdout).totals.requests, 0);
    const only = JSON.parse(cli(['report', '--json', '--no-state', '--agent', 'codex,claude-code'], env).stdout);
    assert.equal(only.totals.requests, all.totals.requests);
    // The same transcripts through --dir, with Claude Code's own folders pointing nowhere.
    const elsewhere = isolatedEnv(tempDir());
    const viaDir = cli(['report', '--json', '--no-state', '--dir', `claude-code=${path.join(FIXTURES, 'subagent', 'projects')}`], elsewhere);
    assert.equal(viaDir.status, 0, viaDir.stderr);
    assert.equal(JSON.parse(viaDir.stdout).totals.requests, all.totals.requests);
    for (const bad of [['--agent', 'claude'], ['--no-agent', ''], ['--dir', 'codex'], ['--dir', 'nobody=/x']]) {
      const run = cli(['report', ...bad], env);
      assert.equal(run.status, 2, `${bad.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /Usage:/);
    }
  });

  it('--agent and --no-agent limit what a report counts, not only what it reads: state from runs of every agent too', () => {
    const F = path.join(REPO, 'test', 'fixtures');
    const env = { ...isolatedEnv(path.join(FIXTURES, 'subagent')), CODEX_HOME: path.join(F, 'codex', 'cumulative') };
    const stateDir = tempDir('agent-spend-state-');
    type Counted = { totals: { requests: number }; sessions: Array<{ agent: string }>; groups?: { rows: Array<{ key: string }> } };
    const run = (...args: string[]): Counted => {
      const result = cli(['report', '--json', '--state-dir', stateDir, ...args], env);
      assert.equal(result.status, 0, result.stderr);
      return JSON.parse(result.stdout) as Counted;
    };
    const all = run();
    const agents = (report: Counted) => [...new Set(report.sessions.map((s) => s.agent))].sort();
    assert.deepEqual(agents(all), ['claude-code', 'codex']);
    const codex = run('--agent', 'codex', '--by', 'agent');
    assert.deepEqual(agents(codex), ['codex']);
    assert.deepEqual(codex.groups?.rows.map((r) => r.key), ['codex']);
    const claude = run('--no-agent', 'codex');
    assert.deepEqual(agents(claude), ['claude-code']);
    assert.equal(codex.totals.requests + claude.totals.requests, all.totals.requests);
    assert.equal(run('--agent', 'claude-code', '--no-agent', 'claude-code').totals.requests, 0);
    // The cached report of the whole ledger is not served to a filtered question, nor the other way round.
    assert.equal(run().totals.requests, all.totals.requests);
    assert.deepEqual(agents(run('--agent', 'codex')), ['codex']);
  });

  it('output that cannot be written (a full disk) fails with a message and exit 1; a reader gone early is no error', { skip: !fs.existsSync('/dev/full') && 'needs /dev/full' }, () => {
    const env = isolatedEnv(path.join(FIXTURES, 'subagent'));
    for (const args of [['report', '--json', '--no-state'], ['report', '--no-state'], ['agents'], ['--help'], ['--version']]) {
      const full = fs.openSync('/dev/full', 'w');
      const run = spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', stdio: ['ignore', full, 'pipe'] });
      fs.closeSync(full);
      assert.equal(run.status, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /^agent-spend: could not write the output: .*ENOSPC/m, args.join(' '));
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    }
    const early = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" report --json --no-state | head -c 1`], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
    assert.equal(early.stderr, '');
  });

  it('names the time zone the days are counted in, whatever TZ holds', () => {
    const env = isolatedEnv(path.join(FIXTURES, 'subagent'));
    const zoneOf = (tz: string) => {
      const run = cli(['report', '--json', '--no-state'], { ...env, TZ: tz });
      assert.equal(run.status, 0, run.stderr);
      return (JSON.parse(run.stdout) as { timeZone?: string }).timeZone;
    };
    assert.equal(zoneOf('Europe/Paris'), 'Europe/Paris');
    assert.equal(zoneOf(':Europe/Paris'), 'Europe/Paris');
    // POSIX rules: "UTC+3" is three hours west of UTC.
    assert.equal(zoneOf('UTC+3'), 'UTC-03:00');
    assert.equal(zoneOf('XYZ-2'), 'UTC+02:00');
    // A name no time zone database knows: Node counts in UTC, and the report must say so.
    assert.equal(zoneOf('Foo/Bar'), 'UTC');
    const table = cli(['report', '--no-state'], { ...env, TZ: 'UTC+3' });
    assert.match(table.stdout, /times in UTC-03:00/);
  });

  it('a warning is said once: in the table, or on stderr beside JSON', () => {
    const { configDir, transcript } = claudeHome();
    const S = '66666666-6666-4666-8666-666666666666';
    fs.writeFileSync(transcript(S), `${assistantLine({ messageId: 'm1', output: 1, sessionId: S })}\n`);
    const env = isolatedEnv(configDir);
    const stateDir = tempDir('agent-spend-state-');
    assert.equal(cli(['report', '--state-dir', stateDir], env).status, 0);
    // A state file from a newer version: read from the logs, with a warning.
    const file = path.join(stateDir, 'ledger.bin');
    const bytes = fs.readFileSync(file);
    bytes.write('"format":9', bytes.indexOf('"format":4'), 'utf8');
    fs.writeFileSync(file, bytes);
    const table = cli(['report', '--state-dir', stateDir], env);
    const json = cli(['report', '--json', '--state-dir', stateDir], env);
    const said = (text: string) => (text.match(/warning: .*newer version/g) ?? []).length;
    assert.equal(said(table.stdout), 1, table.stdout);
    assert.equal(said(table.stderr), 0, table.stderr);
    assert.equal(said(json.stderr), 1, json.stderr);
  });

  it('--help names every agent it reads', () => {
    const help = cli(['--help'], isolatedEnv(tempDir()));
    assert.equal(help.status, 0);
    const { ALL_SOURCES } = createRequire(__filename)('../../src/core/sources/registry') as typeof import('../../src/core/sources/registry');
    for (const { label } of ALL_SOURCES) assert.ok(help.stdout.replace(/\s+/g, ' ').includes(label), `${label} in --help`);
  });

  it('a price file with a byte-order mark is read; a bad one named by $AGENT_SPEND_PRICES says where it came from', () => {
    const { configDir } = claudeHome();
    const file = path.join(tempDir(), 'prices.json');
    fs.writeFileSync(file, `\ufeff${JSON.stringify({ 'my-model': { input: 3, output: 15 } })}`);
    const ok = cli(['report', '--json', '--no-state', '--prices', file], isolatedEnv(configDir));
    assert.equal(ok.status, 0, ok.stderr);
    fs.writeFileSync(file, '{ not json');
    const bad = cli(['report', '--no-state'], { ...isolatedEnv(configDir), AGENT_SPEND_PRICES: file });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /prices\.json \(from AGENT_SPEND_PRICES\): not valid JSON/);
  });

  it('a relative XDG_STATE_HOME is ignored, as the XDG spec says: the state does not land in the current folder', () => {
    const { configDir } = claudeHome();
    const home = tempDir('agent-spend-home-');
    const cwd = tempDir('agent-spend-cwd-');
    const env = { ...isolatedEnv(configDir), HOME: home, XDG_STATE_HOME: 'relstate', XDG_CACHE_HOME: 'relcache' };
    const run = cli(['report'], env, cwd);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(fs.readdirSync(cwd), []);
    assert.ok(fs.existsSync(path.join(home, '.local', 'state', 'agent-spend', 'ledger.bin')));
  });

  it('a --dir folder that does not exist is named in a warning', () => {
    const { configDir } = claudeHome();
    const missing = path.join(tempDir(), 'typo');
    const run = cli(['report', '--json', '--no-state', '--dir', `codex=${missing}`], isolatedEnv(configDir));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`warning: --dir codex=${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no such folder`));
  });

  it('agents --json lists every agent, whether it is read and where it looks', () => {
    const home = tempDir();
    const env = { ...isolatedEnv(path.join(FIXTURES, 'subagent')), HOME: home, CODEX_HOME: path.join(home, 'codex-here') };
    const run = cli(['agents', '--json', '--no-agent', 'codex'], env);
    assert.equal(run.status, 0, run.stderr);
    const { agents } = JSON.parse(run.stdout) as { agents: Array<{ agent: string; enabled: boolean; folders: Array<{ path: string; exists: boolean }> }> };
    const claude = agents.find((a) => a.agent === 'claude-code')!;
    assert.deepEqual(claude.folders, [{ path: path.join(FIXTURES, 'subagent', 'projects'), exists: true }]);
    assert.equal(agents.find((a) => a.agent === 'codex')?.enabled, false);
    for (const a of agents) for (const f of a.folders) assert.ok(!f.path.startsWith(process.env.HOME + path.sep) || f.path.startsWith(home), `${a.agent} looks only below the test HOME: ${f.path}`);
  });

  it('one report across every kind of agent: each session carries its agent, the totals are their sum', () => {
    const F = path.join(REPO, 'test', 'fixtures');
    const home = tempDir('agent-spend-home-');
    // Cline lives in the editors' folders below HOME; the others are pointed at by their own variables.
    fs.cpSync(path.join(F, 'cline', 'cline-task', '.config'), path.join(home, '.config'), { recursive: true });
    const env = {
      ...isolatedEnv(path.join(FIXTURES, 'subagent')),
      HOME: home,
      USERPROFILE: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      XDG_DATA_HOME: path.join(F, 'opencode', 'xdg-data'),
      CODEX_HOME: path.join(F, 'codex', 'cumulative'),
      GEMINI_CLI_HOME: path.join(F, 'gemini-cli', 'checkpoint'),
      QWEN_HOME: path.join(F, 'qwen-code', 'reasoning'),
      COPILOT_HOME: path.join(F, 'copilot-cli', 'subagent'),
      AMP_DATA_DIR: path.join(F, 'amp', 'timestamps'),
      GOOSE_PATH_ROOT: path.join(F, 'goose', 'path-root'),
    };
    const projects = ['--project', path.join(F, 'crush', 'project'), '--project', path.join(F, 'aider', 'cache-split')];
    const all = cli(['report', '--json', '--no-state', ...projects], env);
    assert.equal(all.status, 0, all.stderr);
    const report = JSON.parse(all.stdout) as { totals: { requests: number; inputTokens: number }; sessions: Array<{ agent: string; requests: number; inputTokens: number }> };
    const agents = new Set(report.sessions.map((s) => s.agent));
    for (const agent of ['claude-code', 'codex', 'gemini-cli', 'qwen-code', 'cline', 'opencode', 'kilo-cli', 'aider', 'copilot-cli', 'amp', 'goose', 'crush']) {
      assert.ok(agents.has(agent), `${agent} is in the report (found: ${[...agents].join(', ')})`);
    }
    assert.equal(report.totals.requests, report.sessions.reduce((n, s) => n + s.requests, 0));
    assert.equal(report.totals.inputTokens, report.sessions.reduce((n, s) => n + s.inputTokens, 0));
    // Each agent alone adds up to the same whole.
    let sum = 0;
    for (const agent of agents) {
      const one = JSON.parse(cli(['report', '--json', '--no-state', '--agent', agent, ...projects], env).stdout) as { totals: { requests: number } };
      sum += one.totals.requests;
    }
    assert.equal(sum, report.totals.requests);
  });

  it('starts without loading what a report does not need, and holds one copy of each builtin module', () => {
    // Every `import * as fs` copied the module's properties once per importing file before esbuild.js mapped these
    // builtins to ES modules; crypto and worker_threads cost some 25 internal modules a report never uses.
    const bundle = fs.readFileSync(CLI, 'utf8');
    for (const name of ['fs', 'path', 'os', 'zlib']) {
      assert.equal(bundle.split(`require("node:${name}")`).length - 1, 1, `node:${name} is required once`);
    }
    assert.doesNotMatch(bundle, /__toESM\(require\("node:/);
    const probe = path.join(tempDir('agent-spend-probe-'), 'modules.js');
    fs.writeFileSync(probe, "process.on('exit', () => process.stderr.write(JSON.stringify(process.moduleLoadList)));\n");
    const run = spawnSync(process.execPath, ['-r', probe, CLI, '--version'], { env: isolatedEnv(tempDir('agent-spend-none-')), encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const loaded = JSON.parse(run.stderr) as string[];
    for (const lazy of ['NativeModule crypto', 'NativeModule worker_threads', 'NativeModule child_process']) {
      assert.ok(!loaded.includes(lazy), `${lazy} is not loaded to print the version`);
    }
    assert.ok(loaded.includes('NativeModule fs'), 'the probe sees the modules loaded');
  });
});

/** scripts/shebang.js, the build's choice of the CLI's first line (plain CommonJS, run by esbuild.js). */
interface ShebangModule {
  cliShebang(options?: { platform?: string; splits?: () => boolean }): string;
  envSplitsArguments(env?: string): boolean;
  NODE_FLAGS: string;
  PLAIN: string;
  WITH_FLAGS: string;
}
const shebang = createRequire(__filename)('../../scripts/shebang.js') as ShebangModule;

describe('the agent-spend executable', () => {
  it('starts through its own first line, with the Node flags where env -S works', { skip: process.platform === 'win32' }, () => {
    const firstLine = fs.readFileSync(CLI, 'utf8').split('\n', 1)[0];
    const splits = shebang.envSplitsArguments();
    assert.equal(firstLine, splits ? shebang.WITH_FLAGS : shebang.PLAIN);
    // Run as a user's shell runs it: the file itself (the kernel reads the line), not `node dist/cli.js`.
    const probe = path.join(tempDir('agent-spend-probe-'), 'argv.js');
    fs.writeFileSync(probe, 'process.stderr.write(JSON.stringify(process.execArgv));\n');
    const run = spawnSync(CLI, ['--version'], {
      env: { ...isolatedEnv(tempDir('agent-spend-none-')), PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`, NODE_OPTIONS: `--require ${probe}` },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^\d+\.\d+\.\d+/);
    const execArgv = JSON.parse(run.stderr) as string[];
    assert.equal(execArgv.includes(shebang.NODE_FLAGS), splits, `execArgv ${run.stderr}`);
  });

  it('keeps the plain line where env has no -S (BusyBox, OpenBSD), and the flags on Windows', () => {
    assert.equal(shebang.cliShebang({ platform: 'linux', splits: () => false }), '#!/usr/bin/env node');
    assert.equal(shebang.cliShebang({ platform: 'darwin', splits: () => true }), `#!/usr/bin/env -S node ${shebang.NODE_FLAGS}`);
    // npm's Windows shims read `env -S` lines themselves; there is no env to ask.
    assert.equal(shebang.cliShebang({ platform: 'win32', splits: () => assert.fail('not asked on Windows') }), shebang.WITH_FLAGS);
  });

  it('asks env exactly as the kernel will call it: one argument holding the whole line', { skip: process.platform === 'win32' }, () => {
    const dir = tempDir('agent-spend-env-');
    // An env like BusyBox's: options are single letters, and -S is not one of them.
    const busybox = path.join(dir, 'busybox-env');
    fs.writeFileSync(busybox, '#!/bin/sh\ncase "$1" in -S*) echo "env: unrecognized option: S" >&2; exit 1;; esac\nexec "$@"\n', { mode: 0o755 });
    assert.equal(shebang.envSplitsArguments(busybox), false);
    // An env that splits the argument, as GNU's -S does (here with the shell's word splitting).
    const splitting = path.join(dir, 'splitting-env');
    fs.writeFileSync(splitting, `#!/bin/sh\ncase "$1" in -S*) set -- \${1#-S}; PATH=${JSON.stringify(path.dirname(process.execPath))}:$PATH exec $@;; esac\nexit 1\n`, { mode: 0o755 });
    assert.equal(shebang.envSplitsArguments(splitting), true);
    assert.equal(shebang.envSplitsArguments(path.join(dir, 'missing-env')), false);
  });
});
