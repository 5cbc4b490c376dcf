// Prices: the cached rate cards must give exactly what the bundled table's own calculator gives.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calcPrice } from '@pydantic/genai-prices';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { normaliseModel, parsePriceOverrides, PriceBook } from '../../src/core/pricing/pricing';
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
      const theirs = calcPrice(
        {
          input_tokens: tokens.inputTokens + tokens.cacheWrite5mTokens + tokens.cacheWrite1hTokens + tokens.cacheReadTokens,
          cache_write_tokens: tokens.cacheWrite5mTokens + tokens.cacheWrite1hTokens,
          cache_write_1h_tokens: tokens.cacheWrite1hTokens,
          cache_read_tokens: tokens.cacheReadTokens,
          output_tokens: tokens.outputTokens,
        },
        model,
        { providerId: 'anthropic', timestamp: new Date(timestamp) },
      );
      assert.ok(theirs, `calcPrice knows ${model}`);
      assert.ok(Math.abs(ours - theirs.total_price) < 1e-9, `${model} ${JSON.stringify(tokens)}: ${ours} vs ${theirs.total_price}`);
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
  });

  it('user overrides win, per field, and price a model the table does not know', () => {
    const book = new PriceBook({ 'acme-coder': { input: 1, output: 2 }, 'claude-sonnet-4-5-20250929': { output: 100 } });
    const t = Date.parse('2026-07-01T12:00:00Z');
    const tokens = { inputTokens: 1_000_000, outputTokens: 1_000_000, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, cacheReadTokens: 0 };
    assert.equal(book.cost('acme-coder', t, tokens, false), 3);
    assert.equal(book.cost('claude-sonnet-4-5-20250929', t, tokens, false), 3 + 100);
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
    assert.equal(stored.table, 'genai-prices@0.1.8');
    assert.equal(stored.cards[`claude-sonnet-4-5-20250929\u0000${day}`].input, 3);
    // Prove the second book answers from the file: doctor it.
    stored.cards[`claude-sonnet-4-5-20250929\u0000${day}`].input = 42;
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
