// Amp: one JSON file per thread, `$AMP_DATA_DIR/threads/T-<uuid>.json` (default `~/.local/share/amp`), rewritten
// whole on every change. See ../shared/formats/agent-logs.md §7 (Amp) for the traps handled here.
//
// Usage lives in two places. Current builds put it on each assistant message (`messages[].usage`: Anthropic's
// partition, cache reads and writes apart, plus `credits`); older ones kept a ledger (`usageLedger.events[]`: input
// and output only, plus `credits`), and a thread may hold both for the same request. A ledger event names the message
// it paid for (`toMessageId`); one that does not is matched by model and token counts. Each request is emitted once,
// under the ledger event's id when there is one, with the message's split and the ledger's credits when the message
// has none.
//
// Cost: Amp bills in credits, and shows credit balances in dollars ("Individual credits: $N remaining"): a credit
// is a US dollar, so `credits` is the request's reported cost.

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WalkOptions } from '../folderIndex';
import type { FileCursor } from '../tail';
import type { UsageEvent } from '../usage';
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

function ledgerRequests(thread: Json, threadId: string, fallbackTime: number | undefined): Array<AmpRequest & { toMessageId?: number }> {
  const events = asObject(thread.usageLedger)?.events;
  if (!Array.isArray(events)) return [];
  const requests: Array<AmpRequest & { toMessageId?: number }> = [];
  events.forEach((item, index) => {
    const event = asObject(item);
    if (!event) return;
    const tokens = asObject(event.tokens) ?? {};
    const parsed = Date.parse(asString(event.timestamp) ?? '');
    const id = asString(event.id);
    requests.push({
      key: id ? `${AMP}:e:${id}` : `${AMP}:${threadId}:e${index}`,
      toMessageId: typeof event.toMessageId === 'number' ? event.toMessageId : undefined,
      model: asString(event.model),
      input: asCount(tokens.input),
      output: asCount(tokens.output),
      cacheRead: asCount(tokens.cacheReadInputTokens),
      cacheWrite: asCount(tokens.cacheCreationInputTokens),
      credits: asCredits(event.credits),
      timestamp: Number.isFinite(parsed) ? parsed : (fallbackTime ?? Number.NaN),
      hasSplit: false,
    });
  });
  return requests;
}

/**
 * Every request of a thread, once: a ledger event that pays for a message with usage is folded into it (by
 * `toMessageId`, else by equal model and counts); the rest stand alone.
 */
export function threadRequests(thread: Json, threadId: string): AmpRequest[] {
  const created = typeof thread.created === 'number' && thread.created > 0 ? thread.created : undefined;
  const messages = messageRequests(thread, threadId, created);
  const ledger = ledgerRequests(thread, threadId, created);
  const taken = new Set<AmpRequest>();
  const standalone: AmpRequest[] = [];
  for (const event of ledger) {
    const match =
      messages.find((m) => !taken.has(m) && event.toMessageId !== undefined && m.messageId === event.toMessageId) ??
      messages.find((m) => !taken.has(m) && m.model === event.model && m.input === event.input && m.output === event.output);
    if (!match) {
      standalone.push(event);
      continue;
    }
    taken.add(match);
    // The ledger's event id names the request for good: the message's usage may be written in a later save.
    match.key = event.key;
    match.credits ??= event.credits;
    match.model ??= event.model;
    if (!Number.isFinite(match.timestamp)) match.timestamp = event.timestamp;
  }
  return [...messages, ...standalone];
}

function eventOf(request: AmpRequest, sessionId: string, project: string): UsageEvent {
  return {
    dedupeKey: request.key,
    requestTag: 0,
    agent: AMP,
    timestamp: request.timestamp,
    sessionId,
    project,
    model: request.model ?? '(unknown model)',
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

export function parseThread(file: string, data: Buffer, context: ReadContext): string | undefined {
  const parsed = parseJson(data);
  const thread = parsed.ok ? asObject(parsed.value) : undefined;
  if (!thread) {
    context.counts.malformedLines++;
    // Caught mid-rewrite (or damaged): the next rewrite changes its size or mtime, and it is read again then.
    context.log(`${file}: not a whole JSON thread (${parsed.ok ? 'not an object' : parsed.error}); read again at its next change`);
    return undefined;
  }
  const threadId = asString(thread.id) ?? path.basename(file, '.json');
  const project = projectOfThread(thread) ?? '(unknown project)';
  for (const request of threadRequests(thread, threadId)) {
    if (!Number.isFinite(request.timestamp)) {
      context.counts.undatedLines++;
      continue;
    }
    context.emit(eventOf(request, threadId, project));
  }
  return undefined;
}

export function readThread(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead {
  return readWholeFile(file, previous, context, (data) => parseThread(file, data, context));
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
