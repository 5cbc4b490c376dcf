#!/usr/bin/env node
// Agent Spend benchmark: cold scan, warm start, live latency, peak RSS and token agreement, against
// ccusage on the same synthetic corpora: Claude Code (bench/generate.mjs, compared with `ccusage claude session`)
// and Codex CLI (bench/generateCodex.mjs, compared with `ccusage codex session`).
//
//   npm run bench                                   (builds, then runs this file)
//   node bench/run.mjs [--agents claude,codex] [--sizes 100MB,1GB] [--runs 3] [--data-dir DIR] [--seed 1]
//                      [--live 5] [--cli dist/cli.js] [--skip-peer] [--skip-ours] [--strict]
// Env equivalents: BENCH_AGENTS, BENCH_SIZES, BENCH_RUNS, BENCH_DATA_DIR, BENCH_SEED, BENCH_LIVE, BENCH_CLI.
// --strict: exit 1 when a target is missed.
//
// Every command runs with HOME (and CLAUDE_CONFIG_DIR or CODEX_HOME) pointing into the generated corpus and a
// minimal environment (no inherited XDG_*/CODEX_HOME/...), so neither tool can see a real user's agent logs.
// Each tool starts as its npm bin does: ccusage through its bin, ours as dist/cli.js itself (its first line, which
// may pass Node flags: scripts/shebang.js).
// Results: markdown table on stdout and in bench/results/latest.md, raw numbers in bench/results/latest.json.
//
// Our report runs set AGENT_SPEND_TIMING=1 and record, next to the wall time, engineMs = printed − start from
// the CLI's `timing <phase> <ms>` stderr lines (the time our code took once Node was up). `node -e 0` is timed
// in the same run for context. "cold scan" = empty state dir with the price cache left warm by the warm-up;
// "first run ever" = empty state dir and an empty AGENT_SPEND_CACHE_DIR.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateCorpus, appendResponse, parseSize, GENERATOR_ID } from './generate.mjs';
import { generateCodexCorpus, appendCodexResponse, GENERATOR_ID as CODEX_GENERATOR_ID } from './generateCodex.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(BENCH_DIR, '..');
let OUR_CLI = path.join(REPO, 'dist', 'cli.js'); // --cli / BENCH_CLI override it (e.g. to test the harness)
// ccusage lives in bench/peer, not in the project's devDependencies: the registry reachable here has only the
// Linux x64 binary of 20.0.24 among ccusage's optional per-platform packages, so a project lockfile naming it
// can never satisfy `npm ci`. It is installed on first use, pinned.
const PEER_DIR = path.join(BENCH_DIR, 'peer');
const PEER_BIN = path.join(PEER_DIR, 'node_modules', '.bin', 'ccusage');

// The agents benchmarked: corpus generator, where the logs sit in a corpus, the sandbox variables pointing the tools
// at them, our report's extra arguments, the peer's report (also the key into manifest.peerExpectedExtra), and how
// a live response is appended.
const AGENTS = {
  claude: {
    id: 'claude',
    label: 'Claude Code',
    generatorId: GENERATOR_ID,
    generate: generateCorpus,
    logRoots: (dir) => [path.join(dir, '.claude', 'projects')],
    isLog: (name) => name.endsWith('.jsonl'),
    env: (dir) => ({ CLAUDE_CONFIG_DIR: path.join(dir, '.claude') }),
    ourArgs: [], // no --agent (as before Codex was added): every agent is read, the sandbox holds Claude Code logs only
    peerArgs: ['claude', 'session', '--offline', '--json'],
    peerReport: 'ccusage claude session',
    knownShort: 'sidechain replays',
    knownNote: '"known" = ccusage `claude session` counts sidechain replays (same message.id as a parent line, new requestId) whose timestamp differs from the parent line\'s; the generator records that expected surplus in manifest.peerExpectedExtra.',
    sessionsLabel: 'main files',
    describe: (m) => `${m.files} files (${m.mainFiles} sessions, ${m.subagentFiles} subagent files), ${m.projects} projects`,
    append: (file, t) => appendResponse(file, { sessionId: t.sessionId, cwd: t.cwd, version: t.version, gitBranch: t.gitBranch, parentUuid: t.parentUuid }),
  },
  codex: {
    id: 'codex',
    label: 'Codex CLI',
    generatorId: CODEX_GENERATOR_ID,
    generate: generateCodexCorpus,
    logRoots: (dir) => [path.join(dir, '.codex', 'sessions'), path.join(dir, '.codex', 'archived_sessions')],
    isLog: (name) => name.endsWith('.jsonl') || name.endsWith('.jsonl.zst'),
    // CLAUDE_CONFIG_DIR: an empty folder, so no Claude Code logs are found even by mistake.
    env: (dir) => ({ CODEX_HOME: path.join(dir, '.codex'), CLAUDE_CONFIG_DIR: path.join(dir, '.bench-xdg', 'empty-claude') }),
    ourArgs: ['--agent', 'codex'],
    peerArgs: ['codex', 'session', '--offline', '--json'],
    peerReport: 'ccusage codex session',
    knownShort: 'archived copies, .zst',
    knownNote: '"known" (Codex) = ccusage `codex session` counts a rollout twice when a copy of it sits in archived_sessions/ (it only pairs files whose paths relative to sessions/ and archived_sessions/ are equal, and Codex archives into a flat folder while sessions/ is dated; its per-event dedupe key includes that relative path), and reads no `.jsonl.zst` rollout; the generator records the expected net difference in manifest.peerExpectedExtra (split in manifest.peerExpectedParts).',
    sessionsLabel: 'threads',
    describe: (m) => `${m.files} files (${m.threads.top} threads, ${m.threads.forks} forks, ${m.threads.subagents} subagents; ${m.compressedFiles} .jsonl.zst), ${m.projects} projects`,
    append: (file) => appendCodexResponse(file),
  },
};

const TARGETS = { coldRatio: 1.0, warmMs: 100, liveMs: 300, rssMb: 200 };
const TOKEN_FIELDS = ['inputTokens', 'outputTokens', 'cacheCreationTokens', 'cacheReadTokens'];
const COMMAND_TIMEOUT_MS = 15 * 60_000;
const LIVE_FIRST_SNAPSHOT_TIMEOUT_MS = 10 * 60_000;
const LIVE_UPDATE_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Options

function parseOptions(argv) {
  const flag = (name) => argv.includes(`--${name}`);
  const value = (name, envName, def) => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
    return process.env[envName] ?? def;
  };
  const agents = String(value('agents', 'BENCH_AGENTS', 'claude,codex')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of agents) if (!AGENTS[a]) throw new Error(`unknown agent "${a}" (known: ${Object.keys(AGENTS).join(', ')})`);
  return {
    agents,
    sizes: String(value('sizes', 'BENCH_SIZES', '100MB,1GB')).split(',').map((s) => s.trim()).filter(Boolean),
    runs: Math.max(1, Number(value('runs', 'BENCH_RUNS', '3'))),
    dataDir: path.resolve(value('data-dir', 'BENCH_DATA_DIR', path.join(os.tmpdir(), 'agent-spend-bench'))),
    seed: Number(value('seed', 'BENCH_SEED', '1')),
    liveIterations: Math.max(1, Number(value('live', 'BENCH_LIVE', '5'))),
    cli: value('cli', 'BENCH_CLI', null),
    skipPeer: flag('skip-peer'),
    skipOurs: flag('skip-ours'),
    strict: flag('strict'),
  };
}

const log = (...a) => console.error('[bench]', ...a);
const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Corpus cache: one directory per (size, seed, generator id), reused while its manifest matches
// and the files on disk still add up to what the manifest says (a crashed live test could leave an
// appended line behind; that corpus is then regenerated rather than silently trusted).

function corpusFiles(dir, agent) {
  const out = [];
  const walk = (d) => {
    let entries;
    try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && agent.isLog(e.name)) out.push(p);
    }
  };
  for (const root of agent.logRoots(dir)) walk(root);
  return out;
}

async function ensureCorpus(opts, agent, sizeLabel) {
  const targetBytes = parseSize(sizeLabel);
  const dir = path.join(opts.dataDir, `${agent.id}-${sizeLabel.toLowerCase()}-seed${opts.seed}-gen${agent.generatorId}`);
  const manifestPath = path.join(dir, 'manifest.json');
  if (fs.existsSync(manifestPath)) {
    try {
      const m = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
      const files = corpusFiles(dir, agent);
      const bytes = files.reduce((s, f) => s + fs.statSync(f).size, 0);
      if (m.generator?.id === agent.generatorId && m.seed === opts.seed && m.targetBytes === targetBytes &&
          m.files === files.length && m.bytes === bytes) {
        log(`${agent.label} ${sizeLabel}: reusing corpus ${dir} (${m.files} files, ${(m.bytes / 2 ** 20).toFixed(0)} MiB)`);
        return { dir, agent, manifest: m, reused: true };
      }
      log(`${agent.label} ${sizeLabel}: cached corpus does not match its manifest, regenerating`);
    } catch (e) {
      log(`${agent.label} ${sizeLabel}: unreadable cached corpus (${e.message}), regenerating`);
    }
  }
  // Drop corpora of this agent, size and seed made by other generator versions (1 GB each) and partial ones.
  const prefix = `${agent.id}-${sizeLabel.toLowerCase()}-seed${opts.seed}-gen`;
  for (const name of fs.readdirSync(opts.dataDir)) {
    if (name.startsWith(prefix)) fs.rmSync(path.join(opts.dataDir, name), { recursive: true, force: true });
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  log(`${agent.label} ${sizeLabel}: generating corpus (seed ${opts.seed}) ...`);
  const manifest = await agent.generate({ dir: tmp, targetBytes, seed: opts.seed, log: (s) => log(s) });
  fs.renameSync(tmp, dir); // only a complete corpus ever has the final name
  log(`${agent.label} ${sizeLabel}: generated ${manifest.files} files, ${(manifest.bytes / 2 ** 20).toFixed(0)} MiB in ${(manifest.generationMs / 1000).toFixed(1)} s`);
  return { dir, agent, manifest, reused: false };
}

// Minimal, fully controlled environment: the tools only ever see the corpus (CLAUDE_CONFIG_DIR or CODEX_HOME from
// the agent).
function sandboxEnv(corpus) {
  const home = corpus.dir;
  const xdg = path.join(home, '.bench-xdg'); // empty dirs; ccusage also scans $XDG_CONFIG_HOME/claude
  return {
    // `#!/usr/bin/env node` lines (ours, ccusage's npm wrapper) find the Node running the bench first.
    PATH: [path.dirname(process.execPath), process.env.PATH ?? '/usr/bin:/bin'].join(path.delimiter),
    HOME: home,
    ...corpus.agent.env(home),
    XDG_CONFIG_HOME: path.join(xdg, 'config'),
    XDG_DATA_HOME: path.join(xdg, 'data'),
    XDG_CACHE_HOME: path.join(xdg, 'cache'),
    XDG_STATE_HOME: path.join(xdg, 'state'),
    TMPDIR: os.tmpdir(),
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    NO_COLOR: '1',
  };
}

// ---------------------------------------------------------------------------------------------
// Peak RSS. Reported: /proc polling, VmHWM of every process in the child's tree every 5 ms, keeping the
// largest single process. It needs nothing installed and measures the process that actually does the
// work: ccusage's npm bin is a Node wrapper (~45 MB) around a native binary, and the kernel's
// ru_maxrss (GNU time %M) can't tell them apart: it is the max over the tree, and a program exec'd from
// a vfork()ed Node child even inherits Node's RSS as its starting maxrss. Polling can miss growth in the
// last interval before a short command exits; it is exact for the watcher (sampled right before we
// stop it). When /usr/bin/time exists its %M is recorded alongside, as a cross-check.

const GNU_TIME = (() => {
  try {
    execFileSync('/usr/bin/time', ['-f', '%M', 'true'], { stdio: 'ignore' });
    return '/usr/bin/time';
  } catch {
    return null;
  }
})();

function childPids(pid) {
  const out = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const s = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (s) for (const c of s.split(/\s+/)) out.push(Number(c));
    }
    return out;
  } catch {
    // No CONFIG_PROC_CHILDREN: scan every process's parent (slower, still fine at a few ms).
    for (const d of safeReaddir('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid) out.push(Number(d));
      } catch { /* exited */ }
    }
    return out;
  }
}
function safeReaddir(d) { try { return fs.readdirSync(d); } catch { return []; } }

function startRssPoller(rootPid, intervalMs = 5) {
  const peaks = new Map(); // pid -> { name, cmd, hwmKb }
  const sample = () => {
    const stack = [rootPid];
    while (stack.length) {
      const pid = stack.pop();
      let status;
      try { status = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { continue; }
      const hwm = /VmHWM:\s+(\d+)/.exec(status);
      if (hwm) {
        const name = /Name:\s+(.*)/.exec(status)?.[1] ?? '?';
        const prev = peaks.get(pid);
        if (!prev || prev.name !== name) {
          // New process, or it exec'd since the last sample: between fork and exec a child still shows
          // its parent's image (e.g. the Node wrapper's RSS), which must not count for the new program.
          let cmd = '';
          try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 3).join(' '); } catch { /* gone */ }
          peaks.set(pid, { name, cmd, hwmKb: Number(hwm[1]) });
        } else {
          prev.hwmKb = Math.max(prev.hwmKb, Number(hwm[1]));
        }
      }
      stack.push(...childPids(pid));
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    sample,
    stop() {
      clearInterval(timer);
      return [...peaks.entries()].map(([pid, v]) => ({ pid, ...v }));
    },
  };
}

/**
 * Run a command to completion. Returns wall ms (spawn to exit), stdout, stderr, exit code and peak RSS.
 */
// Timed runs run bare: polling /proc every 5 ms and the GNU time wrapper slowed our page-fault-heavy start-up by
// 20-40 ms and ccusage by 0-4 ms (6 alternating runs each on the 1 GB corpus). Peak RSS comes from separate runs with
// `measureRss` set.
function runMeasured(cmd, args, { env, cwd, measureRss = false }) {
  return new Promise((resolve) => {
    let timeFile = null;
    let file = cmd;
    let argv = args;
    if (GNU_TIME && measureRss) {
      timeFile = path.join(os.tmpdir(), `agent-spend-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
      file = GNU_TIME;
      argv = ['-f', '%M', '-o', timeFile, cmd, ...args];
    }
    const t0 = performance.now();
    const child = spawn(file, argv, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const poller = measureRss ? startRssPoller(child.pid) : { stop: () => [] };
    const out = [];
    const err = [];
    let ms = null;
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, COMMAND_TIMEOUT_MS);
    child.on('exit', () => { ms = performance.now() - t0; });
    child.on('error', (e) => err.push(Buffer.from(String(e))));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      ms ??= performance.now() - t0;
      // The GNU time wrapper itself is not the measured program.
      const procs = poller.stop().filter((p) => !(timeFile && p.pid === child.pid));
      let timeKb = null;
      if (timeFile) {
        try { timeKb = Number(fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()) || null; } catch { /* none */ }
        fs.rmSync(timeFile, { force: true });
      }
      const polledKb = procs.reduce((m, p) => Math.max(m, p.hwmKb), 0) || null;
      resolve({
        ms, code, signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        rssKb: polledKb ?? timeKb,
        rss: { timeKb, polledKb, processes: procs },
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Peer: ccusage

function installPeer() {
  if (fs.existsSync(PEER_BIN)) return;
  log(`installing the peer into ${path.relative(REPO, PEER_DIR)} (npm install, pinned versions)`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  try {
    execFileSync(npm, ['install', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: PEER_DIR, stdio: 'inherit' });
  } catch (e) {
    log(`peer install failed: ${e.message}`);
  }
}

function ensurePeerExecutable() {
  installPeer();
  // npm installs the platform binary without its execute bit in some setups.
  const native = path.join(PEER_DIR, 'node_modules', '@ccusage', `ccusage-${process.platform}-${process.arch}`, 'bin', 'ccusage');
  if (!fs.existsSync(PEER_BIN)) return { ok: false, reason: `ccusage not installed (${PEER_BIN} missing)` };
  if (!fs.existsSync(native)) return { ok: false, reason: `ccusage native binary missing (${native})` };
  const mode = fs.statSync(native).mode;
  if ((mode & 0o111) === 0) {
    fs.chmodSync(native, mode | 0o755);
    log(`chmod +x ${native}`);
  }
  let version = null;
  try { version = execFileSync(PEER_BIN, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH } }).trim(); } catch { /* reported later */ }
  return { ok: true, native, version };
}

// ccusage session --json: { sessions: [{ sessionId, projectPath, inputTokens, outputTokens,
// cacheCreationTokens, cacheReadTokens, totalTokens, totalCost, firstActivity, lastActivity,
// modelsUsed, modelBreakdowns: [...] }], totals: { inputTokens, outputTokens, cacheCreationTokens,
// cacheReadTokens, totalTokens, totalCost } }
// ccusage codex session --json: { sessions: [{ sessionId (path below sessions/ or archived_sessions/, no
// extension), sessionFile, directory, inputTokens (non-cached), cacheReadTokens (cached input), cacheCreationTokens
// (0), outputTokens (reasoning included), reasoningOutputTokens, totalTokens, costUSD, lastActivity, models }],
// totals: { same token fields, costUSD } }: the same four fields, in the partition we use.
function peerTotals(json) {
  const sum = { inputTokens: 0, outputTokens: 0, cacheCreationTokens: 0, cacheReadTokens: 0, costUsd: 0 };
  for (const s of json.sessions ?? []) {
    for (const f of TOKEN_FIELDS) sum[f] += s[f] ?? 0;
    sum.costUsd += s.totalCost ?? s.costUSD ?? 0;
  }
  const t = json.totals ?? {};
  const totalsMatchSessions = TOKEN_FIELDS.every((f) => t[f] === undefined || t[f] === sum[f]);
  return { ...sum, sessions: (json.sessions ?? []).length, totalsMatchSessions };
}

async function peerOnce(corpus, i, measureRss = false) {
  const r = await runMeasured(PEER_BIN, corpus.agent.peerArgs, { env: sandboxEnv(corpus), cwd: corpus.dir, measureRss });
  if (r.code !== 0) {
    log(`ccusage run ${i + 1} failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
    return { ms: null, rssKb: r.rssKb, error: `exit ${r.code}` };
  }
  let totals = null;
  try { totals = peerTotals(JSON.parse(r.stdout)); } catch (e) { log(`ccusage output not JSON: ${e.message}`); }
  if (totals && !totals.totalsMatchSessions) log('ccusage: its "totals" differ from the sum of its sessions (using the sum)');
  log(`  ccusage ${measureRss ? 'RSS ' : ''}run ${i + 1}: ${measureRss ? fmtMb(r.rssKb) : fmtMs(r.ms)}`);
  return { ms: r.ms, rssKb: r.rssKb, rss: r.rss, totals };
}

function summarizePeer(runs, rssRuns, agent) {
  const ok = runs.filter((r) => r.totals);
  return {
    command: `${path.relative(REPO, PEER_BIN)} ${agent.peerArgs.join(' ')}`,
    runs,
    rssRuns,
    medianMs: median(ok.map((r) => r.ms)),
    medianRssKb: median(rssRuns.filter((r) => r.totals).map((r) => r.rssKb)),
    totals: ok.length ? ok[ok.length - 1].totals : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Ours: report (cold, warm) and watch (live latency)

function parseReport(stdout) {
  const json = JSON.parse(stdout);
  if (!json || typeof json.totals !== 'object') throw new Error('no totals in report --json output');
  return json;
}

// AGENT_SPEND_TIMING=1 makes the CLI print `timing <phase> <ms>` lines on stderr, ms since the Node process
// started (performance.now()): start, loaded, scanned, saved, reported, printed; and `faults <phase> <n>`, the minor
// page faults taken so far (process.resourceUsage()).
const ourReport = (corpus, stateDir, extraEnv = {}, measureRss = false) =>
  runMeasured(...ourCommand(['report', '--json', ...corpus.agent.ourArgs, '--state-dir', stateDir]),
    { env: { ...sandboxEnv(corpus), AGENT_SPEND_TIMING: '1', ...extraEnv }, cwd: corpus.dir, measureRss });

// Our CLI runs as `agent-spend` runs from a shell (npm links the bin to dist/cli.js): the file itself, whose first
// line may pass Node flags (scripts/shebang.js), as ccusage runs through its npm bin. Where the file cannot be run
// itself (Windows, or no execute bit), through Node.
function ourCommand(args) {
  if (process.platform !== 'win32') {
    try {
      fs.accessSync(OUR_CLI, fs.constants.X_OK);
      return [OUR_CLI, args];
    } catch { /* not executable: through Node */ }
  }
  return [process.execPath, [OUR_CLI, ...args]];
}
/** How ourCommand() starts the CLI, for the report's header. */
function ourLauncher() {
  const [cmd] = ourCommand([]);
  if (cmd !== OUR_CLI) return `node ${path.relative(REPO, OUR_CLI) || OUR_CLI}`;
  return `${path.relative(REPO, OUR_CLI) || OUR_CLI}, whose first line is \`${fs.readFileSync(OUR_CLI, 'utf8').split('\n', 1)[0]}\``;
}

const PHASES = ['start', 'loaded', 'scanned', 'saved', 'reported', 'printed'];
function parseTiming(stderr) {
  const t = {};
  for (const m of stderr.matchAll(/^timing (\w+) (\d+(?:\.\d+)?)$/gm)) t[m[1]] = Number(m[2]);
  const faults = /^faults printed (\d+)$/m.exec(stderr);
  if (faults) t.faults = Number(faults[1]);
  return t;
}
/** printed − start: the time our code took once Node was up and our bundle loaded (null without both marks). */
const engineMsOf = (t) => (t.start != null && t.printed != null ? t.printed - t.start : null);

// Node's own start-up, for context: `node -e 0` with the same environment, run bare like the timed runs.
const nodeStartup = (corpus) => runMeasured(process.execPath, ['-e', '0'], { env: sandboxEnv(corpus), cwd: corpus.dir });
const NODE_STARTUP_RUNS = 5;
/** Runs of each command under the RSS poller (separate from the timed runs). */
const RSS_RUNS = 2;

/**
 * One size: an untimed warm-up (page cache, and whatever writeback generation left behind), then
 * ccusage and our cold scan alternately, so background noise hits both alike; then warm starts and
 * live latency for ours.
 */
async function benchSize(corpus, opts, { peer, ours }) {
  const stateRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-spend-bench-state-'));
  const peerRuns = [];
  const peerRssRuns = [];
  const o = ours ? { cold: [], firstEver: [], warm: [], nodeStartup: [], rss: { cold: [], firstEver: [], warm: [] }, live: null, totals: null } : null;
  const env = sandboxEnv(corpus);
  if (env.CLAUDE_CONFIG_DIR && !fs.existsSync(env.CLAUDE_CONFIG_DIR)) fs.mkdirSync(env.CLAUDE_CONFIG_DIR, { recursive: true });
  try {
    if (peer) await runMeasured(PEER_BIN, corpus.agent.peerArgs, { env, cwd: corpus.dir });
    if (ours) {
      // The price cache under the sandbox's XDG_CACHE_HOME is rebuilt by this warm-up with the CLI being
      // measured (not left over from an older build); the "cold scan" runs then find it warm.
      fs.rmSync(path.join(env.XDG_CACHE_HOME, 'agent-spend'), { recursive: true, force: true });
      fs.mkdirSync(path.join(stateRoot, 'warmup'));
      const w = await ourReport(corpus, path.join(stateRoot, 'warmup'));
      if (w.code !== 0) log(`agent-spend warm-up failed (exit ${w.code}): ${w.stderr.slice(-500)}`);
      try { o.warmPriceCacheBytes = fs.statSync(path.join(env.XDG_CACHE_HOME, 'agent-spend', 'rate-cards.json')).size; } catch { o.warmPriceCacheBytes = null; }
      if (o.warmPriceCacheBytes == null) log('the warm-up left no rate-cards.json: the "cold scan" row ran with an empty price cache too');
    }

    // Cold: a fresh, empty state dir every run (price cache as the warm-up left it). First run ever: a fresh
    // empty state dir and a fresh empty AGENT_SPEND_CACHE_DIR. Both alternate with ccusage.
    let lastColdState = null;
    for (let i = 0; i < opts.runs; i++) {
      if (peer) peerRuns.push(await peerOnce(corpus, i));
      if (ours) {
        const state = path.join(stateRoot, `cold-${i}`);
        fs.mkdirSync(state);
        const r = await ourReport(corpus, state);
        o.cold.push(summarizeOurRun(r, 'cold', i));
        if (r.code === 0) lastColdState = state;

        const firstState = path.join(stateRoot, `first-${i}`);
        const firstCache = path.join(stateRoot, `first-${i}-cache`);
        fs.mkdirSync(firstState);
        fs.mkdirSync(firstCache);
        const f = await ourReport(corpus, firstState, { AGENT_SPEND_CACHE_DIR: firstCache });
        const fs_ = summarizeOurRun(f, 'first run ever', i);
        fs_.cacheWritten = fs.existsSync(path.join(firstCache, 'rate-cards.json'));
        o.firstEver.push(fs_);
      }
    }
    if (!ours) {
      for (let i = 0; i < RSS_RUNS; i++) if (peer) peerRssRuns.push(await peerOnce(corpus, i, true));
      return { peer: peer ? summarizePeer(peerRuns, peerRssRuns, corpus.agent) : null, ours: null };
    }
    const okCold = o.cold.filter((r) => r.totals);
    o.totals = okCold.length ? okCold[okCold.length - 1].totals : null;
    // Each cold run against the ccusage run just before it: the two met the machine in the same state, which a
    // shared machine's slow spells (both tools slower by a fifth for a minute) change between runs.
    o.coldPairedRatios = o.cold.map((r, i) => (r.totals && peerRuns[i]?.totals ? r.ms / peerRuns[i].ms : null)).filter((x) => x != null);

    // Warm: the state left by a cold run, no new bytes in the logs. `node -e 0` alternates with them.
    if (lastColdState) {
      for (let i = 0; i < Math.max(opts.runs, NODE_STARTUP_RUNS); i++) {
        if (i < NODE_STARTUP_RUNS) {
          const n = await nodeStartup(corpus);
          o.nodeStartup.push({ ms: n.code === 0 ? n.ms : null, rssKb: n.rssKb, error: n.code === 0 ? undefined : `exit ${n.code}` });
          log(`  node -e 0 run ${i + 1}: ${fmtMs(n.ms)}`);
        }
        if (i < opts.runs) o.warm.push(summarizeOurRun(await ourReport(corpus, lastColdState), 'warm', i));
      }
      // Peak RSS: separate runs under /proc polling (and GNU time when present), after every timed run. Run between
      // the cold scans and the warm starts, they slowed the warm starts that followed from their first line (start
      // mark at ~101 ms against ~78 ms, engine median 130 ms against 101-114 ms), for reasons this bench cannot see.
      for (let i = 0; i < RSS_RUNS; i++) {
        if (peer) peerRssRuns.push(await peerOnce(corpus, i, true));
        if (ours) {
          const state = path.join(stateRoot, `rss-cold-${i}`);
          fs.mkdirSync(state);
          o.rss.cold.push(summarizeOurRun(await ourReport(corpus, state, {}, true), 'cold (RSS)', i));
          const firstState = path.join(stateRoot, `rss-first-${i}`);
          const firstCache = path.join(stateRoot, `rss-first-${i}-cache`);
          fs.mkdirSync(firstState);
          fs.mkdirSync(firstCache);
          o.rss.firstEver.push(summarizeOurRun(await ourReport(corpus, firstState, { AGENT_SPEND_CACHE_DIR: firstCache }, true), 'first run ever (RSS)', i));
          o.rss.warm.push(summarizeOurRun(await ourReport(corpus, state, {}, true), 'warm (RSS)', i));
        }
      }
      o.live = await benchLive(corpus, opts, env, lastColdState);
    } else {
      log('no successful cold run: skipping warm start and live latency');
    }
  } finally {
    fs.rmSync(stateRoot, { recursive: true, force: true });
  }
  const med = (runs, k) => median(runs.filter((r) => r.totals).map((r) => r[k]));
  const phaseMedians = (runs) => {
    const ok = runs.filter((r) => r.totals && r.timing);
    const out = {};
    for (const p of PHASES) out[p] = median(ok.map((r) => r.timing[p]));
    out.exitMs = median(ok.map((r) => (r.timing.printed != null ? r.ms - r.timing.printed : null)));
    out.faults = median(ok.map((r) => r.timing.faults ?? null));
    return out;
  };
  const sameTotals = (runs) => runs.length > 0 && o.totals != null &&
    runs.every((w) => w.totals && [...TOKEN_FIELDS, 'requests'].every((f) => w.totals[f] === o.totals[f]));
  for (const [k, runs] of [['cold', o.cold], ['firstEver', o.firstEver], ['warm', o.warm]]) {
    o[`${k}MedianMs`] = med(runs, 'ms');
    o[`${k}MedianEngineMs`] = med(runs, 'engineMs');
    o[`${k}MedianRssKb`] = med(o.rss[k], 'rssKb');
    o[`${k}Phases`] = phaseMedians(runs);
  }
  o.nodeStartupMedianMs = median(o.nodeStartup.map((r) => r.ms));
  o.warmTotalsMatchCold = sameTotals(o.warm);
  o.firstEverTotalsMatchCold = sameTotals(o.firstEver);
  o.coldTotalsAllEqual = sameTotals(o.cold);
  const costs = [...o.cold, ...o.firstEver, ...o.warm].filter((r) => r.totals).map((r) => r.totals.costUsd);
  o.costSpreadUsd = costs.length ? Math.max(...costs) - Math.min(...costs) : null;
  if (o.firstEver.length && !o.firstEverTotalsMatchCold) log('first-run-ever totals differ from the cold scan\'s');
  if (o.warm.length && !o.warmTotalsMatchCold) log('warm-start totals differ from the cold scan\'s');
  if (o.costSpreadUsd) log(`cost differs between runs by up to $${o.costSpreadUsd}`);
  return { peer: peer ? summarizePeer(peerRuns, peerRssRuns, corpus.agent) : null, ours: o };
}

function summarizeOurRun(r, kind, i) {
  if (r.code !== 0) {
    log(`agent-spend ${kind} run ${i + 1} failed (exit ${r.code}${r.signal ? ', ' + r.signal : ''}): ${r.stderr.slice(-800)}`);
    return { ms: null, rssKb: r.rssKb, error: `exit ${r.code}` };
  }
  try {
    const json = parseReport(r.stdout);
    const timing = parseTiming(r.stderr);
    const engineMs = engineMsOf(timing);
    if (engineMs == null) log(`  agent-spend ${kind} run ${i + 1}: no timing lines on stderr (CLI without AGENT_SPEND_TIMING support?)`);
    log(`  agent-spend ${kind} run ${i + 1}: ${fmtMs(r.ms)} wall, ${fmtMs(engineMs)} engine (start at ${fmtMs(timing.start ?? null)}), ${fmtMb(r.rssKb)}`);
    return { ms: r.ms, engineMs, timing, rssKb: r.rssKb, rss: r.rss, totals: json.totals, sessions: Array.isArray(json.sessions) ? json.sessions.length : null };
  } catch (e) {
    log(`agent-spend ${kind} run ${i + 1}: bad JSON (${e.message})`);
    return { ms: null, rssKb: r.rssKb, error: 'bad JSON' };
  }
}

// Start `watch --json`, wait for the first snapshot, then append responses to the corpus's biggest
// session file (manifest.liveTarget; the agent's append function) and time each until a snapshot shows the new
// output tokens. The file is truncated back afterwards so the cached corpus still matches its manifest.
async function benchLive(corpus, opts, env, stateDir) {
  const target = corpus.manifest.liveTarget;
  if (!target) return { error: 'manifest has no liveTarget' };
  const file = path.join(corpus.dir, target.file);
  const originalSize = fs.statSync(file).size;

  const t0 = performance.now();
  const child = spawn(...ourCommand(['watch', '--json', ...corpus.agent.ourArgs, '--state-dir', stateDir]), { env, cwd: corpus.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const poller = startRssPoller(child.pid, 20);
  let exited = null;
  let stderr = '';
  const waiters = new Set(); // resolved on each snapshot
  let latest = null;
  let snapshots = 0;
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.trim()) continue;
      let snap;
      try { snap = JSON.parse(line); } catch { continue; }
      if (!snap || typeof snap.totals !== 'object') continue;
      latest = { at: performance.now(), snap };
      snapshots++;
      for (const w of [...waiters]) w();
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  child.on('exit', (code, signal) => { exited = { code, signal }; for (const w of [...waiters]) w(); });

  // Resolves with the first snapshot satisfying pred, or null on timeout / watcher exit.
  const waitFor = (pred, timeoutMs) => new Promise((resolve) => {
    const check = () => {
      if (latest && pred(latest.snap)) { done(latest); return; }
      if (exited) done(null);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    const done = (v) => { clearTimeout(timer); waiters.delete(check); resolve(v); };
    waiters.add(check);
    check();
  });

  const result = { file: target.file, fileBytes: originalSize, iterations: [], firstSnapshotMs: null };
  try {
    const first = await waitFor(() => true, LIVE_FIRST_SNAPSHOT_TIMEOUT_MS);
    if (!first) {
      result.error = exited ? `watcher exited (${JSON.stringify(exited)}): ${stderr.slice(-500)}` : 'no snapshot before timeout';
      return result;
    }
    result.firstSnapshotMs = first.at - t0;
    log(`  agent-spend watch: first snapshot after ${result.firstSnapshotMs.toFixed(0)} ms`);
    await sleep(300); // let any start-up snapshots settle

    for (let i = 0; i < opts.liveIterations; i++) {
      const before = latest.snap.totals;
      const start = performance.now();
      const added = corpus.agent.append(file, target);
      const want = (before.outputTokens ?? 0) + added.outputTokens;
      const hit = await waitFor((s) => (s.totals.outputTokens ?? 0) >= want, LIVE_UPDATE_TIMEOUT_MS);
      const it = { ms: hit ? hit.at - start : null, addedOutputTokens: added.outputTokens };
      if (hit) {
        // The snapshot must move by exactly the appended response (no double count, nothing missed).
        const t = hit.snap.totals;
        it.exact = t.outputTokens === want &&
          t.inputTokens === before.inputTokens + added.inputTokens &&
          t.cacheReadTokens === before.cacheReadTokens + added.cacheReadTokens &&
          t.cacheCreationTokens === before.cacheCreationTokens + added.cacheCreationTokens;
      } else {
        it.error = exited ? 'watcher exited' : `no matching snapshot within ${LIVE_UPDATE_TIMEOUT_MS} ms`;
      }
      result.iterations.push(it);
      log(`  live ${i + 1}: ${it.ms != null ? it.ms.toFixed(0) + ' ms' : it.error}${it.exact === false ? ' (totals moved by a different amount)' : ''}`);
      if (exited) break;
      await sleep(500);
    }
  } finally {
    poller.sample(); // VmHWM just before the kill: exact for a long-lived process
    const procs = poller.stop();
    result.rssKb = procs.reduce((m, p) => Math.max(m, p.hwmKb), 0) || null;
    result.rssProcesses = procs;
    result.snapshots = snapshots;
    await stopByPid(child, () => exited);
    fs.truncateSync(file, originalSize); // restore the corpus
  }
  result.medianMs = median(result.iterations.map((i) => i.ms));
  return result;
}

// Stop the watcher we started, by its pid only.
async function stopByPid(child, hasExited) {
  if (hasExited()) return;
  try { process.kill(child.pid, 'SIGTERM'); } catch { return; }
  for (let i = 0; i < 50 && !hasExited(); i++) await sleep(100);
  if (!hasExited()) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    for (let i = 0; i < 20 && !hasExited(); i++) await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// Token agreement

function compareTotals(manifest, ours, peer, agent) {
  const extra = manifest.peerExpectedExtra?.[agent.peerReport] ?? null;
  const rows = [];
  for (const f of [...TOKEN_FIELDS, 'requests']) {
    const truth = manifest.totals[f];
    const o = ours?.[f];
    const p = f === 'requests' ? undefined : peer?.[f]; // ccusage reports no request count
    let oursVerdict = o === undefined ? 'n/a' : o === truth ? 'agree' : `disagree (${signed(o - truth)})`;
    let peerVerdict = 'n/a';
    if (p !== undefined) {
      if (p === truth) peerVerdict = 'agree';
      else if (extra && p === truth + extra[f]) peerVerdict = `known (${signed(p - truth)}: ${agent.knownShort})`;
      else peerVerdict = `disagree (${signed(p - truth)})`;
    }
    rows.push({ field: f, manifest: truth, ours: o ?? null, ccusage: p ?? null, oursVerdict, peerVerdict });
  }
  return rows;
}
const signed = (n) => (n > 0 ? `+${n}` : String(n));

// ---------------------------------------------------------------------------------------------
// Report

const fmtMs = (ms) => (ms == null ? '–' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const fmtMb = (kb) => (kb == null ? '–' : `${(kb / 1024).toFixed(0)} MB`);
const fmtRatio = (a, b) => (a == null || b == null || !b ? '–' : (a / b).toFixed(2));
const fmtInt = (n) => (n == null ? '–' : n.toLocaleString('en-US'));
const verdict = (ok) => (ok == null ? 'n/a' : ok ? 'pass' : 'FAIL');

function markdown(results, env) {
  const lines = [];
  lines.push('# Agent Spend benchmark');
  lines.push('');
  lines.push(`${env.date} · ${env.cpus} × ${env.cpuModel} · ${(env.memBytes / 2 ** 30).toFixed(0)} GiB RAM · Node ${env.node} · ${env.peerVersion ?? 'ccusage ?'} · median of ${env.runs} runs · peak RSS via ${env.rssMethod} · page cache warm (corpus just read or written)`);
  lines.push('');
  if (env.bundle) lines.push(`CLI bundle: ${env.bundle.text}`, '');
  if (env.oursNote) lines.push(`> ${env.oursNote}`, '');
  lines.push('| corpus | metric | agent-spend | ccusage | ratio | target | result |');
  lines.push('|---|---|---|---|---|---|---|');
  const failures = [];
  for (const r of results) {
    const size = `${r.agentLabel} ${r.size} (${r.manifest.files} files, ${(r.manifest.bytes / 2 ** 20).toFixed(0)} MiB)`;
    const o = r.ours;
    const p = r.peer;
    const row = (metric, ours, peer, ratio, target, ok) => {
      lines.push(`| ${size} | ${metric} | ${ours} | ${peer} | ${ratio} | ${target} | ${verdict(ok)} |`);
      if (ok === false) failures.push(`${r.agentLabel} ${r.size} ${metric}`);
    };
    const peerMs = p?.medianMs ?? null;
    const coldRatioRow = (metric, ms) => row(metric, fmtMs(ms), fmtMs(peerMs), fmtRatio(ms, peerMs), `wall ratio ≤ ${TARGETS.coldRatio.toFixed(1)}`,
      ms != null && peerMs != null ? ms / peerMs <= TARGETS.coldRatio : null);
    const info = (metric, ms) => row(metric, fmtMs(ms), '–', '–', 'informational', null);
    coldRatioRow('cold scan ¹, wall', o?.coldMedianMs ?? null);
    const paired = o?.coldPairedRatios ?? [];
    if (paired.length) {
      row(`cold scan ¹, each run ÷ the ccusage run before it: median (${paired.map((x) => x.toFixed(2)).join(', ')})`, '–', '–',
        median(paired).toFixed(2), 'informational', null);
    }
    info('cold scan ¹, engine (printed − start)', o?.coldMedianEngineMs ?? null);
    coldRatioRow('cold scan, first run ever (empty state and empty cache), wall', o?.firstEverMedianMs ?? null);
    info('cold scan, first run ever (empty state and empty cache), engine (printed − start)', o?.firstEverMedianEngineMs ?? null);
    const warm = o?.warmMedianMs ?? null;
    row('warm start (no new bytes), wall', fmtMs(warm), `${fmtMs(peerMs)} (no cache)`, fmtRatio(warm, peerMs), `≤ ${TARGETS.warmMs} ms`,
      warm != null ? warm <= TARGETS.warmMs : null);
    const warmEngine = o?.warmMedianEngineMs ?? null;
    row('warm start (no new bytes), engine (printed − start)', fmtMs(warmEngine), '–', '–', `≤ ${TARGETS.warmMs} ms`,
      warmEngine != null ? warmEngine <= TARGETS.warmMs : null);
    row(`Node start-up (node -e 0), median of ${o?.nodeStartup?.length ?? 0}`, fmtMs(o?.nodeStartupMedianMs ?? null), '–', '–', 'context', null);
    const live = o?.live;
    const liveAll = live && live.iterations.length > 0 && live.iterations.every((i) => i.ms != null);
    row(live ? `live latency (median of ${live.iterations.length})` : 'live latency', live?.error ? `error: ${live.error}` : fmtMs(live?.medianMs ?? null), 'n/a', '–',
      `≤ ${TARGETS.liveMs} ms`, live ? (liveAll && live.medianMs <= TARGETS.liveMs) : null);
    const rssCheck = (kb) => (kb == null ? null : kb / 1024 <= TARGETS.rssMb);
    row('peak RSS, cold scan', fmtMb(o?.coldMedianRssKb ?? null), fmtMb(p?.medianRssKb ?? null), fmtRatio(o?.coldMedianRssKb, p?.medianRssKb), `≤ ${TARGETS.rssMb} MB`, rssCheck(o?.coldMedianRssKb ?? null));
    row('peak RSS, first run ever', fmtMb(o?.firstEverMedianRssKb ?? null), fmtMb(p?.medianRssKb ?? null), fmtRatio(o?.firstEverMedianRssKb, p?.medianRssKb), `≤ ${TARGETS.rssMb} MB`, rssCheck(o?.firstEverMedianRssKb ?? null));
    row('peak RSS, warm start', fmtMb(o?.warmMedianRssKb ?? null), '–', '–', `≤ ${TARGETS.rssMb} MB`, rssCheck(o?.warmMedianRssKb ?? null));
    row('peak RSS, watch', fmtMb(live?.rssKb ?? null), '–', '–', `≤ ${TARGETS.rssMb} MB`, rssCheck(live?.rssKb ?? null));
    // Every run of ours (cold, first run ever, warm) must give the same totals as the manifest.
    const tokOk = r.agreement.every((a) => a.oursVerdict === 'agree') && !!o?.firstEverTotalsMatchCold && !!o?.warmTotalsMatchCold && !!o?.coldTotalsAllEqual;
    row('token totals = manifest', o?.totals ? (tokOk ? 'agree' : 'disagree') : '–',
      p?.totals ? (r.agreement.every((a) => a.peerVerdict === 'agree' || a.peerVerdict === 'n/a') ? 'agree' : r.agreement.some((a) => a.peerVerdict.startsWith('disagree')) ? 'disagree' : 'known diff') : '–',
      '–', 'exact', o?.totals ? tokOk : null);
  }
  lines.push('');
  const cacheState = results.filter((r) => r.ours).map((r) => `${r.agentLabel} ${r.size}: ${r.ours.warmPriceCacheBytes == null ? '**no cache file: it was cold**' : `${(r.ours.warmPriceCacheBytes / 1024).toFixed(1)} KB`}`).join(', ');
  const firstWrote = results.filter((r) => r.ours).every((r) => r.ours.firstEver.every((f) => f.cacheWritten));
  lines.push('¹ "cold scan": empty state dir, but the price cache ($XDG_CACHE_HOME/agent-spend/rate-cards.json in the sandbox) was warm, ' +
    `written by the untimed warm-up run just before (${cacheState}). ` +
    '"first run ever": empty state dir and an empty AGENT_SPEND_CACHE_DIR, both fresh for each run ' +
    `(${firstWrote ? 'each run wrote its rate-cards.json' : '**some run wrote no rate-cards.json**'}); its runs alternate with the cold-scan and ccusage runs.`);
  lines.push('');
  const nodeMs = results.filter((r) => r.ours).map((r) => `${fmtMs(r.ours.nodeStartupMedianMs ?? null)} (${r.agentLabel} ${r.size} run)`).join(', ') || '–';
  lines.push('"wall" = spawn to exit of the whole process, what a user waits for (includes Node\'s own start-up, loading our bundle, and exit). ' +
    '"engine (printed − start)" = from the CLI\'s first line of work to the report written to stdout, read from its AGENT_SPEND_TIMING=1 marks ' +
    '(performance.now(), ms since the process started): the time our code took once Node was up. ' +
    `The ≤ ${TARGETS.warmMs} ms warm-start target cannot be met by wall time while \`node -e 0\` alone takes ${nodeMs} here, so it is judged on both lines; ` +
    'wall − engine ≈ Node start-up + loading our bundle (the "start" mark) + exit. ' +
    'ccusage has no such marks (its npm bin is itself a Node wrapper around a native binary): its column is always wall time, and the cold-scan target is a wall-time ratio. ' +
    `Timed runs (both tools and \`node -e 0\`) run bare; peak RSS comes from ${RSS_RUNS} separate runs of each under /proc polling${GNU_TIME ? ' and GNU time' : ''}.`);
  lines.push('');
  lines.push('Engine phases (median ms since process start at each mark; "exit" = wall − printed; "page faults" = minor');
  lines.push('faults taken by the time the report was printed, Node\'s own start-up included):');
  lines.push('');
  lines.push('| corpus | run | start | loaded | scanned | saved | reported | printed | exit | wall | page faults |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const o = r.ours;
    if (!o) continue;
    for (const [label, k] of [['cold scan', 'cold'], ['first run ever', 'firstEver'], ['warm start', 'warm']]) {
      const ph = o[`${k}Phases`] ?? {};
      const f = (v) => (v == null ? '–' : v.toFixed(0));
      lines.push(`| ${r.agentLabel} ${r.size} | ${label} | ${PHASES.map((p) => f(ph[p])).join(' | ')} | ${f(ph.exitMs)} | ${f(o[`${k}MedianMs`])} | ${f(ph.faults)} |`);
    }
  }
  lines.push('');
  lines.push('Medians are per column, so the columns need not add up exactly.');
  lines.push('');
  for (const r of results) {
    lines.push(`## Token totals, ${r.agentLabel} ${r.size}`);
    lines.push('');
    lines.push('| field | manifest | agent-spend | ccusage | agent-spend vs manifest | ccusage vs manifest |');
    lines.push('|---|---|---|---|---|---|');
    for (const a of r.agreement) {
      lines.push(`| ${a.field} | ${fmtInt(a.manifest)} | ${fmtInt(a.ours)} | ${fmtInt(a.ccusage)} | ${a.oursVerdict} | ${a.peerVerdict} |`);
    }
    const os_ = r.ours?.cold.find((c) => c.sessions != null)?.sessions ?? null;
    lines.push(`| sessions (informational) | ${fmtInt(r.manifest.sessions)} ${AGENTS[r.agent].sessionsLabel} | ${fmtInt(os_)} | ${fmtInt(r.peer?.totals?.sessions ?? null)} | – | – |`);
    const oc = r.ours?.totals?.costUsd;
    const pc = r.peer?.totals?.costUsd;
    lines.push(`| cost USD (informational) | – | ${oc == null ? '–' : oc.toFixed(2)} | ${pc == null ? '–' : pc.toFixed(2)} | ratio ${fmtRatio(oc, pc)} | – |`);
    lines.push('');
    if (r.ours) {
      const o = r.ours;
      const yn = (b) => (b ? 'same' : '**differ**');
      lines.push(`agent-spend runs among themselves: cold scans ${yn(o.coldTotalsAllEqual)}, first run ever vs cold ${yn(o.firstEverTotalsMatchCold)}, warm vs cold ${yn(o.warmTotalsMatchCold)} (tokens and requests); cost spread across runs $${o.costSpreadUsd == null ? '–' : o.costSpreadUsd.toFixed(6)}.`);
      lines.push('');
    }
  }
  lines.push('Sessions are informational: a resumed session repeats lines of an earlier one, and a tool may attribute those responses to either file.');
  lines.push('');
  lines.push('Corpora: ' + results.map((r) => `${r.agentLabel} ${r.size}: ${AGENTS[r.agent].describe(r.manifest)}, ${(r.manifest.bytes / 2 ** 20).toFixed(0)} MiB, ${r.corpusReused ? 'cached' : `generated in ${(r.manifest.generationMs / 1000).toFixed(1)} s`}`).join('; ') + '.');
  for (const id of new Set(results.map((r) => r.agent))) {
    lines.push('');
    lines.push(AGENTS[id].knownNote);
  }
  return { text: lines.join('\n') + '\n', failures };
}

// ---------------------------------------------------------------------------------------------
// Which CLI bundle was measured: `npm run bench` builds with `node esbuild.js --production` (minified, no
// sourcemap); a plain `node esbuild.js` build carries a sourceMappingURL comment and is not minified.

function describeBundle(cli) {
  const text = fs.readFileSync(cli, 'utf8');
  const st = fs.statSync(cli);
  const hasSourceMap = /\/\/# sourceMappingURL=/.test(text);
  const lines = text.split('\n');
  const longest = lines.reduce((m, l) => Math.max(m, l.length), 0);
  const minified = lines.length < 50 || longest > 5000;
  const kind = !hasSourceMap && minified ? 'production build (minified, no sourcemap comment)'
    : hasSourceMap && !minified ? 'development build (sourcemap comment, not minified): run `npm run bench` for the production build'
    : `mixed build (${hasSourceMap ? 'sourcemap comment' : 'no sourcemap comment'}, ${minified ? 'minified' : 'not minified'})`;
  // Was the bundle built from the sources as they are now?
  let newestSrc = 0;
  const walk = (d) => {
    for (const e of safeReaddirents(d)) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) newestSrc = Math.max(newestSrc, fs.statSync(p).mtimeMs);
    }
  };
  walk(path.join(REPO, 'src'));
  const stale = newestSrc > st.mtimeMs;
  let git = null;
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    git = `${head}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch { /* not a git checkout */ }
  const rel = path.relative(REPO, cli) || cli;
  const parts = [`${rel} (${(st.size / 1024).toFixed(0)} KB, built ${new Date(st.mtimeMs).toISOString()})`, kind];
  if (git) parts.push(`sources ${git}`);
  parts.push(`run as ${ourLauncher()}`);
  if (stale) parts.push('**stale: src/ changed after this bundle was built**');
  return { path: rel, bytes: st.size, mtime: new Date(st.mtimeMs).toISOString(), hasSourceMap, minified, stale, git, text: parts.join(' · ') };
}
function safeReaddirents(d) { try { return fs.readdirSync(d, { withFileTypes: true }); } catch { return []; } }

// ---------------------------------------------------------------------------------------------

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.cli) OUR_CLI = path.resolve(opts.cli);
  fs.mkdirSync(opts.dataDir, { recursive: true });

  const peer = opts.skipPeer ? { ok: false, reason: 'skipped (--skip-peer)' } : ensurePeerExecutable();
  if (!peer.ok) log(`peer: ${peer.reason}`);
  let oursNote = null;
  if (opts.skipOurs) oursNote = 'agent-spend skipped (--skip-ours).';
  else if (!fs.existsSync(OUR_CLI)) oursNote = `agent-spend CLI not built (${OUR_CLI} missing): only the peer and the generator were measured.`;
  if (oursNote) log(oursNote);

  const env = {
    bundle: oursNote ? null : describeBundle(OUR_CLI),
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model?.trim() ?? '?',
    memBytes: os.totalmem(),
    node: process.versions.node,
    peerVersion: peer.version ?? (opts.skipPeer ? 'ccusage skipped' : 'ccusage unavailable'),
    runs: opts.runs,
    rssMethod: `${RSS_RUNS} separate runs under /proc VmHWM polling, largest process in the tree${GNU_TIME ? ' (GNU time %M recorded in latest.json)' : ''}`,
    oursNote,
    generatorIds: Object.fromEntries(opts.agents.map((a) => [a, AGENTS[a].generatorId])),
    seed: opts.seed,
  };

  const results = [];
  for (const agentId of opts.agents) {
    const agent = AGENTS[agentId];
    for (const size of opts.sizes) {
      const corpus = await ensureCorpus(opts, agent, size);
      const r = { agent: agent.id, agentLabel: agent.label, size, corpusDir: corpus.dir, corpusReused: corpus.reused, manifest: corpus.manifest, peer: null, ours: null };
      log(`${agent.label} ${size}: ${peer.ok ? `ccusage × ${opts.runs}` : 'no peer'}, ${oursNote ? 'no agent-spend' : `agent-spend cold × ${opts.runs}, warm × ${opts.runs}, live × ${opts.liveIterations}`}`);
      Object.assign(r, await benchSize(corpus, opts, { peer: peer.ok, ours: !oursNote }));
      r.agreement = compareTotals(corpus.manifest, r.ours?.totals ?? null, r.peer?.totals ?? null, agent);
      results.push(r);
    }
  }

  const { text, failures } = markdown(results, env);
  const outDir = path.join(BENCH_DIR, 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'latest.md'), text);
  // Raw numbers; the manifest copy drops the per-model detail to keep the file short.
  const raw = { env, targets: TARGETS, results: results.map((r) => ({ ...r, manifest: { ...r.manifest, byModel: undefined } })) };
  fs.writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(raw, null, 2) + '\n');
  process.stdout.write(text);
  log(`wrote ${path.relative(REPO, path.join(outDir, 'latest.md'))} and latest.json`);
  if (opts.strict && failures.length) {
    log(`targets missed: ${failures.join(', ')}`);
    process.exitCode = 1;
  }
}

await main();
