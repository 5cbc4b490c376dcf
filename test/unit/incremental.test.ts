// Incremental reading: offsets, torn lines, rewrites, huge lines and unreadable files.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { LineCompactor, tailFile } from '../../src/core/tail';
import { spawnSync } from 'node:child_process';
import { assistantLine, claudeHome, CLI, engineFor, tempDir } from './helpers';

const S = '33333333-3333-4333-8333-333333333333';

describe('incremental reading', () => {
  it('reads only new bytes: an append adds its request, nothing is counted twice', () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ messageId: 'm1', output: 5 })}\n`);
    const engine = engineFor(configDir);
    engine.scan();
    const appended = `${assistantLine({ messageId: 'm2', output: 7 })}\n`;
    fs.appendFileSync(transcript(S), appended);
    const scan = engine.scan();
    assert.equal(scan.bytesRead, Buffer.byteLength(appended));
    assert.equal(engine.report().totals.requests, 2);
    assert.equal(engine.report().totals.outputTokens, 12);
    assert.equal(engine.scan().filesRead, 0, 'an unchanged file is not opened again');
  });

  it('a torn last line waits for its newline, then counts once', () => {
    const { configDir, transcript } = claudeHome();
    const line = assistantLine({ messageId: 'm1', output: 9 });
    fs.writeFileSync(transcript(S), line.slice(0, 100));
    const engine = engineFor(configDir);
    const first = engine.scan();
    assert.equal(engine.report().totals.requests, 0);
    assert.equal(first.malformedLines, 0, 'a line still being written is not malformed');
    assert.equal(engine.cursors.get(transcript(S))!.offset, 0);
    fs.appendFileSync(transcript(S), `${line.slice(100)}\n`);
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
    assert.equal(engine.report().totals.outputTokens, 9);
  });

  it('a complete last line without a newline counts now, and not again when its newline arrives', () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), assistantLine({ messageId: 'm1', output: 9 }));
    const engine = engineFor(configDir);
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
    fs.appendFileSync(transcript(S), `\n${assistantLine({ messageId: 'm2', output: 1 })}\n`);
    engine.scan();
    assert.equal(engine.report().totals.requests, 2);
    assert.equal(engine.report().totals.outputTokens, 10);
  });

  it('a file rewritten shorter (compaction) is re-read and totals never go down', () => {
    const { configDir, transcript } = claudeHome();
    const lines = [1, 2, 3].map((i) => assistantLine({ messageId: `m${i}`, output: 10 * i }));
    fs.writeFileSync(transcript(S), `${lines.join('\n')}\n`);
    const engine = engineFor(configDir);
    engine.scan();
    assert.equal(engine.report().totals.outputTokens, 60);
    fs.writeFileSync(transcript(S), `${lines[2]}\n`); // messages vanished from the file
    const scan = engine.scan();
    assert.equal(scan.filesRewritten, 1);
    assert.equal(engine.report().totals.outputTokens, 60);
    assert.equal(engine.report().totals.requests, 3);
  });

  it('a file replaced by one of the same size or larger is detected by its fingerprint and re-deduplicated', () => {
    const { configDir, transcript } = claudeHome();
    const a = assistantLine({ messageId: 'mA', output: 10 });
    fs.writeFileSync(transcript(S), `${a}\n`);
    const engine = engineFor(configDir);
    engine.scan();
    // Rewritten in place: different first record, then more; the old offset now lands mid-line.
    const b = assistantLine({ messageId: 'mB', output: 20, cwd: '/home/ana/src/shop/with/a/longer/path' });
    fs.writeFileSync(transcript(S), `${b}\n${a}\n`);
    const scan = engine.scan();
    assert.equal(scan.filesRewritten, 1);
    assert.equal(scan.malformedLines, 0);
    assert.equal(engine.report().totals.requests, 2);
    assert.equal(engine.report().totals.outputTokens, 30);
  });

  it('a line of tens of MB is read through the compactor with bounded memory', () => {
    const { configDir, transcript } = claudeHome();
    const huge = assistantLine({
      messageId: 'm-huge',
      output: 4242,
      content: [{ type: 'tool_use', id: 't', name: 'Write', input: { file_path: '/x', content: 'z'.repeat(24 * 1024 * 1024) } }],
    });
    fs.writeFileSync(transcript(S), `${assistantLine({ messageId: 'm0', output: 1 })}\n${huge}\n${assistantLine({ messageId: 'm2', output: 2 })}\n`);
    // A 64 KiB buffer forces the streaming path (the default is 4 MiB).
    const engine = engineFor(configDir, { tail: { bufferSize: 64 * 1024, compactLimit: 256 * 1024 } });
    const scan = engine.scan();
    assert.equal(scan.oversizedLines, 0);
    assert.equal(engine.report().totals.requests, 3);
    assert.equal(engine.report().totals.outputTokens, 4245);
  });

  it('the compactor keeps structure and short strings, drops long bodies, and survives escapes across chunks', () => {
    const value = { a: 'short', b: 'q"'.repeat(3000), c: { d: [1, 2, { e: 'x\\"y' }] }, f: 'ü€𝄞' };
    const text = Buffer.from(JSON.stringify(value));
    const compactor = new LineCompactor(1 << 20, 64);
    for (let i = 0; i < text.length; i += 7) compactor.push(text, i, Math.min(text.length, i + 7));
    const out = JSON.parse(compactor.finish()!.toString('utf8'));
    assert.deepEqual(out, { ...value, b: '' });
  });

  it('a line whose structure alone exceeds the budget is reported, and the rest of the file still counts', () => {
    const { configDir, transcript } = claudeHome();
    const wide = JSON.stringify({ type: 'assistant', filler: Array.from({ length: 200000 }, (_, i) => i) });
    fs.writeFileSync(transcript(S), `${wide}\n${assistantLine({ messageId: 'm1', output: 3 })}\n`);
    const engine = engineFor(configDir, { tail: { bufferSize: 16 * 1024, compactLimit: 64 * 1024 } });
    const scan = engine.scan();
    assert.equal(scan.oversizedLines, 1);
    assert.equal(engine.report().totals.requests, 1);
    // Whatever that line held is not counted: the report says so, by file, and keeps saying it after later scans.
    const warning = /1 line too large to read \(over 64 KiB even without its long strings\) in .*\.jsonl: a request in it is not counted/;
    assert.match(engine.report().warnings.join('\n'), warning);
    fs.appendFileSync(transcript(S), `${assistantLine({ messageId: 'm2', output: 4 })}\n`);
    engine.scan();
    assert.equal(engine.report().totals.requests, 2);
    assert.match(engine.report().warnings.join('\n'), warning);
  });

  it('a torn line longer than the read buffer, cut inside a long string, still gives back the record run into it', () => {
    // A crash while Claude Code wrote a 5 MB tool result (a user line), then its next record appended to that line.
    const { configDir, transcript } = claudeHome();
    const toolResult = JSON.stringify({
      parentUuid: null,
      cwd: '/home/ana/src/shop',
      sessionId: S,
      message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'z'.repeat(5 * 1024 * 1024) }] },
      type: 'user',
      uuid: 'u1',
      timestamp: '2026-07-01T10:00:00.000Z',
    });
    const torn = toolResult.slice(0, 4.5 * 1024 * 1024); // inside the result
    fs.writeFileSync(transcript(S), `${torn}${assistantLine({ sessionId: S, messageId: 'msg_whole', input: 3, output: 7 })}\n`);
    // The default 4 MiB read buffer: this line is streamed through the compactor.
    const engine = engineFor(configDir);
    const scan = engine.scan();
    assert.equal(scan.malformedLines, 1);
    // The compactor once dropped the run-in record's opening brace with the torn string's body: nothing recovered.
    assert.equal(scan.recoveredLines, 1);
    assert.equal(engine.report().totals.requests, 1);
  });

  it('an unreadable file or folder is reported by path and skipped; the others count', () => {
    // Root reads everything, so the CLI runs as an unprivileged user when the tests run as root (as CI does).
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    const project = path.join(dir, 'projects', '-home-ana-src-shop');
    fs.mkdirSync(project, { recursive: true, mode: 0o755 });
    fs.chmodSync(path.join(dir, 'projects'), 0o755);
    fs.writeFileSync(path.join(project, `${S}.jsonl`), `${assistantLine({ messageId: 'm1' })}\n`, { mode: 0o644 });
    const locked = path.join(project, '44444444-4444-4444-8444-444444444444.jsonl');
    fs.writeFileSync(locked, `${assistantLine({ messageId: 'm2' })}\n`, { mode: 0o000 });
    const lockedDir = path.join(dir, 'projects', '-home-ana-secret');
    fs.mkdirSync(lockedDir, { mode: 0o000 });
    const asRoot = process.getuid?.() === 0;
    // The unprivileged user may not be able to reach the checkout (a 0700 temp folder): give it its own copy.
    let cli = CLI;
    if (asRoot) {
      const bin = tempDir();
      fs.chmodSync(bin, 0o755);
      for (const name of ['cli.js', 'prices.js']) fs.copyFileSync(path.join(path.dirname(CLI), name), path.join(bin, name));
      cli = path.join(bin, 'cli.js');
    }
    const run = spawnSync(process.execPath, [cli, 'report', '--json', '--no-state'], {
      env: { PATH: process.env.PATH, HOME: dir, CLAUDE_CONFIG_DIR: dir },
      encoding: 'utf8',
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).totals.requests, 1);
    assert.match(run.stderr, /could not read 2 path/);
    assert.ok(run.stderr.includes(locked), run.stderr);
    assert.ok(run.stderr.includes(lockedDir), run.stderr);
    assert.ok(run.stderr.includes(`${locked} (EACCES: permission denied, open)`), run.stderr);
  });

  it('a file or folder whose name is not valid UTF-8 is named in a warning, not skipped in silence', { skip: process.platform !== 'linux' && 'names are bytes on Linux only' }, () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ messageId: 'm1' })}\n`);
    const projects = Buffer.from(path.join(configDir, 'projects'));
    const badDir = Buffer.concat([projects, Buffer.from('/-bad\xff\xfe', 'latin1')]);
    fs.mkdirSync(badDir);
    fs.writeFileSync(Buffer.concat([badDir, Buffer.from(`/${S}.jsonl`)]), `${assistantLine({ messageId: 'm2' })}\n`);
    const project = path.dirname(transcript(S));
    fs.writeFileSync(Buffer.concat([Buffer.from(project), Buffer.from('/sess\xff.jsonl', 'latin1')]), `${assistantLine({ messageId: 'm3' })}\n`);
    const engine = engineFor(configDir);
    engine.scan();
    assert.equal(engine.report().totals.requests, 1);
    const warnings = engine.report().warnings.join('\n');
    assert.match(warnings, /could not read 2 path\(s\)/);
    assert.match(warnings, /-bad\uFFFD\uFFFD/);
    assert.match(warnings, /sess\uFFFD\.jsonl \(its name is not valid UTF-8/);
    const log: string[] = [];
    const again = engineFor(configDir, { log: (line) => log.push(line) });
    again.scan();
    assert.match(log.join('\n'), /name is not valid UTF-8/);
  });

  it('tailFile throws the fs error for a file it cannot open (the engine turns it into a warning)', () => {
    assert.throws(() => tailFile('/nonexistent/agent-spend/x.jsonl', undefined, { line() {} }), /ENOENT/);
  });
});

describe('needle-filtered line delivery', () => {
  it('delivers exactly the complete lines holding the needle, across chunk boundaries and buffer sizes', () => {
    const dir = tempDir();
    const file = path.join(dir, 'lines.jsonl');
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      const body = 'x'.repeat((i * 7919) % 3000);
      const hits = i % 3 === 0 ? '"usage"' : i % 7 === 0 ? '"usage" and "usage" again' : '';
      lines.push(`{"n":${i},"a":"${body}","b":${JSON.stringify(hits)}${hits ? ',"usage":{}' : ''}}`);
    }
    const text = `${lines.join('\n')}\n{"partial":"usage"`;
    fs.writeFileSync(file, text);
    const expected = lines.filter((l) => l.includes('"usage"'));
    for (const bufferSize of [4096, 5000, 65536, 1 << 20]) {
      const got: string[] = [];
      const partial: string[] = [];
      tailFile(
        file,
        undefined,
        {
          needle: Buffer.from('"usage"'),
          line: (buf, start, end) => got.push(buf.toString('utf8', start, end)),
          partialLine: (buf, start, end) => partial.push(buf.toString('utf8', start, end)),
        },
        { bufferSize },
      );
      assert.deepEqual(got, expected, `buffer ${bufferSize}`);
      assert.deepEqual(partial, ['{"partial":"usage"'], `buffer ${bufferSize}`);
    }
  });
});
