// `mkdir -p` that always ends.

import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Makes `dir` and any missing parent. Node's `fs.mkdirSync(dir, { recursive: true })` never returns where the kernel
 * answers "no such file" for a folder whose parent exists (below /proc, nothing can be made): it creates the parent
 * and tries again, forever, at full CPU. Here a second "no such file" is the answer, thrown.
 */
export function makeDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && isDirectory(dir)) return;
    if (code !== 'ENOENT') throw error;
  }
  const parent = path.dirname(dir);
  if (parent === dir) throw Object.assign(new Error(`ENOENT: no such file or directory, mkdir '${dir}'`), { code: 'ENOENT' });
  makeDirectory(parent);
  try {
    fs.mkdirSync(dir);
  } catch (error) {
    // Made meanwhile by another process: as good as made here.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !isDirectory(dir)) throw error;
  }
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
