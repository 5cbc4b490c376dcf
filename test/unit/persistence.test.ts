// The ledger on disk: atomic, self-checking, shared safely between processes, and outliving deleted logs.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { ampSource } from '../../src/core/sources/amp';
import { STATE_FILE, StateStore } from '../../src/core/stateStore';
import { assistantLine, claudeHome, CLI, isolatedEnv, REPO, tempDir } from './helpers';

const S = '66666666-6666-4666-8666-666666666666';

function engine(configDir: string, stateDir: string, priceOverrides = {}): Engine {
  const e = new Engine({ env: isolatedEnv(configDir), stateDir, priceOverrides });
  e.open();
  return e;
}

function seed(lines: number): { configDir: string; transcript: string } {
  const { configDir, transcript } = claudeHome();
  const text = Array.from({ length: lines }, (_, i) => assistantLine({ messageId: `m${i}`, output: i + 1 })).join('\n');
  fs.writeFileSync(transcript(S), `${text}\n`);
  return { configDir, transcript: transcript(S) };
}

/** seed(lines), read and saved once into a fresh state folder. */
function savedState(lines: number): { configDir: string; transcript: string; stateDir: string } {
  const seeded = seed(lines);
  const stateDir = tempDir();
  const first = engine(seeded.configDir, stateDir);
  first.scan();
  first.save();
  return { ...seeded, stateDir };
}

/**
 * A saved state that also holds the records of a log deleted since (`goneLines` of them), and the same file with its
 * records' part damaged written in its place; returns the sound bytes.
 */
function damagedOverSound(goneLines: number): { configDir: string; transcript: string; stateDir: string; file: string; sound: Buffer } {
  const { configDir, transcript, stateDir } = savedState(3);
  const gone = path.join(path.dirname(transcript), '99999999-9999-4999-8999-999999999999.jsonl');
  fs.writeFileSync(gone, Array.from({ length: goneLines }, (_, i) => `${assistantLine({ messageId: `gone-${i + 1}`, output: 7 + i })}\n`).join(''));
  const other = engine(configDir, stateDir);
  other.scan();
  other.save();
  fs.rmSync(gone);
  const file = path.join(stateDir, STATE_FILE);
  const sound = fs.readFileSync(file);
  const damaged = Buffer.from(sound);
  damaged[damaged.length - 6] ^= 0xff; // in the records' part
  fs.writeFileSync(file, damaged);
  return { configDir, transcript, stateDir, file, sound };
}

/**
 * Runs `body` while node:fs's `name` fails with `code` for the calls `when` picks (the first such call only, with
 * `once`): what a busy or failing disk does to a read of the state file.
 */
function withFsFailing<T>(name: 'readFileSync' | 'readSync', when: (args: unknown[]) => boolean, code: string, once: boolean, body: () => T): T {
  const cjsFs = createRequire(__filename)('node:fs') as Record<string, (...args: unknown[]) => unknown>;
  const real = cjsFs[name];
  cjsFs[name] = (...args: unknown[]) => {
    if (!when(args)) return real(...args);
    if (once) cjsFs[name] = real;
    throw Object.assign(new Error(`${code}: simulated failure`), { code });
  };
  try {
    return body();
  } finally {
    cjsFs[name] = real;
  }
}

const isStateFile = (args: unknown[]) => String(args[0]).endsWith(STATE_FILE);

describe('a state folder that cannot be made', () => {
  it('below /proc (where Node\'s recursive mkdir never returns): the report is printed and the save fails with a message', { skip: !fs.existsSync('/proc/self') && 'needs /proc', timeout: 60_000 }, () => {
    const { configDir } = claudeHome();
    const run = spawnSync(process.execPath, [CLI, 'report', '--json', '--state-dir', '/proc/agent-spend-nowhere/state'], {
      env: { PATH: process.env.PATH, ...isolatedEnv(configDir) },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(run.signal, null, 'finished on its own');
    assert.equal(run.status, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).totals.requests, 0);
    assert.match(run.stderr, /could not save state: .*ENOENT.*\/proc\/agent-spend-nowhere/);
  });
});

describe('persistence', () => {
  it('round-trips records and cursors: a warm start reads no bytes and reports the same totals', () => {
    const { configDir } = seed(50);
    const stateDir = tempDir();
    const cold = engine(configDir, stateDir);
    cold.scan();
    cold.save();
    const warm = engine(configDir, stateDir);
    const scan = warm.scan();
    assert.equal(scan.bytesRead, 0);
    assert.equal(scan.filesRead, 0);
    assert.deepEqual(warm.report().totals, cold.report().totals);
    assert.deepEqual(warm.ledger.records(), cold.ledger.records());
  });

  it('after a warm start, new lines are deduplicated against the loaded records', () => {
    const { configDir, transcript } = seed(3);
    const stateDir = tempDir();
    const first = engine(configDir, stateDir);
    first.scan();
    first.save();
    // A resumed session copies m0..m2 into a new file and adds m3.
    const copy = path.join(path.dirname(transcript), '77777777-7777-4777-8777-777777777777.jsonl');
    fs.writeFileSync(copy, `${fs.readFileSync(transcript, 'utf8')}${assistantLine({ messageId: 'm3', output: 4 })}\n`);
    const second = engine(configDir, stateDir);
    second.scan();
    assert.equal(second.report().totals.requests, 4);
    assert.equal(second.report().totals.outputTokens, 1 + 2 + 3 + 4);
  });

  it('sessions whose logs were deleted stay in reports', () => {
    const { configDir, transcript } = seed(5);
    const stateDir = tempDir();
    const first = engine(configDir, stateDir);
    first.scan();
    first.save();
    fs.rmSync(transcript); // Claude Code's 30-day cleanup
    const later = engine(configDir, stateDir);
    later.scan();
    later.save();
    const report = engine(configDir, stateDir).report();
    assert.equal(report.sessions.length, 1);
    assert.equal(report.totals.requests, 5);
  });

  for (const [name, damage] of [
    ['truncated', (file: string) => fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2))],
    ['bit-flipped', (file: string) => {
      const data = fs.readFileSync(file);
      data[data.length - 10] ^= 0xff;
      fs.writeFileSync(file, data);
    }],
    ['garbage', (file: string) => fs.writeFileSync(file, 'not a state file')],
    ['empty', (file: string) => fs.writeFileSync(file, '')],
  ] as const) {
    it(`a ${name} state file is set aside, rebuilt from the logs, and warned about`, () => {
      const { configDir } = seed(10);
      const stateDir = tempDir();
      const first = engine(configDir, stateDir);
      first.scan();
      first.save();
      damage(path.join(stateDir, STATE_FILE));
      const rebuilt = engine(configDir, stateDir);
      rebuilt.scan();
      assert.equal(rebuilt.report().totals.requests, 10);
      assert.match(rebuilt.report().warnings.join('\n'), /state file was damaged .* rebuilt from the logs/);
      const kept = fs.readdirSync(stateDir).filter((f) => f.includes('.corrupt-'));
      assert.equal(kept.length, 1, 'the damaged file is kept for inspection, not deleted');
      rebuilt.save();
      assert.equal(engine(configDir, stateDir).report().totals.requests, 10);
    });
  }

  it('a damaged file that cannot be moved aside is not said to have been replaced by another process', () => {
    const { configDir, stateDir } = savedState(4);
    const file = path.join(stateDir, STATE_FILE);
    fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
    const cjsFs = createRequire(__filename)('node:fs') as typeof fs;
    const realRename = cjsFs.renameSync;
    (cjsFs as { renameSync: unknown }).renameSync = (from: fs.PathLike, to: fs.PathLike) => {
      if (String(to).includes('.corrupt-')) throw Object.assign(new Error('EROFS: simulated read-only folder'), { code: 'EROFS' });
      return realRename(from, to);
    };
    let warnings: string;
    try {
      warnings = engine(configDir, stateDir).warnings().join('\n');
    } finally {
      (cjsFs as { renameSync: unknown }).renameSync = realRename;
    }
    assert.match(warnings, /state file was damaged/);
    assert.doesNotMatch(warnings, /another process has saved/);
    assert.match(warnings, /could not be moved aside .*EROFS/);
  });

  it('damage found in a file another process has replaced since: the sound replacement is not set aside, and is merged', () => {
    // The CLI opens the state (its records stay on disk), another process saves a sound file over it, then the CLI's
    // records turn out damaged: only the file it read was damaged, and the one at the path now holds the records of
    // a log deleted since.
    const { configDir, transcript, stateDir, file, sound } = damagedOverSound(2);
    const cli = new Engine({ env: isolatedEnv(configDir), stateDir });
    cli.open({ deferRecords: true });
    fs.writeFileSync(`${file}.other`, sound);
    fs.renameSync(`${file}.other`, file);
    fs.appendFileSync(transcript, `${assistantLine({ messageId: 'late', output: 5 })}\n`);
    cli.scan();
    assert.match(cli.warnings().join('\n'), /damaged .*another process has saved the state since/);
    assert.deepEqual(fs.readdirSync(stateDir), [STATE_FILE], 'nothing set aside');
    cli.save();
    const after = engine(configDir, stateDir);
    after.scan();
    assert.equal(after.report().totals.requests, 6, 'the three lines, the deleted log\'s two, the new one');
  });

  it('damage found in a file replaced since: a later save given the freed inode number is not set aside', () => {
    // The CLI holds the damaged file open while it reads it; another process renames a sound file over it. The CLI's
    // read of the records finds the damage and closes the file, whose inode is then free: a file system may give its
    // number to the next file created (ext4 gives the lowest free one), the temporary file of another save renamed
    // into place before the CLI takes the lock. Same device and inode number, but not the file found damaged. (Which
    // number ext4 picks depends on what else was freed: the stat of the path is made to answer with it here.)
    const { configDir, transcript, stateDir, file, sound } = damagedOverSound(1);
    const minuteAgo = (Date.now() - 60_000) / 1000;
    fs.utimesSync(file, minuteAgo, minuteAgo); // written by an earlier save
    const damagedIno = fs.statSync(file).ino;
    const cli = new Engine({ env: isolatedEnv(configDir), stateDir });
    cli.open({ deferRecords: true });
    fs.writeFileSync(`${file}.b`, sound);
    fs.renameSync(`${file}.b`, file); // the damaged file lives on, open in the CLI
    const cjsFs = createRequire(__filename)('node:fs') as typeof fs;
    const realStat = cjsFs.statSync;
    const setAside = StateStore.prototype.setAside;
    StateStore.prototype.setAside = function (this: StateStore, ...args: Parameters<StateStore['setAside']>) {
      // Another save, after the CLI closed the damaged file and before it takes the lock; its file gets the number.
      fs.writeFileSync(`${file}.c`, sound);
      fs.renameSync(`${file}.c`, file);
      (cjsFs as { statSync: unknown }).statSync = (...a: Parameters<typeof fs.statSync>) => {
        const stat = realStat(...a);
        if (stat && a[0] === file) stat.ino = damagedIno;
        return stat;
      };
      try {
        return setAside.apply(this, args);
      } finally {
        (cjsFs as { statSync: unknown }).statSync = realStat;
      }
    };
    try {
      fs.appendFileSync(transcript, `${assistantLine({ messageId: 'late', output: 5 })}\n`);
      cli.scan();
    } finally {
      StateStore.prototype.setAside = setAside;
    }
    assert.deepEqual(fs.readdirSync(stateDir), [STATE_FILE], 'the sound file is not set aside');
    assert.match(cli.warnings().join('\n'), /another process has saved the state since/);
    cli.save();
    const after = engine(configDir, stateDir);
    after.scan();
    assert.equal(after.report().totals.requests, 5, "the three lines, the deleted log's one, the new one");
  });

  it("a save removes what a crashed writer left (its temporary files), and nothing a live one may still be writing", () => {
    const { configDir, transcript, stateDir } = savedState(2);
    // A pid that is gone: a child that has exited.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const old = (Date.now() - 3600_000) / 1000;
    const left = [`${STATE_FILE}.${dead}.k3j9x1.tmp`, `report-cache.txt.${dead}.tmp`];
    const kept = [
      `${STATE_FILE}.${process.pid}.a1b2c3.tmp`, // a live writer (this one)
      `${STATE_FILE}.${dead}.q7w8e9.tmp`, // a dead pid's, but written a moment ago (a pid in another container?)
      'notes.tmp', // not ours
    ];
    for (const name of [...left, ...kept]) fs.writeFileSync(path.join(stateDir, name), 'x'.repeat(1000));
    for (const name of [...left, ...kept.slice(0, 1), ...kept.slice(2)]) fs.utimesSync(path.join(stateDir, name), old, old);
    fs.appendFileSync(transcript, `${assistantLine({ messageId: 'late', output: 5 })}\n`);
    const e = engine(configDir, stateDir);
    e.scan();
    e.save();
    const names = fs.readdirSync(stateDir);
    for (const name of left) assert.ok(!names.includes(name), `${name} removed`);
    for (const name of kept) assert.ok(names.includes(name), `${name} kept`);
  });

  it('stored costs are recomputed when the prices change', () => {
    const { configDir } = seed(2);
    const stateDir = tempDir();
    const first = engine(configDir, stateDir);
    first.scan();
    first.save();
    const repriced = engine(configDir, stateDir, { 'claude-sonnet-4-5-20250929': { input: 0, output: 1_000_000 } });
    // 1 + 2 output tokens at $1 each
    assert.equal(repriced.report().totals.costUsd, 3);
  });

  it('two processes writing one state dir at once never corrupt it and keep each other\'s records', async () => {
    const a = seed(40);
    const b = claudeHome();
    fs.writeFileSync(
      b.transcript('88888888-8888-4888-8888-888888888888'),
      `${Array.from({ length: 40 }, (_, i) => assistantLine({ messageId: `other-${i}`, output: 1000 })).join('\n')}\n`,
    );
    const stateDir = tempDir();
    const run = (configDir: string) =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'report', '--json', '--state-dir', stateDir], {
          env: { ...isolatedEnv(configDir), PATH: process.env.PATH },
          stdio: 'ignore',
        });
        child.on('exit', (code) => resolve(code ?? -1));
      });
    for (let round = 0; round < 4; round++) {
      const codes = await Promise.all([run(a.configDir), run(b.configDir), run(a.configDir), run(b.configDir)]);
      assert.deepEqual(codes, [0, 0, 0, 0]);
    }
    const merged = engine(tempDir(), stateDir);
    assert.deepEqual(merged.warnings(), []);
    assert.equal(merged.report().totals.requests, 80);
    assert.equal(fs.readdirSync(stateDir).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock')).length, 0);
  });
  it('a state file that cannot be read for a moment is left in place, and the records of deleted logs come back', () => {
    const { configDir, transcript, stateDir } = savedState(3);
    fs.rmSync(transcript); // Claude Code's cleanup: these 3 requests now live only in the state file
    // One read of the state file fails as it would with too many open files (the extension host, busy).
    withFsFailing('readFileSync', isStateFile, 'EMFILE', true, () => {
      const second = engine(configDir, stateDir);
      assert.match(second.warnings().join('\n'), /cannot read .*EMFILE/);
      second.scan();
      second.save(); // the file reads again by now: its records are merged, not replaced
    });
    assert.deepEqual(fs.readdirSync(stateDir), [STATE_FILE], 'nothing set aside');
    const third = engine(configDir, stateDir);
    third.scan();
    assert.equal(third.report().totals.requests, 3);
  });

  it('a save refuses to replace a state file it cannot read', () => {
    const { configDir, transcript, stateDir } = savedState(2);
    fs.rmSync(transcript); // the 2 requests now live only in the state file
    withFsFailing('readFileSync', isStateFile, 'EIO', false, () => {
      const blind = engine(configDir, stateDir); // sees neither the file's records nor the deleted log
      blind.scan();
      assert.throws(() => blind.save(), /cannot read .*EIO/);
    });
    assert.deepEqual(fs.readdirSync(stateDir), [STATE_FILE]);
    assert.equal(engine(configDir, stateDir).report().totals.requests, 2, 'the file as it was');
  });

  it('records that cannot be read when they are needed (a deferred start) stop the scan, and nothing is set aside', () => {
    const { configDir, transcript, stateDir } = savedState(3);
    const cli = new Engine({ env: isolatedEnv(configDir), stateDir });
    cli.open({ deferRecords: true }); // the CLI's start: the records stay on disk until something needs them
    fs.appendFileSync(transcript, `${assistantLine({ messageId: 'late', output: 5 })}\n`);
    assert.equal(cli.cursors.size, 1); // the rest of the reading state, read now (its own failure: the test below)
    // The first read after this is the records' (they are needed before the transcript's new line is read).
    withFsFailing('readSync', () => true, 'EIO', true, () => assert.throws(() => cli.scan(), /cannot read .*EIO/));
    assert.deepEqual(fs.readdirSync(stateDir), [STATE_FILE]);
    assert.deepEqual(cli.warnings(), []);
    const after = engine(configDir, stateDir);
    after.scan();
    assert.equal(after.report().totals.requests, 4);
  });

  it('a deferred start whose read of the state file fails for a moment carries on from the same file at the next try', () => {
    // Wherever the failing read falls (the cursors' part, or the records' after the cursors were read), the file
    // stays open for the next try: it is neither closed early nor closed twice, and nothing is set aside.
    for (const failing of ['cursors', 'records'] as const) {
      const { configDir, transcript, stateDir } = savedState(3);
      const cli = new Engine({ env: isolatedEnv(configDir), stateDir });
      cli.open({ deferRecords: true });
      fs.appendFileSync(transcript, `${assistantLine({ messageId: 'late', output: 5 })}\n`);
      if (failing === 'records') assert.equal(cli.cursors.size, 1); // part two read now: the next read is the records'
      withFsFailing('readSync', () => true, 'EIO', true, () => assert.throws(() => cli.scan(), /cannot read .*EIO/, failing));
      const scan = cli.scan();
      assert.equal(scan.eventsAdded, 1, failing);
      assert.deepEqual(cli.warnings(), [], failing);
      assert.equal(cli.report().totals.requests, 4, failing);
      cli.save();
      assert.deepEqual(fs.readdirSync(stateDir), [STATE_FILE], `${failing}: nothing set aside`);
      assert.equal(engine(configDir, stateDir).report().totals.requests, 4, failing);
    }
  });

  it('a dedupe key holding a newline keeps every key after it in place across a warm start', () => {
    // Keys are stored newline-separated; a message id with an escaped newline once shifted every key after it.
    const { configDir, transcript } = claudeHome();
    const first = transcript(S);
    const ids = ['msg_a', 'msg_b\nx', 'msg_c', 'msg_d'];
    fs.writeFileSync(first, ids.map((id) => assistantLine({ messageId: id, output: 7 })).join('\n') + '\n');
    const stateDir = tempDir();
    const a = engine(configDir, stateDir);
    a.scan();
    a.save();
    // Claude Code resumes the session: the old lines are copied into a new transcript.
    fs.writeFileSync(path.join(path.dirname(first), '77777777-7777-4777-8777-777777777777.jsonl'), fs.readFileSync(first));
    const b = engine(configDir, stateDir);
    b.scan();
    assert.equal(b.report().totals.requests, 4);
  });

  it('records whose own keys end in #<digits> (Amp) are counted once when two processes save', () => {
    const home = tempDir();
    const env = { ...isolatedEnv(tempDir()), AMP_DATA_DIR: path.join(REPO, 'test', 'fixtures', 'amp', 'message-usage') };
    const stateDir = tempDir();
    const open = () => {
      const e = new Engine({ env: { ...env, HOME: home }, stateDir, sources: [ampSource] });
      e.open();
      return e;
    };
    const window = open(); // the extension's engine
    const cli = open(); // a CLI run beside it
    cli.scan();
    cli.save();
    window.scan();
    window.save(); // merges the CLI's save
    const alone = cli.report().totals.requests;
    assert.ok(alone > 0);
    assert.equal(open().report().totals.requests, alone);
  });

  it('a save that fails says why, leaves the old state in place and no temporary file or lock behind', () => {
    const { configDir } = seed(10);
    const stateDir = tempDir();
    const e = engine(configDir, stateDir);
    e.scan();
    // A folder appears where the state file goes: encoding and writing succeed, the final rename cannot.
    fs.mkdirSync(path.join(stateDir, STATE_FILE, 'occupied'), { recursive: true });
    assert.throws(() => e.save(), /EISDIR|ENOTEMPTY|EEXIST|directory/i);
    assert.deepEqual(fs.readdirSync(stateDir), [STATE_FILE]);
    assert.deepEqual(fs.readdirSync(path.join(stateDir, STATE_FILE)), ['occupied']);
  });
});
