// The CLI's start with nothing new (Engine.quickUnchanged over a format 4 state file's first part): it must answer
// exactly what the usual discover-and-plan answers, take the usual way at any change at all, and never build the
// cursors, listings or records when nothing changed.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { claudeCodeSource } from '../../src/core/sources/claudeCode';
import type { Source } from '../../src/core/sources/source';
import { readingLayout, STATE_FILE } from '../../src/core/stateStore';
import { isUnchanged, type CursorStamp } from '../../src/core/tail';
import { assistantLine, copyDir, isolatedEnv, savedColdScan, tempDir } from './helpers';
import { encodeFormat3 } from './stateFormat3';

/** Whole seconds: a time set with utimes() reads back the same to the last bit. */
const HOUR_AGO = Math.floor((Date.now() - 3600_000) / 1000);
const S1 = '11111111-1111-4111-8111-111111111111';
const S2 = '22222222-2222-4222-8222-222222222222';
const S3 = '33333333-3333-4333-8333-333333333333';

interface Seeded {
  configDir: string;
  projects: string;
  shop: string;
  blog: string;
  stateDir: string;
  env: NodeJS.ProcessEnv;
}

let lineNo = 0;
const lines = (session: string, count: number): string =>
  Array.from({ length: count }, () => assistantLine({ sessionId: session, messageId: `m${++lineNo}`, output: lineNo })).join('\n') + '\n';

/** Two projects, three sessions, two subagents; folders dated an hour back (unless `recent`); a cold scan saved. */
function seeded(recent = false): Seeded {
  const configDir = tempDir('agent-spend-claude-');
  const projects = path.join(configDir, 'projects');
  const shop = path.join(projects, '-home-ana-src-shop');
  const blog = path.join(projects, '-home-ana-src-blog');
  fs.mkdirSync(path.join(shop, S1, 'subagents'), { recursive: true });
  fs.mkdirSync(blog, { recursive: true });
  fs.writeFileSync(path.join(shop, `${S1}.jsonl`), lines(S1, 3));
  fs.writeFileSync(path.join(shop, S1, 'subagents', 'agent-a1.jsonl'), lines(S1, 2));
  fs.writeFileSync(path.join(shop, S1, 'subagents', 'agent-a2.jsonl'), lines(S1, 1));
  fs.writeFileSync(path.join(shop, `${S2}.jsonl`), lines(S2, 2));
  fs.writeFileSync(path.join(blog, `${S3}.jsonl`), lines(S3, 4));
  if (!recent) {
    for (const file of fs.readdirSync(projects, { recursive: true, withFileTypes: true })) {
      if (file.isFile()) fs.utimesSync(path.join(file.parentPath, file.name), HOUR_AGO - 60, HOUR_AGO - 60);
    }
    for (const dir of [path.join(shop, S1, 'subagents'), path.join(shop, S1), shop, blog, projects]) fs.utimesSync(dir, HOUR_AGO, HOUR_AGO);
  }
  const env = isolatedEnv(configDir);
  return { configDir, projects, shop, blog, stateDir: savedColdScan(env), env };
}

/** Flips a byte in the last text of the state file's part two (a listing's key): parts one and three stay sound. */
function damagePartTwo(stateDir: string): void {
  const file = path.join(stateDir, STATE_FILE);
  const bytes = fs.readFileSync(file);
  const headerEnd = 12 + bytes.readUInt32LE(8);
  const layout = readingLayout(JSON.parse(bytes.toString('utf8', 12, headerEnd)), headerEnd);
  bytes[layout.twoEnd - 1] ^= 0x20;
  fs.writeFileSync(file, bytes);
}

function deferredEngine(s: Seeded, stateDir = s.stateDir): Engine {
  const engine = new Engine({ env: s.env, stateDir });
  engine.open({ deferRecords: true });
  return engine;
}

function eagerEngine(s: Seeded, stateDir: string): Engine {
  const engine = new Engine({ env: s.env, stateDir });
  engine.open();
  return engine;
}

/** What a scan found, in the terms both ways must agree on. */
const found = (scan: ReturnType<Engine['scan']>) => ({
  filesSeen: scan.filesSeen,
  filesRead: scan.filesRead,
  eventsAdded: scan.eventsAdded,
  eventsReplaced: scan.eventsReplaced,
  unreadable: scan.unreadable.length,
});

describe('quick start (nothing new since the last run)', () => {
  it('checks every file and folder without reading cursors, listings or records, and answers as the usual way', () => {
    const s = seeded();
    const usual = eagerEngine(s, copyDir(s.stateDir));
    const before = fs.readFileSync(path.join(s.stateDir, STATE_FILE));
    const quick = deferredEngine(s);
    const scan = quick.scan();
    assert.equal(quick.readingDeferred, true, 'took the quick check');
    assert.equal(quick.ledger.recordsPending, true, 'the records were not read');
    assert.deepEqual(found(scan), found(usual.scan()));
    assert.equal(scan.filesSeen, 5);
    quick.save();
    assert.deepEqual(fs.readFileSync(path.join(s.stateDir, STATE_FILE)), before, 'nothing to save, nothing saved');
    assert.deepEqual(quick.report().totals, usual.report().totals);
    assert.equal(quick.report().totals.requests, 12);
  });

  it('folders listed within the last 2 s, or whose mtime moved with the same entries, are listed again and pass', () => {
    const recent = seeded(true);
    const quick = deferredEngine(recent);
    assert.equal(quick.scan().filesSeen, 5);
    assert.equal(quick.readingDeferred, true);

    const moved = seeded();
    // A file that is not a log, made and removed: the project folder's mtime moves, its entries do not.
    fs.writeFileSync(path.join(moved.shop, 'scratch.tmp'), 'x');
    fs.rmSync(path.join(moved.shop, 'scratch.tmp'));
    fs.utimesSync(moved.shop, HOUR_AGO + 60, HOUR_AGO + 60);
    const again = deferredEngine(moved);
    assert.equal(again.scan().filesSeen, 5);
    assert.equal(again.readingDeferred, true);
  });

  const changes: Array<[string, (s: Seeded) => void]> = [
    ['a line appended to a session', (s) => fs.appendFileSync(path.join(s.shop, `${S2}.jsonl`), lines(S2, 1))],
    ['a line appended to a subagent', (s) => fs.appendFileSync(path.join(s.shop, S1, 'subagents', 'agent-a2.jsonl'), lines(S1, 1))],
    ['a session touched (same size, new mtime)', (s) => fs.utimesSync(path.join(s.blog, `${S3}.jsonl`), HOUR_AGO, HOUR_AGO)],
    [
      'a session replaced by a copy (new inode; same size and mtime)',
      (s) => {
        const file = path.join(s.blog, `${S3}.jsonl`);
        fs.copyFileSync(file, `${file}.new`);
        fs.utimesSync(`${file}.new`, HOUR_AGO - 60, HOUR_AGO - 60);
        fs.renameSync(`${file}.new`, file);
        assert.equal(fs.statSync(file).mtimeMs, (HOUR_AGO - 60) * 1000);
        fs.utimesSync(s.blog, HOUR_AGO, HOUR_AGO); // the folder's mtime as it was: only the inode tells
      },
    ],
    ['a new session', (s) => fs.writeFileSync(path.join(s.blog, `${S1.replace('1111', '4444')}.jsonl`), lines(S1, 2))],
    [
      'a subagent in a new session folder (the project folder dated back, though not to what it was)',
      (s) => {
        fs.mkdirSync(path.join(s.blog, S3, 'subagents'), { recursive: true });
        fs.writeFileSync(path.join(s.blog, S3, 'subagents', 'agent-b1.jsonl'), lines(S3, 2));
        fs.utimesSync(s.blog, HOUR_AGO + 30, HOUR_AGO + 30);
      },
    ],
    [
      'a new subagent (its folder dated back, though not to what it was)',
      (s) => {
        const dir = path.join(s.shop, S1, 'subagents');
        fs.writeFileSync(path.join(dir, 'agent-a3.jsonl'), lines(S1, 1));
        fs.utimesSync(dir, HOUR_AGO + 30, HOUR_AGO + 30);
      },
    ],
    ['a session deleted', (s) => fs.rmSync(path.join(s.shop, `${S2}.jsonl`))],
    ['a project folder deleted', (s) => fs.rmSync(s.blog, { recursive: true })],
    ['the whole projects folder deleted', (s) => fs.rmSync(s.projects, { recursive: true })],
    [
      'a new project',
      (s) => {
        fs.mkdirSync(path.join(s.projects, '-home-ana-src-new'));
        fs.writeFileSync(path.join(s.projects, '-home-ana-src-new', `${S3}.jsonl`), lines(S3, 1));
        fs.utimesSync(s.projects, HOUR_AGO + 30, HOUR_AGO + 30);
      },
    ],
    [
      "another agent's folder appears (Codex)",
      (s) => {
        const sessions = path.join(s.env.HOME!, '.codex', 'sessions', '2026', '07', '01');
        fs.mkdirSync(sessions, { recursive: true });
        fs.writeFileSync(path.join(sessions, 'rollout-2026-07-01T10-00-00-x.jsonl'), '{"type":"session_meta"}\n');
      },
    ],
    ['a log name that is now a folder', (s) => {
      fs.rmSync(path.join(s.shop, `${S2}.jsonl`));
      fs.mkdirSync(path.join(s.shop, `${S2}.jsonl`));
    }],
  ];

  for (const [name, change] of changes) {
    it(`takes the usual way and finds what it finds: ${name}`, () => {
      const s = seeded();
      const copy = copyDir(s.stateDir);
      change(s);
      const quick = deferredEngine(s);
      const scan = quick.scan();
      assert.equal(quick.readingDeferred, false, 'the cursors were needed');
      const usual = eagerEngine(s, copy);
      assert.deepEqual(found(scan), found(usual.scan()));
      assert.deepEqual(quick.report().totals, usual.report().totals);
      quick.save();
      usual.save();
      // And the next start, with nothing new again, is quick and agrees.
      const next = deferredEngine(s);
      assert.deepEqual(found(next.scan()), { filesSeen: scan.filesSeen, filesRead: 0, eventsAdded: 0, eventsReplaced: 0, unreadable: 0 });
      assert.equal(next.readingDeferred, true);
      assert.deepEqual(next.report().totals, usual.report().totals);
    });
  }

  it("asks a source's own rule for \"unchanged\", with the cursor's figures and context", () => {
    const s = seeded();
    // Like Codex's rule (a compressed rollout is read again once its plain sibling is gone): a file beside the log.
    const stamps: CursorStamp[] = [];
    const source: Source = {
      ...claudeCodeSource,
      isUnchanged(file, cursor, stat) {
        stamps.push(cursor);
        return isUnchanged(cursor, stat) && !fs.existsSync(`${file}.again`);
      },
    };
    const withRule = (stateDir: string) => {
      const engine = new Engine({ env: s.env, stateDir, sources: [source] });
      engine.open({ deferRecords: true });
      return engine;
    };
    const stateDir = savedColdScan(s.env, { sources: [source] });
    const quick = withRule(stateDir);
    stamps.length = 0;
    assert.equal(quick.scan().filesSeen, 5);
    assert.equal(quick.readingDeferred, true);
    const file = path.join(s.shop, `${S2}.jsonl`);
    const real = fs.statSync(file);
    const stamp = stamps.find((c) => c.ino === real.ino);
    assert.deepEqual(stamp, { size: real.size, mtimeMs: real.mtimeMs, ino: real.ino, context: '/home/ana/src/shop' });
    fs.writeFileSync(`${file}.again`, '');
    const again = withRule(stateDir);
    const scan = again.scan();
    assert.equal(again.readingDeferred, false);
    assert.equal(scan.filesRead, 1);
  });

  it('damaged cursors (part two) are found when a change needs them: set aside, every log read again, nothing lost', () => {
    const s = seeded();
    damagePartTwo(s.stateDir);
    // Nothing new: part two is not read, and the totals stand (records and part one are sound).
    const untouched = deferredEngine(s);
    untouched.scan();
    assert.equal(untouched.report().totals.requests, 12);
    assert.deepEqual(untouched.warnings(), []);
    // A new line needs the cursors: the damage shows, and everything is read again.
    fs.appendFileSync(path.join(s.shop, `${S2}.jsonl`), lines(S2, 1));
    const engine = deferredEngine(s);
    engine.scan();
    assert.match(engine.warnings().join('\n'), /damaged.*cursors/);
    assert.equal(engine.report().totals.requests, 13);
    engine.save();
    assert.ok(fs.readdirSync(s.stateDir).some((f) => f.includes('.corrupt-')), 'the damaged file is kept aside');
    const again = deferredEngine(s);
    again.scan();
    assert.equal(again.readingDeferred, true);
    assert.equal(again.report().totals.requests, 13);
  });

  it('damaged cursors beside sound records: the records are kept (those of deleted logs too), nothing counted twice', () => {
    const s = seeded();
    damagePartTwo(s.stateDir); // part three (the records) has a checksum of its own
    // Claude Code's cleanup: the blog session's 4 requests now live only in the state file's records.
    fs.rmSync(path.join(s.blog, `${S3}.jsonl`));
    const engine = deferredEngine(s);
    engine.scan();
    assert.match(engine.warnings().join('\n'), /damaged.*cursors/);
    assert.equal(engine.report().totals.requests, 12);
    engine.save();
    assert.ok(fs.readdirSync(s.stateDir).some((f) => f.includes('.corrupt-')), 'the damaged file is kept aside');
    const again = deferredEngine(s);
    again.scan();
    assert.equal(again.readingDeferred, true);
    assert.deepEqual(again.warnings(), []);
    assert.equal(again.report().totals.requests, 12);
  });

  it('opening again replaces a deferred state that was never needed (it does not come back over the new one)', () => {
    const s = seeded();
    const engine = deferredEngine(s);
    assert.equal(engine.readingDeferred, true);
    // Another process saves a state with one more file (its cursors and listings differ).
    fs.writeFileSync(path.join(s.blog, `${S1.replace('1111', '5555')}.jsonl`), lines(S1, 1));
    const other = eagerEngine(s, s.stateDir);
    other.scan();
    other.save();
    engine.open();
    assert.equal(engine.readingDeferred, false);
    assert.equal(engine.cursors.size, 6);
    assert.deepEqual(found(engine.scan()), { filesSeen: 6, filesRead: 0, eventsAdded: 0, eventsReplaced: 0, unreadable: 0 });
  });

  it('a format 3 state (earlier versions) is read whole by the same start, and agrees', () => {
    const s = seeded();
    const eager = eagerEngine(s, s.stateDir);
    const format3 = tempDir();
    fs.writeFileSync(path.join(format3, STATE_FILE), encodeFormat3(eager.ledger, { cursors: eager.cursors, folders: eager.folders }, 'gen-3'));
    const engine = deferredEngine(s, format3);
    assert.equal(engine.readingDeferred, false, 'nothing to wait for in a format 3 file');
    assert.deepEqual(found(engine.scan()), { filesSeen: 5, filesRead: 0, eventsAdded: 0, eventsReplaced: 0, unreadable: 0 });
    assert.equal(engine.report().totals.requests, 12);
  });
});

describe('quick start against the usual one: shared folders, nested and odd roots, stale listings', () => {
  /** A source reading `*.<ext>` below `roots`, whose cursor context marks `shadow*` files (read again once `<file>.x` exists). */
  const fakeSource = (agent: string, roots: string[], ext: string, maxDepth: number, rule: boolean): Source => ({
    agent,
    label: agent,
    roots: () => roots,
    walk: { maxDepth, skipFolders: new Set(['skip']), isWanted: (name) => name.endsWith(ext) },
    fileFor: (changed) => (changed.endsWith(ext) ? changed : undefined),
    ...(rule ? { isUnchanged: (file: string, cursor: CursorStamp, stat: Parameters<typeof isUnchanged>[1]) => isUnchanged(cursor, stat) && (cursor.context !== 'S' || !fs.existsSync(`${file}.x`)) } : {}),
    read(file, previous) {
      try {
        const stat = fs.statSync(file);
        if (!stat.isFile()) throw Object.assign(new Error(`EISDIR: ${file}`), { code: 'EISDIR' });
        fs.readFileSync(file);
        const cursor = { offset: stat.size, size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, tail: '', context: path.basename(file).startsWith('shadow') ? 'S' : undefined };
        return { file, cursor, bytesRead: stat.size - (previous?.offset ?? 0), rewritten: false };
      } catch (error) {
        return { file, bytesRead: 0, rewritten: false, error: (error as Error).message, errorCode: (error as NodeJS.ErrnoException).code };
      }
    },
  });

  interface Tree {
    top: string;
    sources: Source[];
    env: NodeJS.ProcessEnv;
    stateDir: string;
  }

  /** r1/{a/{b},skip} and r2/{d}, logs of two kinds, `link` -> r1; three agents, one on nested roots; a cold scan saved. */
  function tree(nested: boolean): Tree {
    const top = tempDir('agent-spend-shared-');
    for (const dir of ['r1/a/b', 'r1/skip', 'r2/d']) fs.mkdirSync(path.join(top, dir), { recursive: true });
    for (const file of ['r1/one.log', 'r1/a/two.jsonl', 'r1/a/b/three.log', 'r1/a/b/shadow.jsonl', 'r1/skip/four.log', 'r2/five.log', 'r2/d/six.jsonl']) {
      fs.writeFileSync(path.join(top, file), `${file}\n`);
    }
    fs.symlinkSync(path.join(top, 'r1'), path.join(top, 'link'));
    for (const entry of fs.readdirSync(top, { recursive: true, withFileTypes: true })) {
      const at = path.join(entry.parentPath, entry.name);
      if (!entry.isSymbolicLink()) fs.utimesSync(at, HOUR_AGO, HOUR_AGO);
    }
    const sources = [
      fakeSource('claude-code', [path.join(top, 'r1'), path.join(top, 'r2')], '.log', 2, false),
      fakeSource('alpha', [`${path.join(top, 'r1')}${path.sep}`, path.join(top, 'link'), path.join(top, 'missing')], '.jsonl', 3, true),
      fakeSource('beta', nested ? [path.join(top, 'r1'), path.join(top, 'r1', 'a')] : [path.join(top, 'link'), path.join(top, 'r2')], '.log', 1, true),
    ];
    const env = isolatedEnv(path.join(top, 'no-claude'));
    return { top, sources, env, stateDir: savedColdScan(env, { sources }) };
  }

  const engineOn = (t: Tree, stateDir: string, deferred: boolean, sources = t.sources): Engine => {
    const engine = new Engine({ env: t.env, stateDir, sources });
    engine.open({ deferRecords: deferred });
    return engine;
  };
  const exact = (scan: ReturnType<Engine['scan']>) => ({ ...found(scan), bytesRead: scan.bytesRead, unreadable: scan.unreadable.map((u) => u.path).sort() });
  /** Runs `change` with the mtime of `dir` put back afterwards (only the entries, or the files' stats, tell). */
  const keepingMtime = (dir: string, change: () => void) => {
    const { atime, mtime } = fs.statSync(dir);
    change();
    fs.utimesSync(dir, atime, mtime);
  };

  /** Where the usual way reads, lists or saves nothing (a folder dated back hides its new entries from both ways). */
  const QUICK = new Set(['nothing', 'a new log, the folder dated back', 'a new folder at the deepest level walked', 'a log in a skipped folder', 'the same names, the mtime moved']);
  const cases: Array<[string, (t: Tree) => void, boolean?]> = [
    ['nothing', () => undefined],
    ['nothing (nested roots of one agent)', () => undefined, true],
    ['a line appended where two agents read', (t) => fs.appendFileSync(path.join(t.top, 'r1', 'a', 'b', 'three.log'), 'more\n')],
    ['a new log, the folder dated back', (t) => keepingMtime(path.join(t.top, 'r1', 'a'), () => fs.writeFileSync(path.join(t.top, 'r1', 'a', 'new.log'), 'x\n'))],
    ['a new folder at the deepest level walked', (t) => keepingMtime(path.join(t.top, 'r1', 'a', 'b'), () => fs.mkdirSync(path.join(t.top, 'r1', 'a', 'b', 'c')))],
    ['a new empty folder (its parent listed again)', (t) => fs.mkdirSync(path.join(t.top, 'r2', 'd', 'e'))],
    ['a log in a skipped folder', (t) => fs.writeFileSync(path.join(t.top, 'r1', 'skip', 'seven.log'), 'x\n')],
    ['the same names, the mtime moved', (t) => fs.utimesSync(path.join(t.top, 'r1'), HOUR_AGO + 30, HOUR_AGO + 30)],
    ['a rule that reads the file again (its sibling appeared)', (t) => fs.writeFileSync(path.join(t.top, 'r1', 'a', 'b', 'shadow.jsonl.x'), '')],
    ['a symlinked root moved to another folder', (t) => {
      fs.rmSync(path.join(t.top, 'link'));
      fs.symlinkSync(path.join(t.top, 'r2'), path.join(t.top, 'link'));
    }],
    ['a log that became a dangling link, the folder dated back', (t) => keepingMtime(path.join(t.top, 'r2'), () => {
      fs.rmSync(path.join(t.top, 'r2', 'five.log'));
      fs.symlinkSync(path.join(t.top, 'nowhere'), path.join(t.top, 'r2', 'five.log'));
    })],
    ['a missing root appears', (t) => fs.mkdirSync(path.join(t.top, 'missing'))],
    ['a root deleted', (t) => fs.rmSync(path.join(t.top, 'r2'), { recursive: true })],
  ];

  for (const [name, change, nested] of cases) {
    it(`agrees, and takes the quick way only when the usual one would neither read nor save: ${name}`, () => {
      const t = tree(nested === true);
      change(t);
      const copy = copyDir(t.stateDir);
      const before = fs.readFileSync(path.join(copy, STATE_FILE));
      const quick = engineOn(t, t.stateDir, true);
      const usual = engineOn(t, copy, false);
      const scan = quick.scan();
      assert.deepEqual(exact(scan), exact(usual.scan()));
      if (quick.readingDeferred) {
        usual.save();
        assert.deepEqual(fs.readFileSync(path.join(copy, STATE_FILE)), before, 'the usual way had nothing to save either');
      }
      assert.equal(quick.readingDeferred, QUICK.has(name), 'the quick way taken where nothing the usual way sees changed');
      // What follows in the same engine: a watcher's paths, a second scan, saves, reports.
      const log = path.join(t.top, 'r1', 'one.log');
      if (fs.existsSync(log)) fs.appendFileSync(log, 'later\n');
      assert.deepEqual(exact(quick.scan([log])), exact(usual.scan([log])));
      assert.deepEqual(exact(quick.scan()), exact(usual.scan()));
      quick.save();
      usual.save();
      const stateOf = (dir: string) => {
        const engine = engineOn(t, dir, false);
        return { cursors: [...engine.cursors.keys()].sort(), listings: [...engine.folders.listings].map(([key, l]) => [key, l[1], l[2]]).sort() };
      };
      assert.deepEqual(stateOf(t.stateDir), stateOf(copy));
    });
  }

  it('an agent switched off (its listings stale): the usual way drops them and saves, so the quick way must not answer', () => {
    const t = tree(false);
    const fewer = t.sources.slice(0, 2);
    const copy = copyDir(t.stateDir);
    const quick = engineOn(t, t.stateDir, true, fewer);
    const usual = engineOn(t, copy, false, fewer);
    assert.deepEqual(exact(quick.scan()), exact(usual.scan()));
    assert.equal(quick.readingDeferred, false);
    assert.equal(usual.folders.changed, true);
  });
});

describe('a deferred load dropped before it was read whole', () => {
  /** This process's descriptors open on the state file (Linux: /proc/self/fd). */
  const heldOn = (stateDir: string): number => {
    const file = fs.realpathSync(path.join(stateDir, STATE_FILE));
    let held = 0;
    for (const fd of fs.readdirSync('/proc/self/fd')) {
      try {
        if (fs.readlinkSync(path.join('/proc/self/fd', fd)) === file) held++;
      } catch {
        // gone meanwhile (the directory's own descriptor)
      }
    }
    return held;
  };
  const linuxOnly = { skip: process.platform !== 'linux' && 'needs /proc/self/fd' };

  it('a second open() lets go of the first one\'s file, and what it loads still reads whole', linuxOnly, () => {
    const s = seeded();
    const engine = deferredEngine(s);
    assert.equal(heldOn(s.stateDir), 1, 'a deferred load keeps its file open');
    engine.open({ deferRecords: true });
    engine.open({ deferRecords: true });
    assert.equal(heldOn(s.stateDir), 1, 'only the last load holds the file');
    assert.equal(engine.report().totals.requests, 12);
    assert.equal(engine.cursors.size, 5);
    assert.equal(heldOn(s.stateDir), 0, 'both parts read: the file is closed');
  });

  it('an open() that finds no state any more lets go of the reading part it drops; the records still load', linuxOnly, () => {
    const s = seeded();
    const engine = deferredEngine(s);
    const kept = path.join(s.stateDir, 'kept.bin');
    fs.renameSync(path.join(s.stateDir, STATE_FILE), kept);
    engine.open({ deferRecords: true }); // missing now: the ledger loaded before stays, its reading part is dropped
    fs.renameSync(kept, path.join(s.stateDir, STATE_FILE));
    assert.equal(heldOn(s.stateDir), 1, 'the records still to read hold the file');
    assert.equal(engine.report().totals.requests, 12);
    assert.equal(heldOn(s.stateDir), 0, 'the records read: nothing holds the file');
  });
});
