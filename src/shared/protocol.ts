// The one message protocol between the breakdown webview and the extension host. Both bundles import it.

import type { SnapshotGroups } from '../core/engineProtocol';
import type { Meter } from '../core/meter';
import type { Report } from '../core/report';

export const PERIODS = ['today', 'week', 'month', 'all'] as const;
export type Period = (typeof PERIODS)[number];

/** An agent process running in a VS Code terminal, with the session it writes when that is known without doubt. */
export interface RunningAgentView {
  pid: number;
  /** With the pid, the process's identity: a Stop request names both. */
  startTicks: number;
  agent: string;
  terminalName: string;
  cwd: string | null;
  sessionId: string | null;
  usd: number | null;
  burnPerHour: number | null;
}

/** A session Agent Spend stopped. */
export interface StoppedView {
  agent: string;
  sessionId: string | null;
  terminalName: string;
  at: number;
  spentUsd: number | null;
  reason: string;
}

/** Host -> webview. */
export type HostMessage = {
  type: 'snapshot';
  period: Period;
  report: Report;
  meter: Meter | null;
  groups: SnapshotGroups | null;
  running: RunningAgentView[];
  stopped: StoppedView[];
};

/** Webview -> host. `ready` is the handshake: the host answers with the latest snapshot. */
export type WebviewMessage =
  | { type: 'ready'; period: Period }
  | { type: 'setPeriod'; period: Period }
  | { type: 'refresh' }
  | { type: 'setBudget' }
  | { type: 'stopAgent'; pid: number; startTicks: number };

export type SortKey = 'lastAt' | 'burnRate' | 'firstAt' | 'agent' | 'project' | 'costUsd' | 'inputTokens' | 'outputTokens' | 'cacheReadTokens' | 'cacheCreationTokens' | 'requests' | 'duration';

/** What the webview keeps through getState/setState (and a window reload, via the serializer). */
export interface BreakdownState {
  period: Period;
  sortKey: SortKey;
  sortDescending: boolean;
  filter: string;
  agent: string;
  scrollY: number;
}

export const DEFAULT_STATE: BreakdownState = { period: 'month', sortKey: 'lastAt', sortDescending: true, filter: '', agent: '', scrollY: 0 };
