// Messages between the engine worker and whoever runs it (the extension host, the CLI's live view).

import type { AgentSettings, ScanProgress, ScanResult } from './engine';
import type { Meter, MeterOptions } from './meter';
import type { PriceOverrides } from './pricing/pricing';
import type { GroupSummary, Report, ReportQuery } from './report';

export interface EngineWorkerOptions {
  env: Record<string, string | undefined>;
  stateDir: string | null;
  cacheDir?: string | null;
  priceOverrides?: PriceOverrides;
  /** Per agent id: enabled, extra folders. */
  agents?: Record<string, AgentSettings>;
  /** For agents that log inside projects (Aider, Crush). */
  workspaceFolders?: string[];
  query?: ReportQuery;
  /** Quiet time after a change before reading it; short, because the status bar should move within a second. */
  debounceMs?: number;
  /** A full rescan every so often catches anything the watcher missed. */
  rescanIntervalMs?: number;
  /** How often log folders are checked for appearing (or vanishing, to be watched again once back). */
  rootPollMs?: number;
  /** Whether to watch at all (false: scan once, answer queries). */
  watch?: boolean;
  /** Budgets and windows for the meter; without them snapshots carry no meter. */
  meter?: MeterOptions;
  /** Snapshots are re-sent this often even with no change: windows roll over and burn rates decay. */
  tickMs?: number;
  /** Also send the report grouped by model, project and day (for the breakdown view). */
  groups?: boolean;
}

/** The report for the current query grouped three more ways, for the breakdown view. */
export interface SnapshotGroups {
  byModel: GroupSummary[];
  byProject: GroupSummary[];
  byDay: GroupSummary[];
  byHour: GroupSummary[];
  byAgent: GroupSummary[];
}

export type ToWorker =
  | { type: 'init'; options: EngineWorkerOptions }
  | { type: 'query'; query: ReportQuery }
  | { type: 'meter'; meter: MeterOptions }
  | { type: 'refresh' }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'snapshot'; report: Report; meter?: Meter; groups?: SnapshotGroups; scan?: Omit<ScanResult, 'unreadable'> & { unreadable: number } }
  | { type: 'progress'; progress: ScanProgress }
  | { type: 'log'; message: string }
  | { type: 'error'; message: string }
  | { type: 'stopped' };
