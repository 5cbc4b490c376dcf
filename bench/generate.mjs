#!/usr/bin/env node
// Synthetic Claude Code transcript corpus for the Agent Spend benchmark.
//
// Writes <dir>/.claude/projects/<encoded-cwd>/<sessionId>.jsonl (+ <sessionId>/subagents/agent-<id>.jsonl)
// shaped like real Claude Code logs, seeded and deterministic, plus <dir>/manifest.json holding the token
// totals the generator itself knows to be billed. Every trap listed in shared/formats/agent-logs.md §1d that
// matters for token totals is present: multi-line responses with growing output_tokens, sidechain replays,
// resumed-session copies, the cache_creation_input_tokens=0 bug, <synthetic> lines, fast mode, torn and
// garbage lines, and usage-shaped objects where they must not be counted (toolUseResult.usage,
// agent_progress copies).
//
// CLI:  node bench/generate.mjs --dir D --size 100MB [--seed 1]
// API:  generateCorpus({ dir, targetBytes, seed }) -> manifest
//       appendResponse(file, { sessionId, cwd, ... }) -> tokens added (used by run.mjs for live latency)

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

// Corpus format version. run.mjs keys its corpus cache on GENERATOR_ID, which also hashes this file, so
// an edited generator never reuses a stale cached corpus even if nobody bumps the number.
export const GENERATOR_VERSION = 1;
export const GENERATOR_ID = `${GENERATOR_VERSION}-${crypto.createHash('sha256').update(fs.readFileSync(fileURLToPath(import.meta.url))).digest('hex').slice(0, 10)}`;

// Sessions are spread over the 30 days before this instant (fixed so corpora are reproducible).
const BASE_DATE_MS = Date.parse('2026-11-20T00:00:00.000Z');
const DAY_MS = 86_400_000;

const MODELS = {
  sonnet: 'claude-sonnet-4-5-20250929',
  opus: 'claude-opus-4-6',
  haiku: 'claude-haiku-4-5-20251001',
};
// Builds before 2.1.152 sometimes wrote cache_creation_input_tokens: 0 while filling the nested
// cache_creation breakdown (changelog 2.1.152); sessions on these versions exhibit that bug.
const BUGGY_CACHE_VERSIONS = ['2.1.140', '2.1.147', '2.1.150'];
const CURRENT_VERSIONS = ['2.1.201', '2.1.215', '2.1.222', '2.1.230', '2.1.234'];
const BRANCHES = ['main', 'main', 'main', 'develop', 'feat/checkout-v2', 'fix/flaky-tests', 'chore/deps', 'refactor/api'];

// ---------------------------------------------------------------------------------------------
// Seeded PRNG (sfc32). Math.random is never used in the corpus: same (size, seed) => same bytes.

export function makeRng(seed) {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 + seed * 31;
  let c = 0xb7e15162 ^ (seed << 7);
  let d = 1;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 20; i++) next(); // warm up so nearby seeds diverge
  const rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    // log-uniform: sizes and token counts span orders of magnitude
    logUniform: (lo, hi) => Math.round(Math.exp(Math.log(lo) + next() * (Math.log(hi) - Math.log(lo)))),
    // log-normal around a median, clamped
    logNormal: (median, sigma, lo, hi) => {
      const u1 = Math.max(next(), 1e-12);
      const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * next());
      return Math.min(hi, Math.max(lo, Math.round(median * Math.exp(sigma * z))));
    },
  };
  const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const HEX = '0123456789abcdef';
  rng.b62 = (n) => { let s = ''; for (let i = 0; i < n; i++) s += B62[Math.floor(next() * 62)]; return s; };
  rng.hex = (n) => { let s = ''; for (let i = 0; i < n; i++) s += HEX[Math.floor(next() * 16)]; return s; };
  rng.uuid = () => {
    const h = rng.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[Math.floor(next() * 4)]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  return rng;
}

const iso = (ms) => new Date(ms).toISOString(); // always UTC with milliseconds and Z

// Claude Code's project directory name: every non-alphanumeric character of the cwd becomes '-'.
export const encodeCwd = (cwd) => cwd.replace(/[^a-zA-Z0-9]/g, '-');

// ---------------------------------------------------------------------------------------------
// Text pools. Tool output and file contents are slices of one pre-built pool so that a 2 MB tool
// result costs a slice, not 2 MB of PRNG calls. The pool never contains ":null" (ccusage skips any
// usage line where ":null" follows certain quoted field names; we don't want accidental matches).

export const WORDS = ('the a to of and in is for that with on this be it as are from by at or an we you can not ' +
  'function return value type error test file cart order user price total config build cache request ' +
  'response token session module import export handler query update create delete fetch parse render ' +
  'state hook event stream buffer offset index ledger budget model account invoice payment retry timeout').split(' ');
// Non-ASCII only in conversational text (prompts, answers, thinking), not in the bulk tool output:
// real output is mostly ASCII, and a single non-ASCII char makes V8 encode a whole line more slowly.
export const PROSE_WORDS = [...WORDS, 'naïve', 'café', 'façade', '→', '—', 'résumé'];
export const IDENTS = ['cart', 'order', 'user', 'item', 'price', 'total', 'config', 'cache', 'req', 'res', 'ctx',
  'ledger', 'budget', 'session', 'token', 'entry', 'line', 'offset', 'buf', 'result', 'value', 'key', 'map'];
export const TYPES = ['string', 'number', 'boolean', 'Cart', 'Order', 'User', 'Entry', 'Map<string, number>', 'void'];

function buildPools(rng) {
  const sentence = (n, words = WORDS) => {
    let s = '';
    for (let i = 0; i < n; i++) s += (i ? ' ' : '') + rng.pick(words);
    return s.charAt(0).toUpperCase() + s.slice(1) + '.';
  };
  const ident = () => rng.pick(IDENTS) + (rng.chance(0.5) ? rng.pick(['Id', 'Count', 'Total', 'Map', 'List', 'Ms']) : '');
  const codeLine = (depth) => {
    const ind = '  '.repeat(depth);
    switch (rng.int(0, 11)) {
      case 0: return `${ind}export function ${ident()}(${ident()}: ${rng.pick(TYPES)}): ${rng.pick(TYPES)} {`;
      case 1: return `${ind}const ${ident()} = await ${ident()}.${ident()}(${ident()}, { retries: ${rng.int(0, 5)} });`;
      case 2: return `${ind}if (${ident()} > ${rng.int(0, 9999)} && !${ident()}) {`;
      case 3: return `${ind}return ${ident()}.map((x) => x.${ident()} * ${rng.int(1, 100)});`;
      case 4: return `${ind}// ${sentence(rng.int(4, 14))}`;
      case 5: return `${ind}throw new Error(\`${sentence(rng.int(3, 8))} \${${ident()}}\`);`;
      case 6: return `${ind}import { ${ident()}, ${ident()} } from "./${ident()}";`;
      case 7: return `${ind}}`;
      case 8: return `${ind}${ident()}.set("${ident()}", ${rng.int(0, 1e6)});`;
      case 9: return `${ind}expect(${ident()}).toEqual({ ${ident()}: ${rng.int(0, 99)}, ${ident()}: "${rng.pick(WORDS)}" });`;
      case 10: return '';
      default: return `${ind}let ${ident()}: ${rng.pick(TYPES)} = ${ident()}[${rng.int(0, 64)}] ?? ${rng.int(0, 10)};`;
    }
  };
  const logLine = () => `${iso(BASE_DATE_MS - rng.int(0, 30 * DAY_MS))} ${rng.pick(['INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'])} ` +
    `[${ident()}] ${sentence(rng.int(3, 12))} took=${rng.int(1, 900)}ms path=/api/${ident()}/${rng.int(1, 9999)}`;

  // ~6 MB of code-ish text and ~2 MB of log-ish text: bigger than the largest single slice we take.
  const code = [];
  let len = 0;
  let depth = 0;
  while (len < 6_000_000) {
    const l = codeLine(depth);
    if (l.endsWith('{')) depth = Math.min(depth + 1, 5);
    else if (l.trim() === '}') depth = Math.max(depth - 1, 0);
    code.push(l);
    len += l.length + 1;
  }
  const logs = [];
  len = 0;
  while (len < 2_000_000) { const l = logLine(); logs.push(l); len += l.length + 1; }
  const prose = [];
  for (let i = 0; i < 4000; i++) prose.push(sentence(rng.int(5, 22), PROSE_WORDS));
  return { code: code.join('\n'), logs: logs.join('\n'), prose, sentence, ident };
}

// ---------------------------------------------------------------------------------------------
// Corpus generation

const SMALL = 1024;

/**
 * Generate a corpus of roughly targetBytes (bytes of .jsonl, manifest excluded) under dir.
 * Returns the manifest (also written to dir/manifest.json).
 */
export async function generateCorpus({ dir, targetBytes, seed = 1, log = () => {} }) {
  const started = performance.now();
  const rng = makeRng(seed);
  const pools = buildPools(rng);
  const root = path.join(dir, '.claude', 'projects');
  fs.mkdirSync(root, { recursive: true });

  const truth = newTotals();
  const byModel = {};
  const traps = {
    multiLineResponses: 0, sidechainReplays: 0, sidechainReplaysNewTimestamp: 0, resumedCopies: 0, copiedLines: 0, zeroTopLevelCacheCreation: 0,
    syntheticLines: 0, fastResponses: 0, tornLines: 0, garbageLines: 0, agentProgressCopies: 0,
    taskToolUseResultUsage: 0, largeSystemLines: 0, largeProgressLines: 0,
  };
  const stats = { files: 0, bytes: 0, mainFiles: 0, subagentFiles: 0 };

  // --- projects: 20-40 cwds, some with characters that the directory encoding flattens.
  const nProjects = rng.int(20, 40);
  const projects = [];
  const special = ['/home/dev/src/github.com/acme/shop.api', '/home/dev/work/data_pipeline', '/home/dev/My Projects/notes',
    '/home/dev/src/café-menu', '/home/dev/src/monorepo/packages/web-app'];
  for (let i = 0; i < nProjects; i++) {
    const cwd = i < special.length ? special[i] : `/home/dev/src/${pools.ident()}-${rng.pick(['api', 'web', 'cli', 'svc', 'lib', 'app'])}-${i}`;
    projects.push({ cwd, dirName: encodeCwd(cwd), weight: rng.logUniform(1, 30), heads: [] });
  }
  const weightSum = projects.reduce((s, p) => s + p.weight, 0);
  const pickProject = () => {
    let r = rng.next() * weightSum;
    for (const p of projects) { r -= p.weight; if (r <= 0) return p; }
    return projects[projects.length - 1];
  };

  // Start times: sessions are generated in time order so that resumed copies come after their source.
  const MEAN_SESSION_BYTES = 700_000; // rough mean incl. subagents, only used to spread start times
  const expectedSessions = Math.max(1, Math.round(targetBytes / MEAN_SESSION_BYTES));
  const windowStart = BASE_DATE_MS - 30 * DAY_MS;

  // One large write per file, issued asynchronously so the kernel copies bytes on libuv's threads while
  // the next session is being generated; at most ~128 MB of encoded files wait in memory.
  const inFlight = [];
  let inFlightBytes = 0;
  const writeFile = async (file, sink) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const buf = sink.bytes();
    stats.files++;
    stats.bytes += buf.length;
    const p = fs.promises.writeFile(file, buf).then(() => { inFlightBytes -= buf.length; });
    inFlight.push(p);
    inFlightBytes += buf.length;
    while (inFlightBytes > 128 * 2 ** 20) await inFlight.shift();
  };

  const countResponse = (model, u) => {
    addTotals(truth, u);
    addTotals((byModel[model] ??= newTotals()), u);
  };
  const peerExtra = newTotals();
  const countPeerExtra = (u) => addTotals(peerExtra, u);

  let sessionIndex = 0;
  let liveTarget = null;
  let firstProject = null;
  while (stats.bytes < targetBytes) {
    // The first sessions are forced to contain every rare trap, so even a small corpus has each of them.
    const force = sessionIndex < FORCED_SESSIONS ? { index: sessionIndex } : null;
    const project = force && sessionIndex > 0 ? firstProject : pickProject();
    firstProject ??= project;
    const t0 = windowStart + Math.min(sessionIndex / expectedSessions, 1) * 29 * DAY_MS + rng.int(0, 3 * 3600_000);
    const remaining = targetBytes - stats.bytes;
    let budget = Math.min(rng.logNormal(250_000, 1.2, 8_000, 30_000_000), Math.max(remaining, 8_000));
    if (force) budget = Math.max(budget, 300_000); // room for the forced traps
    const session = generateSession({ rng, pools, project, t0, budget, traps, countResponse, countPeerExtra, force });
    const mainFile = path.join(root, project.dirName, `${session.id}.jsonl`);
    const before = stats.bytes;
    await writeFile(mainFile, session.main.out);
    stats.mainFiles++;
    if (!liveTarget || stats.bytes - before > liveTarget.bytes) {
      // The biggest main transcript: run.mjs appends to it to measure live latency (a long-running session
      // is the realistic case, and a big file shows whether the watcher tails or re-reads).
      const m = session.main;
      liveTarget = {
        file: path.relative(dir, mainFile), bytes: stats.bytes - before,
        sessionId: m.sessionId, cwd: m.cwd, version: m.version, gitBranch: m.gitBranch, parentUuid: m.lastUuid,
      };
    }
    for (const sub of session.subagents) {
      await writeFile(path.join(root, project.dirName, session.id, 'subagents', `agent-${sub.agentId}.jsonl`), sub.out);
      stats.subagentFiles++;
    }
    sessionIndex++;
    if (sessionIndex % 200 === 0) log(`  ${sessionIndex} sessions, ${(stats.bytes / 1e6).toFixed(0)} MB`);
  }

  await Promise.all(inFlight);

  const manifest = {
    generator: { name: 'agent-spend-bench', version: GENERATOR_VERSION, id: GENERATOR_ID },
    seed,
    targetBytes,
    baseDate: iso(BASE_DATE_MS),
    projects: projects.length,
    sessions: stats.mainFiles,
    files: stats.files,
    mainFiles: stats.mainFiles,
    subagentFiles: stats.subagentFiles,
    bytes: stats.bytes,
    // Ground truth: each billed API response once (max output_tokens over its lines), replays and copies
    // not counted again, <synthetic> excluded, cache creation = nested 5m + 1h.
    totals: truth,
    byModel,
    // What `ccusage claude session` (20.0.24) is expected to add on top of totals: sidechain replays whose
    // timestamp differs from the parent line's (see asideSidechain). Lets run.mjs tell a known peer
    // behaviour from a real disagreement.
    peerExpectedExtra: { 'ccusage claude session': peerExtra },
    traps,
    liveTarget,
    generationMs: Math.round(performance.now() - started),
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

function newTotals() {
  return { inputTokens: 0, outputTokens: 0, cacheCreationTokens: 0, cacheReadTokens: 0, requests: 0 };
}
function addTotals(t, u) {
  t.inputTokens += u.inputTokens;
  t.outputTokens += u.outputTokens;
  t.cacheCreationTokens += u.cacheCreationTokens;
  t.cacheReadTokens += u.cacheReadTokens;
  t.requests += u.requests;
}

// ---------------------------------------------------------------------------------------------
// One session: a main conversation plus its subagent conversations.

const FORCED_SESSIONS = 3;

function generateSession({ rng, pools, project, t0, budget, traps, countResponse, countPeerExtra, force }) {
  const sessionId = rng.uuid();
  const buggy = force?.index === 1 || rng.chance(0.12);
  const version = buggy ? rng.pick(BUGGY_CACHE_VERSIONS) : rng.pick(CURRENT_VERSIONS);
  const r = rng.next();
  const model = force?.index === 2 ? MODELS.opus : r < 0.7 ? MODELS.sonnet : r < 0.9 ? MODELS.opus : MODELS.haiku;
  const base = {
    sessionId, cwd: project.cwd, version, gitBranch: rng.pick(BRANCHES),
    buggyCache: buggy, ttl1h: rng.chance(0.7), traps,
  };
  const main = newConversation(rng, { ...base, model, fast: model === MODELS.opus && (force?.index === 2 || rng.chance(0.12)), isSidechain: false }, t0);
  const subagents = [];
  const g = { rng, pools, traps, countResponse, countPeerExtra, subagents, base, force };

  // Summary lines (written at the top of files Claude Code has compacted/resumed).
  if (rng.chance(0.2)) {
    for (let i = rng.int(1, 3); i > 0; i--) {
      pushLine(main, { type: 'summary', summary: pools.sentence(rng.int(3, 8)).slice(0, -1), leafUuid: rng.uuid() });
    }
  }

  // Resumed-session copy: start with verbatim lines of an earlier session of this project (same uuids,
  // message ids, request ids and even its sessionId field). They must not be counted twice.
  if (project.heads.length && (force?.index === 1 || rng.chance(0.06))) {
    const head = rng.pick(project.heads);
    const n = rng.int(Math.min(5, head.length), head.length);
    for (let i = 0; i < n; i++) pushRaw(main, head[i].str);
    main.lastUuid = head[n - 1].uuid;
    traps.resumedCopies++;
    traps.copiedLines += n;
  }

  // Malformed lines: decided per file up front so their frequency doesn't depend on file size.
  main.tornAt = force?.index === 0 || rng.chance(0.05) ? rng.int(4, 12) : -1;
  main.garbageAt = force?.index === 0 || rng.chance(0.04) ? rng.int(2, 20) : -1;

  // At least one turn of its own, even when a resumed copy already filled the budget.
  do userTurn(g, main, budget); while (main.bytes < budget);

  // Remember this session's opening lines for later resumed copies (well-formed lines only).
  const head = main.record.slice(0, 40);
  if (head.length >= 5) {
    project.heads.push(head);
    if (project.heads.length > 4) project.heads.shift();
  }
  return { id: sessionId, main, subagents };
}

function newConversation(rng, props, t) {
  return {
    ...props,
    t,
    lastUuid: null,
    out: new ByteSink(),
    record: [], // {str, uuid} of well-formed lines, kept only for the first lines (resumed copies)
    bytes: 0,
    ctx: rng.int(12_000, 24_000), // tokens in the cached prompt prefix (system prompt, tools, history)
    pendingTokens: 0, // tokens added since the previous response: become the next cache write
    recentAssistant: [], // last assistant line objects: material for sidechain replays
    nLines: 0,
    tornAt: -1,
    garbageAt: -1,
    garbageText: rng.pick(GARBAGE),
  };
}

// Growable byte buffer: each line is UTF-8 encoded once, straight into the file's final buffer
// (joining strings first would copy every byte twice more; this is most of the generator's cost).
class ByteSink {
  constructor() { this.buf = Buffer.allocUnsafe(256 * 1024); this.len = 0; }
  write(str) {
    const max = str.length * 3; // worst-case UTF-8 size of a UTF-16 string
    if (this.len + max > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + max));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    this.len += this.buf.write(str, this.len, 'utf8');
  }
  bytes() { return this.buf.subarray(0, this.len); }
}

function pushRaw(c, str) {
  c.out.write(str);
  c.bytes = c.out.len;
  c.nLines++;
}

// Claude Code writes the envelope, then `message`, then `requestId`, `type`, `uuid`, `timestamp` and (user lines)
// `toolUseResult`: a reader cannot learn a line's type before it is past the message, often the bulk of the line.
const TRAILING_KEYS = ['requestId', 'type', 'uuid', 'timestamp'];

function inRealKeyOrder(obj) {
  if (!('message' in obj) || !('parentUuid' in obj)) return obj;
  const ordered = {};
  for (const [key, value] of Object.entries(obj)) if (!TRAILING_KEYS.includes(key) && key !== 'message' && key !== 'toolUseResult') ordered[key] = value;
  ordered.message = obj.message;
  for (const key of TRAILING_KEYS) if (key in obj) ordered[key] = obj[key];
  if ('toolUseResult' in obj) ordered.toolUseResult = obj.toolUseResult;
  return ordered;
}

function pushLine(c, obj) {
  const str = JSON.stringify(inRealKeyOrder(obj)) + '\n';
  // Torn line: the process died mid-write, then the session was resumed and the full line written again.
  // (A prefix of a JSON object is never valid JSON, so the torn copy can't be counted by accident.)
  if (c.tornAt >= 0 && c.nLines >= c.tornAt && obj.type === 'assistant') {
    pushRaw(c, str.slice(0, Math.floor(str.length * 0.4)) + '\n');
    c.tornAt = -1;
    c.traps.tornLines++;
  }
  if (c.garbageAt >= 0 && c.nLines >= c.garbageAt) {
    pushRaw(c, c.garbageText);
    c.garbageAt = -1;
    c.traps.garbageLines++;
  }
  pushRaw(c, str);
  if (c.record.length < 40 && obj.uuid) c.record.push({ str, uuid: obj.uuid });
}

const GARBAGE = [
  '<<<<<<< HEAD\n',
  '\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\n',
  '}{"type":"user","message":{"role":"user","content":"oops"\n',
  'not json at all: Killed\n',
];

function envelope(c, type, rng) {
  const o = {
    parentUuid: c.lastUuid,
    isSidechain: c.isSidechain,
    userType: 'external',
    cwd: c.cwd,
    sessionId: c.sessionId,
    version: c.version,
    gitBranch: c.gitBranch,
  };
  if (c.agentId) o.agentId = c.agentId;
  o.type = type;
  o.uuid = rng.uuid();
  o.timestamp = iso(c.t);
  c.lastUuid = o.uuid;
  return o;
}

// Size distribution of tool output: mostly 1-50 KB, some tiny, a few 200 KB-2 MB (those carry most bytes).
function toolOutputSize(rng) {
  const r = rng.next();
  if (r < 0.1) return rng.int(30, SMALL);
  if (r < 0.97) return rng.logUniform(1_000, 50_000);
  return rng.logUniform(200_000, 2_000_000);
}

function slice(rng, pool, n) {
  if (n >= pool.length) return pool.repeat(Math.ceil(n / pool.length)).slice(0, n);
  const start = rng.int(0, pool.length - n);
  return pool.slice(start, start + n);
}

const tokensOf = (bytes) => Math.max(1, Math.round(bytes / 3.6));

// A user prompt followed by an agentic loop of tool calls, ending in a text answer.
function userTurn(g, c, budget) {
  const { rng, pools, traps } = g;
  c.t += rng.int(20_000, 900_000); // the human thinks

  if (!c.isSidechain && rng.chance(0.6)) {
    // file-history-snapshot precedes each prompt in recent builds.
    const messageId = rng.uuid();
    const backups = {};
    for (let i = rng.int(0, 6); i > 0; i--) {
      backups[`src/${pools.ident()}.ts`] = { backupFileName: `${rng.hex(16)}@v${rng.int(1, 9)}`, version: rng.int(1, 9), backupTime: iso(c.t) };
    }
    pushLine(c, { type: 'file-history-snapshot', messageId, snapshot: { messageId, trackedFileBackups: backups, timestamp: iso(c.t) }, isSnapshotUpdate: false });
  }

  const prompt = envelope(c, 'user', rng);
  const promptText = Array.from({ length: rng.int(1, 6) }, () => rng.pick(pools.prose)).join(' ');
  prompt.message = { role: 'user', content: rng.chance(0.3) ? promptText : [{ type: 'text', text: promptText }] };
  pushLine(c, prompt);
  c.pendingTokens += tokensOf(promptText.length);

  let synthetic = rng.chance(0.01);
  if (g.force?.index === 0 && !g.force.synthetic) synthetic = g.force.synthetic = true;
  if (synthetic) {
    // API error: written as an assistant line with model <synthetic> and zero usage. Not billed.
    c.t += rng.int(500, 30_000);
    const o = envelope(c, 'assistant', rng);
    o.message = {
      id: rng.uuid(), type: 'message', role: 'assistant', model: '<synthetic>',
      content: [{ type: 'text', text: rng.pick(['API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', 'API Error: Request timed out.', "Claude AI usage limit reached|1795000000"]) }],
      stop_reason: 'stop_sequence', stop_sequence: '',
      usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 }, output_tokens: 0, service_tier: null },
    };
    o.isApiErrorMessage = true;
    pushLine(c, o);
    traps.syntheticLines++;
    return;
  }

  const steps = rng.int(0, c.isSidechain ? 6 : 9);
  for (let s = 0; s < steps && c.bytes < budget; s++) toolStep(g, c);
  // Final answer: thinking + text, or text alone.
  const blocks = [];
  if (rng.chance(0.6)) blocks.push(thinkingBlock(rng, pools));
  blocks.push({ type: 'text', text: Array.from({ length: rng.int(1, 12) }, () => rng.pick(pools.prose)).join(' ') });
  assistantResponse(g, c, blocks, rng.int(40, 1500));

  if (!c.isSidechain && rng.chance(0.15)) systemLine(g, c);
  const forceAside = g.force?.index === 0 && !g.force.aside && c.recentAssistant.length >= 2;
  if (!c.isSidechain && c.recentAssistant.length && (forceAside || rng.chance(0.02))) {
    if (forceAside) g.force.aside = true;
    asideSidechain(g, c);
  }
  if (c.ctx > 160_000) compact(g, c);
}

function thinkingBlock(rng, pools) {
  return {
    type: 'thinking',
    thinking: Array.from({ length: rng.int(1, 10) }, () => rng.pick(pools.prose)).join(' '),
    signature: rng.b62(rng.int(200, 800)),
  };
}

// One assistant response that calls a tool, then the tool result.
function toolStep(g, c) {
  const { rng, pools, traps } = g;
  const tool = c.isSidechain
    ? rng.pick(['Read', 'Read', 'Grep', 'Bash', 'Glob'])
    : rng.pick(['Read', 'Read', 'Read', 'Bash', 'Bash', 'Edit', 'Edit', 'Write', 'Grep', 'Glob', 'TodoWrite', 'Task']);
  const id = 'toolu_01' + rng.b62(22);
  const file = `${c.cwd}/src/${pools.ident()}/${pools.ident()}.ts`;
  let input;
  let extraOut = 0;
  switch (tool) {
    case 'Read': input = { file_path: file }; break;
    case 'Bash': input = { command: rng.pick(['npm test', 'npm run build', 'git status', 'git diff HEAD~1', 'rg -n TODO src', 'npx tsc --noEmit']), description: pools.sentence(rng.int(2, 6)).slice(0, -1) }; break;
    case 'Edit': {
      const oldS = slice(rng, pools.code, rng.int(40, 1500));
      input = { file_path: file, old_string: oldS, new_string: slice(rng, pools.code, rng.int(40, 2500)) };
      extraOut = tokensOf(input.new_string.length);
      break;
    }
    case 'Write': {
      input = { file_path: file, content: slice(rng, pools.code, rng.logUniform(500, 40_000)) };
      extraOut = tokensOf(input.content.length);
      break;
    }
    case 'Grep': input = { pattern: pools.ident(), path: c.cwd, output_mode: 'content', '-n': true }; break;
    case 'Glob': input = { pattern: `**/*${pools.ident()}*.ts` }; break;
    case 'TodoWrite': input = { todos: Array.from({ length: rng.int(2, 8) }, () => ({ content: pools.sentence(rng.int(3, 8)), status: rng.pick(['pending', 'in_progress', 'completed']), activeForm: pools.sentence(3) })) }; break;
    case 'Task': input = { description: pools.sentence(rng.int(2, 5)).slice(0, -1), prompt: Array.from({ length: rng.int(2, 6) }, () => rng.pick(pools.prose)).join(' '), subagent_type: rng.pick(['general-purpose', 'Explore', 'Plan']) }; break;
  }
  const blocks = [];
  const r = rng.next();
  if (r < 0.45) blocks.push(thinkingBlock(rng, pools));
  else if (r < 0.8) blocks.push({ type: 'text', text: rng.pick(pools.prose) });
  else { blocks.push(thinkingBlock(rng, pools)); blocks.push({ type: 'text', text: rng.pick(pools.prose) }); }
  blocks.push({ type: 'tool_use', id, name: tool, input });
  assistantResponse(g, c, blocks, rng.int(30, 600) + extraOut);

  // Tool runs.
  c.t += rng.int(100, 40_000);
  if (tool === 'Task') return taskResult(g, c, id, input);

  if (tool === 'Bash' && rng.chance(0.5)) {
    // Progress lines while a command runs; some carry the full output so far (large).
    for (let i = rng.int(1, 3); i > 0; i--) {
      const big = rng.chance(0.08);
      const p = envelope(c, 'progress', rng);
      const full = slice(rng, pools.logs, big ? rng.logUniform(50_000, 400_000) : rng.int(100, 4_000));
      p.data = { type: 'bash_progress', output: full.slice(-400), fullOutput: full, elapsedTimeSeconds: rng.int(1, 60), totalLines: full.split('\n').length };
      p.toolUseID = 'bash-progress-' + rng.int(0, 20);
      p.parentToolUseID = id;
      pushLine(c, p);
      if (big) traps.largeProgressLines++;
      c.t += rng.int(500, 5_000);
    }
  }

  const size = toolOutputSize(rng);
  const u = envelope(c, 'user', rng);
  let content;
  let toolUseResult;
  switch (tool) {
    case 'Read': {
      content = slice(rng, pools.code, size);
      const numLines = content.split('\n').length;
      toolUseResult = { type: 'text', file: { filePath: file, content, numLines, startLine: 1, totalLines: numLines } };
      break;
    }
    case 'Bash': case 'Grep': {
      content = slice(rng, pools.logs, size);
      toolUseResult = tool === 'Bash'
        ? { stdout: content, stderr: '', interrupted: false, isImage: false }
        : { mode: 'content', numFiles: rng.int(1, 40), filenames: [], content, numLines: content.split('\n').length };
      break;
    }
    case 'Edit': {
      content = `The file ${file} has been updated. Here's the result of running \`cat -n\` on a snippet of the edited file:\n` + slice(rng, pools.code, rng.int(200, 3_000));
      // originalFile makes Edit results heavy in real logs too.
      toolUseResult = { filePath: file, oldString: input.old_string, newString: input.new_string, originalFile: slice(rng, pools.code, size), structuredPatch: [{ oldStart: rng.int(1, 400), oldLines: 5, newStart: rng.int(1, 400), newLines: 7, lines: ['-' + input.old_string.slice(0, 80), '+' + input.new_string.slice(0, 80)] }], userModified: false, replaceAll: false };
      break;
    }
    case 'Write':
      content = `File created successfully at: ${file}`;
      toolUseResult = { type: 'create', filePath: file, content: input.content, structuredPatch: [] };
      break;
    case 'Glob': {
      const filenames = Array.from({ length: rng.int(1, 60) }, () => `${c.cwd}/src/${pools.ident()}/${pools.ident()}.ts`);
      content = filenames.join('\n');
      toolUseResult = { filenames, durationMs: rng.int(1, 300), numFiles: filenames.length, truncated: false };
      break;
    }
    case 'TodoWrite':
      content = 'Todos have been modified successfully. Ensure that you continue to use the todo list to track your progress.';
      toolUseResult = { oldTodos: [], newTodos: input.todos };
      break;
  }
  u.message = { role: 'user', content: [{ tool_use_id: id, type: 'tool_result', content, is_error: rng.chance(0.03) }] };
  u.toolUseResult = toolUseResult;
  pushLine(c, u);
  c.pendingTokens += tokensOf(Math.min(content.length, 100_000));
}

// Subagent spawned by the Task tool: its own file, isSidechain:true, same sessionId as the parent.
function taskResult(g, c, toolUseId, input) {
  const { rng, pools, traps, base } = g;
  const agentId = rng.hex(8);
  const subModel = rng.chance(0.5) ? MODELS.haiku : c.model;
  const sub = newConversation(rng, { ...base, model: subModel, fast: false, isSidechain: true, agentId }, c.t);
  sub.tornAt = rng.chance(0.02) ? rng.int(2, 20) : -1;
  const subBudget = rng.logNormal(60_000, 1.0, 3_000, 3_000_000);

  const first = envelope(sub, 'user', rng);
  first.message = { role: 'user', content: input.prompt };
  pushLine(sub, first);
  sub.pendingTokens += tokensOf(input.prompt.length);
  const startedAt = sub.t;
  let toolUses = 0;
  do {
    const steps = rng.int(1, 6);
    for (let s = 0; s < steps && sub.bytes < subBudget; s++) { toolStep(g, sub); toolUses++; }
  } while (sub.bytes < subBudget && rng.chance(0.3));
  const final = assistantResponse(g, sub, [{ type: 'text', text: Array.from({ length: rng.int(2, 10) }, () => rng.pick(pools.prose)).join(' ') }], rng.int(100, 1500));
  g.subagents.push(sub);

  // agent_progress lines in the parent carry a copy of a subagent assistant message, usage included.
  // The same response is already in the subagent file: counting both would double count.
  if (rng.chance(0.4) && sub.recentAssistant.length) {
    const copy = rng.pick(sub.recentAssistant);
    c.t = Math.max(c.t, Date.parse(copy.timestamp) + rng.int(5, 500)); // streamed while the subagent ran
    const p = envelope(c, 'progress', rng);
    p.data = {
      message: { type: 'assistant', message: copy.message, requestId: copy.requestId, uuid: copy.uuid, timestamp: copy.timestamp },
      normalizedMessages: [], type: 'agent_progress', prompt: input.prompt, agentId,
    };
    p.toolUseID = 'agent_msg_01' + rng.b62(22);
    p.parentToolUseID = toolUseId;
    pushLine(c, p);
    traps.agentProgressCopies++;
  }

  c.t = Math.max(c.t, sub.t) + rng.int(100, 2_000);
  const text = final.message.content[0].text;
  const u = envelope(c, 'user', rng);
  u.message = { role: 'user', content: [{ tool_use_id: toolUseId, type: 'tool_result', content: [{ type: 'text', text }] }] };
  // toolUseResult.usage is the subagent's last usage object: not a billable record of the parent.
  u.toolUseResult = {
    status: 'completed', prompt: input.prompt, agentId, content: [{ type: 'text', text }],
    totalDurationMs: sub.t - startedAt, totalTokens: usageSum(final.message.usage),
    totalToolUseCount: toolUses, usage: final.message.usage,
  };
  pushLine(c, u);
  traps.taskToolUseResultUsage++;
  c.pendingTokens += tokensOf(text.length);
}

// /btw-style side question: a sidechain file that first replays parent messages (same message.id and
// usage, NEW requestId), then answers with a response of its own. Only the own response is billed.
function asideSidechain(g, c) {
  const { rng, pools, traps, base } = g;
  const agentId = rng.hex(8);
  const sub = newConversation(rng, { ...base, model: c.model, fast: c.fast, isSidechain: true, agentId }, c.t + rng.int(1_000, 20_000));
  sub.ctx = c.ctx;
  const forced = g.force?.index === 0 && !g.force.asideDone;
  if (forced) g.force.asideDone = true;
  const n = forced ? 2 : Math.min(c.recentAssistant.length, rng.int(1, 3));
  let i = 0;
  for (const orig of c.recentAssistant.slice(-n)) {
    const o = envelope(sub, 'assistant', rng);
    // Half the replays keep the parent line's timestamp, half carry the sidechain's own: ccusage 20.0.24
    // `claude session` only drops the replay when the timestamps match (its `daily` drops both), so the
    // generator records what that report is expected to over-count (manifest.peerExpectedExtra).
    // The forced case has one of each.
    if (forced ? i++ === 0 : rng.chance(0.5)) {
      o.timestamp = orig.timestamp;
    } else {
      traps.sidechainReplaysNewTimestamp++;
      g.countPeerExtra(usageTokens(orig.message.usage));
    }
    o.requestId = 'req_011C' + rng.b62(20);
    o.message = orig.message; // same id, model, content and usage as the parent line
    pushLine(sub, o);
    traps.sidechainReplays++;
  }
  const q = envelope(sub, 'user', rng);
  q.message = { role: 'user', content: rng.pick(pools.prose) };
  pushLine(sub, q);
  sub.pendingTokens += 40;
  assistantResponse(g, sub, [{ type: 'text', text: rng.pick(pools.prose) }], rng.int(20, 400));
  g.subagents.push(sub);
}

// Billed tokens of one usage object (cache creation = nested 5m + 1h, as the API means it).
const usageTokens = (u) => ({
  inputTokens: u.input_tokens,
  outputTokens: u.output_tokens,
  cacheCreationTokens: u.cache_creation.ephemeral_5m_input_tokens + u.cache_creation.ephemeral_1h_input_tokens,
  cacheReadTokens: u.cache_read_input_tokens,
  requests: 1,
});
const usageSum = (u) => u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens + u.output_tokens;

function systemLine(g, c) {
  const { rng, pools, traps } = g;
  const o = envelope(c, 'system', rng);
  const big = rng.chance(0.05);
  if (big) traps.largeSystemLines++;
  o.subtype = big ? 'informational' : rng.pick(['local_command', 'turn_duration', 'informational']);
  o.content = big ? `Stop hook output:\n${slice(rng, pools.logs, rng.logUniform(50_000, 500_000))}` : pools.sentence(rng.int(3, 10));
  o.isMeta = false;
  o.level = 'info';
  pushLine(c, o);
}

function compact(g, c) {
  const { rng, pools } = g;
  const o = envelope(c, 'system', rng);
  o.subtype = 'compact_boundary';
  o.content = 'Conversation compacted';
  o.isMeta = false;
  o.level = 'info';
  o.compactMetadata = { trigger: 'auto', preTokens: c.ctx };
  o.logicalParentUuid = rng.uuid();
  pushLine(c, o);
  const s = envelope(c, 'user', rng);
  s.message = { role: 'user', content: 'This session is being continued from a previous conversation that ran out of context. ' + Array.from({ length: 20 }, () => rng.pick(pools.prose)).join(' ') };
  s.isCompactSummary = true;
  pushLine(c, s);
  c.ctx = rng.int(15_000, 30_000);
  c.pendingTokens = 0;
}

// One API response written as one line per content block: same message.id and requestId, identical
// input and cache fields, output_tokens growing to its final value on the last line.
function assistantResponse(g, c, blocks, outputTokens) {
  const { rng, traps } = g;
  const id = 'msg_01' + rng.b62(22);
  const requestId = 'req_011C' + rng.b62(20);
  const input = rng.chance(0.9) ? rng.int(1, 12) : rng.int(100, 6_000);
  const creation = Math.min(c.pendingTokens + rng.int(0, 300), 120_000);
  const cacheRead = c.ctx;
  c.ctx += creation;
  c.pendingTokens = outputTokens; // our own output is cached by the next request
  const c1h = c.ttl1h ? creation : (rng.chance(0.1) ? Math.floor(creation / 3) : 0);
  const c5m = creation - c1h;
  const zeroTop = c.buggyCache && rng.chance(0.4);
  if (zeroTop) traps.zeroTopLevelCacheCreation++;
  if (blocks.length > 1) traps.multiLineResponses++;
  if (c.fast) traps.fastResponses++;

  c.t += rng.int(1_500, 20_000);
  let last;
  for (let i = 0; i < blocks.length; i++) {
    const final = i === blocks.length - 1;
    const out = final ? outputTokens : Math.min(outputTokens, rng.int(1, 30) * (i + 1));
    const usage = {
      input_tokens: input,
      cache_creation_input_tokens: zeroTop ? 0 : creation,
      cache_read_input_tokens: cacheRead,
      cache_creation: { ephemeral_5m_input_tokens: c5m, ephemeral_1h_input_tokens: c1h },
      output_tokens: out,
      service_tier: 'standard',
    };
    if (c.fast) usage.speed = 'fast';
    const o = envelope(c, 'assistant', rng);
    o.requestId = requestId;
    o.message = {
      id, type: 'message', role: 'assistant', model: c.model, content: [blocks[i]],
      stop_reason: final ? (blocks[i].type === 'tool_use' ? 'tool_use' : 'end_turn') : null,
      stop_sequence: null, usage,
    };
    pushLine(c, o);
    last = o;
    if (!final) c.t += rng.int(200, 8_000);
  }
  c.recentAssistant.push(last);
  if (c.recentAssistant.length > 3) c.recentAssistant.shift();
  const u = { inputTokens: input, outputTokens, cacheCreationTokens: creation, cacheReadTokens: cacheRead, requests: 1 };
  g.countResponse(c.model, u);
  return last;
}

// ---------------------------------------------------------------------------------------------
// Live appends (benchmark of watch latency). Not seeded: ids must be new on every bench run.

/**
 * Append one new assistant response line (fresh message.id / requestId / uuid) to a transcript.
 * sessionId/cwd default to the values on the file's last parseable line. Returns the tokens it adds.
 */
export function appendResponse(file, opts = {}) {
  let { sessionId, cwd, version, gitBranch, parentUuid, isSidechain, agentId } = opts;
  if (!sessionId || !cwd) {
    const last = lastRecord(file);
    sessionId ??= last?.sessionId;
    cwd ??= last?.cwd;
    version ??= last?.version;
    gitBranch ??= last?.gitBranch;
    parentUuid ??= last?.uuid;
    isSidechain ??= last?.isSidechain;
    agentId ??= last?.agentId;
  }
  const model = opts.model ?? MODELS.sonnet;
  const rnd = (n) => crypto.randomBytes(n);
  const b62 = (n) => { const b = rnd(n); let s = ''; for (const x of b) s += '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[x % 62]; return s; };
  const tokens = {
    inputTokens: 3 + (rnd(1)[0] % 8),
    outputTokens: 50 + (rnd(2).readUInt16LE() % 900),
    cacheCreationTokens: 200 + (rnd(2).readUInt16LE() % 4000),
    cacheReadTokens: 20_000 + (rnd(2).readUInt16LE() % 40_000),
    requests: 1,
  };
  const o = {
    parentUuid: parentUuid ?? null,
    isSidechain: isSidechain ?? false,
    userType: 'external',
    cwd,
    sessionId,
    version: version ?? CURRENT_VERSIONS[CURRENT_VERSIONS.length - 1],
    gitBranch: gitBranch ?? 'main',
  };
  if (agentId) o.agentId = agentId;
  Object.assign(o, {
    type: 'assistant',
    uuid: crypto.randomUUID(),
    timestamp: new Date().toISOString(),
    requestId: 'req_011C' + b62(20),
    message: {
      id: 'msg_01' + b62(22), type: 'message', role: 'assistant', model,
      content: [{ type: 'text', text: 'Done: the benchmark appended this response.' }],
      stop_reason: 'end_turn', stop_sequence: null,
      usage: {
        input_tokens: tokens.inputTokens,
        cache_creation_input_tokens: tokens.cacheCreationTokens,
        cache_read_input_tokens: tokens.cacheReadTokens,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: tokens.cacheCreationTokens },
        output_tokens: tokens.outputTokens,
        service_tier: 'standard',
      },
    },
  });
  const line = JSON.stringify(inRealKeyOrder(o)) + '\n';
  fs.appendFileSync(file, line);
  return { ...tokens, bytes: Buffer.byteLength(line) };
}

function lastRecord(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const n = Math.min(size, 4 << 20);
    const buf = Buffer.alloc(n);
    fs.readSync(fd, buf, 0, n, size - n);
    const lines = buf.toString('utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        const o = JSON.parse(lines[i]);
        if (o && o.sessionId) return o;
      } catch { /* torn or partial line: keep looking */ }
    }
  } finally {
    fs.closeSync(fd);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Sizes: "100MB", "1GB", "512KB" or plain bytes. Binary units (1 MB = 2^20 bytes).

export function parseSize(s) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?\s*$/i.exec(String(s));
  if (!m) throw new Error(`bad size: ${s}`);
  const mult = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[(m[2] ?? 'B').toUpperCase()];
  return Math.round(Number(m[1]) * mult);
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
    console.error('usage: node bench/generate.mjs --dir DIR [--size 100MB] [--seed 1]');
    process.exit(2);
  }
  const targetBytes = parseSize(opt('size', '100MB'));
  const seed = Number(opt('seed', '1'));
  const m = await generateCorpus({ dir: path.resolve(dir), targetBytes, seed, log: (s) => console.error(s) });
  console.log(JSON.stringify({ dir: path.resolve(dir), files: m.files, bytes: m.bytes, generationMs: m.generationMs, totals: m.totals, traps: m.traps }, null, 2));
}
