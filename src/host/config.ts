// The extension's settings, read in one place and validated: a bad value gives a message naming the setting and
// falls back, and never stops the meter. Mirrors `contributes.configuration` in package.json.

import * as vscode from 'vscode';
import { parseBudgets, type Budget } from '../core/budget';
import type { AgentSettings } from '../core/engine';
import { mergePatterns } from '../core/processes';

export const SECTION = 'agentSpend';

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

export interface AgentSpendConfig {
  budgets: Budget[];
  /** 0 = Sunday. */
  weekStartsOn: number;
  unit: 'usd' | 'tokens';
  /** Claude Code's config folder, when the user points elsewhere (machine setting; ignored when untrusted). */
  claudeConfigDir: string | undefined;
  /** Per agent: enabled, extra folders (machine settings; folders ignored when untrusted). */
  agents: Record<string, AgentSettings>;
  stop: StopConfig;
  /** Problems found while reading, each naming its setting. */
  problems: string[];
}

export interface StopConfig {
  /** `interrupt` and `stop` act only in a trusted workspace; otherwise every cap only warns. */
  allowed: boolean;
  countdownSeconds: number;
  graceSeconds: number;
  killAfterSeconds: number;
  /** An interrupted agent whose spend keeps growing is stopped after `interruptGraceSeconds`. */
  escalateInterrupt: boolean;
  interruptGraceSeconds: number;
  includeClaudeExtension: boolean;
  patterns: Record<string, RegExp>;
  scanIntervalSeconds: number;
}

function numberSetting(config: vscode.WorkspaceConfiguration, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const value = config.get<unknown>(name, fallback);
  if (typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max) return value;
  problems.push(`${SECTION}.${name} must be a number from ${min} to ${max} (got ${JSON.stringify(value)}); using ${fallback}`);
  return fallback;
}

function booleanSetting(config: vscode.WorkspaceConfiguration, name: string, fallback: boolean, problems: string[]): boolean {
  const value = config.get<unknown>(name, fallback);
  if (typeof value === 'boolean') return value;
  problems.push(`${SECTION}.${name} must be true or false (got ${JSON.stringify(value)}); using ${fallback}`);
  return fallback;
}

function readAgents(config: vscode.WorkspaceConfiguration, problems: string[]): Record<string, AgentSettings> {
  const value = config.get<unknown>('agents', {});
  const agents: Record<string, AgentSettings> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${SECTION}.agents must be an object such as {"codex": {"enabled": false}}; ignoring it`);
    return agents;
  }
  for (const [id, entry] of Object.entries(value as Record<string, unknown>)) {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`${SECTION}.agents.${id} must be an object with "enabled" and/or "folders"; ignoring it`);
      continue;
    }
    const { enabled, folders } = entry as { enabled?: unknown; folders?: unknown };
    const settings: AgentSettings = {};
    if (enabled !== undefined) {
      if (typeof enabled === 'boolean') settings.enabled = enabled;
      else problems.push(`${SECTION}.agents.${id}.enabled must be true or false; ignoring it`);
    }
    if (folders !== undefined) {
      if (!Array.isArray(folders) || folders.some((f) => typeof f !== 'string' || f.trim() === '')) {
        problems.push(`${SECTION}.agents.${id}.folders must be a list of folder paths; ignoring it`);
      } else if (!vscode.workspace.isTrusted) {
        problems.push(`${SECTION}.agents.${id}.folders is ignored until this workspace is trusted`);
      } else {
        settings.folders = (folders as string[]).map((f) => f.trim());
      }
    }
    agents[id] = settings;
  }
  return agents;
}

function readStop(config: vscode.WorkspaceConfiguration, problems: string[]): StopConfig {
  const { patterns, problems: patternProblems } = mergePatterns(config.get<unknown>('stop.agentPatterns', {}));
  problems.push(...patternProblems);
  return {
    allowed: vscode.workspace.isTrusted,
    countdownSeconds: numberSetting(config, 'stop.countdownSeconds', 10, 0, 300, problems),
    graceSeconds: numberSetting(config, 'stop.graceSeconds', 5, 0.5, 300, problems),
    killAfterSeconds: numberSetting(config, 'stop.killAfterSeconds', 5, 0.5, 300, problems),
    escalateInterrupt: booleanSetting(config, 'stop.escalateInterrupt', false, problems),
    interruptGraceSeconds: numberSetting(config, 'stop.interruptGraceSeconds', 60, 5, 3600, problems),
    includeClaudeExtension: booleanSetting(config, 'stop.includeClaudeCodeExtension', false, problems),
    patterns,
    scanIntervalSeconds: numberSetting(config, 'stop.scanIntervalSeconds', 10, 2, 600, problems),
  };
}

export function readConfig(): AgentSpendConfig {
  const config = vscode.workspace.getConfiguration(SECTION);
  const problems: string[] = [];
  const { budgets, problems: budgetProblems } = parseBudgets(config.get<unknown>('budgets'), `${SECTION}.budgets`);
  problems.push(...budgetProblems);
  // Stopping agents is the user's decision, not a repository's: a budget that interrupts or stops is honoured only
  // from the user's own settings. One from a workspace's .vscode/settings.json warns instead.
  const inspected = config.inspect<unknown>('budgets');
  if (inspected?.workspaceFolderValue !== undefined || inspected?.workspaceValue !== undefined) {
    budgets.forEach((budget, i) => {
      if (budget.onCap === 'warn') return;
      problems.push(`${SECTION}.budgets[${i}].onCap "${budget.onCap}" is honoured only in user settings, not in a workspace's; it warns instead`);
      budget.onCap = 'warn';
    });
  }

  const weekStart = config.get<unknown>('firstDayOfWeek', 'monday');
  let weekStartsOn = 1;
  if (typeof weekStart === 'string' && WEEKDAYS.includes(weekStart)) weekStartsOn = WEEKDAYS.indexOf(weekStart);
  else problems.push(`${SECTION}.firstDayOfWeek must be a weekday name such as "monday" (got ${JSON.stringify(weekStart)}); using monday`);

  const unitSetting = config.get<unknown>('statusBar.unit', 'usd');
  let unit: 'usd' | 'tokens' = 'usd';
  if (unitSetting === 'usd' || unitSetting === 'tokens') unit = unitSetting;
  else problems.push(`${SECTION}.statusBar.unit must be "usd" or "tokens" (got ${JSON.stringify(unitSetting)}); using usd`);

  let claudeConfigDir: string | undefined;
  const dir = config.get<unknown>('claudeCode.configDir', '');
  if (typeof dir !== 'string') problems.push(`${SECTION}.claudeCode.configDir must be a folder path; ignoring it`);
  else if (dir.trim() !== '') {
    // A path setting is honoured only where the workspace is trusted (it is also machine-scoped).
    if (vscode.workspace.isTrusted) claudeConfigDir = dir.trim();
    else problems.push(`${SECTION}.claudeCode.configDir is ignored until this workspace is trusted`);
  }
  const agents = readAgents(config, problems);
  const stop = readStop(config, problems);
  return { budgets, weekStartsOn, unit, claudeConfigDir, agents, stop, problems };
}
