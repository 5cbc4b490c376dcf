// Which running agent process wrote which log session, and which processes a budget at its cap should stop.
// Pure: the running agents (found below VS Code terminals) and the sessions (from the ledger) in, decisions out.
//
// Evidence, strongest first:
//  1. the process holds the session's log open (Codex keeps its rollout file open; /proc/<pid>/fd);
//  2. Claude Code's ~/.claude/sessions/<pid>.json names the session, and no newer session in the same folder
//     started since the process did (the file goes stale after /clear and --continue);
//  3. the process's working directory is the session's recorded cwd, and it is the only such process.
// A session that cannot be tied to exactly one process is never stopped automatically: the user picks.

import type { Budget } from './budget';
import { budgetAgents, inWorkspace } from './budget';

export interface RunningAgent {
  /** Identifies the VS Code terminal (the host's own id for it). */
  terminalId: string;
  terminalName: string;
  /** The terminal's shell (`Terminal.processId`). */
  shellPid: number;
  pid: number;
  startTicks: number;
  agent: string;
  /** When the process started, ms since the epoch (when the platform tells). */
  startedAtMs?: number;
  cwd?: string;
  /** Files the process holds open (Linux), for agents that keep their log open. */
  openFiles?: string[];
  /** The session Claude Code's `sessions/<pid>.json` names for this process. */
  sessionHint?: string;
}

export interface SessionActivity {
  agent: string;
  sessionId: string;
  project: string;
  firstAt: number;
  lastAt: number;
}

export type Evidence = 'open-log' | 'session-file' | 'cwd';

export type Mapping =
  | { kind: 'mapped'; process: RunningAgent; evidence: Evidence }
  | { kind: 'ambiguous'; candidates: RunningAgent[] }
  | { kind: 'none' };

function samePath(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const norm = (p: string) => p.replace(/[\\/]+$/, '');
  return norm(a) === norm(b);
}

function holdsLogOf(process: RunningAgent, sessionId: string): boolean {
  // Session ids are UUIDs or long ids; a short or empty one would match any file name.
  if (sessionId.length < 8) return false;
  return !!process.openFiles?.some((file) => {
    const name = file.slice(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);
    return name.includes(sessionId);
  });
}

/**
 * The session file's claim holds unless another session of the same agent in the same folder began after the
 * process started and was written after the claimed one: then the process moved on (`/clear`) and the file is stale.
 */
function hintIsFresh(process: RunningAgent, session: SessionActivity, sessions: SessionActivity[]): boolean {
  if (process.sessionHint !== session.sessionId) return false;
  const since = process.startedAtMs ?? 0;
  return !sessions.some(
    (other) =>
      other.sessionId !== session.sessionId &&
      other.agent === session.agent &&
      samePath(other.project, session.project) &&
      other.firstAt >= since &&
      other.lastAt > session.lastAt,
  );
}

/** Ties one session to the process that runs it, or says why it cannot. */
export function mapSession(session: SessionActivity, running: RunningAgent[], sessions: SessionActivity[]): Mapping {
  const ofAgent = running.filter((p) => p.agent === session.agent);
  const openLog = ofAgent.filter((p) => holdsLogOf(p, session.sessionId));
  if (openLog.length === 1) return { kind: 'mapped', process: openLog[0], evidence: 'open-log' };
  if (openLog.length > 1) return { kind: 'ambiguous', candidates: openLog };
  const claimed = ofAgent.filter((p) => hintIsFresh(p, session, sessions));
  if (claimed.length === 1) return { kind: 'mapped', process: claimed[0], evidence: 'session-file' };
  // A process whose fresh claim is another session is not this one's, even in the same folder.
  const claimsAnother = (p: RunningAgent): boolean =>
    !!p.sessionHint &&
    p.sessionHint !== session.sessionId &&
    sessions.some((s) => s.sessionId === p.sessionHint && s.agent === p.agent && hintIsFresh(p, s, sessions));
  const inFolder = ofAgent.filter((p) => samePath(p.cwd, session.project) && !claimsAnother(p));
  // The folder alone is weak: never enough for a process whose own evidence names another session (its session
  // file, even for a session with no usage yet, or another session's log held open). Such a one is only offered.
  const namesAnother = (p: RunningAgent): boolean =>
    (!!p.sessionHint && p.sessionHint !== session.sessionId) ||
    sessions.some((s) => s.agent === session.agent && s.sessionId !== session.sessionId && holdsLogOf(p, s.sessionId)) ||
    !!p.openFiles?.some((file) => /(^|[\\/])rollout-[^\\/]*\.jsonl$/.test(file) && !(session.sessionId.length >= 8 && file.includes(session.sessionId)));
  if (inFolder.length === 1 && claimed.length === 0 && !namesAnother(inFolder[0])) return { kind: 'mapped', process: inFolder[0], evidence: 'cwd' };
  const candidates = claimed.length > 1 ? claimed : inFolder;
  return candidates.length > 0 ? { kind: 'ambiguous', candidates } : { kind: 'none' };
}

export interface CapTargets {
  /** Processes to act on without asking. */
  targets: RunningAgent[];
  /** Processes that may be the one, but the evidence does not say which: offered in a pick list, never automatic. */
  ambiguous: RunningAgent[];
  /** Why nothing (or not everything) is targeted, for the notification and the log. */
  note?: string;
}

/**
 * Which running agents a budget at its cap concerns. A session budget: the one process running that session. A
 * calendar or block budget: every running agent it counts (its agents filter; for `scope: workspace`, agents working
 * inside a workspace folder, so one whose folder is unknown is only offered).
 */
export function capTargets(
  budget: Budget,
  session: { agent?: string; sessionId?: string } | undefined,
  running: RunningAgent[],
  sessions: SessionActivity[],
  workspaceFolders: string[],
): CapTargets {
  const agents = budgetAgents(budget); // a 5-hour block naming none: Claude Code's, the only requests it counts
  const counted = running.filter((p) => !agents || agents.includes(p.agent));
  if (budget.period === 'session') {
    const activity = sessions.find((s) => s.sessionId === session?.sessionId && s.agent === session?.agent);
    if (!activity) return { targets: [], ambiguous: [], note: 'the session is not known to be running in a VS Code terminal' };
    const mapping = mapSession(activity, counted, sessions);
    if (mapping.kind === 'mapped') return { targets: [mapping.process], ambiguous: [] };
    if (mapping.kind === 'ambiguous') {
      return { targets: [], ambiguous: mapping.candidates, note: `${mapping.candidates.length} processes could be running this session` };
    }
    return { targets: [], ambiguous: [], note: 'no VS Code terminal is running this session' };
  }
  if (budget.scope !== 'workspace') return { targets: counted, ambiguous: [] };
  const targets = counted.filter((p) => p.cwd !== undefined && inWorkspace(p.cwd, workspaceFolders));
  const ambiguous = counted.filter((p) => p.cwd === undefined);
  return { targets, ambiguous, ...(ambiguous.length ? { note: `the folder of ${ambiguous.length} agent(s) is unknown` } : {}) };
}
