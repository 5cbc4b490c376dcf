// Model -> price. The bundled `@pydantic/genai-prices` table (pinned, offline) decides which price applies to a
// model on a date; user overrides win over it. calcPrice costs ~20 µs a call, far too slow for every record of a
// 1 GB scan, so the active rate card is resolved once per (model, day) and applied here.

import type { ModelPrice } from '@pydantic/genai-prices';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TokenCounts } from '../usage';
import { makeDirectory } from '../makeDirectory';

type GenaiPrices = typeof import('@pydantic/genai-prices');
let genaiPrices: GenaiPrices | undefined;

/**
 * The price table is loaded on first use: it is most of the bundle's size, and a warm start whose records are
 * already priced never needs it. (esbuild.js builds it as its own file, dist/prices.js.)
 */
function loadGenaiPrices(): GenaiPrices {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  genaiPrices ??= require('@pydantic/genai-prices') as GenaiPrices;
  return genaiPrices;
}

/** USD per million tokens. */
export interface RateCard {
  input: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
  cacheRead: number;
  output: number;
  /** Above this many input tokens (uncached + cache reads + writes), the whole request is priced at `above`. */
  tier?: { threshold: number; above: Omit<RateCard, 'tier' | 'fastMultiplier'> };
  /** Premium for `speed: "fast"` requests. */
  fastMultiplier: number;
  /**
   * Milliseconds after UTC midnight where a time-of-day price (DeepSeek's peak / off-peak windows) starts or ends:
   * such a model's price depends on the time of the request, not only its day.
   */
  dayBoundaries?: number[];
}

/** A user's price for one model, USD per million tokens. Omitted fields fall back to the bundled price. */
export interface PriceOverride {
  input?: number;
  output?: number;
  cacheWrite5m?: number;
  cacheWrite1h?: number;
  cacheRead?: number;
  fastMultiplier?: number;
}

export type PriceOverrides = Record<string, PriceOverride>;


/** Anthropic's fast mode premium, by model family (Opus 4.6 and 4.7 bill fast output at 6x). */
const FAST_MULTIPLIERS: Array<[RegExp, number]> = [[/^claude-opus-4-[6-9]/, 6]];

/**
 * Normalises the model names agents write into the names price tables use: drops Bedrock / Vertex region and
 * vendor prefixes (`us.anthropic.`), Bedrock version suffixes (`-v1:0`) and Vertex `@date` separators.
 */
export function normaliseModel(model: string): string {
  let name = model.trim().toLowerCase();
  name = name.replace(/^(?:(?:us-gov|us|eu|apac|global|jp|au)\.)?(?:anthropic\.|anthropic\/)/, '');
  name = name.replace(/-v\d+(?::\d+)?$/, '');
  name = name.replace(/@(\d{8})$/, '-$1');
  return name;
}

function providerFor(model: string): string | undefined {
  if (model.startsWith('claude')) return 'anthropic';
  if (model.startsWith('gpt') || /^o\d/.test(model) || model.startsWith('codex')) return 'openai';
  if (model.startsWith('gemini')) return 'google';
  return undefined;
}

type PriceValue = number | { base: number; tiers: Array<{ start: number; price: number }> } | undefined;

function baseOf(value: PriceValue): number | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' ? value : value.base;
}

function aboveOf(value: PriceValue, threshold: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  let price = value.base;
  for (const tier of value.tiers) if (threshold >= tier.start) price = tier.price;
  return price;
}

function rateCardOf(prices: ModelPrice, model: string): RateCard | undefined {
  const input = baseOf(prices.input_mtok as PriceValue);
  const output = baseOf(prices.output_mtok as PriceValue);
  if (input === undefined || output === undefined) return undefined;
  const cacheWrite = baseOf(prices.cache_write_mtok as PriceValue) ?? input;
  const card: RateCard = {
    input,
    output,
    cacheWrite5m: cacheWrite,
    // Where a table has no 1-hour write price, Anthropic's rule is 2x input.
    cacheWrite1h: baseOf(prices.cache_write_1h_mtok as PriceValue) ?? input * 2,
    cacheRead: baseOf(prices.cache_read_mtok as PriceValue) ?? input,
    fastMultiplier: FAST_MULTIPLIERS.find(([pattern]) => pattern.test(model))?.[1] ?? 1,
  };
  const inputTiers = typeof prices.input_mtok === 'object' ? (prices.input_mtok as { tiers: Array<{ start: number }> }).tiers : [];
  if (inputTiers.length > 0) {
    const threshold = inputTiers[0].start;
    card.tier = {
      threshold,
      above: {
        input: aboveOf(prices.input_mtok as PriceValue, threshold) ?? card.input,
        output: aboveOf(prices.output_mtok as PriceValue, threshold) ?? card.output,
        cacheWrite5m: aboveOf(prices.cache_write_mtok as PriceValue, threshold) ?? card.cacheWrite5m,
        cacheWrite1h: aboveOf(prices.cache_write_1h_mtok as PriceValue, threshold) ?? card.cacheWrite1h,
        cacheRead: aboveOf(prices.cache_read_mtok as PriceValue, threshold) ?? card.cacheRead,
      },
    };
  }
  return card;
}

function applyOverride(card: RateCard | undefined, override: PriceOverride | undefined): RateCard | undefined {
  if (!override) return card;
  const input = override.input ?? card?.input;
  const output = override.output ?? card?.output;
  if (input === undefined || output === undefined) return undefined;
  const result: RateCard = {
    input,
    output,
    cacheWrite5m: override.cacheWrite5m ?? card?.cacheWrite5m ?? input * 1.25,
    cacheWrite1h: override.cacheWrite1h ?? card?.cacheWrite1h ?? input * 2,
    cacheRead: override.cacheRead ?? card?.cacheRead ?? input * 0.1,
    fastMultiplier: override.fastMultiplier ?? card?.fastMultiplier ?? 1,
  };
  if (card?.dayBoundaries) result.dayBoundaries = card.dayBoundaries;
  // A price the user sets holds for every request size; the fields they leave to the table keep its long-context
  // tier (an override of the fast multiplier alone must not reprice 300k-token requests at the base rate).
  const above = card?.tier?.above;
  if (card?.tier && above) {
    const tiered = {
      input: override.input ?? above.input,
      output: override.output ?? above.output,
      cacheWrite5m: override.cacheWrite5m ?? above.cacheWrite5m,
      cacheWrite1h: override.cacheWrite1h ?? above.cacheWrite1h,
      cacheRead: override.cacheRead ?? above.cacheRead,
    };
    const differs = (Object.keys(tiered) as Array<keyof typeof tiered>).some((k) => tiered[k] !== result[k]);
    if (differs) result.tier = { threshold: card.tier.threshold, above: tiered };
  }
  return result;
}

const DAY_MS = 86_400_000;

const TABLE = 'genai-prices@0.1.8';
/**
 * Bump whenever the way a table answer becomes a RateCard changes (rateCardOf, FAST_MULTIPLIERS, normaliseModel,
 * which provider is asked): cached cards and stored costs made by the old rules are then made again.
 */
const RULES = 2;
const CACHE_TAG = `${TABLE};rules-${RULES}`;

/** `HH:MM:SS[.fff](Z|+HH:MM|-HH:MM)` as milliseconds after UTC midnight. */
function timeOfDayMs(text: string): number | undefined {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (!m) return undefined;
  const local = (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000;
  const zone = m[4] === 'Z' ? 0 : (m[5] === '+' ? 1 : -1) * (Number(m[6]) * 3600 + Number(m[7]) * 60) * 1000;
  return (((local - zone) % DAY_MS) + DAY_MS) % DAY_MS;
}

function dayBoundariesOf(prices: unknown): number[] | undefined {
  if (!Array.isArray(prices)) return undefined;
  const boundaries = new Set<number>();
  for (const entry of prices as Array<{ constraint?: { type?: string; start_time?: string; end_time?: string } }>) {
    const c = entry.constraint;
    if (c?.type !== 'time_of_date') continue;
    for (const t of [c.start_time, c.end_time]) {
      const ms = t === undefined ? undefined : timeOfDayMs(t);
      if (ms !== undefined && ms > 0) boundaries.add(ms);
    }
  }
  return boundaries.size > 0 ? [...boundaries].sort((a, b) => a - b) : undefined;
}

interface RateCardCache {
  table: string;
  cards: Record<string, RateCard | null>;
}

export class PriceBook {
  private readonly cards = new Map<string, Map<number, RateCard | null>>();
  /** Cards of models with time-of-day prices, by (day, segment of the day). */
  private readonly timedCards = new Map<string, Map<number, RateCard | null>>();
  private readonly overrides: Map<string, PriceOverride>;
  /** Rate cards resolved from the table on earlier runs (see persist()). */
  private stored: Record<string, RateCard | null> | null = null;
  private storedChanged = false;
  /** Changes whenever the prices this book gives could change: stored costs computed under another are redone. */
  readonly version: string;

  /**
   * `cacheFile` keeps the table's answers between runs: loading the table costs ~60 ms (more than a warm start's
   * whole scan) and its answer for a model on a day never changes for one table version.
   */
  constructor(
    overrides: PriceOverrides = {},
    private readonly cacheFile?: string,
  ) {
    this.overrides = new Map(Object.entries(overrides).map(([model, price]) => [normaliseModel(model), price]));
    this.version = `${CACHE_TAG};${JSON.stringify(Object.entries(overrides).sort())}`;
  }

  /** Writes the rate cards resolved in this run to the cache file, atomically; a failure only costs speed. */
  persist(): void {
    if (!this.cacheFile || !this.storedChanged || !this.stored) return;
    try {
      makeDirectory(path.dirname(this.cacheFile));
      const temporary = `${this.cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(temporary, JSON.stringify({ table: CACHE_TAG, cards: this.stored } satisfies RateCardCache));
      fs.renameSync(temporary, this.cacheFile);
      this.storedChanged = false;
    } catch {
      // a read-only or full disk: prices are resolved again next time
    }
  }

  private storedCards(): Record<string, RateCard | null> {
    if (this.stored) return this.stored;
    this.stored = {};
    if (this.cacheFile) {
      try {
        const data = JSON.parse(fs.readFileSync(this.cacheFile, 'utf8')) as RateCardCache;
        if (data.table === CACHE_TAG && typeof data.cards === 'object' && data.cards !== null) this.stored = data.cards;
      } catch {
        // absent or damaged: start afresh
      }
    }
    return this.stored;
  }

  /** The rates for a model on the day of `timestamp`, or undefined when nobody knows its price. */
  rates(model: string, timestamp: number): RateCard | undefined {
    const day = Math.floor(timestamp / DAY_MS);
    // Two levels of maps: no key string to build for every record of a scan.
    let byDay = this.cards.get(model);
    if (!byDay) this.cards.set(model, (byDay = new Map()));
    let card = byDay.get(day);
    if (card === undefined) {
      card = this.resolve(model, day) ?? null;
      byDay.set(day, card);
    }
    if (card !== null && card.dayBoundaries) return this.timedRates(model, timestamp, day, card.dayBoundaries);
    return card ?? undefined;
  }

  /** A model whose price changes within the day: the card of the segment of the day `timestamp` falls in. */
  private timedRates(model: string, timestamp: number, day: number, boundaries: number[]): RateCard | undefined {
    const offset = timestamp - day * DAY_MS;
    let segment = 0;
    while (segment < boundaries.length && offset >= boundaries[segment]) segment++;
    let bySegment = this.timedCards.get(model);
    if (!bySegment) this.timedCards.set(model, (bySegment = new Map()));
    const key = day * 1024 + segment;
    let card = bySegment.get(key);
    if (card === undefined) {
      const start = segment === 0 ? 0 : boundaries[segment - 1];
      const end = segment === boundaries.length ? DAY_MS : boundaries[segment];
      card = this.resolve(model, day, { segment, at: day * DAY_MS + (start + end) / 2 }) ?? null;
      bySegment.set(key, card);
    }
    return card ?? undefined;
  }

  /** USD for one request, or NaN when the model's price is unknown (never 0: unknown is not free). */
  cost(model: string, timestamp: number, tokens: TokenCounts, fast: boolean): number {
    const card = this.rates(model, timestamp);
    if (!card) return Number.NaN;
    return costWith(card, tokens, fast);
  }

  private resolve(model: string, day: number, time?: { segment: number; at: number }): RateCard | undefined {
    const name = normaliseModel(model);
    const bundled = this.bundled(name, providerFor(name), name, day, time);
    return applyOverride(bundled, this.overrides.get(name) ?? this.overrides.get(model));
  }

  private bundled(
    lookup: string,
    providerId: string | undefined,
    name: string,
    day: number,
    time?: { segment: number; at: number },
  ): RateCard | undefined {
    const stored = this.storedCards();
    const key = `${providerId ?? ''}\u0000${lookup}\u0000${day}${time ? `\u0000${time.segment}` : ''}`;
    if (key in stored) return stored[key] ?? undefined;
    // Noon of the day: the table's dated price changes take effect at UTC day boundaries. Time-of-day prices are
    // asked for at the middle of their segment of the day.
    const card = this.fromTable(lookup, providerId, name, time?.at ?? day * DAY_MS + DAY_MS / 2);
    stored[key] = card ?? null;
    this.storedChanged = true;
    return card;
  }

  private fromTable(lookup: string, providerId: string | undefined, name: string, at: number): RateCard | undefined {
    try {
      const result = loadGenaiPrices().calcPrice({ input_tokens: 1, output_tokens: 1 }, lookup, {
        ...(providerId ? { providerId } : {}),
        timestamp: new Date(at),
      });
      if (!result) return undefined;
      const card = rateCardOf(result.model_price, name);
      const boundaries = dayBoundariesOf(result.model.prices);
      if (card && boundaries) card.dayBoundaries = boundaries;
      return card;
    } catch {
      return undefined;
    }
  }
}

export function costWith(card: RateCard, tokens: TokenCounts, fast: boolean): number {
  const promptTokens = tokens.inputTokens + tokens.cacheWrite5mTokens + tokens.cacheWrite1hTokens + tokens.cacheReadTokens;
  const rates = card.tier && promptTokens > card.tier.threshold ? card.tier.above : card;
  const usd =
    (tokens.inputTokens * rates.input +
      tokens.outputTokens * rates.output +
      tokens.cacheWrite5mTokens * rates.cacheWrite5m +
      tokens.cacheWrite1hTokens * rates.cacheWrite1h +
      tokens.cacheReadTokens * rates.cacheRead) /
    1_000_000;
  // Read and multiplied on every call: a first fast-mode request deep into a scan would otherwise reach code V8 had
  // optimised without ever seeing that read, and throw that code away.
  const multiplier = card.fastMultiplier;
  return usd * (fast ? multiplier : 1);
}

/** Parses a user's override file (`{ "model": { "input": 3, "output": 15, ... } }`), naming what is wrong. */
export function parsePriceOverrides(text: string, source: string): PriceOverrides {
  let data: unknown;
  try {
    // Editors on Windows may start a UTF-8 file with a byte-order mark, which JSON does not allow.
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new Error(`${source}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new Error(`${source}: expected an object of model names to prices`);
  }
  const fields = ['input', 'output', 'cacheWrite5m', 'cacheWrite1h', 'cacheRead', 'fastMultiplier'];
  const result: PriceOverrides = {};
  for (const [model, value] of Object.entries(data as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${source}: "${model}" must be an object like {"input": 3, "output": 15} (USD per million tokens)`);
    }
    const override: PriceOverride = {};
    for (const [field, price] of Object.entries(value as Record<string, unknown>)) {
      if (!fields.includes(field)) throw new Error(`${source}: "${model}.${field}" is not one of ${fields.join(', ')}`);
      if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) {
        throw new Error(`${source}: "${model}.${field}" must be a non-negative number`);
      }
      override[field as keyof PriceOverride] = price;
    }
    result[model] = override;
  }
  return result;
}
