// The lock-free SQLite snapshot reader (src/core/sqlite.ts), on real WAL files made by SQLite itself
// (test/fixtures/make-sqlite-fixtures.py) and on WAL commits written by test/fixtures/sqlite/walWriter.ts.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import {
  applyWal,
  loadSqlite,
  openSnapshot,
  readSqlite,
  SQLITE_NOT_LOADED,
  sqliteFileFor,
  sqliteIsUnchanged,
  SqliteReadError,
  type SqlDatabase,
} from '../../src/core/sqlite';
import { newReadCounts, type ReadContext } from '../../src/core/sources/source';
import { appendWalCommit, resignWal } from '../fixtures/sqlite/walWriter';
import { copyDir, REPO, tempDir } from './helpers';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'sqlite');

function rows(db: SqlDatabase): Array<[number, string]> {
  const result = db.exec('SELECT id, v FROM t ORDER BY id');
  if (result.length === 0) return [];
  return result[0].values.map(([id, v]) => [id as number, String(v).slice(0, 12)]);
}

function rowsOf(file: string): Array<[number, string]> {
  const snapshot = openSnapshot(file);
  try {
    return rows(snapshot.db);
  } finally {
    snapshot.close();
  }
}

/** A copy of a fixture folder in a temp folder (tests that write must never touch the committed files). */
function copyFixture(name: string): string {
  return path.join(copyDir(path.join(FIXTURES, name), 'agent-spend-sqlite-'), 'app.db');
}

function context(): ReadContext & { events: number } {
  const ctx = { events: 0, counts: newReadCounts(), emit: () => ctx.events++, log: () => undefined };
  return ctx;
}

const LIVE_ROWS: Array<[number, string]> = [
  [1, 'ONE'],
  [2, 'two'],
  [3, 'row 3'],
  [4, 'row 4'],
  [5, 'row 5'],
];

describe('before SQLite is loaded', () => {
  it('a read says the engine is not loaded yet, and nothing else', () => {
    const read = readSqlite(path.join(FIXTURES, 'live', 'app.db'), undefined, context(), () => undefined);
    assert.equal(read.cursor, undefined);
    assert.equal(read.error, SQLITE_NOT_LOADED);
    assert.throws(() => openSnapshot(path.join(FIXTURES, 'live', 'app.db')), (error: unknown) => (error as SqliteReadError).code === 'ENOTLOADED');
  });
});

describe('SQLite snapshots of live WAL databases', () => {
  before(async () => {
    await loadSqlite();
    await loadSqlite(); // idempotent
  });

  it('sees the transactions committed in the WAL only, and not the one still being written', () => {
    const file = path.join(FIXTURES, 'live', 'app.db');
    const snapshot = openSnapshot(file);
    try {
      assert.deepEqual(rows(snapshot.db), LIVE_ROWS);
      assert.ok(snapshot.framesApplied > 0);
      assert.ok(snapshot.framesPending > 0, 'the fixture holds frames of a transaction without a commit frame');
    } finally {
      snapshot.close();
    }
  });

  it('a WAL torn in the middle of a commit frame keeps the transactions before it', () => {
    // The UPDATE of row 1 was the last transaction: its commit frame is cut in half.
    assert.deepEqual(rowsOf(path.join(FIXTURES, 'torn', 'app.db')), [[1, 'one'], ...LIVE_ROWS.slice(1)]);
  });

  it('frames left over from before a WAL restart (older salts) are ignored, not applied over newer pages', () => {
    const file = path.join(FIXTURES, 'restarted', 'app.db');
    const snapshot = openSnapshot(file);
    try {
      const all = rows(snapshot.db);
      assert.equal(all.length, 29);
      assert.deepEqual(all[0], [1, 'new 1']);
      assert.deepEqual(all[1], [2, 'old 2yyyyyyy']);
      assert.ok(snapshot.framesApplied <= 3, `only the restarted transaction's frames apply, got ${snapshot.framesApplied}`);
    } finally {
      snapshot.close();
    }
  });

  it('a WAL-mode database with no WAL file, a rollback-journal database and an all-in-WAL new database all open', () => {
    const checkpointed = path.join(FIXTURES, 'checkpointed', 'app.db');
    assert.equal(fs.readFileSync(checkpointed)[18], 2, 'the fixture says WAL mode in its header');
    assert.deepEqual(rowsOf(checkpointed), [
      [1, 'one'],
      [2, 'two'],
    ]);
    assert.deepEqual(rowsOf(path.join(FIXTURES, 'rollback', 'app.db')), [[7, 'seven']]);
    assert.deepEqual(rowsOf(path.join(FIXTURES, 'fresh', 'app.db')), [[9, 'nine']]);
  });

  it('big-endian checksums (WAL magic 0x377f0683) are verified in their own byte order', () => {
    const file = copyFixture('live');
    fs.writeFileSync(`${file}-wal`, resignWal(fs.readFileSync(`${file}-wal`), true));
    assert.equal(fs.readFileSync(`${file}-wal`).readUInt32BE(0), 0x377f0683);
    assert.deepEqual(rowsOf(file), LIVE_ROWS);
  });

  it('a damaged byte in a committed frame ends the chain there: later commits are not trusted', () => {
    const file = copyFixture('live');
    const wal = fs.readFileSync(`${file}-wal`);
    const pageSize = wal.readUInt32BE(8);
    const frameBytes = 24 + pageSize;
    // Find the last commit frame and damage its page: that transaction (the UPDATE) is dropped, the first stays.
    let lastCommit = -1;
    for (let at = 32; at + frameBytes <= wal.length; at += frameBytes) if (wal.readUInt32BE(at + 4) !== 0) lastCommit = at;
    wal[lastCommit + 24 + 100] ^= 0xff;
    fs.writeFileSync(`${file}-wal`, wal);
    assert.deepEqual(rowsOf(file), [[1, 'one'], ...LIVE_ROWS.slice(1)]);
  });

  it('a WAL with a bad header checksum, another version or a bad page size is ignored like SQLite does', () => {
    const db = fs.readFileSync(path.join(FIXTURES, 'live', 'app.db'));
    const wal = fs.readFileSync(path.join(FIXTURES, 'live', 'app.db-wal'));
    for (const [offset, value] of [
      [24, 1],
      [4, 3007001],
      [8, 1000],
    ]) {
      const bad = Buffer.from(wal);
      bad.writeUInt32BE(value, offset);
      const result = applyWal(Buffer.from(db), bad);
      assert.equal(result.framesApplied, 0);
      assert.equal(result.image.length, db.length);
    }
  });

  it('reading takes no lock and writes nothing: the files are byte-for-byte and time-for-time unchanged', () => {
    const file = copyFixture('live');
    const stats = [file, `${file}-wal`].map((f) => fs.statSync(f));
    const bytes = [file, `${file}-wal`].map((f) => fs.readFileSync(f));
    rowsOf(file);
    rowsOf(file);
    [file, `${file}-wal`].forEach((f, i) => {
      assert.ok(fs.readFileSync(f).equals(bytes[i]));
      assert.equal(fs.statSync(f).mtimeMs, stats[i].mtimeMs);
    });
    assert.equal(fs.existsSync(`${file}-shm`), false, 'no shared-memory index was created');
  });

  it('a checkpoint during the read is detected by the second stat and the read is done again', () => {
    const file = copyFixture('live');
    const checkpointed = fs.readFileSync(path.join(FIXTURES, 'checkpointed', 'app.db'));
    let calls = 0;
    const snapshot = openSnapshot(file, {
      afterRead: (attempt) => {
        calls++;
        if (attempt === 0) {
          // The writer checkpoints and restarts: the main file now holds rows 1-2 only and the WAL is gone.
          fs.writeFileSync(file, checkpointed);
          fs.rmSync(`${file}-wal`);
        }
      },
    });
    try {
      assert.equal(calls, 2);
      assert.deepEqual(rows(snapshot.db), [
        [1, 'one'],
        [2, 'two'],
      ]);
    } finally {
      snapshot.close();
    }
  });

  it('a WAL restarted during the read (new salts) is read again; a WAL that only grew is used as read', () => {
    const file = copyFixture('live');
    let calls = 0;
    assert.throws(
      () =>
        openSnapshot(file, {
          attempts: 3,
          afterRead: () => {
            calls++;
            // The writer restarts the WAL each time we look: new salts in the header, same size.
            const wal = fs.readFileSync(`${file}-wal`);
            wal.writeUInt32BE(0x5a170000 + calls, 16);
            fs.writeFileSync(`${file}-wal`, wal);
          },
        }),
      (error: unknown) => error instanceof SqliteReadError && error.code === 'EBUSY',
    );
    assert.equal(calls, 3);

    const growing = copyFixture('live');
    const snapshot = openSnapshot(growing, {
      afterRead: () => fs.appendFileSync(`${growing}-wal`, Buffer.alloc(4096 + 24)),
    });
    try {
      assert.deepEqual(rows(snapshot.db), LIVE_ROWS);
    } finally {
      snapshot.close();
    }
  });

  it('a hot rollback journal (a writer mid-transaction) is waited out, then reported as busy', () => {
    const file = copyFixture('rollback');
    const journal = Buffer.alloc(512);
    Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]).copy(journal);
    fs.writeFileSync(`${file}-journal`, journal);
    const read = readSqlite(file, undefined, context(), () => undefined, { attempts: 2 });
    assert.equal(read.errorCode, 'EBUSY');
    assert.equal(read.cursor, undefined);
    // A journal whose header was zeroed (journal_mode=PERSIST after the commit) is not hot.
    fs.writeFileSync(`${file}-journal`, Buffer.alloc(512));
    assert.deepEqual(rowsOf(file), [[7, 'seven']]);
  });

  it('a database over the size limit is skipped with a warning instead of filling memory', () => {
    const logged: string[] = [];
    const ctx = { ...context(), log: (line: string) => logged.push(line) };
    const read = readSqlite(path.join(FIXTURES, 'live', 'app.db'), undefined, ctx, () => undefined, { maxBytes: 64 * 1024 });
    assert.equal(read.errorCode, 'ETOOBIG');
    assert.match(read.error ?? '', /MB/);
    assert.equal(logged.length, 1);
  });

  it('garbage, a folder and a missing file are errors of the read, never exceptions', () => {
    const dir = tempDir();
    const garbage = path.join(dir, 'garbage.db');
    fs.writeFileSync(garbage, Buffer.from('this is not a database at all, just text '.repeat(200)));
    const query = (db: SqlDatabase) => {
      db.exec('SELECT * FROM t');
      return undefined;
    };
    for (const file of [garbage, dir, path.join(dir, 'missing.db')]) {
      const read = readSqlite(file, undefined, context(), query);
      assert.equal(read.cursor, undefined, file);
      assert.ok(read.error, file);
    }
    assert.equal(readSqlite(path.join(dir, 'missing.db'), undefined, context(), query).errorCode, 'ENOENT');
  });

  it('the cursor remembers the WAL: a commit appended to it is seen as a change and read', () => {
    const file = copyFixture('live');
    const first = readSqlite(file, undefined, context(), (db) => String(rows(db).length));
    assert.ok(first.cursor);
    assert.equal(sqliteIsUnchanged(file, first.cursor, fs.statSync(file)), true);
    appendWalCommit(file, (db) => db.run("INSERT INTO t VALUES (6, 'six')"));
    assert.equal(sqliteIsUnchanged(file, first.cursor, fs.statSync(file)), false, 'only the WAL changed');
    let seenState: string | undefined;
    const second = readSqlite(file, first.cursor, context(), (db, state) => {
      seenState = state;
      return String(rows(db).length);
    });
    assert.equal(seenState, '5');
    assert.equal(second.rewritten, false);
    assert.equal(JSON.parse(second.cursor?.context ?? '{}').s, '6');
    assert.deepEqual(rowsOf(file).at(-1), [6, 'six']);
  });

  it('a transaction appended without its commit frame stays invisible until it commits', () => {
    const file = copyFixture('checkpointed');
    appendWalCommit(file, (db) => db.run("INSERT INTO t VALUES (3, 'three')"), { uncommitted: true });
    assert.deepEqual(rowsOf(file), [
      [1, 'one'],
      [2, 'two'],
    ]);
    appendWalCommit(file, (db) => db.run("INSERT INTO t VALUES (4, 'four')"));
    assert.deepEqual(rowsOf(file), [
      [1, 'one'],
      [2, 'two'],
      [4, 'four'],
    ]);
  });

  it('a replaced database (new inode) starts its source state afresh and says so', () => {
    const file = copyFixture('live');
    const first = readSqlite(file, undefined, context(), () => 'watermark');
    assert.ok(first.cursor);
    const replacement = `${file}.new`;
    fs.copyFileSync(path.join(FIXTURES, 'rollback', 'app.db'), replacement);
    fs.rmSync(`${file}-wal`);
    fs.renameSync(replacement, file);
    let seen: string | undefined = 'unset';
    const second = readSqlite(file, first.cursor, context(), (_db, state) => {
      seen = state;
      return 'fresh';
    });
    assert.equal(seen, undefined);
    assert.equal(second.rewritten, true);
  });

  it('a damaged cursor context is treated as changed and as no state', () => {
    const file = path.join(FIXTURES, 'live', 'app.db');
    const stat = fs.statSync(file);
    const cursor = { offset: stat.size, size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, tail: '', context: '{"w":"x"' };
    assert.equal(sqliteIsUnchanged(file, cursor, stat), false);
    let seen: string | undefined = 'unset';
    readSqlite(file, cursor, context(), (_db, state) => {
      seen = state;
      return undefined;
    });
    assert.equal(seen, undefined);
  });

  it('side files map to their database; other names are not databases', () => {
    const isDb = (name: string) => /^opencode.*\.db$/.test(name);
    assert.equal(sqliteFileFor('/d/opencode.db-wal', isDb), '/d/opencode.db');
    assert.equal(sqliteFileFor('/d/opencode-beta.db-shm', isDb), '/d/opencode-beta.db');
    assert.equal(sqliteFileFor('/d/opencode.db-journal', isDb), '/d/opencode.db');
    assert.equal(sqliteFileFor('/d/opencode.db', isDb), '/d/opencode.db');
    assert.equal(sqliteFileFor('/d/other.db-wal', isDb), undefined);
    assert.equal(sqliteFileFor('/d/notes.txt', isDb), undefined);
  });
});
