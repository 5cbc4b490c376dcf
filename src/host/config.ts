// The extension's settings, read in one place and validated: a bad value gives a message naming the setting and
// falls back, and never stops the meter. Mirrors `contributes.configuration` in package.json.

import * as vscode from 'vscode';
import { parseBudgets, type Budget } from '../core/budget';

export const SECTION = 'agentSpend';

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

export interface AgentSpendConfig {
  budgets: Budget[];
  /** 0 = Sunday. */
  weekStartsOn: number;
  unit: 'usd' | 'tokens';
  /** Claude Code's config folder, when the user points elsewhere (machine setting; ignored when untrusted). */
  claudeConfigDir: string | undefined;
  /** Problems found while reading, each naming its setting. */
  problems: string[];
}

export function readConfig(): AgentSpendConfig {
  const config = vscode.workspace.getConfiguration(SECTION);
  const problems: string[] = [];
  const { budgets, problems: budgetProblems } = parseBudgets(config.get<unknown>('budgets'), `${SECTION}.budgets`);
  problems.push(...budgetProblems);

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
  return { budgets, weekStartsOn, unit, claudeConfigDir, problems };
}
