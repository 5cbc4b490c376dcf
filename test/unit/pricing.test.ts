// Prices: the cached rate cards must give exactly what the bundled table's own calculator gives.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calcPrice } from '@pydantic/genai-prices';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { normaliseModel, parsePriceOverrides, PriceBook } from '../../src/core/pricing/pricing';
import type { TokenCounts } from '../../src/core/usage';
import { tempDir } from './helpers';

const MODELS = [
  'claude-sonnet-4-5-20250929',
  'claude-opus-4-6',
  'claude-opus-4-1-20250805',
  'claude-haiku-4-5-20251001',
  'claude-sonnet-4-20250514',
  'claude-3-5-haiku-20241022',
];

function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** What genai-prices itself says the request costs (prompt = uncached input, cache writes and cache reads). */
function tableCost(model: string, at: number, t: TokenCounts, providerId?: string): number | undefined {
  return calcPrice(
    {
      input_tokens: t.inputTokens + t.cacheWrite5mTokens + t.cacheWrite1hTokens + t.cacheReadTokens,
      cache_write_tokens: t.cacheWrite5mTokens + t.cacheWrite1hTokens,
      cache_write_1h_tokens: t.cacheWrite1hTokens,
      cache_read_tokens: t.cacheReadTokens,
      output_tokens: t.outputTokens,
    },
    model,
    { ...(providerId ? { providerId } : {}), timestamp: new Date(at) },
  )?.total_price;
}

describe('pricing', () => {
  it('matches calcPrice on random requests, across the long-context tier boundary', () => {
    const book = new PriceBook();
    const next = random(7);
    const timestamp = Date.parse('2026-07-01T12:00:00Z');
    for (let i = 0; i < 400; i++) {
      const model = MODELS[i % MODELS.length];
      const pick = (max: number) => Math.floor(next() * max);
      // Cluster around 200k prompt tokens, where Sonnet's tier starts.
      const tokens = {
        inputTokens: pick(2000),
        cacheWrite5mTokens: pick(20000),
        cacheWrite1hTokens: pick(20000),
        cacheReadTokens: i % 3 === 0 ? 200000 - pick(40000) : pick(250000),
        outputTokens: pick(8000),
      };
      if (i === 5) Object.assign(tokens, { inputTokens: 200000, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, cacheReadTokens: 0 });
      const ours = book.cost(model, timestamp, tokens, false);
      const theirs = tableCost(model, timestamp, tokens, 'anthropic');
      assert.ok(theirs !== undefined, `calcPrice knows ${model}`);
      assert.ok(Math.abs(ours - theirs) < 1e-9, `${model} ${JSON.stringify(tokens)}: ${ours} vs ${theirs}`);
    }
  });

  it('normalises Bedrock and Vertex model ids', () => {
    assert.equal(normaliseModel('us.anthropic.claude-sonnet-4-5-20250929-v1:0'), 'claude-sonnet-4-5-20250929');
    assert.equal(normaliseModel('anthropic.claude-opus-4-1-20250805-v1:0'), 'claude-opus-4-1-20250805');
    assert.equal(normaliseModel('claude-sonnet-4-5@20250929'), 'claude-sonnet-4-5-20250929');
    const book = new PriceBook();
    const t = Date.parse('2026-07-01T12:00:00Z');
    const tokens = { inputTokens: 1000, outputTokens: 1000, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, cacheReadTokens: 0 };
    assert.equal(book.cost('us.anthropic.claude-sonnet-4-5-20250929-v1:0', t, tokens, false), book.cost('claude-sonnet-4-5-20250929', t, tokens, false));
    assert.equal(book.cost('us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0', t, tokens, false), book.cost('claude-sonnet-4-5-20250929', t, tokens, false));
  });

  it('user overrides win, per field, and price a model the table does not know', () => {
    const book = new PriceBook({ 'acme-coder': { input: 1, output: 2 }, 'claude-sonnet-4-5-20250929': { output: 100 } });
    const t = Date.parse('2026-07-01T12:00:00Z');
    const tokens = { inputTokens: 1_000_000, outputTokens: 1_000_000, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, cacheReadTokens: 0 };
    assert.equal(book.cost('acme-coder', t, tokens, false), 3);
    // 1M prompt tokens: above Sonnet 4.5's 200k threshold, so the input the user did not override stays at the
    // table's long-context rate (6); the output they set holds for every request size.
    assert.equal(book.cost('claude-sonnet-4-5-20250929', t, tokens, false), 6 + 100);
    const small = { ...tokens, inputTokens: 100_000 };
    assert.equal(book.cost('claude-sonnet-4-5-20250929', t, small, false), 0.3 + 100);
    assert.ok(Number.isNaN(new PriceBook().cost('acme-coder', t, tokens, false)), 'unknown stays unknown');
  });

  it('rejects a bad override file with a message naming the problem', () => {
    assert.throws(() => parsePriceOverrides('{', 'p.json'), /p\.json: not valid JSON/);
    assert.throws(() => parsePriceOverrides('[]', 'p.json'), /expected an object/);
    assert.throws(() => parsePriceOverrides('{"m": 3}', 'p.json'), /"m" must be an object/);
    assert.throws(() => parsePriceOverrides('{"m": {"input": -1}}', 'p.json'), /"m.input" must be a non-negative number/);
    assert.throws(() => parsePriceOverrides('{"m": {"inptu": 1}}', 'p.json'), /"m.inptu" is not one of/);
    assert.deepEqual(parsePriceOverrides('{"m": {"input": 1, "output": 2}}', 'p.json'), { m: { input: 1, output: 2 } });
  });
});

describe('rate card cache', () => {
  const tokens = { inputTokens: 100_000, outputTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, cacheReadTokens: 0 };
  const t = Date.parse('2026-07-01T12:00:00Z');
  const day = Math.floor(t / 86_400_000);

  it('keeps the table\'s answers between runs and reads them back', () => {
    const file = path.join(tempDir(), 'cache', 'rate-cards.json');
    const first = new PriceBook({}, file);
    const cost = first.cost('claude-sonnet-4-5-20250929', t, tokens, false);
    first.persist();
    const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.match(stored.table, /^genai-prices@0\.1\.8;rules-\d+$/);
    const key = `anthropic\u0000claude-sonnet-4-5-20250929\u0000${day}`;
    assert.equal(stored.cards[key].input, 3);
    // Prove the second book answers from the file: doctor it.
    stored.cards[key].input = 42;
    fs.writeFileSync(file, JSON.stringify(stored));
    assert.equal(cost, 0.3);
    assert.equal(new PriceBook({}, file).cost('claude-sonnet-4-5-20250929', t, tokens, false), 4.2);
  });

  it('ignores a cache made from another table version, or a damaged one', () => {
    const file = path.join(tempDir(), 'rate-cards.json');
    fs.writeFileSync(file, JSON.stringify({ table: 'genai-prices@0.0.1', cards: { [`claude-sonnet-4-5-20250929\u0000${day}`]: { input: 42 } } }));
    assert.equal(new PriceBook({}, file).cost('claude-sonnet-4-5-20250929', t, tokens, false), 0.3);
    fs.writeFileSync(file, '{"table": "genai-prices@0.1.8", "cards": ');
    assert.equal(new PriceBook({}, file).cost('claude-sonnet-4-5-20250929', t, tokens, false), 0.3);
  });
});

describe('pricing: time of day, overrides and the rules behind cached cards', () => {
  const M = 1_000_000;
  const plain: TokenCounts = { inputTokens: M, outputTokens: M, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, cacheReadTokens: 0 };

  it('time-of-day prices (DeepSeek off-peak and peak windows) follow the request time, not noon of its day', () => {
    const book = new PriceBook();
    for (const [model, at] of [
      ['deepseek-chat', '2026-09-10T20:00:00Z'], // off-peak (16:30-00:30 UTC): half price
      ['deepseek-chat', '2026-09-10T12:00:00Z'],
      ['deepseek-v4-pro', '2026-09-10T02:00:00Z'], // peak window (01:00-04:00 UTC): double price
      ['deepseek-v4-pro', '2026-09-10T12:00:00Z'],
    ] as const) {
      const ours = book.cost(model, Date.parse(at), plain, false);
      const theirs = tableCost(model, Date.parse(at), plain);
      assert.ok(theirs !== undefined);
      assert.ok(Math.abs(ours - theirs) < 1e-9, `${model} at ${at}: ours ${ours}, table ${theirs}`);
    }
  });

  it('an override of one field keeps the long-context tier of the fields it does not set', () => {
    const model = 'claude-sonnet-4-5-20250929';
    const at = Date.parse('2026-09-10T12:00:00Z');
    // 300k prompt: above Sonnet 4.5's 200k threshold.
    const long: TokenCounts = { inputTokens: 300_000, outputTokens: 10_000, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, cacheReadTokens: 0 };
    const bundled = new PriceBook().cost(model, at, long, false);
    const overridden = new PriceBook({ [model]: { fastMultiplier: 2 } }).cost(model, at, long, false);
    assert.ok(Math.abs(bundled - overridden) < 1e-9, `bundled ${bundled}, with an unrelated override ${overridden}`);
  });

  it('a rate-card cache (and a ledger) written under other pricing rules is not trusted', () => {
    const file = path.join(tempDir(), 'rate-cards.json');
    const at = Date.parse('2026-09-10T12:00:00Z');
    const day = Math.floor(at / 86_400_000);
    const tokens: TokenCounts = { inputTokens: 1000, outputTokens: 1000, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, cacheReadTokens: 0 };
    const fresh = new PriceBook().cost('claude-opus-4-6', at, tokens, true);
    // What a build with other rules (here: a fast multiplier of 2) left on disk under the table name it used.
    const stale = { input: 5, output: 25, cacheWrite5m: 6.25, cacheWrite1h: 10, cacheRead: 0.5, fastMultiplier: 2 };
    const cards = { [`claude-opus-4-6\u0000${day}`]: stale, [`anthropic\u0000claude-opus-4-6\u0000${day}`]: stale };
    fs.writeFileSync(file, JSON.stringify({ table: 'genai-prices@0.1.8', cards }));
    assert.equal(new PriceBook({}, file).cost('claude-opus-4-6', at, tokens, true), fresh, 'the stale card is not used');
    assert.notEqual(new PriceBook().version, 'genai-prices@0.1.8;[]', 'ledgers priced under the old rules are repriced');
  });

  it('the table tag names the installed genai-prices', () => {
    const installed = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'node_modules', '@pydantic', 'genai-prices', 'package.json'), 'utf8')).version;
    assert.ok(new PriceBook().version.startsWith(`genai-prices@${installed};`));
  });
});
