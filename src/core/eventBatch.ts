// Usage events in columns, for handing a scan worker's results to the engine in one transfer (typed arrays move
// without copying; a few hundred thousand small objects would be cloned one by one).

import type { UsageEvent } from './usage';

const NUMS = 8; // timestamp, input, output, cacheWrite5m, cacheWrite1h, cacheRead, reportedCost (NaN: none), requestTag
const REFS = 4; // agent, session, project, model (indices into strings)
const FLAG_FAST = 1;
const FLAG_SIDECHAIN = 2;

export interface EventBatch {
  count: number;
  keys: string[];
  strings: string[];
  nums: Float64Array;
  refs: Int32Array;
  flags: Uint8Array;
}

export class EventBatchBuilder {
  private count = 0;
  private readonly keys: string[] = [];
  private readonly strings: string[] = [];
  private readonly stringIds = new Map<string, number>();
  private nums = new Float64Array(NUMS * 1024);
  private refs = new Int32Array(REFS * 1024);
  private flags = new Uint8Array(1024);

  private id(text: string): number {
    let id = this.stringIds.get(text);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(text);
      this.stringIds.set(text, id);
    }
    return id;
  }

  push(event: UsageEvent): void {
    if (this.count === this.flags.length) {
      const grow = <T extends Float64Array | Int32Array | Uint8Array>(array: T, make: (n: number) => T): T => {
        const next = make(array.length * 2);
        next.set(array);
        return next;
      };
      this.nums = grow(this.nums, (n) => new Float64Array(n));
      this.refs = grow(this.refs, (n) => new Int32Array(n));
      this.flags = grow(this.flags, (n) => new Uint8Array(n));
    }
    const i = this.count++;
    this.keys.push(event.dedupeKey);
    const n = i * NUMS;
    this.nums[n] = event.timestamp;
    this.nums[n + 1] = event.inputTokens;
    this.nums[n + 2] = event.outputTokens;
    this.nums[n + 3] = event.cacheWrite5mTokens;
    this.nums[n + 4] = event.cacheWrite1hTokens;
    this.nums[n + 5] = event.cacheReadTokens;
    this.nums[n + 6] = event.reportedCostUsd ?? Number.NaN;
    this.nums[n + 7] = event.requestTag;
    const r = i * REFS;
    this.refs[r] = this.id(event.agent);
    this.refs[r + 1] = this.id(event.sessionId);
    this.refs[r + 2] = this.id(event.project);
    this.refs[r + 3] = this.id(event.model);
    this.flags[i] = (event.fast ? FLAG_FAST : 0) | (event.sidechain ? FLAG_SIDECHAIN : 0);
  }

  finish(): EventBatch {
    return {
      count: this.count,
      keys: this.keys,
      strings: this.strings,
      nums: this.nums.slice(0, this.count * NUMS),
      refs: this.refs.slice(0, this.count * REFS),
      flags: this.flags.slice(0, this.count),
    };
  }
}

export function forEachEvent(batch: EventBatch, visit: (event: UsageEvent) => void): void {
  const { nums, refs, flags, strings } = batch;
  for (let i = 0; i < batch.count; i++) {
    const n = i * NUMS;
    const r = i * REFS;
    const reported = nums[n + 6];
    visit({
      dedupeKey: batch.keys[i],
      requestTag: nums[n + 7],
      agent: strings[refs[r]],
      timestamp: nums[n],
      sessionId: strings[refs[r + 1]],
      project: strings[refs[r + 2]],
      model: strings[refs[r + 3]],
      inputTokens: nums[n + 1],
      outputTokens: nums[n + 2],
      cacheWrite5mTokens: nums[n + 3],
      cacheWrite1hTokens: nums[n + 4],
      cacheReadTokens: nums[n + 5],
      fast: (flags[i] & FLAG_FAST) !== 0,
      sidechain: (flags[i] & FLAG_SIDECHAIN) !== 0,
      reportedCostUsd: Number.isNaN(reported) ? undefined : reported,
    });
  }
}
