// Incremental reading of append-only line files (JSONL).
//
// Each file has a cursor: the byte offset after its last complete line, plus a fingerprint of the bytes just
// before it. Only new bytes are read; a torn last line waits for its newline; a file that shrank, changed inode
// or whose fingerprint no longer matches was rewritten and is read again from the start (the ledger's dedupe
// makes that safe). Lines longer than the read buffer are streamed through a compactor that keeps the JSON
// structure and drops long string bodies, so a 50 MB tool result costs a bounded amount of memory.

import * as fs from 'node:fs';
import type { StatFields } from './fastStat';
import { indexOfNeedle, simdBlock } from './simd/search';

export interface FileCursor {
  /** Byte offset just past the last complete line consumed. */
  offset: number;
  size: number;
  mtimeMs: number;
  ino: number;
  /** base64 of up to 32 bytes before `offset`: tells an append from a rewrite. */
  tail: string;
  /** Per-file context a source wants to keep between reads (Claude Code: the last cwd seen). */
  context?: string;
}

/** What a source's rule for "unchanged" may look at: a cursor's stat figures and its context (no offset, no tail). */
export type CursorStamp = Pick<FileCursor, 'size' | 'mtimeMs' | 'ino' | 'context'>;

export interface LineSink {
  /** When set, only lines that contain these bytes are delivered (to line() and partialLine()). */
  needle?: Uint8Array;
  /** Called for each complete line. `buf[start, end)` excludes the newline. */
  line(buf: Buffer, start: number, end: number, offset: number): void;
  /** Called for a final line without newline: it may be complete JSON or torn mid-write. */
  partialLine?(buf: Buffer, start: number, end: number, offset: number): void;
  /** A line longer than the compactor's budget: nothing could be read from it. */
  oversizedLine?(offset: number, length: number): void;
  /** Called once the read is over (after the last line or partial line). */
  end?(): void;
  /** Called before any line when the file was rewritten: lines come again from offset 0, per-file state is stale. */
  restart?(): void;
}

export interface TailOptions {
  /** Read buffer size; a line longer than this is streamed through the compactor. */
  bufferSize?: number;
  /** Most bytes a compacted line may keep. */
  compactLimit?: number;
}

export interface TailResult {
  cursor: FileCursor;
  bytesRead: number;
  /** The file was rewritten (or replaced) and re-read from the start. */
  rewritten: boolean;
}

const NEWLINE = 0x0a;
const FINGERPRINT_BYTES = 32;
const DEFAULT_BUFFER = 4 * 1024 * 1024;
/** Most bytes a line may keep once its long strings are dropped (see LineCompactor); a longer one is skipped. */
export const DEFAULT_COMPACT_LIMIT = 8 * 1024 * 1024;

let sharedBuffer: Buffer | null = null;

/** The buffer files are read into: the SIMD search's block when it is there and large enough (see simd/search.ts). */
function readBuffer(size: number): Buffer {
  const block = simdBlock();
  if (block && size <= block.length) return block.subarray(0, size);
  if (!sharedBuffer || sharedBuffer.length !== size) sharedBuffer = Buffer.allocUnsafe(size);
  return sharedBuffer;
}

function fingerprint(fd: number, offset: number): string {
  if (offset === 0) return '';
  const length = Math.min(FINGERPRINT_BYTES, offset);
  const bytes = Buffer.alloc(length);
  fs.readSync(fd, bytes, 0, length, offset - length);
  return bytes.toString('base64');
}

/** True when `stat` shows nothing new since `cursor`. */
export function isUnchanged(cursor: CursorStamp | undefined, stat: StatFields): boolean {
  return !!cursor && cursor.size === stat.size && cursor.mtimeMs === stat.mtimeMs && cursor.ino === stat.ino;
}

/**
 * Reads what is new in `filePath` since `previous`, feeding complete lines to `sink`. Throws the fs error when the
 * file cannot be opened or read (the caller reports it by path and keeps the old cursor).
 */
export function tailFile(filePath: string, previous: FileCursor | undefined, sink: LineSink, options: TailOptions = {}): TailResult {
  const bufferSize = options.bufferSize ?? DEFAULT_BUFFER;
  const compactLimit = options.compactLimit ?? DEFAULT_COMPACT_LIMIT;
  const fd = fs.openSync(filePath, 'r');
  try {
    const stat = fs.fstatSync(fd);
    let start = previous?.offset ?? 0;
    let rewritten = false;
    let context = previous?.context;
    if (previous && (stat.size < previous.offset || stat.ino !== previous.ino || fingerprint(fd, previous.offset) !== previous.tail)) {
      start = 0;
      rewritten = true;
      context = undefined;
      sink.restart?.();
    }
    const size = stat.size;
    const buf = readBuffer(bufferSize);
    let fileOffset = start; // file offset of buf[0]
    let filled = 0;
    let consumed = start; // file offset after the last complete line
    let readPos = start;
    let compactor: LineCompactor | null = null;
    let compactStart = 0;
    let seenTail = '';
    let seenTailAt = -1;
    const cursor: FileCursor = { offset: start, size, mtimeMs: stat.mtimeMs, ino: stat.ino, tail: '', context };
    const result: TailResult = { cursor, bytesRead: 0, rewritten };

    while (readPos < size) {
      const want = Math.min(bufferSize - filled, size - readPos);
      const got = fs.readSync(fd, buf, filled, want, readPos);
      if (got <= 0) break;
      readPos += got;
      result.bytesRead += got;
      filled += got;
      let lineStart = 0;
      if (compactor) {
        // Still inside a line longer than the buffer.
        const newline = buf.indexOf(NEWLINE, 0);
        const lineEnd = newline < 0 || newline >= filled ? filled : newline;
        compactor.push(buf, 0, lineEnd);
        if (lineEnd === filled) {
          filled = 0;
          fileOffset = readPos;
          continue;
        }
        finishCompacted(compactor, compactStart, sink);
        compactor = null;
        lineStart = lineEnd + 1;
        consumed = fileOffset + lineStart;
      }
      if (sink.needle) {
        lineStart = deliverLinesWithNeedle(buf, lineStart, filled, fileOffset, sink, sink.needle);
      } else {
        for (;;) {
          const newline = buf.indexOf(NEWLINE, lineStart);
          if (newline < 0 || newline >= filled) break;
          sink.line(buf, lineStart, newline, fileOffset + lineStart);
          lineStart = newline + 1;
        }
      }
      consumed = fileOffset + lineStart;
      if (lineStart >= FINGERPRINT_BYTES) {
        seenTail = buf.toString('base64', lineStart - FINGERPRINT_BYTES, lineStart);
        seenTailAt = consumed;
      }
      if (lineStart === 0 && filled === bufferSize) {
        // One line fills the whole buffer: stream the rest of it through the compactor.
        compactor = new LineCompactor(compactLimit);
        compactStart = fileOffset;
        compactor.push(buf, 0, filled);
        fileOffset = readPos;
        filled = 0;
        continue;
      }
      // Keep the incomplete tail at the front of the buffer.
      buf.copyWithin(0, lineStart, filled);
      filled -= lineStart;
      fileOffset += lineStart;
    }
    if (compactor) {
      // A huge line still being written: it is read again, whole, once its newline arrives.
    } else if (filled > 0 && sink.partialLine && (!sink.needle || indexOfNeedle(buf.subarray(0, filled), sink.needle, 0) >= 0)) {
      sink.partialLine(buf, 0, filled, fileOffset);
    }
    sink.end?.();
    cursor.offset = consumed;
    // The bytes before the offset were usually seen in the buffer: no need to read them again.
    cursor.tail = seenTailAt === consumed ? seenTail : fingerprint(fd, consumed);
    return result;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Delivers the complete lines of buf[lineStart, filled) that contain `needle`, and returns where the incomplete
 * last line starts. The needle is searched first and the line found around it, so the bytes of other lines are
 * looked at once (by the needle search) instead of twice (newlines, then needle).
 */
function deliverLinesWithNeedle(buf: Buffer, lineStart: number, filled: number, fileOffset: number, sink: LineSink, needle: Uint8Array): number {
  const lastNewline = filled > lineStart ? buf.lastIndexOf(NEWLINE, filled - 1) : -1;
  if (lastNewline < lineStart) return lineStart;
  const complete = buf.subarray(0, lastNewline + 1); // bounds the searches to complete lines
  let from = lineStart;
  for (;;) {
    const hit = indexOfNeedle(complete, needle, from);
    if (hit < 0) break;
    const before = complete.lastIndexOf(NEWLINE, hit);
    const start = before >= from ? before + 1 : from;
    const end = complete.indexOf(NEWLINE, hit);
    sink.line(buf, start, end, fileOffset + start);
    from = end + 1;
  }
  return lastNewline + 1;
}

function finishCompacted(compactor: LineCompactor, offset: number, sink: LineSink): void {
  const compacted = compactor.finish();
  if (!compacted) sink.oversizedLine?.(offset, compactor.inputLength);
  else if (!sink.needle || compacted.indexOf(sink.needle) >= 0) sink.line(compacted, 0, compacted.length, offset);
}

/**
 * Streams a JSON line and keeps its structure, with string bodies longer than `keepString` bytes replaced by "".
 * The result is valid JSON with the same keys, numbers and short strings (ids, models, paths) as the input.
 */
export class LineCompactor {
  private out: Buffer;
  private length = 0;
  private inString = false;
  private escaped = false;
  private stringOutStart = 0;
  private stringBytes = 0;
  /** The last byte of the current string's body (-1: none yet). */
  private lastBodyByte = -1;
  private overflow = false;
  inputLength = 0;

  constructor(
    private readonly limit: number,
    private readonly keepString = 1024,
  ) {
    this.out = Buffer.allocUnsafe(Math.min(limit, 64 * 1024));
  }

  push(buf: Buffer, start: number, end: number): void {
    this.inputLength += end - start;
    if (this.overflow) return;
    let i = start;
    while (i < end) {
      if (this.inString) {
        // Jump to the next quote or backslash; everything between is string body.
        let j = i;
        while (j < end) {
          const byte = buf[j];
          if (this.escaped) {
            this.escaped = false;
          } else if (byte === 0x5c) {
            this.escaped = true;
          } else if (byte === 0x22) {
            break;
          }
          j++;
        }
        this.appendString(buf, i, j);
        if (j < end) {
          // Closing quote. A body dropped for its length keeps a last `{`: in a torn line (a crash mid-write, then the
          // next record appended), the torn record's string runs up to the first quote of the record run into it, and
          // that record's opening brace, kept, is where the sink's recovery finds it.
          if (this.stringBytes > this.keepString && this.lastBodyByte === 0x7b) this.emit(0x7b);
          this.emit(0x22);
          this.inString = false;
          i = j + 1;
        } else {
          i = j;
        }
        continue;
      }
      const byte = buf[i];
      this.emit(byte);
      if (byte === 0x22) {
        this.inString = true;
        this.escaped = false;
        this.stringOutStart = this.length;
        this.stringBytes = 0;
        this.lastBodyByte = -1;
      }
      i++;
    }
  }

  private appendString(buf: Buffer, start: number, end: number): void {
    const length = end - start;
    if (length > 0) this.lastBodyByte = buf[end - 1];
    const before = this.stringBytes;
    this.stringBytes += length;
    if (this.stringBytes > this.keepString) {
      // Too long to be a field we need: drop the body (also avoids cutting an escape in half).
      if (before <= this.keepString) this.length = this.stringOutStart;
      return;
    }
    for (let k = start; k < end; k++) this.emit(buf[k]);
  }

  private emit(byte: number): void {
    if (this.overflow) return;
    if (this.length === this.out.length) {
      if (this.out.length >= this.limit) {
        this.overflow = true;
        return;
      }
      const bigger = Buffer.allocUnsafe(Math.min(this.limit, this.out.length * 2));
      this.out.copy(bigger, 0, 0, this.length);
      this.out = bigger;
    }
    this.out[this.length++] = byte;
  }

  /** The compacted line, or null when even its structure exceeded the limit. */
  finish(): Buffer | null {
    return this.overflow ? null : this.out.subarray(0, this.length);
  }
}
