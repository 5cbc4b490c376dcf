// The state file's layout (src/core/stateStore.ts): format 4 keeps what a start needs in a first part (numbers,
// links and names), the rest of the reading state in a second, the records in a third. Format 3 (the reading state
// as one part) and format 2 (inside the header JSON), written by earlier versions, still load.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { FolderIndex } from '../../src/core/folderIndex';
import { COLUMN_NAMES, Ledger } from '../../src/core/ledger';
import { PriceBook } from '../../src/core/pricing/pricing';
import { decodeState, encodeState, readingEnd, readingLayout, STATE_FILE } from '../../src/core/stateStore';
import type { FileCursor } from '../../src/core/tail';
import { assistantLine, claudeHome, CLI, isolatedEnv, savedColdScan, tempDir } from './helpers';
import { encodeFormat3 } from './stateFormat3';

function ledgerWith(records: number): Ledger {
  const ledger = new Ledger(new PriceBook());
  for (let i = 0; i < records; i++) {
    ledger.upsert({
      dedupeKey: `cc:msg_${i}`,
      requestTag: i,
      agent: 'claude-code',
      timestamp: Date.UTC(2026, 10, 1, 10, i),
      sessionId: `s${i % 3}`,
      project: '/home/ana/src/shop',
      model: 'claude-sonnet-4-5-20250929',
      inputTokens: i,
      outputTokens: 2 * i,
      cacheWrite5mTokens: 3,
      cacheWrite1hTokens: 0,
      cacheReadTokens: 100,
      fast: false,
      sidechain: i % 2 === 0,
    });
  }
  return ledger;
}

/** Paths and names a careless encoding would break: non-ASCII, astral characters, separators of every kind. */
const ODD = ['plain.jsonl', 'café-漢字.jsonl', 'emoji-😀.jsonl', 'new\nline.jsonl', 'tab\tand space.jsonl', 'nul\u0001ish.jsonl'];

function readingState(): { cursors: Map<string, FileCursor>; folders: FolderIndex } {
  const cursors = new Map<string, FileCursor>();
  ODD.forEach((name, i) => {
    cursors.set(`/logs/projects/p/${name}`, {
      offset: 1000 * i + 0.5 * (i % 2),
      size: 2 ** 40 + i,
      mtimeMs: 1_790_000_000_000.123 + i,
      ino: 2 ** 52 + i,
      tail: Buffer.from(`tail ${i}`).toString('base64'),
      context: i % 3 === 0 ? undefined : `/home/ana/src/${i % 3 === 1 ? 'shop' : 'caf\u00e9'}`,
    });
  });
  const folders = new FolderIndex([
    ['/logs/projects', 1_790_000_000_000.5, [], ['p', 'q']],
    ['/logs/projects/p', -1, [...ODD], []],
    ['codex\u0000/home/ana/.codex/sessions', 12, ['rollout-1.jsonl'], ['2026']],
    ['/logs/projects/q', 7, [], []],
  ]);
  return { cursors, folders };
}

/** Format 2 exactly as earlier versions wrote it (frozen here: this is what users' state folders hold). */
function encodeFormat2(ledger: Ledger, reading: { cursors: Map<string, FileCursor>; folders: FolderIndex }): Buffer {
  const keys = ledger.serializeKeys();
  const header = {
    format: 2,
    size: ledger.size,
    strings: ledger.strings.values,
    cursors: [...reading.cursors].map(([file, c]) =>
      c.context === undefined ? [file, c.offset, c.size, c.mtimeMs, c.ino, c.tail] : [file, c.offset, c.size, c.mtimeMs, c.ino, c.tail, c.context],
    ),
    folders: reading.folders.serialize(),
    priceVersion: ledger.prices.version,
    generation: 'old-generation',
    keysBytes: keys.length,
  };
  const headerBytes = Buffer.from(JSON.stringify(header));
  const parts: Buffer[] = [Buffer.from('AGSPEND1', 'latin1'), Buffer.alloc(4), headerBytes, keys];
  parts[1].writeUInt32LE(headerBytes.length);
  let offset = 12 + headerBytes.length + keys.length;
  for (const name of COLUMN_NAMES) {
    const padding = ((offset + 7) & ~7) - offset;
    parts.push(Buffer.alloc(padding));
    offset += padding;
    const column = ledger.columns[name];
    const bytes = Buffer.from(column.buffer, column.byteOffset, ledger.size * column.BYTES_PER_ELEMENT);
    parts.push(bytes);
    offset += bytes.length;
  }
  const body = Buffer.concat(parts);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(zlib.crc32(body) >>> 0);
  return Buffer.concat([body, trailer]);
}

/** The file's bytes in a buffer at an odd address, as a pooled or sliced buffer could be. */
function misaligned(bytes: Buffer): Buffer {
  const backing = Buffer.alloc(bytes.length + 3);
  bytes.copy(backing, 3);
  return backing.subarray(3);
}

describe('state file format', () => {
  it('round-trips records, cursors and folder listings, whatever the names hold and wherever the bytes lie', () => {
    const ledger = ledgerWith(40);
    const reading = readingState();
    const bytes = Buffer.concat(encodeState(ledger, reading, 'gen-1'));
    for (const data of [bytes, misaligned(bytes)]) {
      const loaded = decodeState(data, new PriceBook());
      assert.equal(loaded.generation, 'gen-1');
      assert.deepEqual(loaded.ledger.records(), ledger.records());
      assert.deepEqual([...loaded.cursors], [...reading.cursors]);
      assert.deepEqual(loaded.folders.serialize(), reading.folders.serialize());
    }
  });

  it('round-trips a state with empty sections: no cursors (every log deleted since), no listings, no records', () => {
    // Node's zlib.crc32(part, crc) answers 0 for a zero-length view of a zero-length buffer instead of carrying `crc`
    // on (seen on 20.20): an empty section in the middle of part one made the file read back as damaged, and the
    // records of logs deleted since were set aside with it.
    const full = readingState();
    const cases: Array<[string, Ledger, { cursors: Map<string, FileCursor>; folders: FolderIndex }]> = [
      ['records, no cursors, listings', ledgerWith(12), { cursors: new Map(), folders: full.folders }],
      ['records, no cursors, no listings', ledgerWith(12), { cursors: new Map(), folders: new FolderIndex() }],
      ['no records, cursors, no listings', ledgerWith(0), { cursors: full.cursors, folders: new FolderIndex() }],
      ['nothing at all', ledgerWith(0), { cursors: new Map(), folders: new FolderIndex() }],
    ];
    for (const [name, ledger, reading] of cases) {
      const loaded = decodeState(Buffer.concat(encodeState(ledger, reading, 'gen-empty')), new PriceBook());
      assert.deepEqual(loaded.ledger.records(), ledger.records(), name);
      assert.deepEqual([...loaded.cursors], [...reading.cursors], name);
      assert.deepEqual(loaded.folders.serialize(), reading.folders.serialize(), name);
    }
  });

  it('takes a format 3 file as written by earlier versions, whose checksum restarted after an empty section', () => {
    // What those versions wrote for records without cursors: the sum of part one from the (empty) cursor sections on.
    const ledger = ledgerWith(12);
    const reading = { cursors: new Map<string, FileCursor>(), folders: readingState().folders };
    const bytes = encodeFormat3(ledger, reading, 'gen-old');
    const headerEnd = 12 + bytes.readUInt32LE(8);
    const header = JSON.parse(bytes.toString('utf8', 12, headerEnd));
    const textEnd = readingEnd(header, headerEnd);
    const emptyCursorsStart = (headerEnd + 7) & ~7;
    bytes.writeUInt32LE(zlib.crc32(bytes.subarray(emptyCursorsStart, textEnd)) >>> 0, textEnd);
    const loaded = decodeState(bytes, new PriceBook());
    assert.deepEqual(loaded.ledger.records(), ledger.records());
    assert.deepEqual(loaded.folders.serialize(), reading.folders.serialize());
    // Through the engine's deferred load (the CLI's): no warning, and the records are there for the report.
    const stateDir = tempDir();
    fs.writeFileSync(path.join(stateDir, STATE_FILE), bytes);
    const engine = new Engine({ env: isolatedEnv(tempDir()), stateDir });
    engine.open({ deferRecords: true });
    assert.deepEqual(engine.warnings(), []);
    assert.equal(engine.report().totals.requests, 12);
    // Any other damage is still damage.
    bytes[textEnd - 1] ^= 1;
    assert.throws(() => decodeState(bytes, new PriceBook()), /checksum/);
  });

  it('reads a format 2 file whole (records, cursors, listings), and the next save writes format 4', () => {
    const ledger = ledgerWith(25);
    const reading = readingState();
    const old = encodeFormat2(ledger, reading);
    for (const data of [old, misaligned(old)]) {
      const loaded = decodeState(data, new PriceBook());
      assert.equal(loaded.generation, 'old-generation');
      assert.deepEqual(loaded.ledger.records(), ledger.records());
      assert.deepEqual([...loaded.cursors], [...reading.cursors]);
      assert.deepEqual(loaded.folders.serialize(), reading.folders.serialize());
    }
    // Through the engine: a state folder written by an earlier version keeps its records, then moves to format 4.
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript('77777777-7777-4777-8777-777777777777'), `${assistantLine({ messageId: 'new', output: 9 })}\n`);
    const stateDir = tempDir();
    fs.writeFileSync(path.join(stateDir, STATE_FILE), old);
    const engine = new Engine({ env: isolatedEnv(configDir), stateDir });
    engine.open();
    assert.deepEqual(engine.warnings(), [], 'an older file is not "damaged"');
    engine.scan();
    engine.save();
    assert.equal(engine.report().totals.requests, 26);
    const saved = fs.readFileSync(path.join(stateDir, STATE_FILE));
    const headerLength = saved.readUInt32LE(8);
    assert.equal(JSON.parse(saved.toString('utf8', 12, 12 + headerLength)).format, 4);
    assert.equal(decodeState(saved, new PriceBook()).ledger.size, 26);
  });

  it('a file whose counts do not match its text is refused as damaged, even with valid checksums (formats 3 and 4)', () => {
    const formats: Array<[number, Buffer]> = [
      [3, encodeFormat3(ledgerWith(5), readingState(), 'gen-1')],
      [4, Buffer.concat(encodeState(ledgerWith(5), readingState(), 'gen-1'))],
    ];
    for (const [format, bytes] of formats) {
      const headerLength = bytes.readUInt32LE(8);
      const header = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength));
      assert.equal(header.format, format);
      const changes: Array<Record<string, number>> = [{ nameCount: header.nameCount - 1 }, { cursorCount: header.cursorCount - 1 }, { folderCount: 0 }];
      if (format === 3) changes.push({ textBytes: header.textBytes - 1 });
      else changes.push({ namesBytes: header.namesBytes - 1 }, { restBytes: header.restBytes - 1 }, { contextCount: header.contextCount + 1 });
      for (const change of changes) {
        const what = `format ${format}, ${JSON.stringify(change)}`;
        // Same header length (padded with spaces JSON ignores), so that every section stays where it was.
        let edited = JSON.stringify({ ...header, ...change });
        assert.ok(edited.length <= headerLength);
        edited = edited.padEnd(headerLength, ' ');
        const file = Buffer.concat([bytes.subarray(0, 12), Buffer.from(edited), bytes.subarray(12 + headerLength)]);
        // Damaged counts alone are caught by a checksum.
        assert.throws(() => decodeState(file, new PriceBook()), /checksum|run past|do not match|past the end|shorter|points past/, what);
        // With the checksums forged where the damaged counts say each part ends, the counts themselves are checked.
        const layout = readingLayout({ ...header, ...change }, 12 + headerLength);
        file.writeUInt32LE(zlib.crc32(file.subarray(0, layout.oneEnd)) >>> 0, layout.oneEnd);
        if (format === 4) file.writeUInt32LE(zlib.crc32(file.subarray(layout.oneEnd + 4, layout.twoEnd)) >>> 0, layout.twoEnd);
        assert.equal(readingEnd({ ...header, ...change }, 12 + headerLength), layout.twoEnd);
        assert.throws(() => decodeState(file, new PriceBook()), /run past|do not match|past the end|points past/, `${what}, checksums forged`);
      }
    }
  });
});

describe('a state file from a newer version', () => {
  it('is left in place and never written over (its records may be all that is left of deleted logs), eager or deferred', () => {
    for (const deferRecords of [false, true]) {
      const S = '77777777-7777-4777-8777-777777777777';
      const { configDir, transcript } = claudeHome();
      fs.writeFileSync(transcript(S), `${assistantLine({ messageId: 'm1', output: 5, sessionId: S })}\n`);
      const env = isolatedEnv(configDir);
      const stateDir = savedColdScan(env);
      const file = path.join(stateDir, STATE_FILE);
      // The same file as a later format would write it (same length: one digit of the header changes).
      const bytes = fs.readFileSync(file);
      const at = bytes.indexOf('"format":4');
      assert.ok(at > 0);
      bytes.write('"format":9', at, 'utf8');
      fs.writeFileSync(file, bytes);
      fs.rmSync(transcript(S)); // the log is gone: the newer file holds its only copy
      const engine = new Engine({ env, stateDir });
      engine.open({ deferRecords });
      engine.scan();
      assert.throws(() => engine.save(), /newer version of Agent Spend/);
      const warnings = engine.report().warnings.join('\n');
      assert.match(warnings, /newer version of Agent Spend \(state format 9; this one reads up to 4\)/);
      assert.deepEqual(fs.readFileSync(file), bytes, `untouched (deferRecords: ${deferRecords})`);
      assert.deepEqual(fs.readdirSync(stateDir).filter((name) => name.includes('corrupt')), [], 'nothing set aside');
    }
  });
});

describe('records read on demand (the CLI)', () => {
  const S = '88888888-8888-4888-8888-888888888888';

  function seeded(): { configDir: string; transcript: string; stateDir: string; env: NodeJS.ProcessEnv } {
    const { configDir, transcript } = claudeHome();
    const lines = Array.from({ length: 30 }, (_, i) => assistantLine({ messageId: `m${i}`, output: i + 1, sessionId: S }));
    fs.writeFileSync(transcript(S), `${lines.join('\n')}\n`);
    const env = isolatedEnv(configDir);
    return { configDir, transcript: transcript(S), stateDir: savedColdScan(env), env };
  }

  /** Flips a byte in the records' part (the last column, just before the final checksum). */
  function damageRecords(stateDir: string): void {
    const file = path.join(stateDir, STATE_FILE);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 6] ^= 0xff;
    fs.writeFileSync(file, bytes);
  }

  it('a start with nothing new never reads the records; a report reads them, and matches an eager load', () => {
    const { stateDir, env } = seeded();
    const lazy = new Engine({ env, stateDir });
    lazy.open({ deferRecords: true });
    lazy.scan();
    lazy.save();
    assert.equal(lazy.ledger.recordsPending, true, 'nothing needed the records');
    const eager = new Engine({ env, stateDir });
    eager.open();
    assert.deepEqual(lazy.report().totals, eager.report().totals);
    assert.equal(lazy.ledger.recordsPending, false);
    assert.deepEqual(lazy.ledger.records(), eager.ledger.records());
  });

  it('damaged records found when an append needs them: set aside with a warning, everything read again, nothing lost', () => {
    const { transcript, stateDir, env } = seeded();
    damageRecords(stateDir);
    fs.appendFileSync(transcript, `${assistantLine({ messageId: 'late', output: 1000, sessionId: S })}\n`);
    const engine = new Engine({ env, stateDir });
    engine.open({ deferRecords: true });
    assert.deepEqual(engine.warnings(), [], 'part one is intact');
    engine.scan();
    assert.match(engine.warnings().join('\n'), /damaged.*records/);
    assert.equal(engine.report().totals.requests, 31);
    assert.equal(engine.report().totals.outputTokens, 1000 + (30 * 31) / 2);
    engine.save();
    assert.ok(fs.readdirSync(stateDir).some((f) => f.includes('.corrupt-')), 'the damaged file is kept aside');
    const again = new Engine({ env, stateDir });
    again.open();
    assert.equal(again.report().totals.requests, 31);
  });

  it('the CLI reports whole when damaged records are found only for its report', () => {
    const { stateDir, env } = seeded();
    damageRecords(stateDir);
    const run = spawnSync(process.execPath, [CLI, 'report', '--json', '--by', 'model', '--state-dir', stateDir], {
      env: { PATH: process.env.PATH, ...env },
      encoding: 'utf8',
      cwd: tempDir(),
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /state file was damaged/);
    const report = JSON.parse(run.stdout) as { totals: { requests: number; outputTokens: number } };
    assert.equal(report.totals.requests, 30, run.stderr);
    assert.equal(report.totals.outputTokens, (30 * 31) / 2);
  });
});
