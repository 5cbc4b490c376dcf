// The scan's stat (src/core/fastStat.ts) must answer exactly what fs.statSync answers, errors included, whether it
// goes through Node's fs binding or not; and it must not touch the binding where that would print a deprecation
// warning.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { bindingUnavailableReason, checkedBindingStat, resetForTests, statFile, statMtimeMs, usesBinding } from '../../src/core/fastStat';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'agent-spend-faststat-'));
}

/** Paths of every kind the scan meets: files (empty, large, sub-ms mtimes), folders, symlinks to both. */
function sampleTree(): { dir: string; paths: string[] } {
  const dir = tempDir();
  const paths: string[] = [dir];
  for (let i = 0; i < 40; i++) {
    const file = path.join(dir, `f${i}.jsonl`);
    fs.writeFileSync(file, 'x'.repeat(i * 997));
    // Fractional seconds down to the nanosecond place, where rounding in ms arithmetic would show.
    const t = 1_700_000_000 + i * 86_400 + (i * 123_456_789 + 7) / 1e9;
    fs.utimesSync(file, t, t);
    paths.push(file);
  }
  const sub = path.join(dir, 'sub', 'subagents');
  fs.mkdirSync(sub, { recursive: true });
  paths.push(path.join(dir, 'sub'), sub);
  fs.symlinkSync(path.join(dir, 'f3.jsonl'), path.join(dir, 'link.jsonl'));
  fs.symlinkSync(sub, path.join(dir, 'linkdir'));
  paths.push(path.join(dir, 'link.jsonl'), path.join(dir, 'linkdir'));
  const big = path.join(dir, 'big.jsonl');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, 5 * 2 ** 32 + 3); // sparse: a size past 32 bits
  paths.push(big);
  return { dir, paths };
}

function errorOf(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  assert.fail('expected an error');
}

describe('fastStat', () => {
  afterEach(() => resetForTests());

  it('goes through the binding on this POSIX Node (else the comparisons below would test fs.statSync against itself)', () => {
    if (process.platform === 'win32') return;
    assert.equal(bindingUnavailableReason(), null);
    assert.equal(usesBinding(), true);
    const { dir } = sampleTree();
    assert.ok(!(statFile(path.join(dir, 'f1.jsonl')) instanceof fs.Stats), 'no fs.Stats built');
  });

  it('answers what fs.statSync answers: size, mtimeMs to the bit, inode, file or folder, symlinks followed', () => {
    const { paths } = sampleTree();
    for (const p of paths) {
      const expected = fs.statSync(p);
      const got = statFile(p);
      assert.equal(got.size, expected.size, p);
      assert.ok(Object.is(got.mtimeMs, expected.mtimeMs), `${p}: ${got.mtimeMs} vs ${expected.mtimeMs}`);
      assert.equal(got.ino, expected.ino, p);
      assert.equal(got.isFile(), expected.isFile(), p);
      assert.equal(got.isDirectory(), expected.isDirectory(), p);
      assert.ok(Object.is(statMtimeMs(p), expected.mtimeMs), p);
    }
  });

  it('throws what fs.statSync throws: a missing path, a path through a file, a dangling link, a NUL', () => {
    const { dir } = sampleTree();
    fs.symlinkSync(path.join(dir, 'gone'), path.join(dir, 'dangling'));
    for (const p of [path.join(dir, 'missing.jsonl'), path.join(dir, 'f1.jsonl', 'x'), path.join(dir, 'dangling'), `${dir}/f1\0.jsonl`]) {
      const expected = errorOf(() => fs.statSync(p));
      for (const fn of [() => statFile(p), () => statMtimeMs(p)]) {
        const got = errorOf(fn);
        assert.equal(got.code, expected.code, p);
        assert.equal(got.message, expected.message, p);
      }
    }
  });

  const noPermissions = process.platform === 'win32' ? 'no POSIX permissions' : process.getuid?.() === 0 ? 'root may search any folder' : false;
  it('throws EACCES for a folder it may not search', { skip: noPermissions }, () => {
    const { dir } = sampleTree();
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked);
    fs.writeFileSync(path.join(locked, 'a.jsonl'), 'x');
    fs.chmodSync(locked, 0o000);
    try {
      assert.equal(errorOf(() => statFile(path.join(locked, 'a.jsonl'))).code, 'EACCES');
    } finally {
      fs.chmodSync(locked, 0o755);
    }
  });

  it("takes the binding's stat only if it answers as fs.statSync does, for a file that is there and for one that is not", () => {
    if (process.platform === 'win32') return;
    const real = (process as unknown as { binding(name: string): { stat: (...args: unknown[]) => unknown } }).binding('fs');
    assert.equal(typeof checkedBindingStat(real), 'function');
    const { dir } = sampleTree();
    const probe = path.join(dir, 'f5.jsonl');
    assert.equal(typeof checkedBindingStat(real, probe), 'function');
    const faking = (stat: (...args: unknown[]) => unknown) => checkedBindingStat({ stat }, probe);
    // An older convention: errors left in a context object, nothing thrown.
    assert.equal(faking((p, bigint, req, ctx) => (String(p).endsWith('probe') ? undefined : real.stat(p, bigint, req, ctx))), null);
    // Another layout (the size where the inode was).
    assert.equal(faking((...args) => { const v = Float64Array.from(real.stat(...args) as Float64Array); [v[7], v[8]] = [v[8], v[7]]; return v; }), null);
    // Times rounded to the millisecond.
    assert.equal(faking((...args) => { const v = Float64Array.from(real.stat(...args) as Float64Array); v[13] = Math.round(v[13] / 1e6) * 1e6 + 1; return v; }), null);
    // Another error for a missing file.
    assert.equal(faking((p, ...rest) => { if (String(p).endsWith('probe')) throw Object.assign(new Error('x'), { code: 'EIO' }); return real.stat(p, ...rest); }), null);
    assert.equal(checkedBindingStat({}), null);
    assert.equal(checkedBindingStat(null), null);
  });

  it('keeps away from the binding where it would warn, or where asked to', () => {
    if (process.platform === 'win32') return;
    assert.match(bindingUnavailableReason({ NODE_OPTIONS: '--max-old-space-size=100 --pending-deprecation' }, []) ?? '', /pending-deprecation/);
    assert.match(bindingUnavailableReason({ NODE_PENDING_DEPRECATION: '1' }, []) ?? '', /pending-deprecation/);
    assert.match(bindingUnavailableReason({}, ['--pending-deprecation']) ?? '', /pending-deprecation/);
    assert.match(bindingUnavailableReason({ AGENT_SPEND_PORTABLE_STAT: '1' }, []) ?? '', /AGENT_SPEND_PORTABLE_STAT/);
    assert.equal(bindingUnavailableReason({ NODE_OPTIONS: '--no-deprecation' }, []), null);
    // Node takes a flag's dashes as underscores too, and NODE_OPTIONS' words quoted.
    assert.match(bindingUnavailableReason({ NODE_OPTIONS: '--pending_deprecation' }, []) ?? '', /pending-deprecation/);
    assert.match(bindingUnavailableReason({}, ['--pending_deprecation']) ?? '', /pending-deprecation/);
    assert.match(bindingUnavailableReason({ NODE_OPTIONS: '"--pending-deprecation"' }, []) ?? '', /pending-deprecation/);
  });

  it('prints no deprecation warning under --pending-deprecation, however it is spelled, and still answers', () => {
    const { dir } = sampleTree();
    const module = path.join(__dirname, '..', '..', 'src', 'core', 'fastStat.ts');
    const script = `
      import fastStat from ${JSON.stringify(module)};
      const s = fastStat.statFile(${JSON.stringify(path.join(dir, 'f2.jsonl'))});
      process.stdout.write(JSON.stringify([s.size, fastStat.usesBinding()]));
    `;
    const { NODE_OPTIONS: _, NODE_PENDING_DEPRECATION: __, ...env } = process.env;
    const ways: Array<[string[], NodeJS.ProcessEnv]> = [
      [['--pending-deprecation'], env],
      [['--pending_deprecation'], env],
      [[], { ...env, NODE_OPTIONS: '"--pending_deprecation"' }],
      [[], { ...env, NODE_PENDING_DEPRECATION: '1' }],
    ];
    for (const [flags, childEnv] of ways) {
      const child = spawnSync(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: childEnv });
      const what = JSON.stringify([flags, childEnv.NODE_OPTIONS, childEnv.NODE_PENDING_DEPRECATION]);
      assert.equal(child.status, 0, `${what}: ${child.stderr}`);
      assert.doesNotMatch(child.stderr, /DEP0111|DeprecationWarning/, what);
      assert.deepEqual(JSON.parse(child.stdout), [2 * 997, false], what);
    }
  });
});
