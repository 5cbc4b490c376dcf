// Aider: `<project>/.aider.chat.history.md`, an append-only Markdown transcript, plus the exact JSONL that
// `--analytics-log FILE` writes when the user asked for one. See ../shared/formats/agent-logs.md §6 for the traps
// handled here.
//
// The transcript gives one usage report per user message (all the calls that answered it):
//   > Tokens: 12k sent, 1.5k cache write, 8.0k cache hit, 310 received. Cost: $0.02 message, $0.41 session.
// Its figures are rounded ("12k" is anything from 11,500 to 12,500; `format_tokens` in aider/utils.py) and its
// costs have two decimals. "sent" counts cache writes (base_coder.py adds them), so the uncached input is sent minus
// cache write (and minus cache hit for DeepSeek, whose prompt count includes its hits). Aider prints no cache split for providers that report none, and none at all for its own estimates.
// Each run of aider starts a session with `# aider chat started at YYYY-MM-DD HH:MM:SS` (local time); the
// "session" cost adds up within a run, so a report's cost is taken as the growth of that figure (which keeps the
// run's total exact whatever the rounding of each message), else as the message figure.
//
// The analytics log (`{"event":"message_send","properties":{prompt_tokens, completion_tokens, cost, ...},"time":s}`)
// has the same report unrounded, but no project and no session. The transcript stays the one emitter: a report whose
// analytics event is found is emitted with the exact figures (and the cache split from the transcript), under the
// transcript's key. The analytics line is written just after the transcript line, so a report read before its
// event exists, in a run the analytics log covers, is emitted with the lowest figures its rounding allows and kept
// as pending in the file's state: once the event is there (the next read of the transcript, or the next full scan,
// which `isUnchanged` forces while reports are pending), the exact copy has at least as many tokens of every kind
// and the ledger's "better copy" rule replaces the estimate, never adding to it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StatFields } from '../fastStat';
import type { WalkOptions } from '../folderIndex';
import { isUnchanged as defaultUnchanged, type CursorStamp, type FileCursor, type LineSink } from '../tail';
import { tagOf, UNKNOWN_MODEL, type UsageEvent } from '../usage';
import { readLines, type ReadContext, type ReadCounts, type Source, type SourceOptions, type SourceRead } from './source';

export const AIDER = 'aider';
export const HISTORY_FILE = '.aider.chat.history.md';

// ---------------------------------------------------------------------------------------------------------------
// Where: the workspace folders (aider writes the transcript at the git root, or in the cwd outside git), folders the
// user named, and the folders of $AIDER_CHAT_HISTORY_FILE / $AIDER_ANALYTICS_LOG (configargparse reads AIDER_*).
// ---------------------------------------------------------------------------------------------------------------

/**
 * What roots() learnt from the settings and the environment, for the parts of the source that only see a file: file
 * names to take for transcripts and analytics logs, and folders where analytics logs may be. Additive, process-wide:
 * an analytics log found through another engine's settings can only make figures exact, never add a request.
 */
const known = {
  historyNames: new Set<string>([HISTORY_FILE]),
  analyticsNames: new Set<string>(),
  analyticsDirs: new Set<string>(),
  /** $AIDER_ANALYTICS_LOG as given: a relative path is relative to the project aider ran in. */
  analyticsEnv: new Set<string>(),
  /** The files $AIDER_ANALYTICS_LOG names (resolved against each workspace folder when relative): taken unseen. */
  analyticsFiles: new Set<string>(),
};

/**
 * Analytics logs are named by the user: `*analytics*.jsonl` next to the transcript or in a named folder may be one,
 * and is taken only when its first line is an aider analytics event (`isAiderAnalyticsLine`); the file
 * $AIDER_ANALYTICS_LOG names is taken as it is.
 */
export function isAnalyticsName(name: string): boolean {
  return (/analytics[^/\\]*\.jsonl$/i.test(name) && !name.endsWith(HISTORY_FILE)) || known.analyticsNames.has(name);
}

export function isHistoryName(name: string): boolean {
  return known.historyNames.has(name);
}

export function aiderRoots(options: SourceOptions): string[] {
  const workspaces = options.workspaceFolders ?? [];
  const extra = options.extraDirs ?? [];
  const roots = [...workspaces, ...extra];
  const fromEnv = (value: string | undefined, names: Set<string>): void => {
    const trimmed = value?.trim();
    if (!trimmed) return;
    names.add(path.basename(trimmed));
    if (path.isAbsolute(trimmed)) roots.push(path.dirname(trimmed));
    else for (const folder of workspaces) roots.push(path.dirname(path.resolve(folder, trimmed)));
  };
  fromEnv(options.env.AIDER_CHAT_HISTORY_FILE, known.historyNames);
  fromEnv(options.env.AIDER_ANALYTICS_LOG, known.analyticsNames);
  const analyticsLog = options.env.AIDER_ANALYTICS_LOG?.trim();
  if (analyticsLog) {
    known.analyticsEnv.add(analyticsLog);
    if (path.isAbsolute(analyticsLog)) known.analyticsFiles.add(path.resolve(analyticsLog));
    else for (const folder of workspaces) known.analyticsFiles.add(path.resolve(folder, analyticsLog));
  }
  for (const dir of extra) known.analyticsDirs.add(dir);
  return roots;
}

// ---------------------------------------------------------------------------------------------------------------
// Figures as printed
// ---------------------------------------------------------------------------------------------------------------

/** A printed figure and the range of true values it stands for. */
export interface Figure {
  text: string;
  value: number;
  lo: number;
  hi: number;
}

/** `310`, `1,234` (older releases), `9.8k` (±50), `12k` (±500; also `1234k`: aider has no "M"). */
export function parseTokenFigure(text: string): Figure | undefined {
  const plain = text.replace(/,/g, '');
  const k = /^(\d+)(\.\d)?k$/.exec(plain);
  if (k) {
    const value = Math.round(Number(plain.slice(0, -1)) * 1000);
    const half = k[2] ? 50 : 500;
    return { text, value, lo: Math.max(0, value - half), hi: value + half };
  }
  if (!/^\d+$/.test(plain)) return undefined;
  const value = Number(plain);
  return { text, value, lo: value, hi: value };
}

/** `$0.02` (two decimals) or `$0.0012` (more for tiny values): half a unit of the last digit either way. */
export function parseCostFigure(text: string): Figure | undefined {
  if (!/^\d+(\.\d+)?$/.test(text)) return undefined;
  const decimals = text.includes('.') ? text.length - text.indexOf('.') - 1 : 0;
  const value = Number(text);
  const half = 0.5 * 10 ** -decimals + 1e-12;
  return { text, value, lo: Math.max(0, value - half), hi: value + half };
}

export interface UsageReport {
  /** The whole report as written (with its cost line when that came on the next line). */
  text: string;
  sent: Figure;
  cacheWrite?: Figure;
  cacheHit?: Figure;
  received: Figure;
  messageCost?: Figure;
  sessionCost?: Figure;
}

const TOKENS =
  /^(?:>\s*)?Tokens:\s*([\d.,]+k?) sent(?:,\s*([\d.,]+k?) cache write)?(?:,\s*([\d.,]+k?) cache hit)?,\s*([\d.,]+k?) received\.(.*)$/;
// "request" in releases before mid-2024, "message" since.
const COST = /^(?:>\s*)?Cost:\s*\$([\d.]+) (?:message|request),\s*\$([\d.]+) session\./;

/** Parses a usage report; `undefined` when the line is one in name only (a figure that does not parse). */
export function parseUsageReport(text: string): UsageReport | undefined {
  const match = TOKENS.exec(text);
  if (!match) return undefined;
  const sent = parseTokenFigure(match[1]);
  const received = parseTokenFigure(match[4]);
  const cacheWrite = match[2] ? parseTokenFigure(match[2]) : undefined;
  const cacheHit = match[3] ? parseTokenFigure(match[3]) : undefined;
  if (!sent || !received || (match[2] && !cacheWrite) || (match[3] && !cacheHit)) return undefined;
  const report: UsageReport = { text, sent, received, cacheWrite, cacheHit };
  const cost = COST.exec(match[5].trim());
  if (cost) {
    report.messageCost = parseCostFigure(cost[1]);
    report.sessionCost = parseCostFigure(cost[2]);
  }
  return report;
}

/** Aider puts the cost on a line of its own when the report has both a cache write and a cache hit. */
function awaitsCostLine(report: UsageReport): boolean {
  return report.messageCost === undefined && report.cacheWrite !== undefined && report.cacheHit !== undefined;
}

const HEADER_PREFIX = '# aider chat started at ';
const SESSION_START = /^# aider chat started at (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})/;
// `> Main model: X with ...` (current), `> Model: X with ...`, `> Models: X with ..., weak model Y` (older).
const MODEL = /^>\s*(?:Main model|Models?):\s*(\S+)/;

/** The session start, a local wall-clock time, as epoch ms in this machine's time zone (where aider ran). */
function localTimeOf(match: RegExpExecArray): number {
  const [, y, mo, d, h, mi, s] = match.map(Number);
  return new Date(y, mo - 1, d, h, mi, s).getTime();
}

/** `anthropic/claude-sonnet-4-5`, `openrouter/anthropic/claude-3.5-sonnet`: the price tables want the last part. */
function bareModel(model: string): string {
  return model.slice(model.lastIndexOf('/') + 1);
}

// ---------------------------------------------------------------------------------------------------------------
// The analytics log: parsed once per byte, shared by every transcript that looks into it.
// ---------------------------------------------------------------------------------------------------------------

interface SendEvent {
  /** ms */
  time: number;
  prompt: number;
  completion: number;
  cost?: number;
}

interface AnalyticsLog {
  ino: number;
  offset: number;
  sends: SendEvent[];
  /** Times of `launched` events: a run of aider that writes to this log. */
  launches: number[];
}

/** The aider analytics logs read so far (only their `message_send` and `launched` events are kept). */
const analyticsLogs = new Map<string, AnalyticsLog>();
/** Files with an analytics-like name whose first line is not aider's, by inode and the size when checked. */
const notAnalytics = new Map<string, { ino: number; size: number }>();

/** How much of a file's start is looked at for its first line (aider's lines are a few hundred bytes). */
const FIRST_LINE_BYTES = 16 * 1024;
/** Bytes read at a time from an analytics log. */
const ANALYTICS_CHUNK = 256 * 1024;
/** An analytics line longer than this is not aider's: skipped without being held whole. */
const MAX_ANALYTICS_LINE = 64 * 1024;

function numberOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * An aider analytics event as analytics.py writes it: `{"event", "properties": {..., "aider_version"}, "user_id",
 * "time"}` (every event carries aider's version among its properties).
 */
export function isAiderAnalyticsLine(line: string): boolean {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return false;
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return false;
  const { event, properties, time } = entry as { event?: unknown; properties?: unknown; time?: unknown };
  return (
    typeof event === 'string' &&
    numberOf(time) !== undefined &&
    properties !== null &&
    typeof properties === 'object' &&
    typeof (properties as Record<string, unknown>).aider_version === 'string'
  );
}

/** Whether a file's first line is an aider analytics event; `wait` while it has no whole first line yet. */
function firstLineOf(fd: number, size: number): 'aider' | 'other' | 'wait' {
  const bytes = Buffer.alloc(Math.min(FIRST_LINE_BYTES, size));
  const got = bytes.length > 0 ? fs.readSync(fd, bytes, 0, bytes.length, 0) : 0;
  const newline = bytes.subarray(0, got).indexOf(0x0a);
  if (newline < 0) return got >= FIRST_LINE_BYTES ? 'other' : 'wait';
  return isAiderAnalyticsLine(bytes.toString('utf8', 0, newline)) ? 'aider' : 'other';
}

function takeAnalyticsLine(log: AnalyticsLog, line: string, counts: ReadCounts | undefined): void {
  if (!line.trim()) return;
  let entry: { event?: unknown; properties?: Record<string, unknown>; time?: unknown };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    if (counts) counts.malformedLines++;
    return;
  }
  const time = numberOf(entry?.time);
  if (time === undefined) return;
  if (entry.event === 'launched') log.launches.push(time * 1000);
  if (entry.event !== 'message_send') return;
  const properties = entry.properties ?? {};
  const prompt = numberOf(properties.prompt_tokens);
  const completion = numberOf(properties.completion_tokens);
  if (prompt === undefined || completion === undefined) return;
  log.sends.push({ time: time * 1000, prompt, completion, cost: numberOf(properties.cost) });
}

/** Takes the complete lines from `log.offset` to `size`, a chunk at a time; a last line without newline waits. */
function readAnalyticsLines(fd: number, log: AnalyticsLog, size: number, counts: ReadCounts | undefined): void {
  const chunk = Buffer.allocUnsafe(Math.min(ANALYTICS_CHUNK, size - log.offset));
  let position = log.offset;
  let carry: Buffer | undefined;
  let skipping = false;
  while (position < size) {
    const got = fs.readSync(fd, chunk, 0, Math.min(chunk.length, size - position), position);
    if (got <= 0) break;
    position += got;
    const data = carry ? Buffer.concat([carry, chunk.subarray(0, got)]) : chunk.subarray(0, got);
    carry = undefined;
    let lineStart = 0;
    for (let newline = data.indexOf(0x0a); newline >= 0; newline = data.indexOf(0x0a, lineStart)) {
      if (!skipping) takeAnalyticsLine(log, data.toString('utf8', lineStart, newline), counts);
      skipping = false;
      lineStart = newline + 1;
    }
    if (!skipping) log.offset = position - (data.length - lineStart);
    const rest = data.length - lineStart;
    if (skipping || rest === 0) continue;
    if (rest > MAX_ANALYTICS_LINE) skipping = true;
    else carry = Buffer.from(data.subarray(lineStart));
  }
}

/**
 * Reads what is new in an analytics log (all of it again when it was replaced); undefined when it is not there or
 * not an aider analytics log. A file is taken when $AIDER_ANALYTICS_LOG names it (`named`, or known from the
 * settings), else only when its first line is an aider event: any other file with "analytics" in its name is looked
 * at no further than that line, and nothing of it is kept.
 */
export function refreshAnalyticsLog(file: string, counts?: ReadCounts, named = false): AnalyticsLog | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    analyticsLogs.delete(file);
    notAnalytics.delete(file);
    return undefined;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return undefined;
    let log = analyticsLogs.get(file);
    if (!log || log.ino !== stat.ino || stat.size < log.offset) {
      analyticsLogs.delete(file);
      if (!named && !isAiderAnalytics(file, fd, stat)) return undefined;
      log = { ino: stat.ino, offset: 0, sends: [], launches: [] };
      analyticsLogs.set(file, log);
    }
    if (stat.size > log.offset) readAnalyticsLines(fd, log, stat.size, counts);
    return log;
  } catch {
    return analyticsLogs.get(file);
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether the open file `fd` is an aider analytics log: named by $AIDER_ANALYTICS_LOG, or its first line says so. */
function isAiderAnalytics(file: string, fd: number, stat: fs.Stats): boolean {
  if (known.analyticsFiles.has(file)) return true;
  const taken = analyticsLogs.get(file);
  if (taken && taken.ino === stat.ino && stat.size >= taken.offset) return true;
  // Appended to since its first line was found not to be aider's: still not aider's.
  const rejected = notAnalytics.get(file);
  if (rejected && rejected.ino === stat.ino && stat.size >= rejected.size) return false;
  const first = firstLineOf(fd, stat.size);
  if (first === 'other') notAnalytics.set(file, { ino: stat.ino, size: stat.size });
  else notAnalytics.delete(file);
  return first === 'aider';
}

/** `isAiderAnalytics` for a path (a watcher event): looks at the first line at most, reads nothing else. */
function isAiderAnalyticsFile(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const stat = fs.fstatSync(fd);
    return stat.isFile() && isAiderAnalytics(file, fd, stat);
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

function listAnalyticsLogs(dir: string, into: Set<string>): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (isAnalyticsName(name)) into.add(path.join(dir, name));
}

/** The analytics logs that may hold a transcript's reports, read up to date. */
function analyticsFor(historyFile: string, counts: ReadCounts | undefined): AnalyticsLog[] {
  const dir = path.dirname(historyFile);
  const named = new Set<string>();
  for (const value of known.analyticsEnv) named.add(path.resolve(dir, value));
  const files = new Set<string>();
  listAnalyticsLogs(dir, files);
  for (const extra of known.analyticsDirs) listAnalyticsLogs(extra, files);
  const logs: AnalyticsLog[] = [];
  for (const file of new Set([...named, ...files])) {
    const log = refreshAnalyticsLog(file, counts, named.has(file));
    if (log) logs.push(log);
  }
  return logs;
}

/** Changes whenever any of the logs gains an event. */
function signatureOf(logs: AnalyticsLog[]): number {
  return logs.reduce((sum, log) => sum + log.sends.length + log.launches.length, 0);
}

/** A run is covered when a log saw aider launch around the time the transcript's session started. */
const LAUNCH_BEFORE_MS = 5_000;
const LAUNCH_AFTER_MS = 120_000;
/** The analytics time is whole seconds; the transcript's start is too, from another clock read. */
const SEND_SLACK_MS = 2_000;

function covers(logs: AnalyticsLog[], startMs: number): boolean {
  return logs.some((log) => log.launches.some((t) => t >= startMs - LAUNCH_BEFORE_MS && t <= startMs + LAUNCH_AFTER_MS));
}

function within(value: number, figure: Figure | undefined): boolean {
  return figure === undefined || (value >= figure.lo && value <= figure.hi);
}

/**
 * The analytics event of a report: the n-th event after the session started (and before the next one did) whose
 * exact figures print as the report's, n being how many earlier reports of the session printed the same figures.
 */
function findSend(logs: AnalyticsLog[], report: UsageReport, pending: Pending): SendEvent | undefined {
  const sends = logs.length === 1 ? logs[0].sends : logs.flatMap((log) => log.sends).sort((a, b) => a.time - b.time);
  let ordinal = pending.n;
  for (const send of sends) {
    if (send.time < pending.ms - SEND_SLACK_MS || (pending.e !== undefined && send.time >= pending.e)) continue;
    if (!within(send.prompt, report.sent) || !within(send.completion, report.received)) continue;
    if (send.cost !== undefined && !within(send.cost, report.messageCost)) continue;
    if (ordinal-- === 0) return send;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The transcript
// ---------------------------------------------------------------------------------------------------------------

/** A report whose exact figures are still to come (or one that was printed and is being emitted now). */
interface Pending {
  /** Dedupe key. */
  k: string;
  /** The report's text. */
  t: string;
  /** Session start as printed, and as epoch ms. */
  s: string;
  ms: number;
  /** When the next session of the file started (the end of the window its analytics event can be in). */
  e?: number;
  /** How many earlier reports of the session printed the same figures. */
  n: number;
  /** Model, when the session said. */
  m?: string;
  /** The cost the transcript gives for it (used when the analytics event has none). */
  u?: number;
}

interface AiderState {
  /** Current session: start as printed, and as epoch ms. */
  s?: string;
  ms?: number;
  /** Reports so far in the session. */
  i: number;
  /** Current model. */
  m?: string;
  /** Last "session" cost printed in the session. */
  c?: number;
  /** A report waiting for its cost line. */
  h?: string;
  /** Reports of the session by printed figures, for telling apart identical ones. */
  d: Record<string, number>;
  p: Pending[];
  /** Analytics signature when the pending reports were last looked up. */
  g?: number;
}

/** Most pending reports kept: beyond that, a run the analytics log only seemed to cover keeps its estimates. */
const MAX_PENDING = 500;

function newState(): AiderState {
  return { i: 0, d: {}, p: [] };
}

function parseState(saved: string | undefined): AiderState | undefined {
  if (!saved) return undefined;
  try {
    const state = JSON.parse(saved) as AiderState;
    return typeof state.i === 'number' && Array.isArray(state.p) && typeof state.d === 'object' ? state : undefined;
  } catch {
    return undefined;
  }
}

type Precision = 'printed' | 'lowest';

/**
 * DeepSeek's prompt_tokens counts its cache hits (aider's compute_costs_from_tokens says as much), so "sent" does
 * too; Anthropic's (through litellm) counts neither hits nor writes, and aider adds the writes.
 */
function hitsInSent(pending: Pending): boolean {
  return /deepseek/i.test(pending.m ?? '');
}

class HistorySink {
  private readonly state: AiderState;
  private readonly project: string;
  private logs: AnalyticsLog[] | undefined;

  constructor(
    private readonly file: string,
    saved: string | undefined,
    private readonly context: ReadContext,
    /** When the new lines of an incremental read were written (the file's mtime); undefined on a first read. */
    private readonly liveTime: number | undefined,
  ) {
    this.state = parseState(saved) ?? newState();
    this.project = path.dirname(file);
  }

  line(buf: Buffer, start: number, end: number): void {
    const first = buf[start];
    const held = this.state.h !== undefined;
    // Only a few kinds of line matter, each known by its first byte; the transcript's prose is never decoded.
    if (first !== 0x23 /* # */ && first !== 0x3e /* > */ && !(held && first === 0x43) /* C(ost) */) {
      if (held) this.flushHeld();
      return;
    }
    const text = buf.toString('utf8', start, end).trimEnd();
    if (held) {
      if (COST.test(text)) {
        const tokens = this.state.h!;
        this.state.h = undefined;
        this.report(`${tokens} ${text.replace(/^>\s*/, '')}`);
        return;
      }
      this.flushHeld();
    }
    if (first === 0x23) {
      const header = SESSION_START.exec(text);
      if (header) this.startSession(header[0].slice(HEADER_PREFIX.length), localTimeOf(header));
      return;
    }
    const model = MODEL.exec(text);
    if (model) this.state.m = bareModel(model[1]);
    else if (/^>\s*Tokens:/.test(text)) this.report(text);
  }

  end(): void {
    this.retryPending();
  }

  snapshot(): string {
    return JSON.stringify(this.state);
  }

  private flushHeld(): void {
    const held = this.state.h;
    this.state.h = undefined;
    if (held !== undefined) this.report(held, true);
  }

  private startSession(printed: string, ms: number): void {
    for (const pending of this.state.p) pending.e ??= ms;
    this.state.s = printed;
    this.state.ms = ms;
    this.state.i = 0;
    this.state.c = undefined;
    this.state.d = {};
  }

  private analytics(): AnalyticsLog[] {
    this.logs ??= analyticsFor(this.file, this.context.counts);
    return this.logs;
  }

  private report(text: string, costLineMissed = false): void {
    const report = parseUsageReport(text);
    if (!report) {
      this.context.counts.malformedLines++;
      return;
    }
    if (!costLineMissed && awaitsCostLine(report)) {
      this.state.h = text;
      return;
    }
    const { s, ms } = this.state;
    if (s === undefined || ms === undefined) {
      // A report before any session header: nothing says when it was made.
      this.context.counts.undatedLines++;
      return;
    }
    const index = this.state.i++;
    const figures = `${report.sent.text}|${report.received.text}|${report.messageCost?.text ?? ''}`;
    const n = this.state.d[figures] ?? 0;
    this.state.d[figures] = n + 1;
    const cost = this.costOf(report);
    const pending: Pending = {
      k: `${AIDER}:${s}#${index}:${tagOf(text)}`,
      t: text,
      s,
      ms,
      n,
      ...(this.state.m ? { m: this.state.m } : {}),
      ...(cost !== undefined ? { u: cost } : {}),
    };
    this.noteSessionCost(report);
    const logs = this.analytics();
    const send = logs.length > 0 ? findSend(logs, report, pending) : undefined;
    if (send) {
      this.emitExact(pending, report, send);
      return;
    }
    const covered = logs.length > 0 && covers(logs, ms);
    this.emitPrinted(pending, report, covered ? 'lowest' : 'printed', (this.liveTime ?? 0) > ms ? this.liveTime! : ms + index);
    if (covered) {
      this.state.p.push(pending);
      if (this.state.p.length > MAX_PENDING) this.state.p.shift();
      this.state.g = signatureOf(logs);
    }
  }

  /**
   * The growth of the "session" figure since the last report; the message figure when that is not usable. The growth
   * stands only when it is the message figure up to their rounding: two runs of aider in one project append to one
   * transcript, and a report of one run that follows the other's is measured against the other's session figure.
   */
  private costOf(report: UsageReport): number | undefined {
    const session = report.sessionCost;
    const message = report.messageCost;
    const last = this.state.c ?? 0;
    if (session !== undefined && session.value >= last) {
      const growth = Math.round((session.value - last) * 1e6) / 1e6;
      const slack = (session.hi - session.lo) + (message ? (message.hi - message.lo) / 2 : 0);
      if (!message || Math.abs(growth - message.value) <= slack) return growth;
    }
    return message?.value;
  }

  private noteSessionCost(report: UsageReport): void {
    if (report.sessionCost !== undefined) this.state.c = report.sessionCost.value;
  }

  private retryPending(): void {
    if (this.state.p.length === 0) return;
    const logs = this.analytics();
    const signature = signatureOf(logs);
    if (signature === this.state.g) return;
    this.state.g = signature;
    this.state.p = this.state.p.filter((pending) => {
      const report = parseUsageReport(pending.t);
      const send = report && findSend(logs, report, pending);
      if (!report || !send) return true;
      this.emitExact(pending, report, send);
      return false;
    });
  }

  /**
   * The transcript's figures. `lowest` takes the bottom of each rounding range, so that the exact copy that
   * replaces it later never has fewer tokens of any kind.
   */
  private emitPrinted(pending: Pending, report: UsageReport, precision: Precision, timestamp: number): void {
    const pick = (figure: Figure | undefined): number => (figure ? (precision === 'lowest' ? figure.lo : figure.value) : 0);
    const sent = pick(report.sent);
    const cacheWrite = pick(report.cacheWrite);
    const cacheHit = pick(report.cacheHit);
    const input = Math.max(0, sent - cacheWrite - (hitsInSent(pending) ? cacheHit : 0));
    this.emit(pending, timestamp, input, pick(report.received), cacheWrite, cacheHit, pending.u);
  }

  /**
   * The analytics log's exact sent / received / cost; the cache split, which it lacks, from the transcript. Sent
   * (input plus cache write) and received are exact and the cache hit is at least its lowest value, so this copy
   * never has fewer tokens than the estimate it replaces.
   */
  private emitExact(pending: Pending, report: UsageReport, send: SendEvent): void {
    const cacheWrite = Math.min(report.cacheWrite?.value ?? 0, send.prompt);
    const inSent = hitsInSent(pending);
    const cacheHit = inSent ? Math.min(report.cacheHit?.value ?? 0, send.prompt - cacheWrite) : (report.cacheHit?.value ?? 0);
    const input = send.prompt - cacheWrite - (inSent ? cacheHit : 0);
    this.emit(pending, send.time, input, send.completion, cacheWrite, cacheHit, send.cost ?? pending.u);
  }

  private emit(
    pending: Pending,
    timestamp: number,
    input: number,
    output: number,
    cacheWrite: number,
    cacheRead: number,
    cost: number | undefined,
  ): void {
    const event: UsageEvent = {
      dedupeKey: pending.k,
      requestTag: 0,
      agent: AIDER,
      timestamp,
      sessionId: `${path.basename(this.project)}@${pending.s}`,
      project: this.project,
      model: pending.m ?? UNKNOWN_MODEL,
      inputTokens: input,
      outputTokens: output,
      cacheWrite5mTokens: cacheWrite,
      cacheWrite1hTokens: 0,
      cacheReadTokens: cacheRead,
      fast: false,
      sidechain: false,
      ...(cost !== undefined ? { reportedCostUsd: cost } : {}),
    };
    this.context.emit(event);
  }
}

export function readHistory(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead {
  let mtimeMs: number | undefined;
  try {
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch {
    // readLines reports it
  }
  let opened = 0;
  return readLines(file, previous, context, (saved) => {
    // A second open means the file was rewritten and is read from the start: its lines are not new.
    const live = previous !== undefined && previous.offset > 0 && opened++ === 0 ? mtimeMs : undefined;
    const sink = new HistorySink(file, saved, context, live);
    const lineSink: LineSink & { state(): string } = {
      line: (buf, start, end) => sink.line(buf, start, end),
      end: () => sink.end(),
      state: () => sink.snapshot(),
    };
    return lineSink;
  });
}

/**
 * An analytics log is only an index the transcripts look into: reading it emits nothing. A file that only has the
 * name of one (another tool's analytics) is not read.
 */
export function readAnalytics(file: string, previous: FileCursor | undefined, context: ReadContext): SourceRead {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw Object.assign(new Error(`not a file: ${file}`), { code: 'EISDIR' });
    const log = refreshAnalyticsLog(file, context.counts);
    const rewritten = previous !== undefined && (stat.ino !== previous.ino || stat.size < previous.offset);
    return {
      file,
      cursor: { offset: stat.size, size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, tail: '' },
      bytesRead: log ? Math.max(0, stat.size - (rewritten ? 0 : (previous?.offset ?? 0))) : 0,
      rewritten,
    };
  } catch (error) {
    return { file, bytesRead: 0, rewritten: false, error: (error as Error).message, errorCode: (error as NodeJS.ErrnoException).code };
  }
}

/** A transcript with reports still waiting for their analytics events is read again when a log gained events. */
function historyUnchanged(file: string, cursor: CursorStamp, stat: StatFields): boolean {
  if (!defaultUnchanged(cursor, stat)) return false;
  const state = parseState(cursor.context);
  if (!state || state.p.length === 0) return true;
  return signatureOf(analyticsFor(file, undefined)) === state.g;
}

const WALK: WalkOptions = {
  maxDepth: 0,
  skipFolders: new Set(),
  isWanted: (name) => isHistoryName(name) || isAnalyticsName(name),
};

export const aiderSource: Source = {
  agent: AIDER,
  label: 'Aider',
  roots: aiderRoots,
  walk: WALK,
  fileFor: (changed) => {
    const name = path.basename(changed);
    if (isHistoryName(name)) return changed;
    // A log next to a transcript: reading the transcript picks up the exact figures at once.
    if (isAnalyticsName(name) && isAiderAnalyticsFile(changed)) return path.join(path.dirname(changed), HISTORY_FILE);
    return undefined;
  },
  isUnchanged: (file, cursor, stat) =>
    isAnalyticsName(path.basename(file)) ? defaultUnchanged(cursor, stat) : historyUnchanged(file, cursor, stat),
  read: (file, previous, context) =>
    isAnalyticsName(path.basename(file)) ? readAnalytics(file, previous, context) : readHistory(file, previous, context),
};
