// The WebAssembly Claude Code line scanner (src/core/simd/assembly/claudeLine.ts) must answer exactly what the
// JavaScript scanner answers: same kind, same field ranges, same counts, for every fixture line and for thousands of
// damaged, reordered and unusual ones. It runs on lines in the read block; the same bytes in an ordinary Buffer go
// through the JavaScript walker, which is how the two are compared here.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { claudeScannerFor } from '../../src/core/simd/claudeScanner';
import { simdBlock } from '../../src/core/simd/search';
import { newClaudeLine, scanClaudeLine, type ClaudeLine } from '../../src/core/sources/claudeCode';
import { assistantLine } from './helpers';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'claude-code');

function fixtureLines(): string[] {
  const lines: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.name.endsWith('.jsonl')) lines.push(...fs.readFileSync(full, 'utf8').split('\n').filter((l) => l.length > 0));
    }
  };
  visit(FIXTURES);
  return lines;
}

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Lines that exercise every branch: the fields in other orders, types and spacing, and damage of every kind. */
function unusualLines(): string[] {
  const base = JSON.parse(assistantLine({ messageId: 'msg_x', requestId: 'req_x', cacheWrite: 30, cacheRead: 40, output: 7, input: 3 }));
  const variants: unknown[] = [
    base,
    { ...base, type: 'user' },
    { ...base, type: 'assistantx' },
    { ...base, type: 7 },
    { ...base, isSidechain: true },
    { ...base, isSidechain: 'true' },
    { ...base, isApiErrorMessage: true },
    { ...base, costUSD: 0.25 },
    { ...base, costUSD: -1 },
    { type: 'assistant', ...base },
    { ...base, message: { ...base.message, usage: { ...base.message.usage, speed: 'fast' } } },
    { ...base, message: { ...base.message, usage: { ...base.message.usage, input_tokens: null } } },
    { ...base, message: { ...base.message, usage: { ...base.message.usage, output_tokens: 1.5 } } },
    { ...base, message: { ...base.message, usage: { ...base.message.usage, output_tokens: -4 } } },
    { ...base, message: { ...base.message, usage: { ...base.message.usage, output_tokens: '12' } } },
    { ...base, message: { ...base.message, usage: { ...base.message.usage, output_tokens: 123456789012345678901 } } },
    { ...base, message: { ...base.message, usage: { ...base.message.usage, cache_creation: { ephemeral_5m_input_tokens: 5, ephemeral_1h_input_tokens: 9 } } } },
    { ...base, message: { ...base.message, usage: { ...base.message.usage, cache_creation: { ephemeral_1h_input_tokens: 'x' } } } },
    { ...base, message: { ...base.message, usage: { ...base.message.usage, cache_creation: [] } } },
    { ...base, message: { ...base.message, usage: 'none' } },
    { ...base, message: { ...base.message, id: 17, model: null } },
    { ...base, message: { ...base.message, content: [{ type: 'text', text: 'quote " backslash \\ "usage" {[' }] } },
    { ...base, cwd: 'C:\\Users\\ana\\"quoted"', sessionId: 'é-ß-漢字', timestamp: '2026-01-02T03:04:05.678+01:00' },
    { ...base, uuid: 42, requestId: ['r'], timestamp: null, cwd: {} },
    { ...base, message: {} },
    { ...base, message: [] },
    {},
    [],
  ];
  const lines = variants.map((v) => JSON.stringify(v));
  const text = JSON.stringify(base);
  lines.push(
    JSON.stringify(base, null, 1).replace(/\n/g, ' '), // spaces everywhere JSON allows them
    JSON.stringify(base, null, '\t').replace(/\n/g, '\r'),
    `  ${text}  `,
    `${text}\r`,
    `${text} x`,
    `${text}${text}`, // two records run together
    text.replace('"type":"assistant"', '"type":"assistant","type":"user"'),
    text.replace('"type":"assistant"', '"type":"user","type":"assistant"'),
    text.replace('"output_tokens":7', '"output_tokens":7,"output_tokens":9'),
    text.replace('"usage":{', '"usage":{,'),
    text.replace('"message":{', '"message" :{'),
    text.replace('"cwd"', '"c\\u0077d"'),
    text.replace('"model":"', '"model":"\\"'),
    '{',
    '{}',
    '{"type":"assistant"}',
    '{"type":"assistant","message":{"usage":{}}}',
    '{"type":"assistant","message":{"usage":{"output_tokens":5}}',
    '{"message":{"usage":{"output_tokens":5}},"type":"assistant"',
    '"usage"',
    '<<<<<<< HEAD',
    '',
  );
  // Every prefix of a usage line (torn writes), and random single-byte damage.
  for (let cut = 0; cut <= text.length; cut += 7) lines.push(text.slice(0, cut));
  const next = random(7);
  const noise = ['"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'x', '0', 't'];
  for (let k = 0; k < 2000; k++) {
    const at = Math.floor(next() * text.length);
    const byte = noise[Math.floor(next() * noise.length)];
    lines.push(next() < 0.5 ? text.slice(0, at) + byte + text.slice(at + 1) : text.slice(0, at) + byte + text.slice(at));
  }
  return lines;
}

function fields(line: ClaudeLine): Record<string, unknown> {
  const { buf: _buf, ...rest } = line;
  return rest;
}

describe('WebAssembly Claude Code line scanner', () => {
  it('loads over the read block (so the other Claude Code tests run through it)', () => {
    const block = simdBlock();
    assert.ok(block && claudeScannerFor(block), 'the scanner should load where WebAssembly SIMD does');
  });

  it('finds the same kind, fields and counts as the JavaScript scanner on every fixture and unusual line', () => {
    const block = simdBlock()!;
    const next = random(11);
    const lines = [...fixtureLines(), ...unusualLines()];
    assert.ok(lines.length > 2000, `lines: ${lines.length}`);
    let usage = 0;
    let handedBack = 0;
    const scanner = claudeScannerFor(block)!;
    for (const text of lines) {
      const bytes = Buffer.from(text, 'utf8');
      const start = Math.floor(next() * 16);
      const end = start + bytes.length;
      // What follows the line differs run to run in a real buffer: neither scanner may look at it.
      const after = Buffer.from(next() < 0.5 ? '}{"' : '\n', 'latin1');
      block.fill(0x7d, 0, start);
      bytes.copy(block, start);
      after.copy(block, end);
      const heap = Buffer.from(block.subarray(0, end + after.length));
      const viaJs = newClaudeLine();
      const viaWasm = newClaudeLine();
      const kindJs = scanClaudeLine(heap, start, end, viaJs);
      const kindWasm = scanClaudeLine(block, start, end, viaWasm);
      if (scanner.scan(start, end) < 0) handedBack++;
      assert.equal(kindWasm, kindJs, `kind of ${JSON.stringify(text.slice(0, 300))}`);
      if (kindJs !== 2) assert.deepEqual(fields(viaWasm), fields(viaJs), `fields of ${JSON.stringify(text.slice(0, 300))}`);
      if (kindJs === 1) usage++;
    }
    assert.ok(usage > 100, `usage lines compared: ${usage}`);
    assert.ok(handedBack > 0 && handedBack < lines.length / 4, `lines handed back to the JavaScript scanner: ${handedBack}`);
  });
});

describe('the per-file context of the Claude Code reader', () => {
  // The per-line code reads and writes a transcript's context on every usage line. When each file's context had a
  // hidden class of its own (it was built with an object spread), every one of those accesses missed V8's inline
  // caches once per file: ~22,000 runtime lookups and 40 ms on the 1 GB benchmark corpus. V8 tells whether two objects
  // share a hidden class only with --allow-natives-syntax, hence the child process.
  it('has one hidden class for every file, subagent or not, once the factory is optimised', () => {
    const module = path.join(__dirname, '..', '..', 'src', 'core', 'sources', 'claudeCode.ts');
    const script = `
      import claude from ${JSON.stringify(module)};
      const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)');
      const contexts = [];
      for (let i = 0; i < 3000; i++) {
        const file = i % 3 === 0 ? '/p/proj/s' + i + '/subagents/agent-' + i + '.jsonl' : '/p/proj/s' + i + '.jsonl';
        const context = claude.transcriptContext(file, i % 2 === 0 ? undefined : '/home/dev/proj');
        context.cwd = '/home/dev/other'; // what the sink does when a line names its cwd
        contexts.push(context);
      }
      process.stdout.write(String(contexts.filter((context) => !sameMap(context, contexts[0])).length));
    `;
    const child = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, '0', 'contexts whose hidden class differs from the first one');
  });
});
