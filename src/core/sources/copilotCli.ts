// GitHub Copilot CLI: `$COPILOT_HOME/session-state/<sessionId>/events.jsonl` (default `~/.copilot`), one typed
// event per line, appended. See ../shared/formats/agent-logs.md §7 (GitHub Copilot CLI) for the traps handled here.
//
// The log knows a request's output tokens as soon as it is answered (`assistant.message.outputTokens`), but its
// input, cache reads and cache writes only when the process exits cleanly: `session.shutdown` carries per-model
// totals for that process (`modelMetrics`), and a resumed session appends another shutdown for the next process.
// (`assistant.usage`, which has the exact per-call usage, is an ephemeral event that is never written to disk.)
//
// So each answered call is emitted at once with its output only, under a key of its own (the provider's
// `apiCallId`, shared by every chunk of one call). At shutdown the process's totals are spread over the calls of
// that process, model by model, and each call is emitted again under the same key with its share added: the copy
// has the same or more output and more tokens in all, so the ledger's "better copy" rule replaces the live estimate
// instead of adding to it. A model the shutdown names but no call of the process used (compaction, a sub-agent whose
// calls are not in this file) gets one record of its own.

import * as path from 'node:path';
import type { WalkOptions } from '../folderIndex';
import type { FileCursor, LineSink } from '../tail';
import { UNKNOWN_MODEL, UNKNOWN_PROJECT, type UsageEvent } from '../usage';
import { homeOf, readLines, type ReadContext, type Source, type SourceOptions, type SourceRead } from './source';

export const COPILOT_CLI = 'copilot-cli';
const KEY_PREFIX = `${COPILOT_CLI}:`;
const STATE_DIRS = ['session-state', 'history-session-state'];

/**
 * Where Copilot CLI keeps sessions: `$COPILOT_HOME` (documented: it relocates the whole `~/.copilot` folder), else
 * `~/.copilot` (`%USERPROFILE%\.copilot` on Windows). Releases up to 0.0.421 honoured `$XDG_CONFIG_HOME/.copilot`
 * (github/copilot-cli#1954), so that folder is read too when the variable is set.
 */
export function copilotHomes(options: SourceOptions): string[] {
  const home = options.env.COPILOT_HOME?.trim();
  if (home) return [path.resolve(home)];
  const homes = [path.join(homeOf(options), '.copilot')];
  const xdg = options.env.XDG_CONFIG_HOME?.trim();
  if (xdg) homes.push(path.join(xdg, '.copilot'));
  return homes;
}

export function copilotRoots(options: SourceOptions): string[] {
  const roots = copilotHomes(options).flatMap((home) => STATE_DIRS.map((dir) => path.join(home, dir)));
  return [...roots, ...(options.extraDirs ?? [])];
}

/** The session a file belongs to until its `session.start` says: the folder of `events.jsonl`, else the file name. */
export function sessionOfEventsFile(file: string): string {
  const base = path.basename(file);
  return base === 'events.jsonl' ? path.basename(path.dirname(file)) : path.basename(base, '.jsonl');
}

/** One answered call of the running process, kept until a shutdown says what it really cost. */
interface LiveCall {
  /** Dedupe key. */
  k: string;
  /** Model, when known. */
  m?: string;
  /** Output tokens (the largest seen for the call). */
  o: number;
  /** Timestamp, ms. */
  t: number;
  /** Written by a sub-agent. */
  s?: 1;
}

/** Per-file state kept in the cursor between reads (`live` as an array there). */
interface CopilotState {
  sid: string;
  cwd?: string;
  model?: string;
  /** Process boundaries seen so far (start, resume, shutdown): names the records a shutdown makes on its own. */
  b: number;
  /** The running process's calls by key, in the order they were answered. */
  live: Map<string, LiveCall>;
}

interface ModelUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/** Models appear as `openai/gpt-5.4` in some events and `gpt-5.4` in others: compare (and record) the bare name. */
export function bareModel(model: string): string {
  const slash = model.lastIndexOf('/');
  return slash >= 0 ? model.slice(slash + 1) : model;
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A count: anything but a finite, non-negative number reads as 0. */
function asCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** Splits `total` into `parts` whole shares that add up to it (the remainder goes to the last). */
function evenShares(total: number, parts: number): number[] {
  const share = Math.floor(total / parts);
  const shares = new Array<number>(parts).fill(share);
  shares[parts - 1] = total - share * (parts - 1);
  return shares;
}

// Lines worth parsing: the envelope's type is a quoted string, so these bytes are in every line we need and (as a
// whole quoted value) in no other: inside a JSON string a quote is always escaped.
const ASSISTANT_MESSAGE = Buffer.from('"assistant.message"');
const SESSION_EVENT = Buffer.from('"session.');

class CopilotEventsSink implements LineSink {
  private readonly state: CopilotState;
  /** Reading a last line that has no newline yet. */
  private partial = false;

  constructor(
    file: string,
    saved: string | undefined,
    private readonly context: ReadContext,
  ) {
    this.state = parseState(saved) ?? { sid: sessionOfEventsFile(file), b: 0, live: new Map() };
  }

  line(buf: Buffer, start: number, end: number): void {
    const slice = buf.subarray(start, end);
    if (slice.indexOf(ASSISTANT_MESSAGE) < 0 && slice.indexOf(SESSION_EVENT) < 0) return;
    let record: Record<string, unknown> | undefined;
    try {
      record = asObject(JSON.parse(slice.toString('utf8')));
    } catch {
      this.context.counts.malformedLines++;
      return;
    }
    this.take(record);
  }

  partialLine(buf: Buffer, start: number, end: number): void {
    // A last line without its newline yet stays after the cursor and is read again, whole, once the newline lands.
    // Only an answered call is taken now (its output shows at once): that is idempotent, the second read finds the
    // call by its key and emits the same record. A session event waits for its newline: a shutdown spreads totals and
    // ends the process, a start or resume begins one, and neither may happen twice.
    const slice = buf.subarray(start, end);
    if (slice.indexOf(ASSISTANT_MESSAGE) < 0) return;
    let record: Record<string, unknown> | undefined;
    try {
      record = asObject(JSON.parse(slice.toString('utf8')));
    } catch {
      return; // torn mid-write
    }
    if (record?.type !== 'assistant.message') return;
    // What it skips is counted when the whole line is read.
    this.partial = true;
    try {
      this.take(record);
    } finally {
      this.partial = false;
    }
  }

  /** Counts a line skipped as damaged or undated (once: not while reading a last line ahead of its newline). */
  private skipped(kind: 'malformedLines' | 'undatedLines'): void {
    if (!this.partial) this.context.counts[kind]++;
  }

  private take(record: Record<string, unknown> | undefined): void {
    if (!record || record.ephemeral === true) return;
    const data = asObject(record.data) ?? {};
    const timestamp = Date.parse(asString(record.timestamp) ?? '');
    switch (record.type) {
      case 'session.start':
        this.boundary();
        this.state.sid = asString(data.sessionId) ?? this.state.sid;
        this.noteContext(asObject(data.context));
        this.state.model = asString(data.selectedModel) ?? this.state.model;
        break;
      case 'session.resume':
        // A new process: calls of an earlier one that never shut down cleanly keep their live estimate, and this
        // process's shutdown must not be spread over them.
        this.boundary();
        this.noteContext(asObject(data.context));
        this.state.model = asString(data.selectedModel) ?? this.state.model;
        break;
      case 'session.context_changed':
        this.noteContext(data);
        break;
      case 'session.model_change':
        this.state.model = asString(data.newModel) ?? this.state.model;
        break;
      case 'assistant.message':
        this.answered(record, data, timestamp);
        break;
      case 'session.shutdown':
        this.shutdown(data, timestamp);
        break;
    }
  }

  oversizedLine(): void {
    this.context.counts.oversizedLines++;
  }

  snapshot(): string {
    return JSON.stringify({ ...this.state, live: [...this.state.live.values()] });
  }

  private boundary(): void {
    this.state.b++;
    this.state.live = new Map();
  }

  private noteContext(context: Record<string, unknown> | undefined): void {
    const cwd = asString(context?.cwd) ?? asString(context?.gitRoot);
    if (cwd) this.state.cwd = cwd;
  }

  private answered(record: Record<string, unknown>, data: Record<string, unknown>, timestamp: number): void {
    if (!Number.isFinite(timestamp)) {
      this.skipped('undatedLines');
      return;
    }
    const sidechain = asString(record.agentId) !== undefined;
    const model = asString(data.model) ?? this.state.model;
    // A sub-agent's model (a cheaper one, often) is not the session's: later main-chain calls keep theirs.
    if (asString(data.model) && !sidechain) this.state.model = model;
    // Every chunk of one API call shares its apiCallId (phased output writes several messages per call).
    const id = asString(data.apiCallId) ?? asString(data.messageId) ?? asString(record.id);
    if (!id) {
      this.skipped('malformedLines');
      return;
    }
    if (data.outputTokens !== undefined && typeof data.outputTokens !== 'number') {
      // A count of the wrong type is a damaged record, not a call that produced nothing.
      this.skipped('malformedLines');
      return;
    }
    const key = `${KEY_PREFIX}${this.state.sid}:${id}`;
    const output = asCount(data.outputTokens);
    let call = this.state.live.get(key);
    if (call) {
      call.o = Math.max(call.o, output);
    } else {
      call = { k: key, ...(model ? { m: bareModel(model) } : {}), o: output, t: timestamp, ...(sidechain ? { s: 1 as const } : {}) };
      this.state.live.set(key, call);
    }
    this.emit(call.k, call.t, call.m, { input: 0, output: call.o, cacheRead: 0, cacheWrite: 0 }, call.s === 1);
  }

  private shutdown(data: Record<string, unknown>, timestamp: number): void {
    const metrics = asObject(data.modelMetrics) ?? {};
    const usages = new Map<string, ModelUsage>();
    for (const [name, metric] of Object.entries(metrics)) {
      const usage = asObject(asObject(metric)?.usage);
      if (!usage) continue;
      const model = bareModel(name);
      const sum = usages.get(model) ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
      sum.cacheRead += asCount(usage.cacheReadTokens);
      sum.cacheWrite += asCount(usage.cacheWriteTokens);
      // `inputTokens` counts the cached part too (OpenAI's prompt_tokens); the ledger wants it apart.
      sum.input += Math.max(0, asCount(usage.inputTokens) - asCount(usage.cacheReadTokens) - asCount(usage.cacheWriteTokens));
      sum.output += asCount(usage.outputTokens);
      usages.set(model, sum);
    }
    // A call whose model was never named belongs to the only model the shutdown lists, when there is one.
    const onlyModel = usages.size === 1 ? [...usages.keys()][0] : undefined;
    const live = [...this.state.live.values()];
    const when = Number.isFinite(timestamp) ? timestamp : live.at(-1)?.t;
    const byModel = new Map<string | undefined, LiveCall[]>();
    for (const call of live) {
      const model = call.m ?? onlyModel;
      const calls = byModel.get(model);
      if (calls) calls.push(call);
      else byModel.set(model, [call]);
    }
    // Calls whose model is unknown belong to a model no other call claims: spread over them it is counted once (a
    // record of its own beside their live output counted that output twice). With several such models, the one that
    // wrote the most output is the likeliest.
    const unclaimed = byModel.get(undefined);
    if (unclaimed) {
      let owner: string | undefined;
      for (const [model, usage] of usages) {
        if (!byModel.has(model) && (owner === undefined || usage.output > usages.get(owner)!.output)) owner = model;
      }
      if (owner !== undefined) {
        byModel.set(owner, unclaimed);
        byModel.delete(undefined);
      }
    }
    let index = 0;
    for (const [model, usage] of usages) {
      const calls = byModel.get(model) ?? [];
      if (calls.length > 0) this.spread(model, usage, calls);
      else if (when !== undefined) this.emit(`${KEY_PREFIX}${this.state.sid}:shutdown:${this.state.b}:${index}:${model}`, when, model, usage, false);
      else this.context.counts.undatedLines++;
      index++;
    }
    this.boundary();
  }

  /** The process's totals for one model, shared out over its calls: each keeps its own output, at least. */
  private spread(model: string, usage: ModelUsage, calls: LiveCall[]): void {
    const n = calls.length;
    const liveOutput = calls.reduce((sum, call) => sum + call.o, 0);
    const inputs = evenShares(usage.input, n);
    const reads = evenShares(usage.cacheRead, n);
    const writes = evenShares(usage.cacheWrite, n);
    const extra = evenShares(Math.max(0, usage.output - liveOutput), n);
    calls.forEach((call, i) => {
      this.emit(call.k, call.t, model, { input: inputs[i], output: call.o + extra[i], cacheRead: reads[i], cacheWrite: writes[i] }, call.s === 1);
    });
  }

  private emit(key: string, timestamp: number, model: string | undefined, usage: ModelUsage, sidechain: boolean): void {
    const event: UsageEvent = {
      dedupeKey: key,
      requestTag: 0,
      agent: COPILOT_CLI,
      timestamp,
      sessionId: this.state.sid,
      project: this.state.cwd ?? UNKNOWN_PROJECT,
      model: model ?? UNKNOWN_MODEL,
      inputTokens: usage.input,
      outputTokens: usage.output,
      cacheWrite5mTokens: usage.cacheWrite,
      cacheWrite1hTokens: 0,
      cacheReadTokens: usage.cacheRead,
      fast: false,
      sidechain,
    };
    this.context.emit(event);
  }
}

function parseState(saved: string | undefined): CopilotState | undefined {
  if (!saved) return undefined;
  try {
    const state = JSON.parse(saved) as Omit<CopilotState, 'live'> & { live: LiveCall[] };
    if (typeof state.sid !== 'string' || !Array.isArray(state.live) || typeof state.b !== 'number') return undefined;
    return { ...state, live: new Map(state.live.map((call) => [call.k, call])) };
  } catch {
    return undefined;
  }
}

export function readCopilotEvents(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead {
  return readLines(file, previous, context, (saved) => {
    const sink = new CopilotEventsSink(file, saved, context);
    return {
      line: (buf, start, end) => sink.line(buf, start, end),
      partialLine: (buf, start, end) => sink.partialLine(buf, start, end),
      oversizedLine: () => sink.oversizedLine(),
      state: () => sink.snapshot(),
    };
  });
}

/** Session folders hold other things (checkpoints, plans, workspace.yaml); only the event logs matter. */
const WALK: WalkOptions = {
  maxDepth: 1,
  skipFolders: new Set(['checkpoints', 'files']),
  isWanted: (name) => name.endsWith('.jsonl'),
};

export const copilotCliSource: Source = {
  agent: COPILOT_CLI,
  label: 'Copilot CLI',
  roots: copilotRoots,
  walk: WALK,
  fileFor: (changed) => (changed.endsWith('.jsonl') ? changed : undefined),
  read: readCopilotEvents,
};
