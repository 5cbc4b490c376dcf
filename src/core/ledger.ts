// The ledger: one record per billed request, deduplicated across every file, never shrinking.
//
// Records live in columns (typed arrays) rather than objects: a year of heavy use is a few hundred thousand
// records, and columns make persistence a memcpy and aggregation a tight loop. The key -> row index is built
// lazily, because a warm `report` with nothing new to read never needs it.

import { KeyStore } from './keyStore';
import { PriceBook } from './pricing/pricing';
import { totalTokens, type CostProvenance, type TokenCounts, type UsageEvent } from './usage';

const FLAG_SIDECHAIN = 1;
const FLAG_FAST = 2;
const PROVENANCE_SHIFT = 2;
const PROVENANCES: CostProvenance[] = ['computed', 'reported', 'estimated', 'unknown'];

/** Interned strings: sessions, projects, models and agents repeat across thousands of records. */
export class StringTable {
  readonly values: string[];
  private readonly index = new Map<string, number>();

  constructor(values: string[] = []) {
    this.values = values;
    values.forEach((value, i) => this.index.set(value, i));
  }

  intern(value: string): number {
    let id = this.index.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.index.set(value, id);
    }
    return id;
  }
}

/**
 * The id of the value one column interned last. A record's agent, session, project and model are nearly always the
 * previous record's (one file is one session), so most records cost a pointer comparison instead of a Map lookup.
 */
class LastInterned {
  private value: string | undefined;
  private id = -1;

  constructor(private readonly table: StringTable) {}

  intern(value: string): number {
    if (value !== this.value) {
      this.id = this.table.intern(value);
      this.value = value;
    }
    return this.id;
  }
}

export interface LedgerColumns {
  timestamp: Float64Array;
  agent: Int32Array;
  session: Int32Array;
  project: Int32Array;
  model: Int32Array;
  requestTag: Int32Array;
  inputTokens: Float64Array;
  outputTokens: Float64Array;
  cacheWrite5mTokens: Float64Array;
  cacheWrite1hTokens: Float64Array;
  cacheReadTokens: Float64Array;
  /** USD; NaN when the model's price is unknown. */
  costUsd: Float64Array;
  flags: Uint8Array;
}

export const COLUMN_NAMES: Array<keyof LedgerColumns> = [
  'timestamp',
  'agent',
  'session',
  'project',
  'model',
  'requestTag',
  'inputTokens',
  'outputTokens',
  'cacheWrite5mTokens',
  'cacheWrite1hTokens',
  'cacheReadTokens',
  'costUsd',
  'flags',
];

export function allocateColumns(capacity: number): LedgerColumns {
  return {
    timestamp: new Float64Array(capacity),
    agent: new Int32Array(capacity),
    session: new Int32Array(capacity),
    project: new Int32Array(capacity),
    model: new Int32Array(capacity),
    requestTag: new Int32Array(capacity),
    inputTokens: new Float64Array(capacity),
    outputTokens: new Float64Array(capacity),
    cacheWrite5mTokens: new Float64Array(capacity),
    cacheWrite1hTokens: new Float64Array(capacity),
    cacheReadTokens: new Float64Array(capacity),
    costUsd: new Float64Array(capacity),
    flags: new Uint8Array(capacity),
  };
}

export type UpsertResult = 'added' | 'replaced' | 'kept';

/**
 * A new ledger's first capacity, small on purpose: the growth path then runs within the first requests of a cold
 * scan, while V8 still interprets append(), so that its optimised code knows it. With 1024 rows the first growth
 * came after optimisation and threw that code away (a "deopt"), costing a recompilation and time in slower code.
 */
const INITIAL_ROWS = 64;

/** One record as an object, for reports and tests. */
export interface LedgerRecord extends TokenCounts {
  key: string;
  agent: string;
  timestamp: number;
  sessionId: string;
  project: string;
  model: string;
  costUsd: number | null;
  costProvenance: CostProvenance;
  sidechain: boolean;
  fast: boolean;
}

/** The records of a ledger loaded in two steps (see StateStore: a start may not need them at all). */
export type RecordLoader = () => { columns: LedgerColumns; keysBlob: Buffer };

export class Ledger {
  readonly strings: StringTable;
  private loadedColumns: LedgerColumns;
  /** Reads the columns and keys still on disk; null once they are here. */
  private pending: RecordLoader | null = null;
  size: number;
  /** Dedupe keys by row (see KeyStore); empty while the records are still on disk. */
  private keys: KeyStore;
  /** Bumped on every change, so that consumers can tell whether a snapshot is stale. */
  revision = 0;
  private readonly agents: LastInterned;
  private readonly sessions: LastInterned;
  private readonly projects: LastInterned;
  private readonly models: LastInterned;

  constructor(
    readonly prices: PriceBook,
    init?: { strings: string[]; size: number } & ({ columns: LedgerColumns; keysBlob: Buffer } | { load: RecordLoader }),
  ) {
    this.strings = new StringTable(init?.strings ?? []);
    this.agents = new LastInterned(this.strings);
    this.sessions = new LastInterned(this.strings);
    this.projects = new LastInterned(this.strings);
    this.models = new LastInterned(this.strings);
    this.size = init?.size ?? 0;
    if (init && 'load' in init) {
      this.pending = init.load;
      this.loadedColumns = allocateColumns(0);
      this.keys = new KeyStore();
    } else {
      this.loadedColumns = init?.columns ?? allocateColumns(INITIAL_ROWS);
      this.keys = new KeyStore(init?.keysBlob, this.size);
    }
  }

  /** The columns, read from disk on first use when the ledger was loaded in two steps. */
  get columns(): LedgerColumns {
    if (this.pending) this.loadRecords();
    return this.loadedColumns;
  }

  set columns(columns: LedgerColumns) {
    this.loadedColumns = columns;
  }

  /** True while the records are still on disk (nothing has needed them yet). */
  get recordsPending(): boolean {
    return this.pending !== null;
  }

  /** Reads the records now if they are still on disk; throws what reading them throws (a damaged file). */
  loadRecords(): void {
    const pending = this.pending;
    if (!pending) return;
    const { columns, keysBlob } = pending();
    this.pending = null;
    this.loadedColumns = columns;
    this.keys = new KeyStore(keysBlob, this.size);
  }

  /** Keys joined by newlines, UTF-8, for persistence (the stored bytes again when they were never decoded). */
  serializeKeys(): Buffer {
    this.loadRecords();
    return this.keys.serialize();
  }

  key(row: number): string {
    this.loadRecords();
    return this.keys.key(row);
  }

  /**
   * Adds a request, or merges it with the one already recorded under its identity. A response written several
   * times (streamed blocks, resumed or copied sessions, subagent replays) keeps its largest figures and is never
   * summed; totals therefore never go down, whatever order files are read in.
   */
  upsert(event: UsageEvent): UpsertResult {
    this.loadRecords();
    let key = event.dedupeKey;
    let row = this.keys.find(key);
    if (row >= 0 && event.requestTag !== 0) {
      const storedTag = this.columns.requestTag[row];
      const eitherSidechain = event.sidechain || (this.columns.flags[row] & FLAG_SIDECHAIN) !== 0;
      // Two main-chain responses with one message id but different request ids are two requests (gateways that
      // reuse ids); a side chain repeating a parent's message under a new request id is a replay of it.
      if (storedTag !== 0 && storedTag !== event.requestTag && !eitherSidechain) {
        key = `${key}#${event.requestTag}`;
        row = this.keys.find(key);
      }
    }
    if (row < 0) {
      row = this.append(key, event);
      this.revision++;
      return 'added';
    }
    // Which request a row stands for (its request id, main chain or side chain) is the main chain's once a main-chain
    // line of it was read, whatever the order: a side chain's replay may carry larger figures than the response it
    // replays, but it is not that request. Were it to take the row over, a later main-chain response under the same
    // message id (a gateway's) would be folded into the replay instead of counted apart, as a cold scan (the parent's
    // file before its subagents') counts it.
    const c = this.columns;
    const tagged = event.requestTag !== 0 && c.requestTag[row] !== 0;
    const storedSidechain = (c.flags[row] & FLAG_SIDECHAIN) !== 0;
    if (!this.isBetter(event, row)) {
      if (!tagged || event.sidechain || !storedSidechain) return 'kept';
      c.requestTag[row] = event.requestTag;
      c.flags[row] &= ~FLAG_SIDECHAIN;
    } else if (tagged && event.sidechain && !storedSidechain) {
      this.write(row, { ...event, requestTag: c.requestTag[row], sidechain: false });
    } else this.write(row, event);
    this.revision++;
    return 'replaced';
  }

  /** The order that decides which copy of a response stands, independent of reading order. */
  private isBetter(event: UsageEvent, row: number): boolean {
    const c = this.columns;
    if (event.outputTokens !== c.outputTokens[row]) return event.outputTokens > c.outputTokens[row];
    const storedTotal =
      c.inputTokens[row] + c.outputTokens[row] + c.cacheWrite5mTokens[row] + c.cacheWrite1hTokens[row] + c.cacheReadTokens[row];
    const total = totalTokens(event);
    if (total !== storedTotal) return total > storedTotal;
    // A cumulative record that carries only a running cost (Crush sessions: no per-request tokens) grows by its cost.
    const reported = event.reportedCostUsd;
    if (reported !== undefined && Number.isFinite(reported) && this.provenance(row) === 'reported' && reported !== c.costUsd[row]) {
      return reported > c.costUsd[row];
    }
    const storedSidechain = (c.flags[row] & FLAG_SIDECHAIN) !== 0;
    // The same figures, re-read because what they belong to changed (a session index updated): the newer word stands.
    if (event.reattribute) {
      const s = this.strings.values;
      return (
        event.sidechain !== storedSidechain ||
        event.sessionId !== s[c.session[row]] ||
        event.project !== s[c.project[row]] ||
        event.model !== s[c.model[row]]
      );
    }
    if (event.sidechain !== storedSidechain) return !event.sidechain;
    if (event.timestamp !== c.timestamp[row]) return event.timestamp < c.timestamp[row];
    const storedSession = this.strings.values[c.session[row]];
    return event.sessionId < storedSession;
  }

  private append(key: string, event: UsageEvent): number {
    if (this.size === this.columns.timestamp.length) this.grow();
    const row = this.size++;
    this.keys.add(key);
    this.write(row, event);
    return row;
  }

  private grow(): void {
    const next = allocateColumns(Math.max(INITIAL_ROWS, this.columns.timestamp.length * 2));
    for (const name of COLUMN_NAMES) (next[name] as { set(a: ArrayLike<number>): void }).set(this.columns[name]);
    this.columns = next;
  }

  private write(row: number, event: UsageEvent): void {
    const c = this.columns;
    c.timestamp[row] = event.timestamp;
    c.agent[row] = this.agents.intern(event.agent);
    c.session[row] = this.sessions.intern(event.sessionId);
    c.project[row] = this.projects.intern(event.project);
    c.model[row] = this.models.intern(event.model);
    c.requestTag[row] = event.requestTag;
    c.inputTokens[row] = event.inputTokens;
    c.outputTokens[row] = event.outputTokens;
    c.cacheWrite5mTokens[row] = event.cacheWrite5mTokens;
    c.cacheWrite1hTokens[row] = event.cacheWrite1hTokens;
    c.cacheReadTokens[row] = event.cacheReadTokens;
    let provenance: CostProvenance;
    let cost: number;
    if (event.reportedCostUsd !== undefined && Number.isFinite(event.reportedCostUsd)) {
      cost = event.reportedCostUsd;
      provenance = 'reported';
    } else {
      cost = this.prices.cost(event.model, event.timestamp, event, event.fast);
      provenance = Number.isNaN(cost) ? 'unknown' : 'computed';
    }
    c.costUsd[row] = cost;
    c.flags[row] =
      (event.sidechain ? FLAG_SIDECHAIN : 0) |
      (event.fast ? FLAG_FAST : 0) |
      (PROVENANCES.indexOf(provenance) << PROVENANCE_SHIFT);
  }

  provenance(row: number): CostProvenance {
    return PROVENANCES[(this.columns.flags[row] >> PROVENANCE_SHIFT) & 3];
  }

  /** Recomputes every computed cost, after prices changed (new overrides, a newer table). */
  reprice(): void {
    const c = this.columns;
    const s = this.strings.values;
    for (let row = 0; row < this.size; row++) {
      const provenance = this.provenance(row);
      if (provenance === 'reported') continue;
      const cost = this.prices.cost(
        s[c.model[row]],
        c.timestamp[row],
        {
          inputTokens: c.inputTokens[row],
          outputTokens: c.outputTokens[row],
          cacheWrite5mTokens: c.cacheWrite5mTokens[row],
          cacheWrite1hTokens: c.cacheWrite1hTokens[row],
          cacheReadTokens: c.cacheReadTokens[row],
        },
        (c.flags[row] & FLAG_FAST) !== 0,
      );
      c.costUsd[row] = cost;
      const flags = c.flags[row] & (FLAG_SIDECHAIN | FLAG_FAST);
      c.flags[row] = flags | (PROVENANCES.indexOf(Number.isNaN(cost) ? 'unknown' : 'computed') << PROVENANCE_SHIFT);
    }
    this.revision++;
  }

  /** Merges another ledger's records (another process wrote the shared state meanwhile). */
  mergeFrom(other: Ledger): number {
    let changed = 0;
    for (let row = 0; row < other.size; row++) {
      const record = other.record(row);
      const requestTag = other.columns.requestTag[row];
      // Only the suffix upsert() added (`#<this row's tag>`) is taken off: other keys may end in `#<digits>` (Amp's do).
      const suffix = `#${requestTag}`;
      const result = this.upsert({
        dedupeKey: requestTag !== 0 && record.key.endsWith(suffix) ? record.key.slice(0, -suffix.length) : record.key,
        requestTag,
        agent: record.agent,
        timestamp: record.timestamp,
        sessionId: record.sessionId,
        project: record.project,
        model: record.model,
        inputTokens: record.inputTokens,
        outputTokens: record.outputTokens,
        cacheWrite5mTokens: record.cacheWrite5mTokens,
        cacheWrite1hTokens: record.cacheWrite1hTokens,
        cacheReadTokens: record.cacheReadTokens,
        fast: record.fast,
        sidechain: record.sidechain,
        reportedCostUsd: record.costProvenance === 'reported' ? (record.costUsd ?? undefined) : undefined,
      });
      if (result !== 'kept') changed++;
    }
    return changed;
  }

  record(row: number): LedgerRecord {
    const c = this.columns;
    const s = this.strings.values;
    const cost = c.costUsd[row];
    return {
      key: this.key(row),
      agent: s[c.agent[row]],
      timestamp: c.timestamp[row],
      sessionId: s[c.session[row]],
      project: s[c.project[row]],
      model: s[c.model[row]],
      inputTokens: c.inputTokens[row],
      outputTokens: c.outputTokens[row],
      cacheWrite5mTokens: c.cacheWrite5mTokens[row],
      cacheWrite1hTokens: c.cacheWrite1hTokens[row],
      cacheReadTokens: c.cacheReadTokens[row],
      costUsd: Number.isNaN(cost) ? null : cost,
      costProvenance: this.provenance(row),
      sidechain: (c.flags[row] & FLAG_SIDECHAIN) !== 0,
      fast: (c.flags[row] & FLAG_FAST) !== 0,
    };
  }

  records(): LedgerRecord[] {
    const out: LedgerRecord[] = [];
    for (let row = 0; row < this.size; row++) out.push(this.record(row));
    return out;
  }
}
