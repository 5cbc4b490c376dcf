// The process table, for knowing which terminal runs which agent (and, later, for stopping exactly that agent and
// nothing else). Linux reads /proc; the identity of a process is its pid *and* its start time, so that a pid the
// kernel reused for another program is never mistaken for the one chosen earlier.

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): with the pid, a unique identity. */
  startTicks: number;
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
export function parseProcStat(text: string): { pid: number; comm: string; ppid: number; startTicks: number } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); ppid is field 4, starttime field 22.
  const ppid = Number(fields[1]);
  const startTicks = Number(fields[19]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isFinite(startTicks)) return undefined;
  return { pid, comm: text.slice(open + 1, close), ppid, startTicks };
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
    return { pid: stat.pid, ppid: stat.ppid, startTicks: stat.startTicks, comm: stat.comm, argv };
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
  'claude-code': /^claude$/,
  codex: /^codex$/,
  gemini: /^gemini$/,
  aider: /^aider$/,
  opencode: /^opencode$/,
  qwen: /^qwen$/,
  copilot: /^copilot$/,
  goose: /^goose$/,
  crush: /^crush$/,
  amp: /^amp$/,
};

const INTERPRETERS = /^(node|nodejs|bun|deno|python\d*(\.\d+)?|uv|npx|pnpx)$/;

/**
 * Which agent a process is, if any: its program (argv[0], or the comm) matches an agent, or an interpreter runs a
 * script whose name matches one (`node /usr/lib/node_modules/@anthropic-ai/claude-code/cli.js` is not matched by
 * name; `node …/bin/claude` is). Shell-integration command lines are never consulted here.
 */
export function agentOf(p: ProcessInfo, patterns: Record<string, RegExp> = AGENT_PATTERNS): string | undefined {
  const program = path.basename(p.argv[0] ?? p.comm);
  const candidates = [program];
  if (INTERPRETERS.test(program)) {
    const script = p.argv.slice(1).find((a) => !a.startsWith('-'));
    if (script) candidates.push(path.basename(script).replace(/\.(m?js|cjs|py)$/, ''));
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
export function stillTheAgent(chosen: ProcessIdentity & { agent: string }, shellPid: number, proc = '/proc', patterns?: Record<string, RegExp>): boolean {
  if (chosen.pid === shellPid || chosen.pid === process.pid) return false;
  const now = readProcess(chosen.pid, proc);
  if (!now || now.startTicks !== chosen.startTicks) return false;
  if (agentOf(now, patterns) !== chosen.agent) return false;
  // Walk up to the shell: being a descendant is checked on the live table, not remembered.
  let current: ProcessInfo | undefined = now;
  for (let hops = 0; current && hops < 64; hops++) {
    if (current.ppid === shellPid) return true;
    if (current.ppid <= 1) return false;
    current = readProcess(current.ppid, proc);
  }
  return false;
}
