// The opt-in cooperative stop for Claude Code: a `PreToolUse` hook that denies further tool use in sessions that
// are over their budget cap.
//
// Three parts, all plain files so the hook never talks to the extension:
// - the over-cap state file, which the extension rewrites (temp + rename) whenever the set of over-cap sessions
//   changes: lines `<session id>\t<reason>`, and `*\t<reason>` for "every session" (a day / week / month / 5-hour
//   budget over its cap);
// - the hook script, POSIX sh because Claude Code runs hook commands through a shell (Git Bash on Windows). It must
//   be fast (it runs before every tool call) and it must fail open: any error of its own prints nothing and exits
//   0, because exit 2 would *block* the tool call (and dash exits 2 on its own errors);
// - the entry in `<workspace>/.claude/settings.local.json`, merged into the user's file with a backup, found again
//   by a marker in its command, never touching the other hooks and keys.
// Pure Node: the VS Code side is src/host/budgetHookCommands.ts.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { budgetAgents, type BudgetState } from './budget';
import { digest, randomHex } from './hash';
import { CLAUDE_CODE } from './sources/claudeCode';
import { tokens, usd } from '../shared/format';
import { makeDirectory } from './makeDirectory';

/** Found in our hook's command (a shell comment), so install and remove recognise our entry whatever its paths. */
export const HOOK_MARKER = '# agent-spend-budget-hook';
export const HOOK_SCRIPT_NAME = 'budget-hook.sh';
/** Seconds Claude Code gives the hook; it takes milliseconds, and a timeout only lets the tool call through. */
export const HOOK_TIMEOUT_SECONDS = 5;
/** Stands for every session of the workspace in the state file. */
export const ALL_SESSIONS = '*';
const DEFAULT_REASON = 'Agent Spend: budget cap reached.';
const MAX_REASON_CHARS = 1000;
/** Claude Code session ids are UUIDs; the script only looks up ids made of these characters. */
const SESSION_ID = /^[A-Za-z0-9._:-]+$/;

// ---------------------------------------------------------------------------------------------------------------
// The over-cap state file

export interface OverCapEntry {
  /** A Claude Code session id, or `*` for every session. */
  sessionId: string;
  /** One line, shown to Claude as the reason the tool call was denied. */
  reason: string;
}

/**
 * Where the state file of a workspace folder lives: one file per folder, as budgets can be scoped to a workspace.
 * Named after the folder's real path: a folder opened through a symbolic link in one window and by its real path in
 * another is one folder, with one .claude/settings.local.json, so one hook and one state file.
 */
export function overCapStatePath(dir: string, workspaceFolder: string): string {
  let folder = path.resolve(workspaceFolder);
  try {
    folder = fs.realpathSync(folder);
  } catch {
    // a folder that is gone: its path as given
  }
  return statePathFor(dir, folder);
}

/** The state file an install before real paths named for `workspaceFolder` (the path as opened, links and all). */
export function legacyOverCapStatePath(dir: string, workspaceFolder: string): string {
  return statePathFor(dir, path.resolve(workspaceFolder));
}

function statePathFor(dir: string, folder: string): string {
  const hash = digest('sha256', folder, 'hex').slice(0, 12);
  const name = path.basename(folder).replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40) || 'workspace';
  return path.join(dir, 'over-cap', `${name}-${hash}.tsv`);
}

/** One line of text: no tabs, newlines or other control characters (the file is tab- and line-separated). */
export function oneLine(reason: string): string {
  const text = reason.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return (text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS - 1)}…` : text) || DEFAULT_REASON;
}

/** The file's text for `entries`: empty when nobody is over a cap, so the hook stops at its first test. */
export function overCapStateText(entries: readonly OverCapEntry[]): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const { sessionId, reason } of entries) {
    // An id the script would never match (or that would break the format) is left out.
    if (seen.has(sessionId) || (sessionId !== ALL_SESSIONS && !SESSION_ID.test(sessionId))) continue;
    seen.add(sessionId);
    lines.push(`${sessionId}\t${oneLine(reason)}`);
  }
  if (lines.length === 0) return '';
  return `# Agent Spend: Claude Code sessions over their budget cap (session id, TAB, reason; * = every session)\n${lines.join('\n')}\n`;
}

/**
 * Rewrites the state file atomically when its content changes (call it on every snapshot: an unchanged set costs a
 * read). Returns whether the file was written; throws when it cannot be written (the caller logs it: the hook then
 * goes on with the previous set, or allows everything when there is no file).
 */
export function writeOverCapState(file: string, entries: readonly OverCapEntry[]): boolean {
  const text = overCapStateText(entries);
  try {
    if (fs.readFileSync(file, 'utf8') === text) return false;
  } catch {
    // missing or unreadable: write it
  }
  makeDirectory(path.dirname(file));
  writeFileAtomic(file, text);
  return true;
}

/** The entries in a state file; a missing file holds none. Comment and malformed lines are skipped. */
export function readOverCapState(file: string): OverCapEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const entries: OverCapEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    const tab = line.indexOf('\t');
    if (tab <= 0 || line.startsWith('#')) continue;
    entries.push({ sessionId: line.slice(0, tab), reason: line.slice(tab + 1) });
  }
  return entries;
}

export interface OverCapOptions {
  /** Only budgets whose cap action is `interrupt` or `stop` (the default action, `warn`, never blocks). Default true. */
  stoppingOnly?: boolean;
}

/**
 * What the state file should hold for Claude Code, from the meter's budget states: a capped session budget lists
 * its session, a capped window budget (day, week, month, 5-hour block) lists `*`. Budgets that do not count Claude
 * Code are ignored.
 */
export function overCapEntries(states: readonly BudgetState[], options: OverCapOptions = {}): OverCapEntry[] {
  const stoppingOnly = options.stoppingOnly ?? true;
  const entries: OverCapEntry[] = [];
  for (const state of states) {
    if (state.level !== 'cap' || (stoppingOnly && state.budget.onCap === 'warn')) continue;
    const agents = budgetAgents(state.budget);
    if (agents && !agents.includes(CLAUDE_CODE)) continue;
    if (state.sessionId !== undefined && state.agent !== CLAUDE_CODE) continue;
    entries.push({ sessionId: state.sessionId ?? ALL_SESSIONS, reason: capReason(state) });
  }
  return entries;
}

/** Addressed to Claude, which sees it as the tool result: say what happened and what not to do next. */
function capReason(state: BudgetState): string {
  const amount = (value: number) => (state.unit === 'usd' ? usd(value) : `${tokens(value)} tokens`);
  const spent = amount(state.unit === 'usd' ? state.spentUsd : state.spentTokens);
  const what = state.sessionId ? 'this session' : state.windowLabel;
  return (
    `Agent Spend budget cap reached for ${what} (${spent} of ${amount(state.limit)}): tool use is blocked. ` +
    'Do not retry; stop and tell the user. They can raise the cap in VS Code ("Agent Spend: Set Budget…") or ' +
    'remove the hook ("Agent Spend: Remove Claude Code Budget Hook").'
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The hook script

/**
 * The hook, run as `sh budget-hook.sh <state file>` with Claude Code's hook JSON on stdin. Forks at most once (sed,
 * to find the session id, and only when session lines are listed): an empty or missing state file, the common
 * case, ends after three builtin tests without reading stdin; a `*` line denies without reading stdin either.
 */
export const HOOK_SCRIPT = `#!/bin/sh
${HOOK_MARKER} (script version 1)
# Claude Code PreToolUse hook written by the Agent Spend VS Code extension ("Agent Spend: Install Claude Code
# Budget Hook"; remove it with "Agent Spend: Remove Claude Code Budget Hook").
# Usage: sh ${HOOK_SCRIPT_NAME} <state file>, with the hook's JSON input on stdin. Agent Spend rewrites the state
# file whenever the set of sessions over their budget cap changes: lines "<session id><TAB><reason>", and
# "*<TAB><reason>" for every session. A listed session's tool call is denied with that reason.
# On any error of its own the hook prints nothing and exits 0, so the tool call goes on (fail open): an exit
# status of 2 would block it, and that is what a shell's own errors can return.
trap 'exit 0' EXIT
exec 2>/dev/null
state=$1
tab='\t'
nl='
'
[ -n "$state" ] && [ -f "$state" ] && [ -s "$state" ] || exit 0
command exec 3<"$state" || exit 0

all=
list=$nl
while IFS= read -r line <&3 || [ -n "$line" ]; do
  case $line in
    "*$tab"*) [ -n "$all" ] || all=\${line#*"$tab"} ;;
    [!#]*"$tab"*) list=$list$line$nl ;;
  esac
done
exec 3<&-

found=
reason=
if [ "$list" != "$nl" ]; then
  # The first "session_id" key of the input (Claude Code writes it first; tool_input may hold another), put on a
  # line of its own. No ".*" after the capture: on a multi-megabyte Write input that costs a second per call.
  sid=$(sed -n 's/"session_id"[[:space:]]*:[[:space:]]*"\\([^"]*\\)"/\\
\\1\\
/
/\\n/{
s/^[^\\n]*\\n//
s/\\n.*//
p
q
}')
  case $sid in
    '' | *[!A-Za-z0-9._:-]*) sid= ;;
  esac
  if [ -n "$sid" ]; then
    case $list in
      *"$nl$sid$tab"*)
        found=1
        reason=\${list#*"$nl$sid$tab"}
        reason=\${reason%%"$nl"*}
        ;;
    esac
  fi
fi
if [ -z "$found" ]; then
  [ -n "$all" ] || exit 0
  reason=$all
fi
[ -n "$reason" ] || reason='${DEFAULT_REASON}'

# JSON string escaping without a fork: backslash and quote get a backslash, control characters become spaces.
out=
rest=$reason
while :; do
  case $rest in
    *[\\\\\\"[:cntrl:]]*)
      head=\${rest%%[\\\\\\"[:cntrl:]]*}
      rest=\${rest#"$head"}
      char=\${rest%"\${rest#?}"}
      rest=\${rest#?}
      case $char in
        \\\\ | \\") out=$out$head\\\\$char ;;
        *) out="$out$head " ;;
      esac
      ;;
    *)
      out=$out$rest
      break
      ;;
  esac
done
printf '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"%s"}}\\n' "$out"
exit 0
`;

/** Writes the script to `<dir>/budget-hook.sh` (mode 0755) atomically, unless it is already there; returns its path. */
export function hookScriptInstall(dir: string): string {
  const file = path.join(dir, HOOK_SCRIPT_NAME);
  makeDirectory(dir);
  let current: string | undefined;
  try {
    current = fs.readFileSync(file, 'utf8');
  } catch {
    // not written yet
  }
  if (current !== HOOK_SCRIPT) writeFileAtomic(file, HOOK_SCRIPT, 0o755);
  else fs.chmodSync(file, 0o755);
  return file;
}

// ---------------------------------------------------------------------------------------------------------------
// The entry in .claude/settings.local.json

type Json = null | boolean | number | string | Json[] | JsonObject;
interface JsonObject {
  [key: string]: Json;
}

export interface HookPaths {
  /** The installed script (see hookScriptInstall). */
  scriptPath: string;
  /** The state file the extension keeps for this workspace (see overCapStatePath). */
  statePath: string;
}

export interface HookChange {
  ok: boolean;
  action: 'installed' | 'updated' | 'unchanged' | 'removed' | 'absent' | 'failed';
  /** The settings file that was (or would have been) changed; the real file when it is a symbolic link. */
  settingsFile: string;
  /** The copy of the file as it was, when an existing file was rewritten. */
  backupFile?: string;
  /** One or two sentences for a notification. */
  message: string;
}

/** `<workspace>/.claude/settings.local.json`: the personal, uncommitted project settings of Claude Code. */
export function settingsFileOf(workspaceFolder: string): string {
  return path.join(workspaceFolder, '.claude', 'settings.local.json');
}

/**
 * The file install and remove write for `workspaceFolder`: settings.local.json with every symbolic link on its way
 * resolved (the file itself, .claude, the folder), whether or not the file exists yet. A repository can commit either
 * as a link to a file elsewhere: this is the file the consent names, and the only one written.
 */
export function realSettingsFile(workspaceFolder: string): string {
  return resolveLinks(settingsFileOf(workspaceFolder));
}

/** Whether `file` is inside the real `workspaceFolder`. */
export function isInsideFolder(file: string, workspaceFolder: string): boolean {
  const relative = path.relative(resolveLinks(workspaceFolder), file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

function resolveLinks(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    // missing (or a dangling link): the real folder it would be written in
  }
  const parent = path.dirname(file);
  return parent === file ? file : path.join(resolveLinks(parent), path.basename(file));
}

/**
 * A path as the hook's shell wants it: forward slashes (Git Bash reads `C:\\Users` as escapes), single-quoted.
 */
function shellWord(file: string): string {
  return `'${file.replace(/\\/g, '/').replace(/'/g, `'\\''`)}'`;
}

/**
 * The hook command. `|| true` because a missing script (extension uninstalled, storage cleared) makes `sh` exit 2
 * (dash), which Claude Code would read as "block"; stderr is dropped for the same reason.
 */
export function hookCommand({ scriptPath, statePath }: HookPaths): string {
  return `sh ${shellWord(scriptPath)} ${shellWord(statePath)} 2>/dev/null || true ${HOOK_MARKER}`;
}

function ourHook(paths: HookPaths): JsonObject {
  return { type: 'command', command: hookCommand(paths), timeout: HOOK_TIMEOUT_SECONDS };
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOurs(hook: Json): boolean {
  return isObject(hook) && typeof hook.command === 'string' && hook.command.includes(HOOK_MARKER);
}

type Loaded =
  | { kind: 'missing'; file: string }
  | { kind: 'ok'; file: string; settings: JsonObject; eol: string; mode: number }
  | { kind: 'error'; file: string; message: string };

function loadSettings(settingsFile: string): Loaded {
  const file = resolveLinks(settingsFile);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing', file };
    return { kind: 'error', file, message: `could not read ${file}: ${(error as Error).message}` };
  }
  const body = text.replace(/^\uFEFF/, '');
  let settings: Json;
  try {
    settings = body.trim() === '' ? {} : (JSON.parse(body) as Json);
  } catch (error) {
    return { kind: 'error', file, message: `${file} is not valid JSON (${(error as Error).message}); it was left untouched. Fix it, then try again.` };
  }
  if (!isObject(settings)) return { kind: 'error', file, message: `${file} does not hold a JSON object; it was left untouched.` };
  const problem = shapeProblem(settings);
  if (problem) return { kind: 'error', file, message: `${file}: ${problem}; it was left untouched.` };
  return { kind: 'ok', file, settings, eol: text.includes('\r\n') ? '\r\n' : '\n', mode: fs.statSync(file).mode & 0o777 };
}

/** What would make a merge guesswork: `hooks` that is not an object, or an event that is not a list. */
function shapeProblem(settings: JsonObject): string | undefined {
  const hooks = settings.hooks;
  if (hooks === undefined) return undefined;
  if (!isObject(hooks)) return '"hooks" is not an object';
  for (const [event, groups] of Object.entries(hooks)) if (!Array.isArray(groups)) return `"hooks.${event}" is not a list`;
  return undefined;
}

/**
 * Takes our hook out of every event's matcher groups. A group left empty by that is dropped, then an event list
 * left empty, then an empty `hooks`. With a `replacement`, the first of ours under PreToolUse is replaced in
 * place instead (so an update keeps its position and any matcher the user gave it). Returns how many were removed
 * and whether one was replaced.
 */
function takeOut(settings: JsonObject, replacement?: JsonObject): { removed: number; replaced: boolean } {
  const hooks = settings.hooks;
  let removed = 0;
  let replaced = false;
  if (!isObject(hooks)) return { removed, replaced };
  for (const [event, groups] of Object.entries(hooks)) {
    if (!Array.isArray(groups)) continue;
    let removedHere = 0;
    const keptGroups: Json[] = [];
    for (const group of groups) {
      if (!isObject(group) || !Array.isArray(group.hooks) || !group.hooks.some(isOurs)) {
        keptGroups.push(group);
        continue;
      }
      const kept: Json[] = [];
      for (const hook of group.hooks) {
        if (!isOurs(hook)) kept.push(hook);
        else if (replacement && event === 'PreToolUse' && !replaced) {
          kept.push(replacement);
          replaced = true;
        } else removedHere++;
      }
      group.hooks = kept;
      if (kept.length > 0) keptGroups.push(group);
    }
    removed += removedHere;
    if (removedHere === 0) continue;
    if (keptGroups.length > 0) hooks[event] = keptGroups;
    else delete hooks[event];
  }
  if (removed > 0 && Object.keys(hooks).length === 0) delete settings.hooks;
  return { removed, replaced };
}

/** Whether the workspace's settings.local.json holds our hook (false when the file is missing or unreadable). */
export function isHookInstalled(workspaceFolder: string): boolean {
  const loaded = loadSettings(settingsFileOf(workspaceFolder));
  if (loaded.kind !== 'ok' || !isObject(loaded.settings.hooks)) return false;
  return Object.values(loaded.settings.hooks).some(
    (groups) => Array.isArray(groups) && groups.some((group) => isObject(group) && Array.isArray(group.hooks) && group.hooks.some(isOurs)),
  );
}

/**
 * Adds (or updates) our PreToolUse entry in `<workspace>/.claude/settings.local.json`. Creates the folder and file
 * when missing; backs an existing file up first; never overwrites a file it cannot parse; keeps every other key and
 * hook. Installing twice leaves one entry; an entry with other paths (an older install) is replaced.
 */
export function installHook(workspaceFolder: string, paths: HookPaths, expectedFile?: string): HookChange {
  const loaded = loadSettings(settingsFileOf(workspaceFolder));
  if (loaded.kind === 'error') return { ok: false, action: 'failed', settingsFile: loaded.file, message: loaded.message };
  const moved = movedSince(loaded.file, expectedFile);
  if (moved) return moved;
  const settings = loaded.kind === 'ok' ? loaded.settings : {};
  const before = JSON.stringify(settings);
  const hook = ourHook(paths);
  const { removed, replaced } = takeOut(settings, hook);
  if (!replaced) {
    if (!isObject(settings.hooks)) settings.hooks = {};
    const hooks = settings.hooks as JsonObject;
    if (!Array.isArray(hooks.PreToolUse)) hooks.PreToolUse = [];
    (hooks.PreToolUse as Json[]).push({ matcher: '*', hooks: [hook] });
  }
  if (loaded.kind === 'ok' && JSON.stringify(settings) === before) {
    return { ok: true, action: 'unchanged', settingsFile: loaded.file, message: `The Claude Code budget hook is already installed in ${loaded.file}.` };
  }
  return save(loaded, settings, replaced || removed > 0 ? 'updated' : 'installed');
}

/** Removes our entry (and only what became empty because of it); keeps the rest. Backs the file up first. */
export function removeHook(workspaceFolder: string, expectedFile?: string): HookChange {
  const loaded = loadSettings(settingsFileOf(workspaceFolder));
  if (loaded.kind === 'error') return { ok: false, action: 'failed', settingsFile: loaded.file, message: loaded.message };
  const moved = movedSince(loaded.file, expectedFile);
  if (moved) return moved;
  if (loaded.kind === 'missing') {
    return { ok: true, action: 'absent', settingsFile: loaded.file, message: `No Claude Code budget hook to remove: ${loaded.file} does not exist.` };
  }
  const { removed } = takeOut(loaded.settings);
  if (removed === 0) {
    return { ok: true, action: 'absent', settingsFile: loaded.file, message: `No Claude Code budget hook to remove in ${loaded.file}.` };
  }
  return save(loaded, loaded.settings, 'removed');
}

/** A failure when the file to write is no longer the one the user agreed to (a link changed meanwhile). */
function movedSince(file: string, expectedFile: string | undefined): HookChange | undefined {
  if (expectedFile === undefined || file === expectedFile) return undefined;
  return { ok: false, action: 'failed', settingsFile: file, message: `The settings file is now ${file}, not ${expectedFile} as when you agreed (a symbolic link changed); nothing was written.` };
}

function save(loaded: Exclude<Loaded, { kind: 'error' }>, settings: JsonObject, action: HookChange['action']): HookChange {
  const file = loaded.file;
  let backupFile: string | undefined;
  try {
    if (loaded.kind === 'ok') backupFile = backUp(file);
    else makeDirectory(path.dirname(file));
    const eol = loaded.kind === 'ok' ? loaded.eol : '\n';
    writeFileAtomic(file, `${JSON.stringify(settings, null, 2).replace(/\n/g, eol)}${eol}`, loaded.kind === 'ok' ? loaded.mode : undefined);
  } catch (error) {
    return { ok: false, action: 'failed', settingsFile: file, backupFile, message: `Could not write ${file}: ${(error as Error).message}` };
  }
  const backupNote = backupFile ? ` The previous file is kept as ${path.basename(backupFile)}.` : '';
  const verb = action === 'removed' ? 'Removed the Claude Code budget hook from' : action === 'updated' ? 'Updated the Claude Code budget hook in' : 'Installed the Claude Code budget hook in';
  return { ok: true, action, settingsFile: file, backupFile, message: `${verb} ${file}.${backupNote}` };
}

/** Copies `file` to `<file>.agent-spend-backup-<timestamp>` (never over an existing backup); returns the copy. */
function backUp(file: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  for (let attempt = 0; ; attempt++) {
    const backup = `${file}.agent-spend-backup-${stamp}${attempt > 0 ? `-${attempt}` : ''}`;
    try {
      fs.copyFileSync(file, backup, fs.constants.COPYFILE_EXCL);
      return backup;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 100) throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Writes a temporary file next to `file` and renames it over `file`, so a reader (the hook, Claude Code) sees the old
 * content or the new, never half of it. Windows refuses the rename for a moment while a reader has the file open:
 * retried briefly.
 */
function writeFileAtomic(file: string, content: string, mode?: number): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomHex(4)}.tmp`);
  try {
    fs.writeFileSync(temporary, content, { flag: 'wx', mode: mode ?? 0o644 });
    if (mode !== undefined) fs.chmodSync(temporary, mode);
    for (let attempt = 0; ; attempt++) {
      try {
        fs.renameSync(temporary, file);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (attempt >= 10 || (code !== 'EPERM' && code !== 'EACCES' && code !== 'EBUSY')) throw error;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}
