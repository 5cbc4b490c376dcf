// Which budget notifications to show now: once per threshold per window, never again after a reload (the caller
// persists `notified`), and not while the user has snoozed that budget. Pure.

import type { BudgetState } from '../core/budget';

export interface Alert {
  /** Marks this threshold of this window as notified. */
  key: string;
  state: BudgetState;
  threshold: number;
  severity: 'warning' | 'error';
}

/**
 * The limit is part of the key: a cap raised within the window is a new cap, and crossing it must alert (and act)
 * again. Keys written before the limit was part of them (`<window>@<threshold>`) still count for their window.
 */
export function alertKey(state: BudgetState, threshold: number): string {
  return `${state.windowKey}#${state.limit}@${threshold}`;
}

function isNotified(notified: ReadonlySet<string>, state: BudgetState, threshold: number): boolean {
  return notified.has(alertKey(state, threshold)) || notified.has(`${state.windowKey}@${threshold}`);
}

/**
 * The alerts due: for each state, the highest threshold reached and not yet notified (crossing 50% and 80% in one
 * update is one notification). `snoozedUntil` maps a budget index to the time its snooze ends.
 */
export function dueAlerts(states: BudgetState[], notified: ReadonlySet<string>, snoozedUntil: ReadonlyMap<number, number>, now: number): Alert[] {
  const alerts: Alert[] = [];
  for (const state of states) {
    if ((snoozedUntil.get(state.index) ?? 0) > now) continue;
    const fresh = state.reached.filter((threshold) => !isNotified(notified, state, threshold));
    if (fresh.length === 0) continue;
    const threshold = fresh[fresh.length - 1];
    alerts.push({ key: alertKey(state, threshold), state, threshold, severity: threshold >= 1 ? 'error' : 'warning' });
  }
  return alerts;
}

/** Every key an alert for `state` settles (lower thresholds are not announced after a higher one). */
export function settledKeys(state: BudgetState): string[] {
  return state.reached.map((threshold) => alertKey(state, threshold));
}

/** Keeps only the keys of windows still current, so the stored set does not grow forever. */
export function pruneNotified(notified: Iterable<string>, states: BudgetState[]): string[] {
  const current = new Set(states.map((s) => s.windowKey));
  return [...notified].filter((key) => {
    const window = key.slice(0, key.lastIndexOf('@'));
    const hash = window.lastIndexOf('#');
    return current.has(window) || (hash >= 0 && current.has(window.slice(0, hash)));
  });
}
