// The SIMD needle search (src/core/simd): same answers as Buffer.indexOf everywhere, and the same ledger either way.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { BLOCK_BYTES, indexOfNeedle, probesOf, setSimdEnabled, simdBlock } from '../../src/core/simd/search';
import { tailFile } from '../../src/core/tail';
import { assistantLine, claudeHome, engineFor } from './helpers';

/** A deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** JSON-ish text over a small alphabet, so that partial matches of the needle are frequent. */
function haystackText(next: () => number, length: number, needle: string): string {
  const alphabet = ['"', 'u', 's', 'a', 'g', 'e', ':', '{', '\\', 'x', '"usag', 'sage"', '"u', '\n'];
  let text = '';
  while (text.length < length) text += next() < 0.004 ? needle : alphabet[Math.floor(next() * alphabet.length)];
  return text.slice(0, length);
}

describe('SIMD needle search', () => {
  after(() => setSimdEnabled(true));

  it('is available on this runtime (Node has WebAssembly SIMD): the fast path is what the other tests exercise', () => {
    const block = simdBlock();
    assert.ok(block, 'WebAssembly SIMD should load here');
    assert.equal(block!.length, BLOCK_BYTES);
  });

  it('the committed module is what find.wat assembles to', () => {
    const check = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'build-wasm.js'), '--check'], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  });

  it('compares the rare bytes of the needle first', () => {
    assert.deepEqual(probesOf(Buffer.from('"usage"')).sort(), [1, 4]); // u and g, not the quotes or e
    assert.deepEqual(probesOf(Buffer.from('ab')).sort(), [0, 1]);
  });

  it('finds exactly what Buffer.indexOf finds, at every offset, block edge and needle length', () => {
    const block = simdBlock()!;
    const next = random(42);
    for (const needle of ['"usage"', '"tokens"', '"usageMetadata"', 'ab', '\\"', '"usage":{"input_tokens"']) {
      const bytes = Buffer.from(needle);
      for (let round = 0; round < 60; round++) {
        const length = Math.floor(next() * 300);
        const text = Buffer.from(haystackText(next, length, needle), 'latin1');
        block.set(text, 0);
        const haystack = block.subarray(0, text.length);
        const heap = Buffer.from(text);
        for (let from = 0; from <= text.length; from += 1 + Math.floor(next() * 7)) {
          const expected = heap.indexOf(bytes, from);
          assert.equal(indexOfNeedle(haystack, bytes, from), expected, `${needle} in ${JSON.stringify(text.toString('latin1'))} from ${from}`);
          assert.equal(indexOfNeedle(heap, bytes, from), expected, 'fallback');
        }
      }
    }
  });

  it('never looks past the end it is given, even when the needle continues there', () => {
    const block = simdBlock()!;
    const needle = Buffer.from('"usage"');
    for (let end = 0; end < 80; end++) {
      block.fill(0x78, 0, 200);
      needle.copy(block, Math.max(0, end - 3)); // straddles `end`: only its first 3 bytes are inside
      assert.equal(indexOfNeedle(block.subarray(0, end), needle, 0), -1, `end ${end}`);
      needle.copy(block, Math.max(0, end - needle.length));
      const inside = end >= needle.length ? end - needle.length : -1;
      assert.equal(indexOfNeedle(block.subarray(0, end), needle, 0), inside, `end ${end}, needle just inside`);
    }
  });

  it('finds a needle in the last bytes of a full block', () => {
    const block = simdBlock()!;
    const needle = Buffer.from('"usage"');
    block.fill(0x20);
    needle.copy(block, BLOCK_BYTES - needle.length);
    assert.equal(indexOfNeedle(block, needle, 0), BLOCK_BYTES - needle.length);
    assert.equal(indexOfNeedle(block, needle, BLOCK_BYTES - needle.length + 1), -1);
  });

  it('reads the same lines with and without SIMD, whatever the read size', () => {
    const { configDir, transcript } = claudeHome();
    const S = '44444444-4444-4444-8444-444444444444';
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) {
      lines.push(assistantLine({ messageId: `m${i}`, output: i + 1 }));
      lines.push(JSON.stringify({ type: 'user', message: { role: 'user', content: 'x'.repeat((i * 37) % 500) + '\\"usage\\"' } }));
    }
    fs.writeFileSync(transcript(S), `${lines.join('\n')}\n${lines[0].slice(0, 50)}`);
    const collect = (bufferSize: number): string[] => {
      const seen: string[] = [];
      tailFile(transcript(S), undefined, {
        needle: Buffer.from('"usage"'),
        line: (buf, start, end) => seen.push(buf.toString('utf8', start, end)),
        partialLine: (buf, start, end) => seen.push(`partial:${buf.toString('utf8', start, end)}`),
      }, { bufferSize });
      return seen;
    };
    for (const bufferSize of [1024, 4096, 65536]) {
      setSimdEnabled(true);
      const fast = collect(bufferSize);
      setSimdEnabled(false);
      const slow = collect(bufferSize);
      assert.deepEqual(fast, slow, `buffer ${bufferSize}`);
      assert.equal(fast.length, 200, 'every assistant line, no user line (its "usage" is escaped), no torn line');
    }
    setSimdEnabled(true);
    const engine = engineFor(configDir);
    engine.scan();
    assert.equal(engine.report().totals.requests, 200);
  });
});
