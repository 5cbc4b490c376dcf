// A helper thread for large scans: reads the transcripts it is given and sends their events back in columns. It
// prices nothing and keeps no ledger: the engine merges its events exactly as if it had read them itself.

import { parentPort } from 'node:worker_threads';
import { EventBatchBuilder } from './eventBatch';
import { readTranscript } from './readTranscript';
import { newReadCounts } from './sources/claudeCode';
import type { FileCursor, TailOptions } from './tail';

export interface ScanWorkerInput {
  files: Array<{ file: string; previous?: FileCursor }>;
  tail?: TailOptions;
}

// The engine starts this thread before it knows the files (so that start-up overlaps its stat pass), then sends them.
parentPort!.once('message', (input: ScanWorkerInput) => {
  const started = performance.now();
  const batch = new EventBatchBuilder();
  const counts = newReadCounts();
  const reads = input.files.map(({ file, previous }) => readTranscript(file, previous, (event) => batch.push(event), counts, input.tail));
  const events = batch.finish();
  parentPort!.postMessage({ reads, counts, events, busyMs: performance.now() - started }, [
    events.nums.buffer as ArrayBuffer,
    events.refs.buffer as ArrayBuffer,
    events.flags.buffer as ArrayBuffer,
  ]);
  parentPort!.close();
});
