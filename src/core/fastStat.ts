// Stat without fs.Stats. A warm start stats every log file and folder (3,700 of them for a year of heavy Claude Code
// use) to learn that nothing changed. On Node 20, fs.statSync builds a Stats object with four Dates for each call:
// about 1.2 KB, 4.5 MB per warm start, which on a virtual machine costs more in page faults and scavenges than the
// system calls themselves.
//
// Node's own fs binding answers a stat with a Float64Array it reuses for every call; fs.statSync is that call plus
// the Stats object. This module makes the same call and reads the four numbers the scan needs. The binding is
// internal (process.binding is deprecated, DEP0111, without a warning unless --pending-deprecation), so it is used
// only where it proves itself: on a POSIX system, without --pending-deprecation, after one call whose answer matches
// fs.statSync's to the bit. Anywhere else, and if that check fails, every call goes through fs.statSync. Errors are
// the same either way (fs.statSync throws the binding's own).

import * as fs from 'node:fs';

/** The fields of a stat the scan reads (fs.Stats has them all). */
export interface StatFields {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  isFile(): boolean;
  isDirectory(): boolean;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

class LiteStat implements StatFields {
  constructor(
    readonly mode: number,
    readonly size: number,
    readonly mtimeMs: number,
    readonly ino: number,
  ) {}
  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
}

/** The binding's stat: (path, bigint, request, throwIfNoEntry) → its shared array (Node 20.20 to 24 at least). */
type BindingStat = (path: string, bigint: boolean, request: undefined, throwIfNoEntry: boolean) => Float64Array | undefined;

// The array's layout (node_file.h): dev, mode, nlink, uid, gid, rdev, blksize, ino, size, blocks, then seconds and
// nanoseconds of atime, mtime, ctime, birthtime.
const MODE = 1;
const INO = 7;
const SIZE = 8;
const MTIME_SEC = 12;
const MTIME_NSEC = 13;

/** fs.Stats' own arithmetic (lib/internal/fs/utils.js msFromTimeSpec), so that mtimes compare equal to the bit. */
const msOf = (sec: number, nsec: number): number => sec * 1e3 + nsec / 1e6;

/** Why the binding is not used here, or null if it may be (before its first check). */
export function bindingUnavailableReason(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): string | null {
  if (process.platform === 'win32') return 'Windows (paths need namespacing there)';
  if (env.AGENT_SPEND_PORTABLE_STAT) return 'AGENT_SPEND_PORTABLE_STAT is set';
  // Node takes `--pending_deprecation` as well, and NODE_OPTIONS' words quoted.
  const pending = (flags: string) => /(^|[\s"'])--pending[-_]deprecation([\s"'=]|$)/.test(flags);
  if (execArgv.some((flag) => pending(flag)) || pending(env.NODE_OPTIONS ?? '') || env.NODE_PENDING_DEPRECATION === '1') {
    return '--pending-deprecation would print a warning for process.binding';
  }
  const binding = (process as { binding?: unknown }).binding;
  if (typeof binding !== 'function') return 'no process.binding';
  // However the flag was given, Node then wraps process.binding in util.deprecate(), whose function is `deprecated`.
  if (binding.name === 'deprecated') return '--pending-deprecation would print a warning for process.binding';
  return null;
}

let bindingStat: BindingStat | null | undefined;

/** Loads the binding's stat and checks it; null when it cannot be used. */
function loadBinding(): BindingStat | null {
  if (bindingUnavailableReason() !== null) return null;
  try {
    return checkedBindingStat((process as unknown as { binding(name: string): unknown }).binding('fs'));
  } catch {
    return null;
  }
}

function errorCodeOf(call: () => unknown): string | undefined {
  try {
    call();
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'no code';
  }
  return undefined;
}

/**
 * `binding`'s stat if it answers as fs.statSync does, both for a file that is there (`probe`: its mode, inode, size
 * and mtime to the bit) and for one that cannot be (a path through that file: it must throw, with the same code),
 * else null. Exported for tests, which hand it bindings that answer otherwise.
 */
export function checkedBindingStat(binding: unknown, probe = process.execPath): BindingStat | null {
  const stat = (binding as { stat?: unknown } | null)?.stat;
  if (typeof stat !== 'function') return null;
  const call = stat.bind(binding) as BindingStat;
  try {
    const values = call(probe, false, undefined, true);
    if (!(values instanceof Float64Array) || values.length < 14) return null;
    const expected = fs.statSync(probe);
    const matches =
      values[MODE] === expected.mode &&
      values[INO] === expected.ino &&
      values[SIZE] === expected.size &&
      msOf(values[MTIME_SEC], values[MTIME_NSEC]) === expected.mtimeMs;
    if (!matches) return null;
    const missing = `${probe}/agent-spend-probe`;
    const code = errorCodeOf(() => fs.statSync(missing));
    if (code === undefined || errorCodeOf(() => call(missing, false, undefined, true)) !== code) return null;
    return call;
  } catch {
    return null;
  }
}

function binding(): BindingStat | null {
  if (bindingStat === undefined) bindingStat = loadBinding();
  return bindingStat;
}

/** A path the binding may be handed as is: fs.statSync rejects a NUL (the binding would cut the path there). */
const plainPath = (file: string): boolean => typeof file === 'string' && file.length > 0 && !file.includes('\0');

/**
 * Stats `file` (following symlinks) like fs.statSync, with the fields the scan reads; throws what fs.statSync
 * throws (ENOENT, EACCES...).
 */
export function statFile(file: string): StatFields {
  const call = plainPath(file) ? binding() : null;
  if (call) {
    const v = call(file, false, undefined, true)!;
    return new LiteStat(v[MODE], v[SIZE], msOf(v[MTIME_SEC], v[MTIME_NSEC]), v[INO]);
  }
  return fs.statSync(file);
}

/** A folder's (or file's) mtime in ms, as fs.statSync(path).mtimeMs; throws what fs.statSync throws. */
export function statMtimeMs(file: string): number {
  const call = plainPath(file) ? binding() : null;
  if (call) {
    const v = call(file, false, undefined, true)!;
    return msOf(v[MTIME_SEC], v[MTIME_NSEC]);
  }
  return fs.statSync(file).mtimeMs;
}

/** Whether statFile() uses the binding in this process (decided on first use). Tests and diagnostics. */
export function usesBinding(): boolean {
  return binding() !== null;
}

/** Tests: forget the decision, so that the next call decides again (after changing the environment). */
export function resetForTests(): void {
  bindingStat = undefined;
}
