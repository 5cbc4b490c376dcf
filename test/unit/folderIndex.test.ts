// Discovery with remembered folder listings must still find every new file and folder.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FolderIndex, type WalkOptions } from '../../src/core/folderIndex';
import { tempDir } from './helpers';

const OPTIONS: WalkOptions = { maxDepth: 8, skipFolders: new Set(['skip']), isWanted: (n) => n.endsWith('.jsonl') };

function list(index: FolderIndex, root: string): string[] {
  const files: string[] = [];
  const visited = new Set<string>();
  index.walk(root, OPTIONS, files, [], visited);
  index.retainOnly(visited);
  return files.map((f) => path.relative(root, f)).sort();
}

/** Pretends the folder changed long ago, as folders do between two runs. */
function age(dir: string, seconds: number): void {
  const when = new Date(Date.now() - seconds * 1000);
  fs.utimesSync(dir, when, when);
}

describe('folder index', () => {
  it('lists wanted files, skips skipped folders, and reuses a listing whose folder did not change', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'p', 's', 'subagents'), { recursive: true });
    fs.mkdirSync(path.join(root, 'p', 'skip'));
    fs.writeFileSync(path.join(root, 'p', 'a.jsonl'), '');
    fs.writeFileSync(path.join(root, 'p', 'notes.txt'), '');
    fs.writeFileSync(path.join(root, 'p', 's', 'subagents', 'agent-1.jsonl'), '');
    fs.writeFileSync(path.join(root, 'p', 'skip', 'x.jsonl'), '');
    for (const dir of [root, path.join(root, 'p'), path.join(root, 'p', 's'), path.join(root, 'p', 's', 'subagents')]) age(dir, 60);
    const index = new FolderIndex();
    assert.deepEqual(list(index, root), ['p/a.jsonl', 'p/s/subagents/agent-1.jsonl']);
    // A stale listing would be reused: prove it by doctoring one and seeing it come back unchanged.
    index.listings.get(path.join(root, 'p'))![1].push('ghost.jsonl');
    assert.ok(list(index, root).includes('p/ghost.jsonl'), 'an unchanged folder is not listed again');
  });

  it('sees a file added to a known folder, a new folder, and a deleted one', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'p'), { recursive: true });
    fs.writeFileSync(path.join(root, 'p', 'a.jsonl'), '');
    age(path.join(root, 'p'), 60);
    age(root, 60);
    const index = new FolderIndex(new FolderIndex().serialize());
    assert.deepEqual(list(index, root), ['p/a.jsonl']);
    const restored = new FolderIndex(index.serialize()); // as after a restart
    fs.writeFileSync(path.join(root, 'p', 'b.jsonl'), '');
    fs.mkdirSync(path.join(root, 'q', 's', 'subagents'), { recursive: true });
    fs.writeFileSync(path.join(root, 'q', 's', 'subagents', 'agent-2.jsonl'), '');
    assert.deepEqual(list(restored, root), ['p/a.jsonl', 'p/b.jsonl', 'q/s/subagents/agent-2.jsonl']);
    fs.rmSync(path.join(root, 'q'), { recursive: true });
    assert.deepEqual(list(restored, root), ['p/a.jsonl', 'p/b.jsonl']);
    assert.ok(![...restored.listings.keys()].some((dir) => dir.includes(`${path.sep}q`)), 'listings of deleted folders are dropped');
  });

  it('does not trust a listing made in the same moment its folder changed', () => {
    const root = tempDir();
    fs.writeFileSync(path.join(root, 'a.jsonl'), '');
    const index = new FolderIndex();
    assert.deepEqual(list(index, root), ['a.jsonl']);
    // Same clock tick on a coarse file system: the mtime would not move. Simulate by restoring the old mtime.
    const { mtime } = fs.statSync(root);
    fs.writeFileSync(path.join(root, 'b.jsonl'), '');
    fs.utimesSync(root, mtime, mtime);
    assert.deepEqual(list(index, root), ['a.jsonl', 'b.jsonl']);
  });

  it('a folder that does not exist is not an error', () => {
    const index = new FolderIndex();
    const unreadable: Array<{ path: string; error: string }> = [];
    index.walk(path.join(tempDir(), 'nope'), OPTIONS, [], unreadable, new Set());
    assert.deepEqual(unreadable, [], 'a missing folder is not an error');
  });
});
