// Finding log files without listing every folder every time. A folder's mtime changes when an entry is added,
// removed or renamed in it (not when a file in it grows), so a folder whose mtime is what it was when we listed
// it still holds the same entries: one stat instead of open + getdents + close. Thousands of session folders make
// that most of a warm start's time.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { statFile, statMtimeMs, type StatFields } from './fastStat';
import type { CursorStamp } from './tail';

/**
 * Node reads folder entries as UTF-8: a name that is not (bytes from another encoding) comes back with U+FFFD in
 * place of them, and no file has that name. It is "not found" then, which must not pass for "deleted meanwhile".
 */
export const UNDECODABLE_NAME = 'its name is not valid UTF-8, so it cannot be opened by name: rename it to read it';

export function hasUndecodableName(file: string): boolean {
  return file.includes('\uFFFD');
}

/** What a folder held when it was listed: its mtime then, its matching files and its subfolders. */
export type FolderListing = [mtimeMs: number, files: string[], folders: string[]];

/** mtimes this close to the listing time may hide a later change in the same clock tick: list again. */
const SAFETY_MS = 2000;

export interface WalkOptions {
  maxDepth: number;
  skipFolders: ReadonlySet<string>;
  isWanted: (name: string) => boolean;
}

/** The key of a folder's listing: its path, after `namespace` and a NUL for any namespace but Claude Code's (''). */
export function listingKey(namespace: string, dir: string): string {
  return namespace ? `${namespace}\u0000${dir}` : dir;
}

/** A listing key's parts: the namespace with its NUL ('' for none), and the folder's path. */
export function splitListingKey(key: string): { namespace: string; dir: string } {
  const at = key.indexOf('\u0000');
  return at < 0 ? { namespace: '', dir: key } : { namespace: key.slice(0, at + 1), dir: key.slice(at + 1) };
}

/** The entries of `dir` a walk with `options` keeps: wanted files (and links), subfolders not skipped. Throws fs errors. */
function listFolder(dir: string, options: WalkOptions): { wanted: string[]; folders: string[] } {
  const wanted: string[] = [];
  const folders: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!options.skipFolders.has(entry.name)) folders.push(entry.name);
    } else if ((entry.isFile() || entry.isSymbolicLink()) && options.isWanted(entry.name)) {
      wanted.push(entry.name);
    }
  }
  return { wanted, folders };
}

function sameNames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class FolderIndex {
  readonly listings: Map<string, FolderListing>;
  changed = false;

  constructor(listings: Array<[string, ...FolderListing]> = []) {
    // An indexed loop, no destructuring: this runs once per start, before anything is optimised, over every folder.
    this.listings = new Map();
    for (let i = 0; i < listings.length; i++) {
      const entry = listings[i];
      this.listings.set(entry[0], [entry[1], entry[2], entry[3]]);
    }
  }

  serialize(): Array<[string, ...FolderListing]> {
    const out: Array<[string, ...FolderListing]> = [];
    for (const [dir, listing] of this.listings) out.push([dir, listing[0], listing[1], listing[2]]);
    return out;
  }

  /**
   * Appends the wanted files below `root` to `files`; unreadable folders go to `unreadable`. Every folder visited
   * is added to `visited`, for retainOnly(). Listings are filtered by `options`, so each source walks in its own
   * `namespace` (two agents may share a folder, a project folder for instance).
   */
  walk(
    root: string,
    options: WalkOptions,
    files: string[],
    unreadable: Array<{ path: string; error: string }>,
    visited: Set<string>,
    namespace = '',
  ): void {
    this.walkFolder(root, 0, options, files, unreadable, visited, listingKey(namespace, ''));
  }

  /** Drops the listings of folders that no walk reached (deleted, or no longer below a root). */
  retainOnly(visited: Set<string>): void {
    for (const dir of this.listings.keys()) {
      if (!visited.has(dir)) {
        this.listings.delete(dir);
        this.changed = true;
      }
    }
  }

  private walkFolder(
    dir: string,
    depth: number,
    options: WalkOptions,
    files: string[],
    unreadable: Array<{ path: string; error: string }>,
    seen: Set<string>,
    prefixKey: string,
  ): void {
    // Always concatenated ('' + dir is dir): a branch first taken after V8 optimised this would throw that code away.
    const key = prefixKey + dir;
    seen.add(key);
    let listing = this.listings.get(key);
    let mtimeMs: number;
    try {
      mtimeMs = statMtimeMs(dir);
    } catch (error) {
      this.forget(key);
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') unreadable.push({ path: dir, error: (error as Error).message });
      else if (hasUndecodableName(dir)) unreadable.push({ path: dir, error: UNDECODABLE_NAME });
      return;
    }
    if (!listing || listing[0] !== mtimeMs) {
      let wanted: string[];
      let folders: string[];
      try {
        ({ wanted, folders } = listFolder(dir, options));
      } catch (error) {
        this.forget(key);
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') unreadable.push({ path: dir, error: (error as Error).message });
        return;
      }
      // A listing made in the same clock tick as the folder's last change might miss a change made right after.
      const previous = listing;
      listing = [Date.now() - mtimeMs > SAFETY_MS ? mtimeMs : -1, wanted, folders];
      this.listings.set(key, listing);
      // Only a different set of entries is worth rewriting the state file for (a project folder's mtime moves with
      // every file saved in it); a new mtime alone is kept in memory and saved with the next real change.
      if (!previous || !sameNames(previous[1], wanted) || !sameNames(previous[2], folders)) this.changed = true;
    }
    // Plain concatenation: `dir` is already normal and names have no separators (path.join normalises, slowly).
    const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
    for (const name of listing[1]) files.push(prefix + name);
    if (depth < options.maxDepth) {
      for (const name of listing[2]) this.walkFolder(prefix + name, depth + 1, options, files, unreadable, seen, prefixKey);
    }
  }

  private forget(dir: string): void {
    if (this.listings.delete(dir)) this.changed = true;
  }
}

/**
 * The listings and cursors as a state file's first part holds them (stateStore.ts, format 4): arrays linked by index,
 * for a start to check that nothing changed without building a path string or an object per file.
 */
export interface QuickIndex {
  /** The listings no other listing names as a subfolder, where walks start, by listing key. */
  roots: Map<string, number>;
  folderMtimes: Float64Array;
  /** Per listing: how many files, then how many subfolders, it holds. */
  folderCounts: Uint32Array;
  /** Per listing: the index of its first name (its files' names, then its subfolders'). */
  firstName: Uint32Array;
  /** Per name: the cursor of that file, or the listing of that subfolder; -1 when there is none. */
  links: Int32Array;
  /** Every name, then every distinct cursor context, one after the other: string i is names.slice(nameAt[i], nameAt[i + 1]). */
  names: string;
  nameAt: Uint32Array;
  /** The index in `nameAt` of the first context (the number of names). */
  firstContext: number;
  /** Per cursor: offset, size, mtimeMs, ino. */
  cursorNumbers: Float64Array;
  /** Per cursor: its context's index among the contexts, or -1 for none. */
  contextIds: Int32Array;
}

/** Cursor `cursor`'s figures and context, as a source's own rule for "unchanged" reads them. */
function stampOf(index: QuickIndex, cursor: number): CursorStamp {
  const context = index.contextIds[cursor];
  const at = index.firstContext + context;
  return {
    size: index.cursorNumbers[cursor * 4 + 1],
    mtimeMs: index.cursorNumbers[cursor * 4 + 2],
    ino: index.cursorNumbers[cursor * 4 + 3],
    context: context < 0 ? undefined : index.names.slice(index.nameAt[at], index.nameAt[at + 1]),
  };
}

function sameNamesAt(index: QuickIndex, first: number, count: number, names: string[]): boolean {
  if (names.length !== count) return false;
  for (let i = 0; i < count; i++) {
    if (names[i] !== index.names.slice(index.nameAt[first + i], index.nameAt[first + i + 1])) return false;
  }
  return true;
}

/**
 * Whether folder `dir` (listing `folder` of `index`) and everything below it are as recorded, checked the way
 * FolderIndex.walk() and the engine's plan would: each folder's mtime (where it moved, its entries, listed again),
 * each listed file's size, mtime and inode against its cursor. Marks the listings it reaches in `visited`. Returns
 * how many files it checked, or -1 at the first difference, or at anything missing, unreadable or without a cursor
 * (the caller then takes the usual way, which reports those).
 */
export function unchangedBelow(
  index: QuickIndex,
  folder: number,
  dir: string,
  depth: number,
  options: WalkOptions,
  visited: Uint8Array,
  isUnchanged?: (file: string, cursor: CursorStamp, stat: StatFields) => boolean,
): number {
  visited[folder] = 1;
  let mtimeMs: number;
  try {
    mtimeMs = statMtimeMs(dir);
  } catch {
    return -1;
  }
  const first = index.firstName[folder];
  const files = index.folderCounts[folder * 2];
  const subfolders = index.folderCounts[folder * 2 + 1];
  if (index.folderMtimes[folder] !== mtimeMs) {
    // The walk lists such a folder again, and it has not changed if the same names are there.
    let listed: { wanted: string[]; folders: string[] };
    try {
      listed = listFolder(dir, options);
    } catch {
      return -1;
    }
    if (!sameNamesAt(index, first, files, listed.wanted) || !sameNamesAt(index, first + files, subfolders, listed.folders)) return -1;
  }
  const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
  const { links, names, nameAt, cursorNumbers } = index;
  let count = 0;
  for (let n = first; n < first + files; n++) {
    const cursor = links[n];
    if (cursor < 0) return -1;
    const file = prefix + names.slice(nameAt[n], nameAt[n + 1]);
    let stat: StatFields;
    try {
      stat = statFile(file);
    } catch {
      return -1;
    }
    if (!stat.isFile()) return -1;
    if (isUnchanged) {
      if (!isUnchanged(file, stampOf(index, cursor), stat)) return -1;
    } else {
      const at = cursor * 4;
      if (stat.size !== cursorNumbers[at + 1] || stat.mtimeMs !== cursorNumbers[at + 2] || stat.ino !== cursorNumbers[at + 3]) return -1;
    }
    count++;
  }
  if (depth < options.maxDepth) {
    for (let n = first + files; n < first + files + subfolders; n++) {
      const child = links[n];
      if (child < 0) return -1;
      const below = unchangedBelow(index, child, prefix + names.slice(nameAt[n], nameAt[n + 1]), depth + 1, options, visited, isUnchanged);
      if (below < 0) return -1;
      count += below;
    }
  }
  return count;
}
