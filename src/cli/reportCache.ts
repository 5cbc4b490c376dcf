// The last `report --json` output, kept beside the state file. Scripts and status lines run `agent-spend report
// --json` again and again while nothing has changed; when the ledger is the one the cached report was built from
// (same state generation) and the question is the same (query, time zone, prices, warnings, version), the cached
// bytes are printed with a fresh `generatedAt`, skipping aggregation and serialisation.
//
// The file is only a cache: it is written atomically (temporary file, then rename) without fsync, checked by its
// length, and anything unexpected in it (another version, a truncated write) is a miss that rewrites it.
// Layout: the key (one line of JSON), the body's length in bytes (one line), then the body: the report's JSON with
// `"generatedAt":""`.

import * as fs from 'node:fs';
import * as path from 'node:path';

const FILE = 'report-cache.txt';
const NEWLINE = 0x0a;
const GENERATED_AT_SLOT = Buffer.from('"generatedAt":""');

/** What the cached text depends on, beside the ledger's generation: one line (JSON escapes newlines). */
export function reportCacheKey(parts: Record<string, unknown>): string {
  return JSON.stringify(parts);
}

/** The cached report's JSON bytes with `generatedAt` set to `now`, or null on any miss. */
export function readCachedReport(stateDir: string, key: string, now: Date): Buffer[] | null {
  let data: Buffer;
  try {
    data = fs.readFileSync(path.join(stateDir, FILE));
  } catch {
    return null;
  }
  const keyBytes = Buffer.from(key);
  if (data.length <= keyBytes.length || data[keyBytes.length] !== NEWLINE || !data.subarray(0, keyBytes.length).equals(keyBytes)) return null;
  const lengthEnd = data.indexOf(NEWLINE, keyBytes.length + 1);
  if (lengthEnd < 0) return null;
  const body = data.subarray(lengthEnd + 1);
  if (Number(data.toString('latin1', keyBytes.length + 1, lengthEnd)) !== body.length) return null;
  const slot = body.indexOf(GENERATED_AT_SLOT);
  if (slot < 0) return null;
  return [
    body.subarray(0, slot),
    Buffer.from(`"generatedAt":${JSON.stringify(now.toISOString())}`),
    body.subarray(slot + GENERATED_AT_SLOT.length),
  ];
}

/**
 * Stores the report whose JSON is `json` (as printed; its `generatedAt` is replaced on each read). Failures are
 * ignored: it is a cache.
 */
export function writeCachedReport(stateDir: string, key: string, report: { generatedAt: string }, json: string): void {
  // The first "generatedAt" is the report's own: it is written before the sessions, and a string inside them would
  // have its quotes escaped.
  const stamped = `"generatedAt":${JSON.stringify(report.generatedAt)}`;
  const at = json.indexOf(stamped);
  if (at < 0) return;
  const body = Buffer.from(`${json.slice(0, at)}"generatedAt":""${json.slice(at + stamped.length)}`);
  const file = path.join(stateDir, FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, Buffer.concat([Buffer.from(`${key}\n${body.length}\n`), body]));
    fs.renameSync(temporary, file);
  } catch {
    fs.rmSync(temporary, { force: true });
  }
}
