// The Claude Code budget hook: merging it into .claude/settings.local.json without touching anything else, the
// over-cap state file, the sh script run for real (deny, allow, fail open, JSON escaping), and the two commands
// against the fake `vscode`. Every file lives in a temp folder; nothing reads the real home or runs Claude Code.

import './useFakeVscode';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type * as vscode from 'vscode';
import type { BudgetState } from '../../src/core/budget';
import {
  HOOK_MARKER,
  HOOK_SCRIPT,
  HOOK_TIMEOUT_SECONDS,
  hookCommand,
  hookScriptInstall,
  installHook,
  isHookInstalled,
  overCapEntries,
  overCapStatePath,
  readOverCapState,
  removeHook,
  settingsFileOf,
  writeOverCapState,
} from '../../src/core/budgetHook';
import { BUDGET_HOOK_COMMANDS, BudgetHookService } from '../../src/host/budgetHookCommands';
import * as fake from './fakeVscode';
import { tempDir } from './helpers';

const SESSION = '0f9e2a7c-5b1d-4c3e-9a8f-1d2e3f4a5b6c';
const OTHER_SESSION = '11111111-2222-4333-8444-555555555555';

/** A settings.local.json someone already has: other keys, a PreToolUse hook with another matcher, a PostToolUse hook. */
const EXISTING = {
  permissions: { allow: ['Bash(npm test)'], deny: ['Read(./.env)'] },
  env: { FOO: '1' },
  hooks: {
    PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: './scripts/check-bash.sh', timeout: 10 }] }],
    PostToolUse: [{ matcher: 'Write|Edit', hooks: [{ type: 'command', command: 'npx prettier --write "$FILE"' }] }],
  },
  model: 'sonnet',
};

type Settings = { hooks?: Record<string, Array<{ matcher?: string; hooks: Array<{ type: string; command: string; timeout?: number }> }>> } & Record<string, unknown>;

function workspaceWith(text?: string): { ws: string; file: string } {
  const ws = tempDir('agent-spend-ws-');
  const file = settingsFileOf(ws);
  if (text !== undefined) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  return { ws, file };
}

function readSettings(file: string): Settings {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Settings;
}

function ourEntries(settings: Settings): Array<{ event: string; matcher?: string; command: string; timeout?: number }> {
  const found = [];
  for (const [event, groups] of Object.entries(settings.hooks ?? {})) {
    for (const group of groups) for (const hook of group.hooks) if (hook.command.includes(HOOK_MARKER)) found.push({ event, matcher: group.matcher, command: hook.command, timeout: hook.timeout });
  }
  return found;
}

function backupsIn(file: string): string[] {
  return fs.readdirSync(path.dirname(file)).filter((name) => name.startsWith(`${path.basename(file)}.agent-spend-backup-`));
}

const paths = (dir: string, ws: string) => ({ scriptPath: path.join(dir, 'budget-hook.sh'), statePath: overCapStatePath(dir, ws) });

describe('budget hook: settings.local.json', () => {
  it('adds one PreToolUse entry and keeps every other key and hook; the backup is the original, byte for byte', () => {
    const original = JSON.stringify(EXISTING, null, 4); // 4 spaces, no trailing newline: the rewrite differs
    const { ws, file } = workspaceWith(original);
    const storage = tempDir();
    const change = installHook(ws, paths(storage, ws));
    assert.equal(change.ok, true, change.message);
    assert.equal(change.action, 'installed');
    assert.equal(change.settingsFile, fs.realpathSync(file));
    assert.ok(change.backupFile);
    assert.equal(fs.readFileSync(change.backupFile, 'utf8'), original);
    assert.deepEqual(backupsIn(file), [path.basename(change.backupFile)]);

    const text = fs.readFileSync(file, 'utf8');
    assert.ok(text.endsWith('}\n'), 'trailing newline');
    assert.ok(text.includes('\n  "permissions": {\n    "allow"'), '2-space indentation');
    const settings = readSettings(file);
    const { hooks, ...rest } = settings;
    const { hooks: originalHooks, ...originalRest } = EXISTING;
    assert.deepEqual(rest, originalRest);
    assert.deepEqual(Object.keys(settings), Object.keys(EXISTING), 'key order kept');
    assert.deepEqual(hooks?.PostToolUse, originalHooks.PostToolUse);
    assert.equal(hooks?.PreToolUse.length, 2);
    assert.deepEqual(hooks?.PreToolUse[0], originalHooks.PreToolUse[0]);
    assert.deepEqual(hooks?.PreToolUse[1], {
      matcher: '*',
      hooks: [{ type: 'command', command: hookCommand(paths(storage, ws)), timeout: HOOK_TIMEOUT_SECONDS }],
    });
    const command = hooks?.PreToolUse[1]?.hooks[0]?.command ?? '';
    assert.ok(command.includes(paths(storage, ws).scriptPath) && command.includes(paths(storage, ws).statePath) && command.endsWith(HOOK_MARKER));
    assert.equal(isHookInstalled(ws), true);
  });

  it('installing twice leaves one entry and writes nothing the second time', () => {
    const { ws, file } = workspaceWith(JSON.stringify(EXISTING));
    const storage = tempDir();
    assert.equal(installHook(ws, paths(storage, ws)).action, 'installed');
    const after = fs.readFileSync(file, 'utf8');
    const again = installHook(ws, paths(storage, ws));
    assert.equal(again.ok, true);
    assert.equal(again.action, 'unchanged');
    assert.equal(again.backupFile, undefined);
    assert.equal(fs.readFileSync(file, 'utf8'), after);
    assert.equal(backupsIn(file).length, 1);
    assert.equal(ourEntries(readSettings(file)).length, 1);
  });

  it('replaces an older Agent Spend entry with other paths, in place, keeping its matcher', () => {
    const { ws, file } = workspaceWith(JSON.stringify(EXISTING));
    const old = { scriptPath: '/old/extension/budget-hook.sh', statePath: '/old/state.tsv' };
    installHook(ws, old);
    // The user narrowed our entry's matcher and added a hook after it: both stay.
    const edited = readSettings(file);
    edited.hooks!.PreToolUse[1]!.matcher = 'Bash|Write';
    edited.hooks!.PreToolUse.push({ matcher: 'Read', hooks: [{ type: 'command', command: 'echo read' }] });
    fs.writeFileSync(file, JSON.stringify(edited));
    const storage = tempDir();
    const change = installHook(ws, paths(storage, ws));
    assert.equal(change.action, 'updated');
    const settings = readSettings(file);
    assert.deepEqual(ourEntries(settings), [{ event: 'PreToolUse', matcher: 'Bash|Write', command: hookCommand(paths(storage, ws)), timeout: HOOK_TIMEOUT_SECONDS }]);
    assert.equal(settings.hooks?.PreToolUse.length, 3);
    assert.equal(settings.hooks?.PreToolUse[2]?.matcher, 'Read');
    assert.ok(!fs.readFileSync(file, 'utf8').includes('/old/'));
  });

  it('collapses duplicates of our entry (hand copies, other events) into one', () => {
    const storage = tempDir();
    const { ws, file } = workspaceWith();
    const command = hookCommand({ scriptPath: '/x/budget-hook.sh', statePath: '/x/s.tsv' });
    const ours = { type: 'command', command, timeout: 5 };
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ hooks: { PreToolUse: [{ matcher: '*', hooks: [ours] }, { matcher: '*', hooks: [ours, { type: 'command', command: 'true' }] }], Stop: [{ hooks: [ours] }] } }));
    installHook(ws, paths(storage, ws));
    const settings = readSettings(file);
    assert.equal(ourEntries(settings).length, 1);
    assert.deepEqual(settings.hooks?.PreToolUse[1], { matcher: '*', hooks: [{ type: 'command', command: 'true' }] });
    assert.equal(settings.hooks?.Stop, undefined, 'the group and event that held only our copy are gone');
  });

  it('remove takes out only our entry: the other hooks and keys are as they were', () => {
    const { ws, file } = workspaceWith(JSON.stringify(EXISTING, null, 2));
    installHook(ws, paths(tempDir(), ws));
    const change = removeHook(ws);
    assert.equal(change.ok, true);
    assert.equal(change.action, 'removed');
    assert.ok(change.backupFile && fs.readFileSync(change.backupFile, 'utf8').includes(HOOK_MARKER), 'the backup is the file with the hook');
    assert.deepEqual(readSettings(file), EXISTING);
    assert.deepEqual(Object.keys(readSettings(file).hooks ?? {}), ['PreToolUse', 'PostToolUse']);
    assert.equal(isHookInstalled(ws), false);
    const again = removeHook(ws);
    assert.equal(again.action, 'absent');
    assert.equal(again.ok, true);
  });

  it('creates .claude/settings.local.json when missing (no backup), and remove leaves no empty hooks behind', () => {
    const { ws, file } = workspaceWith();
    const storage = tempDir();
    const change = installHook(ws, paths(storage, ws));
    assert.equal(change.action, 'installed');
    assert.equal(change.backupFile, undefined);
    assert.equal(ourEntries(readSettings(file)).length, 1);
    assert.deepEqual(backupsIn(file), []);
    assert.equal(removeHook(ws).action, 'removed');
    assert.deepEqual(readSettings(file), {});
    assert.equal(removeHook(tempDir()).action, 'absent', 'a folder without the file');
  });

  it('keeps an empty PreToolUse list the user had, and CRLF line endings', () => {
    const { ws, file } = workspaceWith('{\r\n  "hooks": {\r\n    "PreToolUse": []\r\n  }\r\n}\r\n');
    installHook(ws, paths(tempDir(), ws));
    assert.ok(fs.readFileSync(file, 'utf8').endsWith('}\r\n'));
    assert.ok(!/[^\r]\n/.test(fs.readFileSync(file, 'utf8')), 'every newline is CRLF');
    removeHook(ws);
    // PreToolUse held only our entry after the install; what stays is what the user had before: an empty list
    // is indistinguishable from one we emptied, so it goes (the settings mean the same).
    assert.deepEqual(readSettings(file), {});
  });

  it('never overwrites a file that is not valid JSON (or has an unexpected shape): an error, the file untouched', () => {
    for (const text of ['{ "hooks": { "PreToolUse": [ ', '// comment\n{}', '[1, 2]', '{"hooks": []}', '{"hooks": {"PreToolUse": {"matcher": "*"}}}']) {
      const { ws, file } = workspaceWith(text);
      const change = installHook(ws, paths(tempDir(), ws));
      assert.equal(change.ok, false, text);
      assert.equal(change.action, 'failed');
      assert.match(change.message, /left untouched/);
      assert.equal(fs.readFileSync(file, 'utf8'), text);
      assert.deepEqual(backupsIn(file), [], 'nothing written next to it either');
      assert.equal(removeHook(ws).ok, false);
      assert.equal(fs.readFileSync(file, 'utf8'), text);
      assert.deepEqual(fs.readdirSync(path.dirname(file)), ['settings.local.json'], 'no temp file left');
    }
    const invalid = workspaceWith('{ "hooks": ');
    assert.match(installHook(invalid.ws, paths(tempDir(), invalid.ws)).message, /not valid JSON/);
  });

  it('treats an empty file as {} and a BOM as nothing', () => {
    const empty = workspaceWith('');
    assert.equal(installHook(empty.ws, paths(tempDir(), empty.ws)).action, 'installed');
    const bom = workspaceWith('\uFEFF{"model": "opus"}');
    assert.equal(installHook(bom.ws, paths(tempDir(), bom.ws)).action, 'installed');
    assert.equal(readSettings(bom.file).model, 'opus');
  });

  it('quotes paths for the shell: spaces, single quotes and Windows backslashes', () => {
    const command = hookCommand({ scriptPath: "C:\\Users\\Ana O'Neil\\budget-hook.sh", statePath: '/tmp/a b/state.tsv' });
    assert.equal(command, `sh 'C:/Users/Ana O'\\''Neil/budget-hook.sh' '/tmp/a b/state.tsv' 2>/dev/null || true ${HOOK_MARKER}`);
  });
});

describe('budget hook: over-cap state file', () => {
  it('writes `<id>\\t<reason>` lines atomically, one line per reason, and reads them back', () => {
    const dir = tempDir();
    const file = overCapStatePath(dir, '/home/ana/src/shop');
    assert.ok(file.startsWith(path.join(dir, 'over-cap', 'shop-')));
    assert.notEqual(overCapStatePath(dir, '/home/bob/shop'), file, 'same name, other folder');
    const changed = writeOverCapState(file, [
      { sessionId: SESSION, reason: 'line one\nline\ttwo\r\n' },
      { sessionId: '*', reason: 'daily cap' },
      { sessionId: SESSION, reason: 'a duplicate: the first wins' },
      { sessionId: 'bad\tid', reason: 'skipped' },
      { sessionId: 'quote"id', reason: 'skipped' },
      { sessionId: OTHER_SESSION, reason: '' },
    ]);
    assert.equal(changed, true);
    assert.deepEqual(readOverCapState(file), [
      { sessionId: SESSION, reason: 'line one line two' },
      { sessionId: '*', reason: 'daily cap' },
      { sessionId: OTHER_SESSION, reason: 'Agent Spend: budget cap reached.' },
    ]);
    assert.equal(writeOverCapState(file, readOverCapState(file)), false, 'same set: not rewritten');
    assert.deepEqual(fs.readdirSync(path.dirname(file)), [path.basename(file)], 'no temp file left');
    assert.equal(writeOverCapState(file, []), true);
    assert.equal(fs.readFileSync(file, 'utf8'), '', 'nobody over a cap: an empty file');
    assert.deepEqual(readOverCapState(path.join(dir, 'missing.tsv')), []);
  });

  it('lists capped Claude Code session budgets by id and capped window budgets as *', () => {
    const state = (overrides: Partial<BudgetState>): BudgetState => ({
      index: 0,
      budget: { period: 'day', limitUsd: 20, warnAt: [0.8], onCap: 'stop' },
      windowKey: 'k',
      windowLabel: 'today',
      windowStart: 0,
      windowEnd: 1,
      spentUsd: 20.41,
      spentTokens: 0,
      unpricedRequests: 0,
      limit: 20,
      unit: 'usd',
      fraction: 1.02,
      level: 'cap',
      reached: [0.8, 1],
      burnPerHour: 0,
      projectedCapAt: null,
      ...overrides,
    });
    const sessionBudget = { period: 'session' as const, limitUsd: 5, warnAt: [], onCap: 'interrupt' as const };
    const states = [
      state({}),
      state({ budget: sessionBudget, sessionId: SESSION, agent: 'claude-code', spentUsd: 5.5, limit: 5 }),
      state({ budget: sessionBudget, sessionId: OTHER_SESSION, agent: 'codex' }), // not a Claude Code session
      state({ budget: { ...sessionBudget, period: 'week', agents: ['codex'] } }), // does not count Claude Code
      state({ level: 'warn' }),
      state({ budget: { period: 'month', limitUsd: 20, warnAt: [], onCap: 'warn' } }), // warn-only
    ];
    const entries = overCapEntries(states);
    assert.deepEqual(entries.map((entry) => entry.sessionId), ['*', SESSION]);
    assert.match(entries[0]!.reason, /budget cap reached for today \(\$20\.41 of \$20\.00\)/);
    assert.match(entries[1]!.reason, /this session \(\$5\.50 of \$5\.00\)/);
    assert.deepEqual(overCapEntries(states, { stoppingOnly: false }).map((entry) => entry.sessionId), ['*', SESSION, '*']);
  });
});

/** The shells the script must work in: sh (dash here), and bash, which is what Git Bash runs on Windows. */
const SHELLS = ['sh', 'bash'].filter((shell) => spawnSync(shell, ['-c', 'exit 0']).status === 0);

function hookInput(sessionId: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    session_id: sessionId,
    transcript_path: `/home/ana/.claude/projects/-home-ana-src-shop/${sessionId}.jsonl`,
    cwd: '/home/ana/src/shop',
    permission_mode: 'default',
    hook_event_name: 'PreToolUse',
    tool_name: 'Bash',
    tool_input: { command: 'npm test', description: 'Run the tests' },
    tool_use_id: 'toolu_01ABC',
    ...extra,
  });
}

interface Denial {
  hookSpecificOutput: { hookEventName: string; permissionDecision: string; permissionDecisionReason: string };
}

describe('budget hook: the sh script, run for real', () => {
  const storage = tempDir();
  const script = hookScriptInstall(storage);
  const home = tempDir('agent-spend-home-');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
  let counter = 0;

  function stateFile(text: string): string {
    const file = path.join(storage, `state-${counter++}.tsv`);
    fs.writeFileSync(file, text);
    return file;
  }

  function run(state: string | undefined, input: string, shell = 'sh') {
    const result = spawnSync(shell, state === undefined ? [script] : [script, state], { input, encoding: 'utf8', env });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  function denial(stdout: string): Denial {
    const parsed = JSON.parse(stdout) as Denial;
    assert.equal(parsed.hookSpecificOutput.hookEventName, 'PreToolUse');
    assert.equal(parsed.hookSpecificOutput.permissionDecision, 'deny');
    return parsed;
  }

  it('is installed once, executable, and rewritten only when it changed', () => {
    assert.equal(script, path.join(storage, 'budget-hook.sh'));
    assert.equal(fs.readFileSync(script, 'utf8'), HOOK_SCRIPT);
    if (process.platform !== 'win32') assert.equal(fs.statSync(script).mode & 0o777, 0o755);
    const inode = fs.statSync(script).ino;
    assert.equal(hookScriptInstall(storage), script);
    assert.equal(fs.statSync(script).ino, inode, 'unchanged script: not replaced');
    fs.writeFileSync(script, 'old version');
    hookScriptInstall(storage);
    assert.equal(fs.readFileSync(script, 'utf8'), HOOK_SCRIPT);
  });

  for (const shell of SHELLS) {
    it(`${shell}: denies a listed session with its reason, as valid JSON, and exits 0`, () => {
      const state = stateFile(`# comment\n${OTHER_SESSION}\tnot this one\n${SESSION}\tSession cap reached: $5.50 of $5.00\n`);
      const result = run(state, hookInput(SESSION), shell);
      assert.equal(result.status, 0);
      assert.equal(result.stderr, '');
      assert.ok(result.stdout.endsWith('}\n'));
      assert.equal(denial(result.stdout).hookSpecificOutput.permissionDecisionReason, 'Session cap reached: $5.50 of $5.00');
    });

    it(`${shell}: allows a session that is not listed: no output, exit 0`, () => {
      const state = stateFile(`${OTHER_SESSION}\tover\n`);
      assert.deepEqual(run(state, hookInput(SESSION), shell), { status: 0, stdout: '', stderr: '' });
      // A listed id that merely starts like ours is another session.
      assert.equal(run(stateFile(`${SESSION}0\tover\n`), hookInput(SESSION), shell).stdout, '');
      assert.equal(run(stateFile(`${SESSION.slice(0, 8)}\tover\n`), hookInput(SESSION), shell).stdout, '');
    });

    it(`${shell}: "*" denies every session (without needing the input); a session line wins with its own reason`, () => {
      const all = stateFile(`*\tDaily budget reached\n`);
      assert.equal(denial(run(all, hookInput(SESSION), shell).stdout).hookSpecificOutput.permissionDecisionReason, 'Daily budget reached');
      assert.equal(denial(run(all, 'garbage', shell).stdout).hookSpecificOutput.permissionDecisionReason, 'Daily budget reached');
      const both = stateFile(`*\tDaily budget reached\n${SESSION}\tSession budget reached`); // no final newline
      assert.equal(denial(run(both, hookInput(SESSION), shell).stdout).hookSpecificOutput.permissionDecisionReason, 'Session budget reached');
      assert.equal(denial(run(both, hookInput(OTHER_SESSION), shell).stdout).hookSpecificOutput.permissionDecisionReason, 'Daily budget reached');
    });

    it(`${shell}: fails open (no output, exit 0) on its own errors`, () => {
      const listed = stateFile(`${SESSION}\tover\n`);
      const cases: Array<[string, string | undefined, string]> = [
        ['state file missing', path.join(storage, 'nope.tsv'), hookInput(SESSION)],
        ['state file is a folder', storage, hookInput(SESSION)],
        ['state file empty', stateFile(''), hookInput(SESSION)],
        ['no state argument', undefined, hookInput(SESSION)],
        ['garbage input', listed, 'garbage'],
        ['empty input', listed, ''],
        ['no session id', listed, JSON.stringify({ hook_event_name: 'PreToolUse' })],
        ['session id with quotes', listed, `{"session_id":"${SESSION}\\"x","tool_name":"Bash"}`],
        ['session id with shell characters', stateFile('$(touch pwned)\tover\n'), '{"session_id":"$(touch pwned)"}'],
        ['session id that is not a string', listed, '{"session_id":42}'],
        ['truncated input', listed, hookInput(SESSION).slice(0, 14)],
      ];
      for (const [what, state, input] of cases) assert.deepEqual(run(state, input, shell), { status: 0, stdout: '', stderr: '' }, what);
      assert.ok(!fs.existsSync(path.join(process.cwd(), 'pwned')));
    });

    it(`${shell}: JSON-escapes the reason: quotes, backslashes, <img>, control characters; UTF-8 passes through`, () => {
      const reason = 'He said "stop" \\ C:\\path\\n <img src=x onerror=alert(1)> \'single\' $HOME `id` 100%s Set Budget… café';
      const state = stateFile(`${SESSION}\t${reason}\u0001end\r\n`); // a hand-edited file with a control character and CRLF
      const result = run(state, hookInput(SESSION), shell);
      assert.equal(result.status, 0);
      assert.equal(denial(result.stdout).hookSpecificOutput.permissionDecisionReason, `${reason} end `);
      // What writeOverCapState writes comes back the same way.
      const written = path.join(storage, `written-${shell}.tsv`);
      writeOverCapState(written, [{ sessionId: SESSION, reason: 'Quote " backslash \\ tab\there <b>' }]);
      assert.equal(denial(run(written, hookInput(SESSION), shell).stdout).hookSpecificOutput.permissionDecisionReason, 'Quote " backslash \\ tab here <b>');
    });

    it(`${shell}: takes the first session_id (the hook's), not one inside tool_input`, () => {
      const state = stateFile(`${OTHER_SESSION}\tover\n`);
      const input = hookInput(SESSION, { tool_input: { session_id: OTHER_SESSION, note: `"session_id":"${OTHER_SESSION}"` } });
      assert.equal(run(state, input, shell).stdout, '');
      const mine = stateFile(`${SESSION}\tover\n`);
      assert.equal(denial(run(mine, input, shell).stdout).hookSpecificOutput.permissionDecisionReason, 'over');
    });

    it(`${shell}: reads a large tool input (2 MB Write) and still decides`, () => {
      const state = stateFile(`${SESSION}\tover\n`);
      const input = hookInput(SESSION, { tool_name: 'Write', tool_input: { file_path: '/x', content: 'x"\\\n'.repeat(500_000) } });
      assert.equal(denial(run(state, input, shell).stdout).hookSpecificOutput.permissionDecisionReason, 'over');
    });
  }

  it('the command in the settings exits 0 with no output when the script is gone (dash would exit 2: "block")', () => {
    const state = stateFile(`*\tover\n`);
    const missing = hookCommand({ scriptPath: path.join(storage, 'gone', 'budget-hook.sh'), statePath: state });
    assert.equal(spawnSync('sh', [path.join(storage, 'gone', 'budget-hook.sh')], { env }).status, 2, 'the trap the command avoids');
    for (const shell of SHELLS) {
      assert.deepEqual(spawnSync(shell, ['-c', missing], { input: hookInput(SESSION), encoding: 'utf8', env }).status, 0);
      assert.equal(spawnSync(shell, ['-c', missing], { input: hookInput(SESSION), encoding: 'utf8', env }).stdout, '');
      // And the real command, as Claude Code runs it, denies.
      const real = spawnSync(shell, ['-c', hookCommand({ scriptPath: script, statePath: state })], { input: hookInput(SESSION), encoding: 'utf8', env });
      assert.equal(denial(real.stdout).hookSpecificOutput.permissionDecisionReason, 'over');
    }
  });

  it('timing (printed, not asserted)', () => {
    const median = (state: string, input: string) => {
      const times: number[] = [];
      for (let i = 0; i < 50; i++) {
        const started = process.hrtime.bigint();
        run(state, input);
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      times.sort((a, b) => a - b);
      return ((times[24]! + times[25]!) / 2).toFixed(2);
    };
    const input = hookInput(SESSION);
    const listed = stateFile(`${OTHER_SESSION}\tx\n${SESSION}\tover\n`);
    const empty = stateFile('');
    console.log(
      `budget hook, median of 50 runs via spawnSync('sh'), ms: nobody over a cap ${median(empty, input)}, ` +
        `session listed (one sed) ${median(listed, input)}, "*" listed ${median(stateFile('*\tover\n'), input)}, ` +
        `session not listed ${median(stateFile(`${OTHER_SESSION}\tx\n`), input)}; no state argument (spawn + sh start-up only) ${median('', '')}`,
    );
    // Without node's spawn in the measure: 50 runs in one shell loop, mean per run.
    const inputFile = path.join(storage, 'input.json');
    fs.writeFileSync(inputFile, input);
    const loop = (state: string) => {
      const started = process.hrtime.bigint();
      spawnSync('sh', ['-c', 'i=0; while [ $i -lt 50 ]; do sh "$1" "$2" < "$3" > /dev/null; i=$((i+1)); done', 'loop', script, state, inputFile], { env });
      return (Number(process.hrtime.bigint() - started) / 1e6 / 50).toFixed(2);
    };
    console.log(`budget hook, mean of 50 runs in a sh loop, ms: nobody over a cap ${loop(empty)}, session listed (one sed) ${loop(listed)}`);
  });
});


/** A day budget over its cap (onCap: stop), as the meter hands it to the hook service. */
function cappedDay() {
  return {
    index: 0, budget: { period: 'day' as const, limitUsd: 1, warnAt: [], onCap: 'stop' as const }, windowKey: 'k', windowLabel: 'today',
    windowStart: 0, windowEnd: 1, spentUsd: 2, spentTokens: 0, unpricedRequests: 0, limit: 1, unit: 'usd' as const, fraction: 2,
    level: 'cap' as const, reached: [1], burnPerHour: 0, projectedCapAt: null,
  };
}
describe('budget hook commands (fake vscode)', () => {
  const storage = tempDir();
  const log = fake.window.createOutputChannel('Agent Spend') as unknown as vscode.LogOutputChannel;
  new BudgetHookService(storage, log);
  const folderUri = (folder: string) => Object.assign(fake.Uri.file(folder), { scheme: 'file' });

  it('refuses in an untrusted workspace, and writes nothing', async () => {
    const { ws, file } = workspaceWith();
    fake.workspace.workspaceFolders = [{ uri: folderUri(ws) }];
    fake.workspace.isTrusted = false;
    fake.recorded.messages.length = 0;
    fake.recorded.answer = 'Install';
    try {
      assert.equal(await fake.commands.executeCommand(BUDGET_HOOK_COMMANDS.install), undefined);
      assert.equal(await fake.commands.executeCommand(BUDGET_HOOK_COMMANDS.remove), undefined);
    } finally {
      fake.workspace.isTrusted = true;
      fake.recorded.answer = undefined;
    }
    assert.equal(fs.existsSync(file), false);
    assert.equal(fs.existsSync(path.join(storage, 'budget-hook.sh')), false);
    assert.match(fake.recorded.messages[0]!.text, /only available in a trusted workspace/);
  });

  it('asks first (a modal naming the files), installs on consent, then removes', async () => {
    const { ws, file } = workspaceWith(JSON.stringify(EXISTING));
    fake.workspace.workspaceFolders = [{ uri: folderUri(ws) }];
    fake.recorded.messages.length = 0;

    // Dismissed: nothing written.
    assert.equal(await fake.commands.executeCommand(BUDGET_HOOK_COMMANDS.install), undefined);
    assert.deepEqual(readSettings(file), EXISTING);
    const modal = fake.recorded.messages[0]!;
    const options = modal.actions[0] as unknown as { modal: boolean; detail: string };
    assert.equal(options.modal, true);
    for (const named of [file, path.join(storage, 'budget-hook.sh'), overCapStatePath(storage, ws)]) assert.ok(options.detail.includes(named), named);

    fake.recorded.answer = 'Install';
    try {
      const installed = (await fake.commands.executeCommand(BUDGET_HOOK_COMMANDS.install)) as { action: string };
      assert.equal(installed.action, 'installed');
      assert.equal(ourEntries(readSettings(file)).length, 1);
      assert.equal(fs.readFileSync(path.join(storage, 'budget-hook.sh'), 'utf8'), HOOK_SCRIPT);
      const shown = fake.recorded.messages.at(-1)!;
      assert.equal(shown.level, 'info');
      assert.deepEqual(shown.actions, ['Open Settings File']);

      fake.recorded.answer = 'Remove';
      const removed = (await fake.commands.executeCommand(BUDGET_HOOK_COMMANDS.remove)) as { action: string };
      assert.equal(removed.action, 'removed');
      assert.deepEqual(readSettings(file), EXISTING);
      // Nothing left to remove: no modal, just the news.
      const before = fake.recorded.messages.length;
      assert.equal(((await fake.commands.executeCommand(BUDGET_HOOK_COMMANDS.remove)) as { action: string }).action, 'absent');
      assert.equal(fake.recorded.messages.length, before + 1);
    } finally {
      fake.recorded.answer = undefined;
      fake.workspace.workspaceFolders = undefined;
    }
  });

  it('shows the error for a settings file it cannot parse, and leaves it alone', async () => {
    const { ws, file } = workspaceWith('{ not json');
    fake.recorded.answer = 'Install';
    try {
      const change = (await fake.commands.executeCommand(BUDGET_HOOK_COMMANDS.install, folderUri(ws))) as { ok: boolean };
      assert.equal(change.ok, false);
    } finally {
      fake.recorded.answer = undefined;
    }
    assert.equal(fs.readFileSync(file, 'utf8'), '{ not json');
    const shown = fake.recorded.messages.at(-1)!;
    assert.equal(shown.level, 'error');
    assert.match(shown.text, /not valid JSON/);
  });

  it('names the real file in the consent when .claude/settings.local.json is a symbolic link out of the folder', async () => {
    // A repository can commit .claude/settings.local.json (or .claude) as a link to a file of the user's elsewhere,
    // here their global Claude Code settings: the consent must name the file that is written, not the link.
    const { ws, file } = workspaceWith();
    const outside = path.join(tempDir('agent-spend-home-'), 'settings.json');
    fs.writeFileSync(outside, JSON.stringify({ model: 'opus' }));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.symlinkSync(outside, file);
    fake.recorded.messages.length = 0;
    fake.recorded.answer = 'Install';
    try {
      await fake.commands.executeCommand(BUDGET_HOOK_COMMANDS.install, folderUri(ws));
    } finally {
      fake.recorded.answer = undefined;
    }
    const options = fake.recorded.messages[0]!.actions[0] as unknown as { detail: string };
    const written = ourEntries(readSettings(outside)).length > 0;
    assert.ok(!written || options.detail.includes(outside), `${outside} was written, but the consent named only:\n${options.detail}`);
    assert.match(options.detail, /OUTSIDE this folder/);
  });

  it('does not write through a link swapped after the consent', async () => {
    const { ws, file } = workspaceWith('{}');
    const outside = path.join(tempDir('agent-spend-home-'), 'settings.json');
    fs.writeFileSync(outside, '{}');
    fake.recorded.answer = 'Install';
    const show = fake.window.showWarningMessage;
    // The user agrees to the file in the folder; the link appears while the modal is open.
    fake.window.showWarningMessage = (...args: Parameters<typeof show>) => {
      fs.rmSync(file);
      fs.symlinkSync(outside, file);
      return show(...args);
    };
    try {
      await fake.commands.executeCommand(BUDGET_HOOK_COMMANDS.install, folderUri(ws));
    } finally {
      fake.window.showWarningMessage = show;
      fake.recorded.answer = undefined;
    }
    assert.deepEqual(readSettings(outside), {}, 'the file behind the new link is untouched');
  });

  it('one state file per folder, whether the folder is opened through a symbolic link or by its real path', () => {
    const real = tempDir('agent-spend-ws-');
    const link = path.join(tempDir('agent-spend-links-'), 'project');
    fs.symlinkSync(real, link);
    const dir = tempDir('agent-spend-hook-');
    // Installed from a window that opened the folder through the link: the hook reads the state file named then.
    const installed = paths(dir, link);
    installHook(link, installed);
    fake.workspace.workspaceFolders = [{ uri: folderUri(real) }];
    const capped = cappedDay();
    const service = new BudgetHookService(dir, log);
    try {
      service.update([capped]);
      assert.deepEqual(readOverCapState(installed.statePath).map((e) => e.sessionId), ['*'], 'the window with the real path updates the file the hook reads');
    } finally {
      service.dispose();
      fake.workspace.workspaceFolders = undefined;
    }
  });

  it('the state it keeps: over-cap sessions while trusted, nothing when untrusted, nothing left behind on dispose', () => {
    const ws = tempDir('agent-spend-ws-');
    const dir = tempDir('agent-spend-hook-');
    installHook(ws, paths(dir, ws));
    fake.workspace.workspaceFolders = [{ uri: folderUri(ws) }];
    const capped = cappedDay();
    const service = new BudgetHookService(dir, log);
    try {
      fake.workspace.isTrusted = true;
      service.update([capped]);
      assert.deepEqual(readOverCapState(overCapStatePath(dir, ws)).map((e) => e.sessionId), ['*']);
      fake.workspace.isTrusted = false;
      service.update([capped]);
      assert.deepEqual(readOverCapState(overCapStatePath(dir, ws)), [], 'an untrusted window denies nothing');
      fake.workspace.isTrusted = true;
      service.update([capped]);
      service.dispose();
      assert.deepEqual(readOverCapState(overCapStatePath(dir, ws)), [], 'nothing denied once the extension is gone');
    } finally {
      fake.workspace.isTrusted = true;
      fake.workspace.workspaceFolders = undefined;
    }
  });
});
