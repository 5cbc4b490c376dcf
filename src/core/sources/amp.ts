// Amp: one JSON file per thread, `$AMP_DATA_DIR/threads/T-<uuid>.json` (default `~/.local/share/amp`), rewritten
// whole on every change. See ../shared/formats/agent-logs.md §7 (Amp) for the traps handled here.
//
// Usage lives in two places. Current builds put it on each assistant message (`messages[].usage`: Anthropic's
// partition, cache reads and writes apart, plus `credits`); older ones kept a ledger (`usageLedger.events[]`: input
// and output only, plus `credits`), and a thread may hold both for the same request, written in either order (the
// usage in one save, the ledger event in a later one, or the reverse). A ledger event names the message it paid for
// (`toMessageId`, or `messageId`); one that does not is matched by model and token counts.
//
// Identity: a request is `amp:<stamp>#<messageId>`, the moment it was answered and the message it answered. A
// message's usage gives its own stamp; a ledger event that names a message gives its own timestamp; only an event
// that names no message is known by its id. A request with both is emitted once, with the message's split and the
// ledger's credits when the message has none, under the key of whichever record was read first: the per-file state
// remembers, per ledger event (by index, run-length encoded), whether it was first counted through its message or on
// its own, so that neither a ledger event added in a later save, nor a message usage added in a later save, nor a
// message removed by an edit (its ledger event stays) counts the request again. A forked thread copies the messages
// with their usage but not the ledger: its messages have the original's keys, unless the original's ledger event was
// read before its message's usage (then the original counts it under the event's key, and the fork again).
//
// Cost: Amp bills in credits, and shows credit balances in dollars ("Individual credits: $N remaining"): a credit
// is a US dollar, so `credits` is the request's reported cost.

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WalkOptions } from '../folderIndex';
import type { FileCursor } from '../tail';
import { UNKNOWN_MODEL, UNKNOWN_PROJECT, type UsageEvent } from '../usage';
import {
  parseJson,
  platformOf,
  readWholeFile,
  userDataDir,
  xdgDataHome,
  type ReadContext,
  type Source,
  type SourceOptions,
  type SourceRead,
} from './source';

export const AMP = 'amp';

/**
 * `$AMP_DATA_DIR/threads` when set (the variable Amp and ccusage read), else `$XDG_DATA_HOME/amp/threads` (Amp is a
 * Node CLI that uses the XDG data folder on every OS). The macOS / Windows application-data folders are read as well
 * (third-party parsers look there; unverified in Amp's source).
 */
export function ampRoots(options: SourceOptions): string[] {
  const dataDir = options.env.AMP_DATA_DIR?.trim();
  const roots: string[] = [];
  if (dataDir) roots.push(path.join(path.resolve(dataDir), 'threads'));
  else {
    roots.push(path.join(xdgDataHome(options), 'amp', 'threads'));
    if (platformOf(options) !== 'linux') roots.push(path.join(userDataDir(options), 'amp', 'threads'));
  }
  return [...roots, ...(options.extraDirs ?? [])];
}

export function isThreadFile(name: string): boolean {
  const base = path.basename(name);
  return base.startsWith('T-') && base.endsWith('.json');
}

/** One request as the thread tells it, before the ledger and the messages are reconciled. */
interface AmpRequest {
  key: string;
  messageId?: number;
  model?: string;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  credits?: number;
  timestamp: number;
  /** Has its own cache split (a message's usage); a ledger event has none. */
  hasSplit: boolean;
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function asCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

function asCredits(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** `messages` is an array in every thread seen, but an object keyed by index has been reported. */
function messagesOf(thread: Json): unknown[] {
  const messages = thread.messages;
  if (Array.isArray(messages)) return messages;
  const byIndex = asObject(messages);
  return byIndex ? Object.values(byIndex) : [];
}

/** The folder the thread worked in: the first workspace tree, a `file://` URL. */
export function projectOfThread(thread: Json): string | undefined {
  const trees = asObject(asObject(thread.env)?.initial)?.trees;
  if (!Array.isArray(trees)) return undefined;
  for (const tree of trees) {
    const uri = asString(asObject(tree)?.uri);
    if (!uri) continue;
    try {
      return uri.startsWith('file:') ? fileURLToPath(uri) : uri;
    } catch {
      return uri;
    }
  }
  return undefined;
}

function messageRequests(thread: Json, threadId: string, fallbackTime: number | undefined): AmpRequest[] {
  const requests: AmpRequest[] = [];
  for (const item of messagesOf(thread)) {
    const message = asObject(item);
    const usage = asObject(message?.usage);
    if (!message || !usage || message.role !== 'assistant') continue;
    const messageId = typeof message.messageId === 'number' ? message.messageId : undefined;
    const stamp = asString(usage.timestamp);
    const parsed = stamp ? Date.parse(stamp) : Number.NaN;
    // A message's identity is the moment it was answered: a re-run after an edit reuses the message id, and a
    // forked thread copies the message with its usage (the same request, not a new one).
    const key = stamp && messageId !== undefined ? `${AMP}:${stamp}#${messageId}` : `${AMP}:${threadId}:m${messageId ?? requests.length}`;
    requests.push({
      key,
      messageId,
      model: asString(usage.model),
      input: asCount(usage.inputTokens),
      output: asCount(usage.outputTokens),
      cacheRead: asCount(usage.cacheReadInputTokens),
      cacheWrite: asCount(usage.cacheCreationInputTokens),
      credits: asCredits(usage.credits),
      timestamp: Number.isFinite(parsed) ? parsed : (fallbackTime ?? Number.NaN),
      hasSplit: true,
    });
  }
  return requests;
}

/** A ledger event, with the message it names (if any). */
interface LedgerRequest extends AmpRequest {
  names?: number;
}

/** The ledger's events in order; undefined for an entry that is not an event (it keeps its place). */
function ledgerRequests(thread: Json, threadId: string, fallbackTime: number | undefined): Array<LedgerRequest | undefined> {
  const events = asObject(thread.usageLedger)?.events;
  if (!Array.isArray(events)) return [];
  return events.map((item, index) => {
    const event = asObject(item);
    if (!event) return undefined;
    const tokens = asObject(event.tokens) ?? {};
    const stamp = asString(event.timestamp);
    const parsed = Date.parse(stamp ?? '');
    const id = asString(event.id);
    const names = typeof event.toMessageId === 'number' ? event.toMessageId : typeof event.messageId === 'number' ? event.messageId : undefined;
    // The same shape of key as a message's: the event's moment and the message it paid for; its id only when it names
    // no message.
    const key =
      names !== undefined && stamp ? `${AMP}:${stamp}#${names}` : id ? `${AMP}:e:${id}` : `${AMP}:${threadId}:e${index}`;
    return {
      key,
      names,
      model: asString(event.model),
      input: asCount(tokens.input),
      output: asCount(tokens.output),
      cacheRead: asCount(tokens.cacheReadInputTokens),
      cacheWrite: asCount(tokens.cacheCreationInputTokens),
      credits: asCredits(event.credits),
      timestamp: Number.isFinite(parsed) ? parsed : (fallbackTime ?? Number.NaN),
      hasSplit: false,
    };
  });
}

/**
 * How each ledger event of a thread was first counted: `m` through the message it was matched with (under the
 * message's key), `e` on its own (under the event's key). One letter per event, in ledger order.
 */
type FirstCount = Array<'m' | 'e'>;

/** `m12e1m40`: runs of letters with their lengths (a thread's events come in long runs of one kind). */
function encodeFirstCount(counted: FirstCount): string | undefined {
  let out = '';
  for (let i = 0; i < counted.length; ) {
    let j = i;
    while (j < counted.length && counted[j] === counted[i]) j++;
    out += `${counted[i]}${j - i}`;
    i = j;
  }
  return out || undefined;
}

function decodeFirstCount(saved: string | undefined): FirstCount {
  const counted: FirstCount = [];
  if (!saved) return counted;
  const runs = /([me])(\d+)/g;
  for (let run = runs.exec(saved); run; run = runs.exec(saved)) {
    const n = Math.min(Number(run[2]), 1_000_000 - counted.length);
    for (let k = 0; k < n; k++) counted.push(run[1] as 'm' | 'e');
  }
  return counted;
}

function sameCounts(message: AmpRequest, event: AmpRequest): boolean {
  return message.model === event.model && message.input === event.input && message.output === event.output;
}

/**
 * Every request of a thread, once: a ledger event that pays for a message with usage is folded into it (the message
 * it names, preferring equal counts, as a re-run leaves several events naming one message; an event that names none,
 * by equal model and counts); the rest stand alone. `saved` is how each event was first counted in earlier reads.
 */
export function threadRequests(thread: Json, threadId: string, saved?: string): { requests: AmpRequest[]; state: string | undefined } {
  const created = typeof thread.created === 'number' && thread.created > 0 ? thread.created : undefined;
  const messages = messageRequests(thread, threadId, created);
  const ledger = ledgerRequests(thread, threadId, created);
  let before = decodeFirstCount(saved);
  // A ledger that shrank is not the one the state describes (events are only ever appended).
  if (before.length > ledger.length) before = [];
  const counted: FirstCount = [];
  const taken = new Set<AmpRequest>();
  const standalone: AmpRequest[] = [];
  ledger.forEach((event, index) => {
    if (!event) {
      counted.push(before[index] ?? 'e');
      return;
    }
    let match: AmpRequest | undefined;
    if (event.names !== undefined) {
      const named = messages.filter((m) => !taken.has(m) && m.messageId === event.names);
      match = named.find((m) => sameCounts(m, event)) ?? named.at(-1);
    } else {
      match = messages.find((m) => !taken.has(m) && sameCounts(m, event));
    }
    const first = before[index] ?? (match ? 'm' : 'e');
    counted.push(first);
    if (!match) {
      // Counted through its message, which an edit has since removed or re-run: that record stands.
      if (first === 'e') standalone.push(event);
      return;
    }
    taken.add(match);
    // Counted on its own before its message had usage: it keeps the key it was counted under.
    if (first === 'e') match.key = event.key;
    match.credits ??= event.credits;
    match.model ??= event.model;
    if (!Number.isFinite(match.timestamp)) match.timestamp = event.timestamp;
  });
  return { requests: [...messages, ...standalone], state: encodeFirstCount(counted) };
}

function eventOf(request: AmpRequest, sessionId: string, project: string): UsageEvent {
  return {
    dedupeKey: request.key,
    requestTag: 0,
    agent: AMP,
    timestamp: request.timestamp,
    sessionId,
    project,
    model: request.model ?? UNKNOWN_MODEL,
    inputTokens: request.input,
    outputTokens: request.output,
    cacheWrite5mTokens: request.cacheWrite,
    cacheWrite1hTokens: 0,
    cacheReadTokens: request.cacheRead,
    fast: false,
    sidechain: false,
    reportedCostUsd: request.credits,
  };
}

export function parseThread(file: string, data: Buffer, context: ReadContext, previous?: string): string | undefined {
  const parsed = parseJson(data);
  const thread = parsed.ok ? asObject(parsed.value) : undefined;
  if (!thread) {
    context.counts.malformedLines++;
    // Caught mid-rewrite (or damaged): the next rewrite changes its size or mtime, and it is read again then.
    context.log(`${file}: not a whole JSON thread (${parsed.ok ? 'not an object' : parsed.error}); read again at its next change`);
    return previous;
  }
  const threadId = asString(thread.id) ?? path.basename(file, '.json');
  const project = projectOfThread(thread) ?? UNKNOWN_PROJECT;
  const { requests, state } = threadRequests(thread, threadId, previous);
  for (const request of requests) {
    if (!Number.isFinite(request.timestamp)) {
      context.counts.undatedLines++;
      continue;
    }
    context.emit(eventOf(request, threadId, project));
  }
  return state;
}

export function readThread(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead {
  return readWholeFile(file, previous, context, (data, state) => parseThread(file, data, context, state));
}

const WALK: WalkOptions = { maxDepth: 0, skipFolders: new Set(), isWanted: isThreadFile };

export const ampSource: Source = {
  agent: AMP,
  label: 'Amp',
  roots: ampRoots,
  walk: WALK,
  fileFor: (changed) => (isThreadFile(changed) ? changed : undefined),
  read: readThread,
};
