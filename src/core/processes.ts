// The process table, for knowing which terminal runs which agent (and, later, for stopping exactly that agent and
// nothing else). Linux reads /proc; the identity of a process is its pid *and* its start time, so that a pid the
// kernel reused for another program is never mistaken for the one chosen earlier.

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /**
   * Start time as the platform tells it (Linux: clock ticks since boot, /proc/<pid>/stat field 22; macOS: seconds
   * since the epoch from `ps -o lstart`; Windows: milliseconds from CreationDate): with the pid, a unique identity.
   */
  startTicks: number;
  /** Exited but not yet reaped: no longer running, whatever its table entry says. */
  zombie?: boolean;
  /** Kernel's short name (comm), at most 15 characters. */
  comm: string;
  argv: string[];
}

/** A process chosen earlier, to be checked again before anything is done to it. */
export interface ProcessIdentity {
  pid: number;
  startTicks: number;
}

/** Parses /proc/<pid>/stat. The comm field is in parentheses and may itself contain spaces and parentheses. */
export function parseProcStat(text: string): { pid: number; comm: string; ppid: number; startTicks: number; zombie: boolean } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); ppid is field 4, starttime field 22.
  const ppid = Number(fields[1]);
  const startTicks = Number(fields[19]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isFinite(startTicks)) return undefined;
  return { pid, comm: text.slice(open + 1, close), ppid, startTicks, zombie: fields[0] === 'Z' || fields[0] === 'X' };
}

/** One process from /proc, or undefined when it is gone (or not readable). */
export function readProcess(pid: number, proc = '/proc'): ProcessInfo | undefined {
  try {
    const stat = parseProcStat(fs.readFileSync(path.join(proc, String(pid), 'stat'), 'utf8'));
    if (!stat) return undefined;
    let argv: string[] = [];
    try {
      argv = fs.readFileSync(path.join(proc, String(pid), 'cmdline'), 'utf8').split('\0').filter((a) => a.length > 0);
    } catch {
      // kernel threads and zombies have no command line
    }
    return { pid: stat.pid, ppid: stat.ppid, startTicks: stat.startTicks, comm: stat.comm, argv, zombie: stat.zombie };
  } catch {
    return undefined;
  }
}

/** Every process visible in /proc. */
export function readProcessTable(proc = '/proc'): ProcessInfo[] {
  const table: ProcessInfo[] = [];
  for (const name of fs.readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProcess(Number(name), proc);
    if (info) table.push(info);
  }
  return table;
}

/** All descendants of `root` (children, grandchildren, ...), not `root` itself. */
export function descendants(table: ProcessInfo[], root: number): ProcessInfo[] {
  const children = new Map<number, ProcessInfo[]>();
  for (const p of table) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const found: ProcessInfo[] = [];
  const queue = [...(children.get(root) ?? [])];
  const seen = new Set<number>([root]);
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (seen.has(p.pid)) continue; // a reused pid must not loop the walk
    seen.add(p.pid);
    found.push(p);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return found;
}

/** How each agent's process shows itself: the program name, or a script of that name run by an interpreter. */
export const AGENT_PATTERNS: Record<string, RegExp> = {
  'claude-code': /^claude(\.exe)?$/i,
  codex: /^codex(\.exe)?$/i,
  'gemini-cli': /^gemini(\.exe)?$/i,
  aider: /^aider(\.exe)?$/i,
  opencode: /^opencode(\.exe)?$/i,
  'qwen-code': /^qwen(\.exe)?$/i,
  'copilot-cli': /^copilot(\.exe)?$/i,
  goose: /^goose(\.exe)?$/i,
  crush: /^crush(\.exe)?$/i,
  amp: /^amp(\.exe)?$/i,
};

/**
 * Patterns from the user's setting (`agentSpend.stop.agentPatterns`: agent id -> regular expressions matched against
 * program names), added to the built-in ones. Invalid expressions are reported, never thrown.
 */
export function mergePatterns(extra: unknown): { patterns: Record<string, RegExp>; problems: string[] } {
  const patterns: Record<string, RegExp> = { ...AGENT_PATTERNS };
  const problems: string[] = [];
  if (extra === undefined || extra === null) return { patterns, problems };
  if (typeof extra !== 'object' || Array.isArray(extra)) {
    return { patterns, problems: ['agentSpend.stop.agentPatterns must be an object of agent id -> list of patterns'] };
  }
  for (const [agent, list] of Object.entries(extra as Record<string, unknown>)) {
    const sources = Array.isArray(list) ? list : [list];
    const parts: string[] = [];
    for (const source of sources) {
      if (typeof source !== 'string' || source.length === 0) {
        problems.push(`agentSpend.stop.agentPatterns.${agent}: ${JSON.stringify(source)} is not a pattern`);
        continue;
      }
      try {
        new RegExp(source);
        parts.push(`(?:${source})`);
      } catch (error) {
        problems.push(`agentSpend.stop.agentPatterns.${agent}: ${(error as Error).message}`);
      }
    }
    if (parts.length === 0) continue;
    const builtIn = AGENT_PATTERNS[agent];
    patterns[agent] = new RegExp(builtIn ? `${builtIn.source}|${parts.join('|')}` : parts.join('|'), 'i');
  }
  return { patterns, problems };
}

const INTERPRETERS = /^(node|nodejs|bun|deno|python\d*(\.\d+)?|uv|npx|pnpx)(\.exe)?$/i;
/** Where installed programs live (npm, pip): a script there is a program, not a file of the user's project. */
const INSTALLED = /[\\/](node_modules|site-packages|dist-packages)[\\/]/;
/** Interpreter options whose value is the next argument (a module to preload, a warning filter), never the script. */
const OPTION_WITH_VALUE = /^(-r|--require|--import|--loader|--experimental-loader|-W|-X|--env-file|--title|-C|--conditions)$/;
/** Options whose value is the program itself, inline: no script file follows. */
const INLINE_CODE = /^(-e|--eval|-p|--print|-c)$/;

/** The script an interpreter runs: the first argument that is neither an option nor an option's value. */
function scriptOf(argv: string[]): string | undefined {
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (INLINE_CODE.test(arg)) return undefined;
    if (OPTION_WITH_VALUE.test(arg)) {
      i++;
      continue;
    }
    if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/** The last path segment, for POSIX and Windows paths alike (a Windows table is parsed on any platform in tests). */
function baseName(file: string): string {
  const cut = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  return cut >= 0 ? file.slice(cut + 1) : file;
}

/**
 * Which agent a process is, if any: its program (argv[0], or the comm) matches an agent, or an interpreter runs a
 * script whose name matches one (`node /usr/lib/node_modules/@anthropic-ai/claude-code/cli.js` is not matched by
 * name; `node …/bin/claude` is). Shell-integration command lines are never consulted here.
 */
export function agentOf(p: ProcessInfo, patterns: Record<string, RegExp> = AGENT_PATTERNS): string | undefined {
  const program = baseName(p.argv[0] ?? p.comm);
  const candidates = [program];
  if (INTERPRETERS.test(program)) {
    const script = scriptOf(p.argv);
    if (script) {
      const name = baseName(script);
      // `codex.js` inside an installed package is the agent; a `gemini.py` or `claude.js` of the user's own project is not.
      const hasExtension = /\.(m?js|cjs|py)$/.test(name);
      if (!hasExtension || INSTALLED.test(script)) candidates.push(name.replace(/\.(m?js|cjs|py)$/, ''));
    }
  } else if (p.argv.length === 0) {
    candidates.push(p.comm);
  }
  for (const [agent, pattern] of Object.entries(patterns)) {
    if (candidates.some((c) => pattern.test(c))) return agent;
  }
  return undefined;
}

/** The agents running below a terminal's shell: the outermost matching process of each branch. */
export function agentsBelow(table: ProcessInfo[], shellPid: number, patterns?: Record<string, RegExp>): Array<ProcessInfo & { agent: string }> {
  const below = descendants(table, shellPid);
  const agents = new Map<number, ProcessInfo & { agent: string }>();
  const byPid = new Map(table.map((p) => [p.pid, p]));
  for (const p of below) {
    const agent = agentOf(p, patterns);
    if (!agent) continue;
    // An agent's own children (a node re-exec of itself, tool processes) belong to it: keep the outermost.
    let ancestor = byPid.get(p.ppid);
    let nested = false;
    while (ancestor && ancestor.pid !== shellPid) {
      if (agentOf(ancestor, patterns)) {
        nested = true;
        break;
      }
      ancestor = byPid.get(ancestor.ppid);
    }
    if (!nested) agents.set(p.pid, { ...p, agent });
  }
  return [...agents.values()];
}

/**
 * Is `chosen` still the same process, still below `shellPid`, still the same agent? Checked right before any
 * action on it: a pid that was reused, re-parented away from the terminal, or exec'd into something else is not.
 */
export function stillTheAgent(
  chosen: ProcessIdentity & { agent: string },
  shellPid: number,
  read: (pid: number) => ProcessInfo | undefined = (pid) => readProcess(pid),
  patterns?: Record<string, RegExp>,
): boolean {
  if (chosen.pid === shellPid || chosen.pid === process.pid || chosen.pid <= 1) return false;
  // Without a start time the identity is the pid alone, which the kernel reuses: never enough to act on.
  if (!(chosen.startTicks > 0)) return false;
  const now = read(chosen.pid);
  if (!now || now.zombie || now.startTicks !== chosen.startTicks) return false;
  if (agentOf(now, patterns) !== chosen.agent) return false;
  // Walk up to the shell: being a descendant is checked on the live table, not remembered.
  let current: ProcessInfo | undefined = now;
  for (let hops = 0; current && hops < 64; hops++) {
    if (current.ppid === shellPid) return true;
    if (current.ppid <= 1 || current.ppid === process.pid) return false;
    current = read(current.ppid);
  }
  return false;
}

/** Is the process with this identity still running (not exited, not a zombie, pid not reused)? */
export function isAlive(identity: ProcessIdentity, read: (pid: number) => ProcessInfo | undefined = (pid) => readProcess(pid)): boolean {
  const now = read(identity.pid);
  return !!now && !now.zombie && now.startTicks === identity.startTicks;
}

/** The working directory of a process (Linux), or undefined when it is gone or not ours to read. */
export function readCwd(pid: number, proc = '/proc'): string | undefined {
  try {
    return fs.readlinkSync(path.join(proc, String(pid), 'cwd'));
  } catch {
    return undefined;
  }
}

/** Files a process holds open (Linux), for agents whose log stays open while they run (Codex's rollout). */
export function readOpenFiles(pid: number, proc = '/proc'): string[] {
  const dir = path.join(proc, String(pid), 'fd');
  const files: string[] = [];
  try {
    for (const fd of fs.readdirSync(dir)) {
      try {
        const target = fs.readlinkSync(path.join(dir, fd));
        if (target.startsWith('/')) files.push(target);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // gone, or not ours
  }
  return files;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * macOS: `ps -A -o pid=,ppid=,lstart=,args=`. lstart is five words ("Sat Nov 28 17:48:27 2026"); args is the command
 * line joined by spaces (arguments with spaces cannot be told apart, which only matters for matching by script name).
 */
export function parsePsOutput(text: string): ProcessInfo[] {
  const table: ProcessInfo[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+\w{3}\s+(\w{3})\s+(\d+)\s+(\d+):(\d+):(\d+)\s+(\d{4})\s+(.*)$/.exec(line);
    if (!m) continue;
    const month = MONTHS.indexOf(m[3]);
    const started = new Date(Number(m[8]), month, Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7])).getTime() / 1000;
    const argv = m[9].trim().split(/\s+/);
    table.push({ pid: Number(m[1]), ppid: Number(m[2]), startTicks: started, comm: path.basename(argv[0] ?? ''), argv });
  }
  return table;
}

/**
 * Windows: `Get-CimInstance Win32_Process | Select-Object ProcessId,ParentProcessId,CreationDate,Name,CommandLine |
 * ConvertTo-Json -Compress`. CreationDate arrives as "/Date(1764350907123)/" (Windows PowerShell) or ISO text (7.x).
 */
export function parseCimOutput(text: string): ProcessInfo[] {
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch {
    return [];
  }
  const list = Array.isArray(rows) ? rows : [rows];
  const table: ProcessInfo[] = [];
  for (const row of list as Array<Record<string, unknown>>) {
    if (!row || typeof row.ProcessId !== 'number' || typeof row.ParentProcessId !== 'number') continue;
    const created = String(row.CreationDate ?? '');
    const msDate = /\/Date\((\d+)\)\//.exec(created);
    const started = msDate ? Number(msDate[1]) : Date.parse(created);
    const name = typeof row.Name === 'string' ? row.Name : '';
    const commandLine = typeof row.CommandLine === 'string' ? row.CommandLine : '';
    table.push({ pid: row.ProcessId, ppid: row.ParentProcessId, startTicks: Number.isFinite(started) ? started : 0, comm: name, argv: splitWindowsCommandLine(commandLine, name) });
  }
  return table;
}

/** Splits a Windows command line on spaces outside double quotes (enough to find the program and script). */
export function splitWindowsCommandLine(commandLine: string, fallback: string): string[] {
  const argv: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(commandLine); m; m = re.exec(commandLine)) argv.push(m[1] ?? m[2]);
  return argv.length > 0 ? argv : fallback ? [fallback] : [];
}

const PS_ARGS = ['-A', '-o', 'pid=,ppid=,lstart=,args='];
const CIM_ARGS = [
  '-NoProfile',
  '-NonInteractive',
  '-Command',
  'Get-CimInstance Win32_Process | Select-Object ProcessId,ParentProcessId,CreationDate,Name,CommandLine | ConvertTo-Json -Compress',
];

/** Runs a program and returns its stdout (the process table on macOS and Windows). */
function run(program: string, args: string[], timeoutMs: number): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { execFile } = require('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(program, args, { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024, windowsHide: true }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });
}

/** Every process, without blocking the thread for long: /proc read asynchronously, `ps` or CIM elsewhere. */
export async function readProcessTableAsync(platform: NodeJS.Platform = process.platform, proc = '/proc'): Promise<ProcessInfo[]> {
  if (platform === 'darwin') return parsePsOutput(await run('ps', PS_ARGS, 10_000));
  if (platform === 'win32') return parseCimOutput(await run('powershell.exe', CIM_ARGS, 20_000));
  const names = (await fs.promises.readdir(proc)).filter((name) => /^\d+$/.test(name));
  const table: ProcessInfo[] = [];
  // Small batches: many parallel reads would only queue in libuv's pool ahead of other work.
  for (let i = 0; i < names.length; i += 32) {
    const batch = await Promise.all(names.slice(i, i + 32).map((name) => readProcessAsync(Number(name), proc)));
    for (const info of batch) if (info) table.push(info);
  }
  return table;
}

async function readProcessAsync(pid: number, proc: string): Promise<ProcessInfo | undefined> {
  try {
    const stat = parseProcStat(await fs.promises.readFile(path.join(proc, String(pid), 'stat'), 'utf8'));
    if (!stat) return undefined;
    let argv: string[] = [];
    try {
      argv = (await fs.promises.readFile(path.join(proc, String(pid), 'cmdline'), 'utf8')).split('\0').filter((a) => a.length > 0);
    } catch {
      // kernel threads and zombies have no command line
    }
    return { pid: stat.pid, ppid: stat.ppid, startTicks: stat.startTicks, comm: stat.comm, argv, zombie: stat.zombie };
  } catch {
    return undefined;
  }
}

/** The working directory of a process on any platform (macOS via lsof), or undefined when it cannot be known. */
export async function readCwdAsync(pid: number, platform: NodeJS.Platform = process.platform): Promise<string | undefined> {
  if (platform === 'linux') return readCwd(pid);
  if (platform === 'darwin') {
    try {
      const out = await run('lsof', ['-a', '-d', 'cwd', '-p', String(pid), '-Fn'], 5_000);
      const line = out.split('\n').find((l) => l.startsWith('n'));
      return line ? line.slice(1) : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined; // Windows keeps another process's cwd in its PEB: not readable without native code
}

/**
 * Synchronous reads for the stopper, which checks a process right before each signal. Linux reads /proc per pid;
 * macOS and Windows take the whole table (`ps`, CIM), cached for a second so that polling for an exit stays cheap.
 */
export function processReader(platform: NodeJS.Platform = process.platform): { read(pid: number): ProcessInfo | undefined; table(): ProcessInfo[] } {
  if (platform === 'linux') return { read: (pid) => readProcess(pid), table: () => readProcessTable() };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  let cached: { at: number; table: ProcessInfo[] } | undefined;
  const table = (): ProcessInfo[] => {
    if (cached && Date.now() - cached.at < 1000) return cached.table;
    const out =
      platform === 'darwin'
        ? parsePsOutput(execFileSync('ps', PS_ARGS, { encoding: 'utf8', timeout: 10_000 }))
        : parseCimOutput(execFileSync('powershell.exe', CIM_ARGS, { encoding: 'utf8', timeout: 20_000, windowsHide: true, maxBuffer: 32 * 1024 * 1024 }));
    cached = { at: Date.now(), table: out };
    return out;
  };
  return { read: (pid) => table().find((p) => p.pid === pid), table };
}
