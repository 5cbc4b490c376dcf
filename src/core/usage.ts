// The one shape every agent's records are turned into: one billed model request. (Fields are mutable so that a
// source can fold repeated lines of one response into a single event before it reaches the ledger.)

/** What a report shows for a request whose agent recorded no model, or no working directory: one label for all. */
export const UNKNOWN_MODEL = '(unknown model)';
export const UNKNOWN_PROJECT = '(unknown project)';

/** How a cost figure was obtained. The UI says which. */
export type CostProvenance = 'reported' | 'computed' | 'estimated' | 'unknown';

/** The token counts of one request (or a sum of them), in Anthropic's partition: no count includes another. */
export interface TokenCounts {
  /** Uncached input tokens (excludes cache reads and writes). */
  inputTokens: number;
  /** Output tokens, reasoning included. */
  outputTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  cacheReadTokens: number;
}

export interface UsageEvent extends TokenCounts {
  /** Identity of the billed response across every file of the agent (see the source for its rule). */
  dedupeKey: string;
  /**
   * A second identity that tells apart two responses sharing a `dedupeKey` (Claude Code: the request id). 0 means
   * "none given", which matches anything.
   */
  requestTag: number;
  agent: string;
  /** Milliseconds since the epoch, UTC. */
  timestamp: number;
  sessionId: string;
  /** The working directory the agent recorded, never decoded from a folder name. */
  project: string;
  model: string;
  /** Priced at the model's fast-mode premium. */
  fast: boolean;
  /** Written by a subagent / side chain rather than the main conversation. */
  sidechain: boolean;
  /** A cost the agent itself wrote into its log, when it did. */
  reportedCostUsd?: number;
  /**
   * This copy says where the request belongs as the source now knows it (Cline 4.x: read with the session index): with
   * the same figures it replaces the stored copy's session, project, model and side-chain flag instead of being kept out.
   */
  reattribute?: boolean;
}

export function totalTokens(event: TokenCounts): number {
  return (
    event.inputTokens + event.outputTokens + event.cacheWrite5mTokens + event.cacheWrite1hTokens + event.cacheReadTokens
  );
}

/** A stable 31-bit FNV-1a hash, used to compare secondary ids without storing them. 0 is reserved for "none". */
export function tagOf(text: string | undefined): number {
  if (!text) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 1) || 1;
}
