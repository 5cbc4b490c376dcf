// "Agent Spend: Install Claude Code Budget Hook" / "Remove Claude Code Budget Hook": the opt-in cooperative stop.
// Each asks for consent in a modal that names every file it writes, refuses in an untrusted workspace (it edits
// files of the workspace and makes Claude Code run a command), and reports what it did. The file work is in
// src/core/budgetHook.ts.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  HOOK_SCRIPT_NAME,
  hookCommand,
  hookScriptInstall,
  installHook,
  isHookInstalled,
  isInsideFolder,
  legacyOverCapStatePath,
  overCapEntries,
  overCapStatePath,
  realSettingsFile,
  removeHook,
  settingsFileOf,
  writeOverCapState,
  type HookChange,
} from '../core/budgetHook';
import type { BudgetState } from '../core/budget';
import { noLinks } from './format';

export const BUDGET_HOOK_COMMANDS = {
  install: 'agentSpend.installClaudeHook',
  remove: 'agentSpend.removeClaudeHook',
} as const;

const OPEN_SETTINGS = 'Open Settings File';
const MANAGE_TRUST = 'Manage Workspace Trust';

/** The files a command would touch for `folder`, named in the consent modal. */
export function hookPlan(stateDir: string, folder: string) {
  const scriptPath = path.join(stateDir, HOOK_SCRIPT_NAME);
  const statePath = overCapStatePath(stateDir, folder);
  const settingsFile = realSettingsFile(folder);
  return { settingsFile, settingsName: settingsName(folder, settingsFile), scriptPath, statePath, command: hookCommand({ scriptPath, statePath }) };
}

/** The settings file as the consent names it: the file written, and the link to it when the path has one. */
function settingsName(folder: string, realFile: string): string {
  const nominal = settingsFileOf(folder);
  if (realFile === nominal) return nominal;
  const where = isInsideFolder(realFile, folder) ? '' : ', OUTSIDE this folder';
  return `${nominal}, a symbolic link to ${realFile}${where} (the file that is written)`;
}

export async function installClaudeHook(stateDir: string, log: vscode.LogOutputChannel, folder?: vscode.Uri): Promise<HookChange | undefined> {
  if (!(await trusted())) return undefined;
  const picked = await pickFolder('Install the Claude Code budget hook in which folder?', folder);
  if (!picked) return undefined;
  const plan = hookPlan(stateDir, picked.fsPath);
  const detail = [
    'Agent Spend will:',
    `• add one PreToolUse hook to ${plan.settingsName} (Claude Code's personal project settings, not meant to be committed), keeping every other setting and hook; an existing file is first copied to ${path.basename(plan.settingsFile)}.agent-spend-backup-<time>;`,
    `• write the hook script to ${plan.scriptPath}.`,
    '',
    `Before each tool call of a Claude Code session in this folder, Claude Code will run:\n${plan.command}`,
    `The script reads ${plan.statePath}, which Agent Spend keeps up to date. When that file lists the session (or every session) as over its budget cap, the tool call is denied and Claude is told why. If anything goes wrong in the hook, the call goes through.`,
    '',
    'Sessions already running may need a restart to pick the hook up. Undo with "Agent Spend: Remove Claude Code Budget Hook".',
  ].join('\n');
  const install = 'Install';
  const answer = await vscode.window.showWarningMessage(`Install the Agent Spend budget hook for Claude Code in "${path.basename(picked.fsPath)}"?`, { modal: true, detail }, install);
  if (answer !== install) return undefined;

  let change: HookChange;
  try {
    const scriptPath = hookScriptInstall(stateDir);
    // Only the file the user agreed to: a link changed since the modal makes this fail, not write elsewhere.
    change = installHook(picked.fsPath, { scriptPath, statePath: plan.statePath }, plan.settingsFile);
  } catch (error) {
    change = { ok: false, action: 'failed', settingsFile: plan.settingsFile, message: `Could not write the hook script to ${plan.scriptPath}: ${(error as Error).message}` };
  }
  await report(change, log);
  return change;
}

export async function removeClaudeHook(log: vscode.LogOutputChannel, folder?: vscode.Uri): Promise<HookChange | undefined> {
  if (!(await trusted())) return undefined;
  const picked = await pickFolder('Remove the Claude Code budget hook from which folder?', folder);
  if (!picked) return undefined;
  const settingsFile = realSettingsFile(picked.fsPath);
  if (!isHookInstalled(picked.fsPath)) {
    // Nothing to write, so nothing to consent to; removeHook says why (missing file, no entry, or a file it can't read).
    const change = removeHook(picked.fsPath);
    await report(change, log);
    return change;
  }
  const detail =
    `Agent Spend will take its PreToolUse hook out of ${settingsName(picked.fsPath, settingsFile)}, keeping every other setting and hook; the ` +
    `current file is first copied to ${path.basename(settingsFile)}.agent-spend-backup-<time>. The hook script stays in the ` +
    "extension's storage (other folders may use it).";
  const remove = 'Remove';
  const answer = await vscode.window.showWarningMessage(`Remove the Agent Spend budget hook for Claude Code from "${path.basename(picked.fsPath)}"?`, { modal: true, detail }, remove);
  if (answer !== remove) return undefined;
  const change = removeHook(picked.fsPath, settingsFile);
  await report(change, log);
  return change;
}

/** Writing hooks that make Claude Code run a command is for trusted workspaces only. */
async function trusted(): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const choice = await vscode.window.showWarningMessage(
    'Agent Spend: the Claude Code budget hook edits this workspace\'s Claude Code settings, so it is only available in a trusted workspace.',
    MANAGE_TRUST,
  );
  if (choice === MANAGE_TRUST) await vscode.commands.executeCommand('workbench.trust.manage');
  return false;
}

/** The folder given, the only local folder open, or the one the user picks; undefined when none. */
async function pickFolder(placeHolder: string, given?: vscode.Uri): Promise<vscode.Uri | undefined> {
  if (given) return given;
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((folder) => folder.uri.scheme === 'file');
  if (folders.length === 0) {
    void vscode.window.showWarningMessage('Agent Spend: open a folder first. The Claude Code budget hook is installed per workspace folder, in its .claude/settings.local.json.');
    return undefined;
  }
  if (folders.length === 1) return folders[0].uri;
  const items = folders.map((folder) => ({
    label: path.basename(folder.uri.fsPath),
    description: folder.uri.fsPath,
    detail: isHookInstalled(folder.uri.fsPath) ? 'budget hook installed' : undefined,
    uri: folder.uri,
  }));
  const item = await vscode.window.showQuickPick(items, { title: 'Agent Spend: Claude Code Budget Hook', placeHolder });
  return item?.uri;
}

/** Logs the change and shows it, offering to open the settings file when there is one (also to fix a broken one). */
async function report(change: HookChange, log: vscode.LogOutputChannel): Promise<void> {
  if (change.ok) log.info(`budget hook: ${change.message}`);
  else log.error(`budget hook: ${change.message}`);
  const show = change.ok ? vscode.window.showInformationMessage : vscode.window.showErrorMessage;
  const actions = fs.existsSync(change.settingsFile) ? [OPEN_SETTINGS] : [];
  // The message quotes paths and, for a file it cannot parse, a piece of that file: never a link.
  const choice = await show(noLinks(`Agent Spend: ${change.message}`), ...actions);
  if (choice !== OPEN_SETTINGS) return;
  try {
    await vscode.window.showTextDocument(vscode.Uri.file(change.settingsFile));
  } catch (error) {
    log.error(`budget hook: could not open ${change.settingsFile}: ${String(error)}`);
  }
}

/**
 * Keeps the over-cap state file of every workspace folder that has the hook installed in step with the meter. Which
 * folders have it is looked up at start, after the commands run, when folders change, and at most every 30 s
 * otherwise (reading settings files on every snapshot would cost the extension host for nothing).
 */
export class BudgetHookService implements vscode.Disposable {
  private folders: string[] = [];
  private checkedAt = 0;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly stateDir: string,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      vscode.commands.registerCommand(BUDGET_HOOK_COMMANDS.install, async (folder?: vscode.Uri) => {
        const change = await installClaudeHook(stateDir, log, folder);
        this.recheck();
        return change;
      }),
      vscode.commands.registerCommand(BUDGET_HOOK_COMMANDS.remove, async (folder?: vscode.Uri) => {
        const change = await removeClaudeHook(log, folder);
        this.recheck();
        return change;
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.recheck()),
    );
    this.recheck();
    // After an extension update the installed script is refreshed (rewritten only when its content changed).
    if (this.folders.length > 0) {
      try {
        hookScriptInstall(stateDir);
      } catch (error) {
        log.error(`could not refresh the Claude Code budget hook script: ${(error as Error).message}`);
      }
    }
  }

  /** Writes what is over its cap for every folder with the hook. */
  update(budgets: readonly BudgetState[]): void {
    if (Date.now() - this.checkedAt > 30_000) this.recheck();
    if (this.folders.length === 0) return;
    // Nothing is denied from an untrusted window: stopping is off there, the hook included.
    this.write(vscode.workspace.isTrusted ? overCapEntries(budgets) : []);
  }

  private write(entries: ReturnType<typeof overCapEntries>): void {
    for (const folder of this.folders) {
      // A hook installed before state files were named after the folder's real path reads the old name: kept up
      // to date as well while it exists (it is in our own storage), until the hook is installed again.
      const statePaths = new Set([overCapStatePath(this.stateDir, folder)]);
      const legacy = legacyOverCapStatePath(this.stateDir, folder);
      if (fs.existsSync(legacy)) statePaths.add(legacy);
      for (const statePath of statePaths) {
        try {
          if (writeOverCapState(statePath, entries)) {
            this.log.info(`Claude Code budget hook for ${folder}: ${entries.length === 0 ? 'nothing over its cap' : entries.map((e) => (e.sessionId === '*' ? 'every session' : `session ${e.sessionId}`)).join(', ')}`);
          }
        } catch (error) {
          this.log.error(`could not write the budget hook state for ${folder}: ${(error as Error).message}`);
        }
      }
    }
  }

  private recheck(): void {
    this.checkedAt = Date.now();
    this.folders = (vscode.workspace.workspaceFolders ?? [])
      .filter((folder) => folder.uri.scheme === 'file')
      .map((folder) => folder.uri.fsPath)
      .filter((folder) => {
        try {
          return isHookInstalled(folder);
        } catch {
          return false;
        }
      });
  }

  /** When the extension stops (window closed, extension disabled) nothing is left denied behind it. */
  dispose(): void {
    if (this.folders.length > 0) this.write([]);
    for (const d of this.disposables) d.dispose();
  }
}
