// Numbers as every surface shows them (CLI tables, status bar, breakdown webview): one definition, so that the
// same spend reads the same everywhere. Pure; imported by the Node bundles and the browser bundle alike.

import type { Totals } from '../core/report';

/** `$0.42`, `$12.40`, `$140`, `$1,240`. */
export function usd(value: number): string {
  if (value >= 1000) return `$${Math.round(value).toLocaleString('en-US')}`;
  if (value >= 100) return `$${value.toFixed(0)}`;
  // Rounded to cents, a spend that is not nothing would read as free.
  if (value > 0 && value < 0.005) return '<$0.01';
  return `$${value.toFixed(2)}`;
}

/** `950`, `12.3k`, `4.5M`, `1.2B`. */
export function tokens(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(1)}B`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return String(Math.round(value));
}

/** A total's cost: `$1.23`, `$1.23+?` when some requests could not be priced, `?` when none could. */
export function costText(totals: Pick<Totals, 'costUsd' | 'unpricedRequests'>): string {
  if (totals.costUsd === null) return '?';
  return totals.unpricedRequests > 0 ? `${usd(totals.costUsd)}+?` : usd(totals.costUsd);
}
