// Messages between the engine worker and whoever runs it (the extension host, the CLI's live view).

import type { ScanProgress, ScanResult } from './engine';
import type { PriceOverrides } from './pricing/pricing';
import type { Report, ReportQuery } from './report';

export interface EngineWorkerOptions {
  env: Record<string, string | undefined>;
  stateDir: string | null;
  cacheDir?: string | null;
  priceOverrides?: PriceOverrides;
  query?: ReportQuery;
  /** Quiet time after a change before reading it; short, because the status bar should move within a second. */
  debounceMs?: number;
  /** A full rescan every so often catches anything the watcher missed. */
  rescanIntervalMs?: number;
  /** Whether to watch at all (false: scan once, answer queries). */
  watch?: boolean;
}

export type ToWorker =
  | { type: 'init'; options: EngineWorkerOptions }
  | { type: 'query'; query: ReportQuery }
  | { type: 'refresh' }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'snapshot'; report: Report; scan?: Omit<ScanResult, 'unreadable'> & { unreadable: number } }
  | { type: 'progress'; progress: ScanProgress }
  | { type: 'log'; message: string }
  | { type: 'error'; message: string }
  | { type: 'stopped' };
