#!/usr/bin/env node
// Synthetic Codex CLI rollout corpus for the Agent Spend benchmark (the Claude Code one is bench/generate.mjs).
//
// Writes <dir>/.codex/sessions/YYYY/MM/DD/rollout-<local time>-<thread id>.jsonl (+ <dir>/.codex/archived_sessions/)
// shaped like the rollouts codex-rs writes (RolloutLine = {timestamp, type, payload}), seeded and deterministic, plus
// <dir>/manifest.json holding the token totals the generator itself knows to be billed. The traps of
// shared/formats/agent-logs.md §2c that matter for token totals are all present: cumulative total_token_usage next
// to last_token_usage (cached input inside input, reasoning inside output), token_count events re-emitted with
// unchanged totals when rate limits change, `info: null` before the first response, totals rewritten by
// fill_to_context_window, forks (InitialHistory::Forked) and thread_spawn subagents whose files start with a
// re-stamped copy of the parent's history, archived copies, `.jsonl.zst` history, garbage lines and lines torn by
// a crash (the resumed session's first record then runs into the torn bytes).
//
// CLI:  node bench/generateCodex.mjs --dir D --size 100MB [--seed 1]
// API:  generateCodexCorpus({ dir, targetBytes, seed }) -> manifest
//       appendCodexResponse(file) -> tokens added (used by run.mjs for live latency)

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { IDENTS, makeRng as makeBaseRng, parseSize, PROSE_WORDS, TYPES, WORDS } from './generate.mjs';
import { rawZstdFrame } from './zstdRaw.mjs';

// Corpus format version. run.mjs keys its corpus cache on GENERATOR_ID, which also hashes this file, so an edited
// generator never reuses a stale cached corpus even if nobody bumps the number.
export const GENERATOR_VERSION = 1;
export const GENERATOR_ID = `${GENERATOR_VERSION}-${crypto.createHash('sha256').update(fs.readFileSync(fileURLToPath(import.meta.url))).digest('hex').slice(0, 10)}`;

// What ccusage is expected to report differently (manifest.peerExpectedExtra), and why. Measured against the pinned
// 20.0.24 with the files in test/fixtures/codex and small corpora of this generator:
//  - it keeps archived_sessions/ copies apart from sessions/ ones unless their paths *relative to those folders* are
//    equal, and Codex archives into a flat folder (sessions/2026/11/03/rollout-x.jsonl vs archived_sessions/
//    rollout-x.jsonl), so a rollout present in both is counted twice; its events are deduplicated per session id,
//    which is the relative path, so the two copies never meet;
//  - it reads no `.jsonl.zst` file, so compressed history is missing from its totals.
export const PEER_REPORT = 'ccusage codex session';

// Threads are spread over the 30 days before this instant (fixed so corpora are reproducible).
const BASE_DATE_MS = Date.parse('2026-11-20T00:00:00.000Z');
const DAY_MS = 86_400_000;
// File and folder names use the local time of the machine Codex ran on, lines UTC (formats doc, trap 11): the
// corpus's user is at UTC+1, so a thread started at 23:30Z is filed under the next day.
const LOCAL_OFFSET_MS = 3_600_000;
const CONTEXT_WINDOW = 272_000;
const EFFECTIVE_WINDOW = 258_400; // model_context_window as token_count reports it (95 %)
const COMPACT_AT = 200_000;

const MODELS = ['gpt-5.2-codex', 'gpt-5.2-codex', 'gpt-5.2-codex', 'gpt-5.1-codex-max', 'gpt-5.4', 'gpt-5.5', 'gpt-5.3-codex'];
const SUBAGENT_MODELS = ['gpt-5.4', 'gpt-5.1-codex-mini', 'gpt-5.2-codex'];
// In this corpus the older builds write no turn ids and JSON-encode function outputs ({"output":…,"metadata":…});
// the newer ones write turn_context.turn_id, task_started/task_complete with it, plain-text outputs, and are the
// only ones that spawn subagents.
const OLD_VERSIONS = ['0.46.0', '0.58.0', '0.63.0'];
const NEW_VERSIONS = ['0.128.0', '0.131.0', '0.134.0', '0.139.2'];
const NICKNAMES = ['Hypatia', 'Euclid', 'Noether', 'Turing', 'Lovelace', 'Gauss'];

// ---------------------------------------------------------------------------------------------
// Seeded PRNG: generate.mjs's (sfc32), plus Codex's UUIDv7 ids, whose first 48 bits are the creation time in ms.

function makeRng(seed) {
  const rng = makeBaseRng(seed);
  rng.uuid7 = (ms) => {
    const h = Math.floor(ms).toString(16).padStart(12, '0');
    const r = rng.hex(18);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-7${r.slice(0, 3)}-${'89ab'[Math.floor(rng.next() * 4)]}${r.slice(3, 6)}-${r.slice(6, 18)}`;
  };
  return rng;
}

const iso = (ms) => new Date(ms).toISOString(); // always 24 characters: UTC with milliseconds and Z
const floor128 = (n) => Math.floor(n / 128) * 128;
const tokensOf = (chars) => Math.ceil(chars / 4);

// ---------------------------------------------------------------------------------------------
// Text pools: tool output and file contents are slices of pre-built text, so a 2 MB output costs a slice.

function buildPools(rng) {
  const sentence = (n, words = WORDS) => {
    let s = '';
    for (let i = 0; i < n; i++) s += (i ? ' ' : '') + rng.pick(words);
    return s.charAt(0).toUpperCase() + s.slice(1) + '.';
  };
  const ident = () => rng.pick(IDENTS) + (rng.chance(0.5) ? rng.pick(['Id', 'Count', 'Total', 'Map', 'List', 'Ms']) : '');
  const codeLine = (depth) => {
    const ind = '  '.repeat(depth);
    switch (rng.int(0, 9)) {
      case 0: return `${ind}export function ${ident()}(${ident()}: ${rng.pick(TYPES)}): ${rng.pick(TYPES)} {`;
      case 1: return `${ind}const ${ident()} = await ${ident()}.${ident()}(${ident()}, { retries: ${rng.int(0, 5)} });`;
      case 2: return `${ind}if (${ident()} > ${rng.int(0, 9999)} && !${ident()}) {`;
      case 3: return `${ind}return ${ident()}.map((x) => x.${ident()} * ${rng.int(1, 100)});`;
      case 4: return `${ind}// ${sentence(rng.int(4, 14))}`;
      case 5: return `${ind}throw new Error("${sentence(rng.int(3, 8))}");`;
      case 6: return `${ind}import { ${ident()}, ${ident()} } from "./${ident()}";`;
      case 7: return `${ind}}`;
      case 8: return '';
      default: return `${ind}let ${ident()}: ${rng.pick(TYPES)} = ${ident()}[${rng.int(0, 64)}] ?? ${rng.int(0, 10)};`;
    }
  };
  const logLine = () => `${iso(BASE_DATE_MS - rng.int(0, 30 * DAY_MS))} ${rng.pick(['INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'])} ` +
    `[${ident()}] ${sentence(rng.int(3, 12))} took=${rng.int(1, 900)}ms path=/api/${ident()}/${rng.int(1, 9999)}`;
  const build = (target, make) => {
    const out = [];
    let len = 0;
    while (len < target) { const l = make(); out.push(l); len += l.length + 1; }
    return out.join('\n');
  };
  let depth = 0;
  const code = build(5_000_000, () => {
    const l = codeLine(depth);
    if (l.endsWith('{')) depth = Math.min(depth + 1, 5);
    else if (l.trim() === '}') depth = Math.max(depth - 1, 0);
    return l;
  });
  const logs = build(3_200_000, logLine);
  const prose = Array.from({ length: 4000 }, () => sentence(rng.int(5, 22), PROSE_WORDS));
  // reasoning.encrypted_content is base64 of ciphertext: one random pool, sliced.
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const b64parts = [];
  for (let i = 0; i < 2_000_000; i += 64) { let s = ''; for (let j = 0; j < 64; j++) s += B64[Math.floor(rng.next() * 64)]; b64parts.push(s); }
  return { code, logs, prose, b64: b64parts.join(''), sentence, ident };
}

function slice(rng, text, size) {
  size = Math.min(size, text.length);
  const start = rng.int(0, text.length - size);
  return text.slice(start, start + size);
}
const paragraph = (g, n) => Array.from({ length: n }, () => g.rng.pick(g.pools.prose)).join(' ');

// Growable byte buffer: each line is UTF-8 encoded once, straight into the file's final buffer.
class ByteSink {
  constructor() { this.buf = Buffer.allocUnsafe(64 * 1024); this.len = 0; }
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  write(str) { this.reserve(str.length * 3); this.len += this.buf.write(str, this.len, 'utf8'); }
  writeBytes(src, start, end) { this.reserve(end - start); src.copy(this.buf, this.len, start, end); this.len += end - start; }
  bytes() { return this.buf.subarray(0, this.len); }
}

// ---------------------------------------------------------------------------------------------
// Usage arithmetic (TokenUsage as codex-rs writes it; cached inside input, reasoning inside output)

const usage = (i, c, o, r, t = i + o) => ({ input_tokens: i, cached_input_tokens: c, output_tokens: o, reasoning_output_tokens: r, total_tokens: t });
const addUsage = (a, b) => usage(a.input_tokens + b.input_tokens, a.cached_input_tokens + b.cached_input_tokens,
  a.output_tokens + b.output_tokens, a.reasoning_output_tokens + b.reasoning_output_tokens, a.total_tokens + b.total_tokens);
// Our partition: input = non-cached input, cacheRead = cached input, output incl. reasoning, no cache writes.
const billed = (last) => ({
  inputTokens: last.input_tokens - last.cached_input_tokens,
  outputTokens: last.output_tokens,
  cacheCreationTokens: 0,
  cacheReadTokens: last.cached_input_tokens,
  requests: 1,
});
function newTotals() {
  return { inputTokens: 0, outputTokens: 0, cacheCreationTokens: 0, cacheReadTokens: 0, requests: 0 };
}
function addTotals(t, u, sign = 1) {
  t.inputTokens += sign * u.inputTokens;
  t.outputTokens += sign * u.outputTokens;
  t.cacheCreationTokens += sign * u.cacheCreationTokens;
  t.cacheReadTokens += sign * u.cacheReadTokens;
  t.requests += sign * u.requests;
}

// ---------------------------------------------------------------------------------------------
// Corpus generation

const FORCED = [
  // Every rare trap at least once, even in a small corpus.
  { old: true, fork: true, garbage: true, crash: 'token_count', reset: true },
  { old: false, spawn: 2, fork: true, garbage: true, crash: 'output', repeats: true },
  { archive: 'copied' },
  { archive: 'compressed' },
  { archive: 'moved' },
  { archive: 'shadowed', endTorn: true },
];

/**
 * Generate a corpus of roughly targetBytes (bytes of rollouts, manifest excluded) under dir.
 * Returns the manifest (also written to dir/manifest.json).
 */
export async function generateCodexCorpus({ dir, targetBytes, seed = 1, log = () => {} }) {
  const started = performance.now();
  const rng = makeRng(seed ^ 0x5eed_c0de);
  const pools = buildPools(rng);
  const home = path.join(dir, '.codex');
  const sessionsDir = path.join(home, 'sessions');
  const archivedDir = path.join(home, 'archived_sessions');
  fs.mkdirSync(sessionsDir, { recursive: true });
  fs.mkdirSync(archivedDir, { recursive: true });

  const truth = newTotals();
  const byModel = {};
  const peerExtra = newTotals();
  const peerParts = { archivedCopies: newTotals(), compressedRollouts: newTotals() };
  const traps = {
    tokenCounts: 0, repeatedTokenCounts: 0, nullInfoTokenCounts: 0, totalResets: 0, compactions: 0,
    forks: 0, forkCopiedLines: 0, spawnedSubagents: 0, subagentReplayMetaAfter: 0, copiedTokenCounts: 0,
    archivedMoved: 0, archivedCopies: 0, compressedRollouts: 0, shadowedCompressed: 0,
    garbageLines: 0, tornLines: 0, joinedRecords: 0, lostTokenCounts: 0, trailingTornLines: 0,
    largeToolOutputs: 0, oldBuildThreads: 0, modelSwitches: 0,
  };
  const stats = { files: 0, bytes: 0, threads: 0, topThreads: 0, forkThreads: 0, subagentThreads: 0, compressedFiles: 0 };

  const g = {
    rng, pools, traps,
    count(th, last) {
      const u = billed(last);
      addTotals(truth, u);
      addTotals((byModel[th.model] ??= newTotals()), u);
      addTotals(th.spend, u);
    },
  };

  // Projects (cwds), weighted.
  const nProjects = rng.int(15, 30);
  const projects = [];
  const special = ['/home/dev/src/github.com/acme/shop.api', '/home/dev/work/data_pipeline', '/home/dev/My Projects/notes', '/home/dev/src/café-menu'];
  for (let i = 0; i < nProjects; i++) {
    const cwd = i < special.length ? special[i] : `/home/dev/src/${pools.ident()}-${rng.pick(['api', 'web', 'cli', 'svc', 'lib', 'app'])}-${i}`;
    projects.push({ cwd, branch: rng.pick(['main', 'main', 'develop', 'feat/checkout-v2', 'fix/flaky-tests']), repo: `git@github.com:acme/${path.basename(cwd).replace(/[^a-z0-9-]/gi, '-')}.git`, weight: rng.logUniform(1, 30) });
  }
  const weightSum = projects.reduce((s, p) => s + p.weight, 0);
  const pickProject = () => {
    let r = rng.next() * weightSum;
    for (const p of projects) { r -= p.weight; if (r <= 0) return p; }
    return projects[projects.length - 1];
  };

  const MEAN_THREAD_BYTES = 500_000; // rough mean incl. forks and subagents, only used to spread start times
  const expectedThreads = Math.max(1, Math.round(targetBytes / MEAN_THREAD_BYTES));
  const windowStart = BASE_DATE_MS - 30 * DAY_MS;

  // One write per file, asynchronous, at most ~128 MB waiting in memory (as generate.mjs does).
  const inFlight = [];
  let inFlightBytes = 0;
  const writeFile = async (file, buf) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    stats.files++;
    stats.bytes += buf.length;
    const p = fs.promises.writeFile(file, buf).then(() => { inFlightBytes -= buf.length; });
    inFlight.push(p);
    inFlightBytes += buf.length;
    while (inFlightBytes > 128 * 2 ** 20) await inFlight.shift();
  };
  const datedPath = (th) => {
    const local = iso(th.startMs + LOCAL_OFFSET_MS);
    const [y, m, d] = local.slice(0, 10).split('-');
    return path.join(sessionsDir, y, m, d, th.fileName);
  };

  let liveTarget = null;
  const writeThread = async (th, archive) => {
    const buf = th.out.bytes();
    const live = datedPath(th);
    const archived = path.join(archivedDir, th.fileName);
    switch (archive) {
      case 'moved':
        await writeFile(archived, buf);
        traps.archivedMoved++;
        break;
      case 'copied':
        // Same bytes under sessions/ and archived_sessions/: the thread is billed once.
        await writeFile(live, buf);
        await writeFile(archived, Buffer.from(buf));
        traps.archivedCopies++;
        addTotals(peerExtra, th.spend);
        addTotals(peerParts.archivedCopies, th.spend);
        break;
      case 'compressed':
        await writeFile(`${archived}.zst`, rawZstdFrame(buf));
        stats.compressedFiles++;
        traps.compressedRollouts++;
        addTotals(peerExtra, th.spend, -1);
        addTotals(peerParts.compressedRollouts, th.spend, -1);
        break;
      case 'shadowed': {
        // A plain rollout next to the compressed copy of an earlier state of it (Codex materializes a compressed
        // rollout back to plain before appending): the plain one wins, the .zst holds nothing new.
        await writeFile(live, buf);
        const half = Math.max(1, Math.floor(th.lines.length / 4)) * 2;
        await writeFile(`${live}.zst`, rawZstdFrame(buf.subarray(0, th.lines[half - 1])));
        stats.compressedFiles++;
        traps.shadowedCompressed++;
        break;
      }
      default:
        await writeFile(live, buf);
        // The biggest plain top-level rollout that ends on a whole line: run.mjs appends to it for live latency.
        if (th.kind === 'top' && !th.trailingTorn && (!liveTarget || buf.length > liveTarget.bytes)) {
          liveTarget = { file: path.relative(dir, live), bytes: buf.length, threadId: th.id };
        }
    }
  };

  let index = 0;
  while (stats.bytes < targetBytes) {
    const force = index < FORCED.length ? FORCED[index] : null;
    const project = pickProject();
    const t0 = windowStart + Math.min(index / expectedThreads, 1) * 29 * DAY_MS + rng.int(0, 3 * 3600_000);
    const remaining = targetBytes - stats.bytes;
    let budget = Math.min(rng.logNormal(250_000, 1.2, 6_000, 25_000_000), Math.max(remaining, 6_000));
    if (force) budget = Math.max(budget, 200_000);

    const old = force?.old ?? rng.chance(0.2);
    const th = newThread(g, {
      kind: 'top', startMs: t0, project, version: rng.pick(old ? OLD_VERSIONS : NEW_VERSIONS),
      model: rng.pick(MODELS), source: rng.pick(['cli', 'cli', 'cli', 'vscode', 'exec']),
    });
    if (old) traps.oldBuildThreads++;
    th.garbageAt = force?.garbage || rng.chance(0.03) ? rng.int(3, 30) : -1;
    th.crash = force?.crash ?? (rng.chance(0.02) ? rng.pick(['token_count', 'output']) : null);
    th.crashAt = th.crash ? rng.int(2, 6) : -1;
    th.resetAt = force?.reset || rng.chance(0.01) ? rng.int(3, 8) : -1;
    // The forced archived threads get no children (threads with children stay in sessions/).
    th.spawnBudget = th.modern && !force?.archive ? (force?.spawn ?? (rng.chance(0.12) ? rng.int(1, 3) : 0)) : 0;
    th.forceRepeats = !!force?.repeats;
    sessionHead(g, th, { nullInfo: rng.chance(0.5) });
    // A crashed session is always resumed (a file ending torn is trailingTorn's), a forced fork needs turns to fork at.
    do userTurn(g, th, budget); while (th.out.len < budget || th.crashed || (force?.fork && th.turns < 3));
    if (force?.endTorn || rng.chance(0.01)) trailingTorn(g, th);

    const children = [];
    for (const sp of th.spawnPoints) children.push(subagentThread(g, th, sp));
    const nForks = th.forkPoints.length < 2 || force?.archive ? 0 : force?.fork ? 1 : rng.chance(0.04) ? rng.int(1, 2) : 0;
    for (let k = 0; k < nForks; k++) {
      const fork = forkThread(g, th, rng.logNormal(100_000, 1.0, 5_000, 3_000_000));
      children.push(fork);
      for (const sp of fork.spawnPoints) children.push(subagentThread(g, fork, sp));
    }

    // Archive states: threads with children stay in sessions/ (live), as do subagents.
    const archiveOf = (t) => {
      if (t === th && force?.archive) return force.archive;
      if (t.kind === 'subagent' || t.hasChildren) return 'live';
      const r = rng.next();
      if (r < 0.03) return 'moved';
      if (r < 0.05) return 'copied';
      if (r < 0.065 && t.kind === 'top') return 'compressed';
      if (r < 0.07) return 'shadowed';
      return 'live';
    };
    for (const t of [th, ...children]) {
      await writeThread(t, archiveOf(t));
      stats.threads++;
      if (t.kind === 'top') stats.topThreads++;
      else if (t.kind === 'fork') stats.forkThreads++;
      else stats.subagentThreads++;
    }
    index++;
    if (index % 200 === 0) log(`  ${index} threads, ${(stats.bytes / 1e6).toFixed(0)} MB`);
  }
  await Promise.all(inFlight);

  const manifest = {
    generator: { name: 'agent-spend-bench-codex', version: GENERATOR_VERSION, id: GENERATOR_ID },
    agent: 'codex',
    seed,
    targetBytes,
    baseDate: iso(BASE_DATE_MS),
    localOffsetMinutes: LOCAL_OFFSET_MS / 60_000,
    projects: projects.length,
    sessions: stats.threads,
    files: stats.files,
    threads: { top: stats.topThreads, forks: stats.forkThreads, subagents: stats.subagentThreads },
    compressedFiles: stats.compressedFiles,
    bytes: stats.bytes,
    // Ground truth: every model response whose token_count was written whole, once (its last_token_usage, which is
    // the step of total_token_usage), whatever copies of it forks, subagent replays, archived copies or compressed
    // siblings hold. inputTokens = input − cached, cacheReadTokens = cached, outputTokens include reasoning.
    // A token_count torn by a crash is lost for every reader, and Codex re-seeds its counter from the last whole
    // one when the session resumes, so it is not in the totals (traps.lostTokenCounts).
    totals: truth,
    byModel,
    // What `ccusage codex session` (20.0.24) is expected to report on top of totals (negative: below them):
    // archived copies counted twice, .jsonl.zst rollouts not read. peerExpectedParts splits it.
    peerExpectedExtra: { [PEER_REPORT]: peerExtra },
    peerExpectedParts: { [PEER_REPORT]: peerParts },
    peerExpectedNote: { [PEER_REPORT]: 'archived_sessions/ copies of sessions/ rollouts counted twice, .jsonl.zst rollouts not read' },
    traps,
    liveTarget,
    generationMs: Math.round(performance.now() - started),
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

// ---------------------------------------------------------------------------------------------
// Threads

function newThread(g, { kind, id, startMs, project, version, model, source, forkedFrom }) {
  const { rng } = g;
  id ??= rng.uuid7(startMs);
  const local = iso(startMs + LOCAL_OFFSET_MS);
  return {
    kind, id, forkedFrom, startMs, t: startMs, project, cwd: project.cwd, version, modern: NEW_VERSIONS.includes(version),
    model, source, originator: source === 'vscode' ? 'codex_vscode' : source === 'exec' ? 'codex_exec' : 'codex_cli_rs',
    effort: rng.pick(['medium', 'medium', 'high', 'low', 'minimal']),
    fileName: `rollout-${local.slice(0, 10)}T${local.slice(11, 19).replaceAll(':', '-')}-${id}.jsonl`,
    out: new ByteSink(),
    lines: [], // [start, end) byte offsets of the well-formed lines, flattened: what a fork or replay copies
    nLines: 0,
    // Codex's TokenUsageInfo: total += last per response.
    total: usage(0, 0, 0, 0, 0), last: null,
    ctx: rng.int(7_000, 14_000), // prompt tokens before any message: instructions, tools, environment
    prevInput: 0, pending: 0, first: true,
    rate: { p: rng.int(0, 40), s: rng.int(0, 60) },
    turn: undefined, turns: 0, steps: 0,
    spend: newTotals(),
    forkPoints: [], spawnPoints: [], hasChildren: false,
    garbageAt: -1, crash: null, crashAt: -1, crashed: false, resetAt: -1, spawnBudget: 0, forceRepeats: false,
    joinNext: false, trailingTorn: false,
  };
}

const GARBAGE = ['<<<<<<< HEAD\n', '\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\n', 'not json at all: Killed\n', '}{"type":"event_msg","payload":{"type":"token_count"\n'];

function emit(g, th, type, payload) {
  const str = JSON.stringify({ timestamp: iso(th.t), type, payload }) + '\n';
  if (th.garbageAt >= 0 && th.nLines >= th.garbageAt && !th.joinNext) {
    th.out.write(g.rng.pick(GARBAGE));
    th.nLines++;
    th.garbageAt = -1;
    g.traps.garbageLines++;
  }
  const start = th.out.len;
  th.out.write(str);
  th.nLines++;
  if (th.joinNext) {
    // This record ran into the torn bytes before it (no newline between them): not a line Codex can read back.
    th.joinNext = false;
    g.traps.joinedRecords++;
  } else {
    th.lines.push(start, th.out.len);
  }
}

/** The first part of a record, no newline: the process died while writing it. */
function emitTorn(g, th, type, payload) {
  const str = JSON.stringify({ timestamp: iso(th.t), type, payload });
  th.out.write(str.slice(0, Math.floor(str.length * g.rng.int(15, 85) / 100)));
  th.nLines++;
  th.joinNext = true;
  g.traps.tornLines++;
}

function rateLimits(g, th) {
  const r = th.rate;
  r.p = Math.min(100, r.p + g.rng.int(0, 2));
  r.s = Math.min(100, r.s + (g.rng.chance(0.2) ? 1 : 0));
  const resets = Math.floor(th.t / 1000);
  return th.modern
    ? { primary: { used_percent: r.p, window_minutes: 300, resets_at: resets + 9_000 }, secondary: { used_percent: r.s, window_minutes: 10080, resets_at: resets + 400_000 }, credits: null, plan_type: 'plus' }
    : { primary: { used_percent: r.p, window_minutes: 300, resets_in_seconds: 9_000 }, secondary: { used_percent: r.s, window_minutes: 10080, resets_in_seconds: 400_000 } };
}

function tokenCountPayload(g, th) {
  return {
    type: 'token_count',
    info: th.last ? { total_token_usage: th.total, last_token_usage: th.last, model_context_window: EFFECTIVE_WINDOW } : null,
    rate_limits: rateLimits(g, th),
  };
}

function sessionMetaPayload(g, th, { sourceOverride } = {}) {
  const p = { id: th.id };
  if (th.forkedFrom) p.forked_from_id = th.forkedFrom;
  Object.assign(p, {
    timestamp: iso(th.startMs), cwd: th.cwd, originator: th.originator, cli_version: th.version,
    instructions: th.modern ? null : (g.rng.chance(0.5) ? `# AGENTS.md\n\n${paragraph(g, 6)}` : null),
    source: sourceOverride ?? th.source, model_provider: 'openai',
  });
  if (th.modern && th.kind !== 'subagent') p.base_instructions = { text: `You are Codex, a coding agent. ${paragraph(g, g.rng.int(20, 60))}` };
  p.git = { commit_hash: g.rng.hex(40), branch: th.project.branch, repository_url: th.project.repo };
  return p;
}

function sessionHead(g, th, { nullInfo }) {
  emit(g, th, 'session_meta', sessionMetaPayload(g, th));
  if (nullInfo) {
    // Rate limits arrive before the first response: a token_count without info.
    th.t += g.rng.int(50, 900);
    emit(g, th, 'event_msg', tokenCountPayload(g, th));
    g.traps.nullInfoTokenCounts++;
  }
}

/** One model response and its token_count. `lost`: the token_count is torn by a crash (see the manifest). */
function modelCall(g, th, outputTokens, { lost = false } = {}) {
  const { rng, traps } = g;
  const input = th.ctx + th.pending;
  let cached;
  if (th.first) cached = rng.chance(0.4) ? 0 : Math.min(input, floor128(rng.int(2_000, 6_000)));
  else if (rng.chance(0.04)) cached = Math.min(input, floor128(rng.int(0, 8_000))); // cache evicted
  else cached = Math.min(input, floor128(th.prevInput));
  const reasoning = th.effort === 'minimal' ? 0 : Math.floor(outputTokens * rng.next() * 0.85);
  const last = usage(input, cached, outputTokens, reasoning);
  const before = { total: th.total, last: th.last };
  th.total = addUsage(th.total, last);
  th.last = last;
  th.prevInput = input;
  th.ctx = input + outputTokens;
  th.pending = 0;
  th.first = false;
  th.steps++;
  th.t += rng.int(5, 400);
  if (lost) {
    emitTorn(g, th, 'event_msg', tokenCountPayload(g, th));
    th.total = before.total; // what Codex re-seeds from on resume: the last whole token_count
    th.last = before.last;
    traps.lostTokenCounts++;
    return;
  }
  emit(g, th, 'event_msg', tokenCountPayload(g, th));
  traps.tokenCounts++;
  g.count(th, last);
  // update_rate_limits() re-emits the current info with each new rate-limit snapshot.
  while (rng.chance(th.forceRepeats ? 0.5 : 0.2)) {
    th.t += rng.int(20, 3_000);
    emit(g, th, 'event_msg', tokenCountPayload(g, th));
    traps.repeatedTokenCounts++;
  }
}

function userTurn(g, th, budget) {
  const { rng, pools } = g;
  const resumed = th.crashed;
  th.crashed = false;
  th.t += resumed ? rng.int(600_000, 20 * 3600_000) : rng.chance(0.1) ? rng.int(600_000, 6 * 3600_000) : rng.int(5_000, 300_000);
  // A later fork may start from here: the lines so far and the counter as it stands.
  th.forkPoints.push({ line: th.lines.length / 2, total: th.total, last: th.last, ctx: th.ctx, prevInput: th.prevInput, model: th.model, t: th.t });
  if (th.turns > 0 && rng.chance(0.05)) { th.model = rng.pick(MODELS); g.traps.modelSwitches++; }
  th.turn = th.modern ? rng.uuid7(th.t) : undefined;
  th.turns++;
  emit(g, th, 'event_msg', th.modern ? { type: 'task_started', turn_id: th.turn, model_context_window: EFFECTIVE_WINDOW } : { type: 'task_started', model_context_window: EFFECTIVE_WINDOW });
  th.t += rng.int(1, 20);
  const ctx = {};
  if (th.turn) ctx.turn_id = th.turn;
  Object.assign(ctx, {
    cwd: th.cwd, approval_policy: 'on-request',
    sandbox_policy: { type: 'workspace-write', writable_roots: [], network_access: false, exclude_tmpdir_env_var: false, exclude_slash_tmp: false },
    model: th.model, effort: th.effort, summary: 'auto',
  });
  emit(g, th, 'turn_context', ctx);
  if (th.turns === 1 && th.kind !== 'fork') {
    const env = `<environment_context>\n  <cwd>${th.cwd}</cwd>\n  <approval_policy>on-request</approval_policy>\n  <sandbox_mode>workspace-write</sandbox_mode>\n  <network_access>restricted</network_access>\n  <shell>bash</shell>\n</environment_context>`;
    emit(g, th, 'response_item', { type: 'message', role: 'user', content: [{ type: 'input_text', text: env }] });
    th.pending += 120;
    if (rng.chance(0.5)) {
      const agents = `# AGENTS.md instructions for ${th.cwd}\n\n<INSTRUCTIONS>\n${paragraph(g, rng.int(10, 40))}\n</INSTRUCTIONS>`;
      emit(g, th, 'response_item', { type: 'message', role: 'user', content: [{ type: 'input_text', text: agents }] });
      th.pending += tokensOf(agents.length);
    }
  }
  const prompt = th.kind === 'subagent' ? th.task : paragraph(g, rng.int(1, 6));
  emit(g, th, 'response_item', { type: 'message', role: 'user', content: [{ type: 'input_text', text: prompt }] });
  emit(g, th, 'event_msg', { type: 'user_message', message: prompt, images: [] });
  th.pending += tokensOf(prompt.length);

  const maxSteps = th.kind === 'subagent' ? rng.int(2, 10) : rng.int(1, 25);
  for (let s = 0; s < maxSteps; s++) {
    if (th.ctx > COMPACT_AT) compaction(g, th);
    toolStep(g, th);
    if (th.crashed) return; // the process died mid-turn: the next turn resumes the session
    if (th.out.len >= budget && s >= 1) break;
  }
  // The final answer.
  th.t += rng.int(1_000, 30_000);
  if (rng.chance(0.6)) reasoningItem(g, th);
  const answer = paragraph(g, rng.int(1, 8));
  emit(g, th, 'response_item', { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: answer }] });
  emit(g, th, 'event_msg', { type: 'agent_message', message: answer });
  modelCall(g, th, Math.max(rng.logNormal(350, 0.9, 20, 12_000), tokensOf(answer.length)));
  if (th.modern) emit(g, th, 'event_msg', { type: 'task_complete', turn_id: th.turn, last_agent_message: answer });
}

function reasoningItem(g, th) {
  const { rng, pools } = g;
  const summary = rng.chance(0.7) ? [{ type: 'summary_text', text: `**${pools.sentence(rng.int(2, 6))}**\n\n${paragraph(g, rng.int(1, 3))}` }] : [];
  emit(g, th, 'response_item', { type: 'reasoning', summary, content: null, encrypted_content: 'gAAAAAB' + slice(rng, pools.b64, rng.logNormal(1_600, 0.8, 200, 60_000)) });
  if (summary.length) emit(g, th, 'event_msg', { type: 'agent_reasoning', text: summary[0].text });
}

const SHELL = [
  ['rg -n "cart" src', 'logs'], ['sed -n 1,200p src/cart.ts', 'code'], ['npm test', 'logs'], ['git diff', 'code'],
  ['cat package.json', 'code'], ['ls -la src', 'logs'], ['npx tsc --noEmit', 'logs'], ['git log --oneline -20', 'logs'],
  ['nl -ba src/ledger.ts', 'code'], ['pytest -x -q', 'logs'],
];

function toolStep(g, th) {
  const { rng, pools, traps } = g;
  th.t += rng.int(1_000, 40_000);
  if (rng.chance(0.75)) reasoningItem(g, th);
  const calls = [];
  const r = rng.next();
  if (th.spawnBudget > 0 && th.kind !== 'subagent' && th.turns >= 1 && rng.chance(0.15)) {
    th.spawnBudget--;
    const task = paragraph(g, rng.int(1, 3));
    const childId = rng.uuid7(th.t);
    const nickname = rng.pick(NICKNAMES);
    const callId = 'call_' + rng.b62(24);
    emit(g, th, 'response_item', { type: 'function_call', name: 'spawn_agent', arguments: JSON.stringify({ message: task, agent_type: 'explorer' }), call_id: callId });
    modelCall(g, th, rng.logNormal(150, 0.8, 12, 3_000));
    // The subagent starts from the parent's history as it stands now.
    th.spawnPoints.push({ line: th.lines.length / 2, total: th.total, last: th.last, ctx: th.ctx, prevInput: th.prevInput, t: th.t, childId, nickname, task, turn: th.turn });
    th.hasChildren = true;
    th.t += rng.int(5, 200);
    const out = JSON.stringify({ agent_id: childId, nickname });
    emit(g, th, 'response_item', { type: 'function_call_output', call_id: callId, output: out });
    th.pending += tokensOf(out.length);
    traps.spawnedSubagents++;
    return;
  }
  if (r < 0.2) {
    // apply_patch: a custom tool call (newer builds) or a shell heredoc (older ones).
    const file = `src/${pools.ident()}.ts`;
    const patch = `*** Begin Patch\n*** Update File: ${file}\n@@\n${slice(rng, pools.code, rng.int(100, 3_000)).split('\n').map((l, i) => (i % 3 ? '+' : '-') + l).join('\n')}\n*** End Patch`;
    const callId = 'call_' + rng.b62(24);
    if (th.modern) emit(g, th, 'response_item', { type: 'custom_tool_call', status: 'completed', call_id: callId, name: 'apply_patch', input: patch });
    else emit(g, th, 'response_item', { type: 'function_call', name: 'shell', arguments: JSON.stringify({ command: ['apply_patch', patch], workdir: th.cwd }), call_id: callId });
    calls.push({ callId, custom: th.modern, text: `Success. Updated the following files:\nM ${file}\n` });
  } else if (r < 0.27) {
    const callId = 'call_' + rng.b62(24);
    const plan = Array.from({ length: rng.int(2, 6) }, () => ({ step: pools.sentence(rng.int(3, 8)), status: rng.pick(['completed', 'in_progress', 'pending']) }));
    emit(g, th, 'response_item', { type: 'function_call', name: 'update_plan', arguments: JSON.stringify({ plan }), call_id: callId });
    calls.push({ callId, text: 'Plan updated' });
  } else {
    for (let n = rng.chance(0.15) ? 2 : 1; n > 0; n--) {
      const [cmd, pool] = rng.pick(SHELL);
      const callId = 'call_' + rng.b62(24);
      emit(g, th, 'response_item', { type: 'function_call', name: th.modern ? 'exec_command' : 'shell', arguments: JSON.stringify(th.modern ? { cmd, workdir: th.cwd } : { command: ['bash', '-lc', cmd], workdir: th.cwd, timeout_ms: 120_000 }), call_id: callId });
      // Big outputs: most are a few KB, a few are megabytes (a whole log, a generated file).
      const huge = rng.chance(0.04);
      if (huge) traps.largeToolOutputs++;
      const size = huge ? rng.logUniform(200_000, 3_000_000) : rng.logUniform(80, 60_000);
      calls.push({ callId, text: slice(rng, pool === 'code' ? pools.code : pools.logs, size), exit: rng.chance(0.9) ? 0 : 1 });
    }
  }

  const crashHere = th.crashAt === th.steps;
  if (crashHere && th.crash === 'token_count') {
    modelCall(g, th, rng.logNormal(180, 0.9, 12, 6_000), { lost: true });
    th.crashed = true;
    th.crashAt = -1;
    return;
  }
  modelCall(g, th, rng.logNormal(180, 0.9, 12, 6_000));

  if (th.resetAt === th.steps) {
    // The context window overflowed: fill_to_context_window rewrites the total, then Codex compacts.
    const delta = Math.max(0, CONTEXT_WINDOW - th.total.total_tokens);
    th.total = usage(0, 0, 0, 0, CONTEXT_WINDOW);
    th.last = usage(0, 0, 0, 0, delta);
    th.t += rng.int(50, 500);
    emit(g, th, 'event_msg', tokenCountPayload(g, th));
    traps.totalResets++;
    th.resetAt = -1;
    compaction(g, th);
  }

  for (const c of calls) {
    th.t += rng.int(100, 30_000);
    const wall = (rng.int(5, 30_000) / 1000).toFixed(1);
    const payload = c.custom
      ? { type: 'custom_tool_call_output', call_id: c.callId, output: JSON.stringify({ output: c.text, metadata: { exit_code: 0, duration_seconds: Number(wall) } }) }
      : { type: 'function_call_output', call_id: c.callId, output: th.modern ? `Exit code: ${c.exit ?? 0}\nWall time: ${wall} seconds\nOutput:\n${c.text}` : JSON.stringify({ output: c.text, metadata: { exit_code: c.exit ?? 0, duration_seconds: Number(wall) } }) };
    if (crashHere && th.crash === 'output') {
      emitTorn(g, th, 'response_item', payload);
      th.crashed = true;
      th.crashAt = -1;
      return;
    }
    emit(g, th, 'response_item', payload);
    th.pending += Math.min(tokensOf(c.text.length), 10_000) + 30; // Codex truncates what the model sees
  }
}

/** Local compaction: a summarizing request (its own token_count), then the history is replaced. */
function compaction(g, th) {
  const { rng } = g;
  th.t += rng.int(2_000, 20_000);
  const summary = paragraph(g, rng.int(10, 40));
  modelCall(g, th, rng.int(1_500, 5_000));
  emit(g, th, 'compacted', { message: summary });
  if (th.modern) emit(g, th, 'event_msg', { type: 'context_compacted' });
  th.ctx = rng.int(12_000, 30_000);
  th.prevInput = rng.int(2_000, 6_000); // only the instructions prefix is still cached
  g.traps.compactions++;
}

/** The file ends inside a record: the process died and the session was never resumed. */
function trailingTorn(g, th) {
  th.t += g.rng.int(1_000, 30_000);
  if (g.rng.chance(0.5)) modelCall(g, th, g.rng.logNormal(180, 0.9, 12, 6_000), { lost: true });
  else emitTorn(g, th, 'response_item', { type: 'function_call_output', call_id: 'call_' + g.rng.b62(24), output: slice(g.rng, g.pools.logs, g.rng.int(2_000, 40_000)) });
  th.joinNext = false;
  th.trailingTorn = true;
  g.traps.trailingTornLines++;
}

/**
 * Copies parent lines [from, to) into the child, re-stamped at `t` (+ a few ms over the run: Codex writes the copied
 * history in one burst). Every line starts `{"timestamp":"<24 chars>"`, so re-stamping overwrites 24 bytes.
 */
function copyLines(g, child, parent, from, to, t) {
  for (let i = from; i < to; i++) {
    const s = parent.lines[2 * i];
    const e = parent.lines[2 * i + 1];
    const at = child.out.len;
    child.out.writeBytes(parent.out.buf, s, e);
    child.out.buf.write(iso(t + Math.floor((i - from) / 100)), at + 14, 'latin1');
    child.lines.push(at, child.out.len);
    child.nLines++;
    g.traps.forkCopiedLines++;
    const line = parent.out.buf.subarray(s, e);
    if (line.includes('"type":"token_count"') && line.includes('"info":{')) g.traps.copiedTokenCounts++;
  }
}

function seedFrom(child, point) {
  child.total = point.total;
  child.last = point.last;
  child.ctx = point.ctx;
  child.prevInput = point.prevInput;
  child.first = false;
}

/** A fork (InitialHistory::Forked) made later from a turn boundary of `parent`. */
function forkThread(g, parent, ownBudget) {
  const { rng } = g;
  const fp = parent.forkPoints[rng.int(1, parent.forkPoints.length - 1)];
  // Forked some time after the parent's last activity, before the corpus's end.
  const latest = BASE_DATE_MS - 600_000;
  const t = Math.max(parent.t + 60_000, Math.min(latest, parent.t + rng.logUniform(60_000, 3 * DAY_MS)));
  const child = newThread(g, { kind: 'fork', startMs: t, project: parent.project, version: parent.version, model: fp.model, source: parent.source, forkedFrom: parent.id });
  child.effort = parent.effort;
  emit(g, child, 'session_meta', sessionMetaPayload(g, child));
  copyLines(g, child, parent, 0, fp.line, t + rng.int(1, 5));
  child.t = t + rng.int(5, 40);
  seedFrom(child, fp);
  child.spawnBudget = child.modern && rng.chance(0.1) ? 1 : 0;
  // Seeded from the copy, the counter is shown at once: the same info again.
  if (child.last && rng.chance(0.6)) { emit(g, child, 'event_msg', tokenCountPayload(g, child)); g.traps.repeatedTokenCounts++; }
  const budget = child.out.len + ownBudget;
  do userTurn(g, child, budget); while (child.out.len < budget);
  parent.hasChildren = true;
  g.traps.forks++;
  return child;
}

/** A thread_spawn subagent: starts with a replay of the parent's history, then does its task. */
function subagentThread(g, parent, sp) {
  const { rng } = g;
  const t = sp.t + rng.int(2, 60);
  const child = newThread(g, {
    kind: 'subagent', startMs: t, project: parent.project, version: parent.version, model: rng.pick(SUBAGENT_MODELS),
    source: { subagent: { thread_spawn: { parent_thread_id: parent.id, depth: 1, agent_nickname: sp.nickname, agent_role: 'explorer' } } },
    id: sp.childId,
  });
  child.task = sp.task;
  child.effort = rng.pick(['low', 'medium']);
  emit(g, child, 'session_meta', sessionMetaPayload(g, child));
  // Two shapes (formats doc §2c trap 10 and the fixtures): the parent's lines as they are, its session_meta first;
  // or the replayed lines first, the parent's session_meta after them.
  if (rng.chance(0.5)) {
    copyLines(g, child, parent, 0, sp.line, t);
  } else {
    copyLines(g, child, parent, 1, sp.line, t);
    copyLines(g, child, parent, 0, 1, t);
    g.traps.subagentReplayMetaAfter++;
  }
  child.t = t + rng.int(5, 40);
  seedFrom(child, sp);
  userTurn(g, child, rng.logNormal(60_000, 1.0, 4_000, 2_000_000));
  return child;
}

// ---------------------------------------------------------------------------------------------
// Live appends (benchmark of watch latency). Not seeded: every bench run adds new totals.

/**
 * Append one new model response (an assistant message and its token_count, the total advanced by a fresh
 * last_token_usage) to a rollout. Returns the tokens it adds in our partition.
 */
export function appendCodexResponse(file) {
  const prev = lastTokenCount(file);
  const rnd = (n) => crypto.randomBytes(n).readUIntLE(0, n);
  const input = (prev?.last?.input_tokens ?? 20_000) + 200 + (rnd(2) % 4_000);
  const cached = floor128(Math.min(input, prev?.last?.input_tokens ?? 0));
  const output = 50 + (rnd(2) % 900);
  const last = usage(input, cached, output, Math.floor(output / 3));
  const total = prev?.total ? addUsage(prev.total, last) : last;
  const now = Date.now();
  const lines =
    JSON.stringify({ timestamp: new Date(now).toISOString(), type: 'response_item', payload: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Done: the benchmark appended this response.' }] } }) + '\n' +
    JSON.stringify({ timestamp: new Date(now + 1).toISOString(), type: 'event_msg', payload: { type: 'token_count', info: { total_token_usage: total, last_token_usage: last, model_context_window: EFFECTIVE_WINDOW }, rate_limits: null } }) + '\n';
  fs.appendFileSync(file, lines);
  return { ...billed(last), bytes: Buffer.byteLength(lines) };
}

function lastTokenCount(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const n = Math.min(size, 8 << 20);
    const buf = Buffer.alloc(n);
    fs.readSync(fd, buf, 0, n, size - n);
    const lines = buf.toString('utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      if (!lines[i].includes('"token_count"')) continue;
      try {
        const o = JSON.parse(lines[i]);
        const info = o?.payload?.type === 'token_count' ? o.payload.info : null;
        if (info?.total_token_usage) return { total: info.total_token_usage, last: info.last_token_usage };
      } catch { /* torn: keep looking */ }
    }
  } finally {
    fs.closeSync(fd);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// CLI

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
  };
  const dir = opt('dir');
  if (!dir) {
    console.error('usage: node bench/generateCodex.mjs --dir DIR [--size 100MB] [--seed 1]');
    process.exit(2);
  }
  const targetBytes = parseSize(opt('size', '100MB'));
  const seed = Number(opt('seed', '1'));
  const m = await generateCodexCorpus({ dir: path.resolve(dir), targetBytes, seed, log: (s) => console.error(s) });
  console.log(JSON.stringify({ dir: path.resolve(dir), files: m.files, bytes: m.bytes, generationMs: m.generationMs, totals: m.totals, peerExpectedExtra: m.peerExpectedExtra, traps: m.traps }, null, 2));
}
