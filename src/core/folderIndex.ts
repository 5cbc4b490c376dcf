// Finding log files without listing every folder every time. A folder's mtime changes when an entry is added,
// removed or renamed in it (not when a file in it grows), so a folder whose mtime is what it was when we listed
// it still holds the same entries: one stat instead of open + getdents + close. Thousands of session folders make
// that most of a warm start's time.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { statMtimeMs } from './fastStat';

/** What a folder held when it was listed: its mtime then, its matching files and its subfolders. */
export type FolderListing = [mtimeMs: number, files: string[], folders: string[]];

/** mtimes this close to the listing time may hide a later change in the same clock tick: list again. */
const SAFETY_MS = 2000;

export interface WalkOptions {
  maxDepth: number;
  skipFolders: ReadonlySet<string>;
  isWanted: (name: string) => boolean;
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
    this.walkFolder(root, 0, options, files, unreadable, visited, namespace ? `${namespace}\u0000` : '');
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
      return;
    }
    if (!listing || listing[0] !== mtimeMs) {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch (error) {
        this.forget(key);
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') unreadable.push({ path: dir, error: (error as Error).message });
        return;
      }
      const wanted: string[] = [];
      const folders: string[] = [];
      for (const entry of entries) {
        if (entry.isDirectory()) {
          if (!options.skipFolders.has(entry.name)) folders.push(entry.name);
        } else if ((entry.isFile() || entry.isSymbolicLink()) && options.isWanted(entry.name)) {
          wanted.push(entry.name);
        }
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
