// Command-line parsing for `agent-spend`. Pure: returns what to do or a usage error (exit 2).

import { LocalCalendar } from '../core/localTime';
import { GROUP_BYS, type GroupBy } from '../core/report';
import { ALL_SOURCES } from '../core/sources/registry';

const AGENT_IDS = ALL_SOURCES.map((source) => source.agent);

/** `text` in lines of at most `width` characters, broken at spaces. */
function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line].join('\n');
}

const LABELS = ALL_SOURCES.map((source) => source.label);

export const USAGE = `Usage:
  agent-spend report [--json] [--by session|hour|day|model|project|agent]
                     [--since YYYY-MM-DD] [--until YYYY-MM-DD]
                     [--state-dir DIR | --no-state] [--prices FILE] [agent options]
  agent-spend watch  [--json] [--since ...] [--until ...] [--state-dir DIR | --no-state] [--prices FILE] [agent options]
  agent-spend agents [--json] [agent options]     which agents are read, and from where
  agent-spend --help | --version

${wrap(
  `Reads the logs of ${LABELS.slice(0, -1).join(', ')} and ${LABELS[LABELS.length - 1]} from where each keeps them ` +
    '(honouring CLAUDE_CONFIG_DIR, CODEX_HOME, ...) and reports tokens and cost per session (or per hour, day, model, ' +
    'project, agent). Dates are local calendar days, inclusive.',
  114,
)}

  --json          one JSON object (report), or one per line on every change (watch)
  --state-dir DIR where the ledger persists (default: $AGENT_SPEND_HOME, else the XDG state dir)
  --no-state      read everything, persist nothing
  --prices FILE   per-model price overrides, USD per million tokens:
                  {"my-model": {"input": 3, "output": 15, "cacheWrite5m": 3.75, "cacheWrite1h": 6, "cacheRead": 0.3}}
                  (also $AGENT_SPEND_PRICES)

Agent options:
  --agent ID      read only this agent (repeatable, or comma-separated: --agent claude-code,codex)
  --no-agent ID   do not read this agent (repeatable)
  --dir ID=DIR    also read this agent's logs from DIR (repeatable)
  --project DIR   a project folder, for agents that log inside projects (Aider, Crush); default: the current folder`;

export interface CliOptions {
  command: 'report' | 'watch' | 'agents' | 'help' | 'version';
  json: boolean;
  by: GroupBy;
  sinceDay?: number;
  untilDay?: number;
  stateDir?: string;
  noState: boolean;
  pricesFile?: string;
  /** Only these agents, when given. */
  onlyAgents?: string[];
  skipAgents: string[];
  /** Extra folders per agent id. */
  dirs: Record<string, string[]>;
  projects: string[];
}

const FLAGS_WITHOUT_VALUE = new Set(['--help', '--version', '--json', '--no-state']);

export class UsageError extends Error {}

/** Agent ids as given (comma-separated allowed), each checked against the agents Agent Spend knows. */
function agentIds(flag: string, text: string): string[] {
  const ids = text.split(',').map((id) => id.trim()).filter(Boolean);
  if (ids.length === 0) throw new UsageError(`${flag} needs an agent id`);
  for (const id of ids) {
    if (!AGENT_IDS.includes(id)) throw new UsageError(`${flag}: unknown agent "${id}" (known: ${AGENT_IDS.join(', ')})`);
  }
  return ids;
}

export function parseArgs(argv: string[]): CliOptions {
  const options: CliOptions = { command: 'report', json: false, by: 'session', noState: false, skipAgents: [], dirs: {}, projects: [] };
  let commandSeen = false;
  const value = (flag: string, i: number): string => {
    const next = argv[i + 1];
    if (next === undefined || next === '' || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return next;
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const take = (): string => {
      if (inline !== undefined) {
        if (inline === '') throw new UsageError(`${arg} needs a value`);
        return inline;
      }
      const v = value(arg, i);
      i++;
      return v;
    };
    if (inline !== undefined && FLAGS_WITHOUT_VALUE.has(arg)) throw new UsageError(`${arg} takes no value (got "${arg}=${inline}")`);
    switch (arg) {
      case '-h':
      case '--help':
        options.command = 'help';
        break;
      case '-v':
      case '--version':
        options.command = 'version';
        break;
      case '--json':
        options.json = true;
        break;
      case '--no-state':
        options.noState = true;
        break;
      case '--state-dir':
        options.stateDir = take();
        break;
      case '--prices':
        options.pricesFile = take();
        break;
      case '--agent':
        options.onlyAgents = [...(options.onlyAgents ?? []), ...agentIds(arg, take())];
        break;
      case '--no-agent':
        options.skipAgents.push(...agentIds(arg, take()));
        break;
      case '--dir': {
        const text = take();
        const eq = text.indexOf('=');
        if (eq <= 0 || eq === text.length - 1) throw new UsageError(`--dir expects AGENT=FOLDER, e.g. --dir codex=/mnt/old/.codex/sessions (got "${text}")`);
        const [agent] = agentIds(arg, text.slice(0, eq));
        (options.dirs[agent] ??= []).push(text.slice(eq + 1));
        break;
      }
      case '--project':
        options.projects.push(take());
        break;
      case '--by': {
        const by = take();
        if (!GROUP_BYS.includes(by as GroupBy)) throw new UsageError(`--by must be one of ${GROUP_BYS.join(', ')} (got "${by}")`);
        options.by = by as GroupBy;
        break;
      }
      case '--since':
      case '--until': {
        const text = take();
        const day = LocalCalendar.parseDay(text);
        if (day === undefined) throw new UsageError(`${arg} expects a date as YYYY-MM-DD (got "${text}")`);
        if (arg === '--since') options.sinceDay = day;
        else options.untilDay = day;
        break;
      }
      default:
        if (!arg.startsWith('-') && !commandSeen && (arg === 'report' || arg === 'watch' || arg === 'agents')) {
          if (options.command !== 'help' && options.command !== 'version') options.command = arg;
          commandSeen = true;
          break;
        }
        if (commandSeen && (arg === 'report' || arg === 'watch' || arg === 'agents')) throw new UsageError(`one command at a time (got "${arg}" after another)`);
        throw new UsageError(arg.startsWith('-') ? `unknown option ${arg}` : `unknown command "${arg}"`);
    }
  }
  if (options.noState && options.stateDir) throw new UsageError('--no-state and --state-dir cannot be used together');
  if (options.sinceDay !== undefined && options.untilDay !== undefined && options.sinceDay > options.untilDay) {
    throw new UsageError('--since is after --until');
  }
  return options;
}
