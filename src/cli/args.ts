// Command-line parsing for `agent-spend`. Pure: returns what to do or a usage error (exit 2).

import { LocalCalendar } from '../core/localTime';
import { GROUP_BYS, type GroupBy } from '../core/report';

export const USAGE = `Usage:
  agent-spend report [--json] [--by session|hour|day|model|project|agent]
                     [--since YYYY-MM-DD] [--until YYYY-MM-DD]
                     [--state-dir DIR | --no-state] [--prices FILE]
  agent-spend watch  [--json] [--since ...] [--until ...] [--state-dir DIR | --no-state] [--prices FILE]
  agent-spend --help | --version

Reads Claude Code's logs (CLAUDE_CONFIG_DIR, else $XDG_CONFIG_HOME/claude and ~/.claude) and reports
tokens and cost per session (or per hour, day, model, project, agent). Dates are local calendar days, inclusive.

  --json          one JSON object (report), or one per line on every change (watch)
  --state-dir DIR where the ledger persists (default: $AGENT_SPEND_HOME, else the XDG state dir)
  --no-state      read everything, persist nothing
  --prices FILE   per-model price overrides, USD per million tokens:
                  {"my-model": {"input": 3, "output": 15, "cacheWrite5m": 3.75, "cacheWrite1h": 6, "cacheRead": 0.3}}
                  (also $AGENT_SPEND_PRICES)`;

export interface CliOptions {
  command: 'report' | 'watch' | 'help' | 'version';
  json: boolean;
  by: GroupBy;
  sinceDay?: number;
  untilDay?: number;
  stateDir?: string;
  noState: boolean;
  pricesFile?: string;
}

export class UsageError extends Error {}

export function parseArgs(argv: string[]): CliOptions {
  const options: CliOptions = { command: 'report', json: false, by: 'session', noState: false };
  let commandSeen = false;
  const value = (flag: string, i: number): string => {
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
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
      if (inline !== undefined) return inline;
      const v = value(arg, i);
      i++;
      return v;
    };
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
        if (!arg.startsWith('-') && !commandSeen && (arg === 'report' || arg === 'watch')) {
          if (options.command !== 'help' && options.command !== 'version') options.command = arg;
          commandSeen = true;
          break;
        }
        throw new UsageError(arg.startsWith('-') ? `unknown option ${arg}` : `unknown command "${arg}"`);
    }
  }
  if (options.noState && options.stateDir) throw new UsageError('--no-state and --state-dir cannot be used together');
  if (options.sinceDay !== undefined && options.untilDay !== undefined && options.sinceDay > options.untilDay) {
    throw new UsageError('--since is after --until');
  }
  return options;
}
