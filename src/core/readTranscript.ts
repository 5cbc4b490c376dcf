// Reading one transcript file's new bytes into events: the unit of work shared by the engine (in its thread) and
// the scan workers that split a large cold scan across cores.

import { claudeTranscriptSink, sessionOfTranscript, type ReadCounts } from './sources/claudeCode';
import { tailFile, type FileCursor, type TailOptions } from './tail';
import type { UsageEvent } from './usage';

export interface TranscriptRead {
  file: string;
  /** The new cursor, or undefined when the file could not be read (then `error` says why). */
  cursor?: FileCursor;
  bytesRead: number;
  rewritten: boolean;
  error?: string;
  errorCode?: string;
}

/** Identity of a usage line with no id at all (rare): its content. crypto is loaded only then. */
function hashLine(buf: Buffer, start: number, end: number): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return createHash('sha1').update(buf.subarray(start, end)).digest('base64');
}

export function readTranscript(
  file: string,
  previous: FileCursor | undefined,
  emit: (event: UsageEvent) => void,
  counts: ReadCounts,
  tail?: TailOptions,
): TranscriptRead {
  const context = { ...sessionOfTranscript(file), cwd: previous?.context };
  const sink = claudeTranscriptSink(context, emit, counts, hashLine);
  try {
    const read = tailFile(file, previous, sink, tail);
    read.cursor.context = context.cwd;
    return { file, cursor: read.cursor, bytesRead: read.bytesRead, rewritten: read.rewritten };
  } catch (error) {
    return { file, bytesRead: 0, rewritten: false, error: (error as Error).message, errorCode: (error as NodeJS.ErrnoException).code };
  }
}
