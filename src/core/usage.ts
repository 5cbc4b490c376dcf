// The one shape every agent's records are turned into: one billed model request.

/** How a cost figure was obtained. The UI says which. */
export type CostProvenance = 'reported' | 'computed' | 'estimated' | 'unknown';

export interface UsageEvent {
  /** Identity of the billed response across every file of the agent (see the source for its rule). */
  readonly dedupeKey: string;
  /**
   * A second identity that tells apart two responses sharing a `dedupeKey` (Claude Code: the request id). 0 means
   * "none given", which matches anything.
   */
  readonly requestTag: number;
  readonly agent: string;
  /** Milliseconds since the epoch, UTC. */
  readonly timestamp: number;
  readonly sessionId: string;
  /** The working directory the agent recorded, never decoded from a folder name. */
  readonly project: string;
  readonly model: string;
  /** Uncached input tokens (Anthropic semantics: excludes cache reads and writes). */
  readonly inputTokens: number;
  /** Output tokens, reasoning included. */
  readonly outputTokens: number;
  readonly cacheWrite5mTokens: number;
  readonly cacheWrite1hTokens: number;
  readonly cacheReadTokens: number;
  /** Priced at the model's fast-mode premium. */
  readonly fast: boolean;
  /** Written by a subagent / side chain rather than the main conversation. */
  readonly sidechain: boolean;
  /** A cost the agent itself wrote into its log, when it did. */
  readonly reportedCostUsd?: number;
}

export function totalTokens(event: {
  inputTokens: number;
  outputTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  cacheReadTokens: number;
}): number {
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
