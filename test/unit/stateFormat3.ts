// Format 3 of the state file exactly as versions up to November 2026 wrote it (frozen here: this is what users'
// state folders hold, and the current version must keep reading it).

import * as zlib from 'node:zlib';
import type { FolderIndex } from '../../src/core/folderIndex';
import { COLUMN_NAMES, type Ledger } from '../../src/core/ledger';
import type { FileCursor } from '../../src/core/tail';

const align8 = (n: number): number => (n + 7) & ~7;

export function encodeFormat3(ledger: Ledger, reading: { cursors: Map<string, FileCursor>; folders: FolderIndex }, generation: string): Buffer {
  const keys = ledger.serializeKeys();
  const cursorCount = reading.cursors.size;
  const cursorNumbers = new Float64Array(cursorCount * 4);
  const cursorContexts = new Int32Array(cursorCount);
  const paths: string[] = [];
  const tails: string[] = [];
  const contextIds = new Map<string, number>();
  let i = 0;
  for (const [file, c] of reading.cursors) {
    paths.push(file);
    tails.push(c.tail);
    cursorNumbers.set([c.offset, c.size, c.mtimeMs, c.ino], i * 4);
    let context = -1;
    if (c.context !== undefined) {
      context = contextIds.get(c.context) ?? -1;
      if (context < 0) contextIds.set(c.context, (context = contextIds.size));
    }
    cursorContexts[i++] = context;
  }
  const folders = reading.folders.serialize();
  const folderMtimes = new Float64Array(folders.length);
  const folderCounts = new Uint32Array(folders.length * 2);
  const folderKeys: string[] = [];
  const names: string[] = [];
  folders.forEach(([dir, mtimeMs, files, subfolders], f) => {
    folderKeys.push(dir);
    folderMtimes[f] = mtimeMs;
    folderCounts[f * 2] = files.length;
    folderCounts[f * 2 + 1] = subfolders.length;
    names.push(...files, ...subfolders);
  });
  const texts = [...paths, ...tails, ...contextIds.keys(), ...folderKeys, ...names];
  const lengths = new Uint32Array(texts.map((t) => t.length));
  const text = Buffer.from(texts.join(''), 'utf8');
  const header = {
    format: 3,
    size: ledger.size,
    strings: ledger.strings.values,
    priceVersion: ledger.prices.version,
    generation,
    keysBytes: keys.length,
    cursorCount,
    contextCount: contextIds.size,
    folderCount: folders.length,
    nameCount: names.length,
    textBytes: text.length,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const headerLength = Buffer.alloc(4);
  headerLength.writeUInt32LE(headerBytes.length, 0);
  const parts: Buffer[] = [Buffer.from('AGSPEND1', 'latin1'), headerLength, headerBytes];
  let offset = 12 + headerBytes.length;
  const push = (array: ArrayBufferView, count = array.byteLength): void => {
    const padding = align8(offset) - offset;
    if (padding) parts.push(Buffer.alloc(padding));
    offset += padding;
    parts.push(Buffer.from(array.buffer, array.byteOffset, count));
    offset += count;
  };
  for (const section of [cursorNumbers, cursorContexts, folderMtimes, folderCounts, lengths, text]) push(section);
  const checksumA = Buffer.alloc(4);
  checksumA.writeUInt32LE(zlib.crc32(Buffer.concat(parts)) >>> 0, 0);
  parts.push(checksumA);
  offset += 4;
  const recordsFrom = parts.length;
  parts.push(keys);
  offset += keys.length;
  for (const name of COLUMN_NAMES) {
    const column = ledger.columns[name];
    push(column, ledger.size * column.BYTES_PER_ELEMENT);
  }
  const checksumB = Buffer.alloc(4);
  checksumB.writeUInt32LE(zlib.crc32(Buffer.concat(parts.slice(recordsFrom))) >>> 0, 0);
  parts.push(checksumB);
  return Buffer.concat(parts);
}
