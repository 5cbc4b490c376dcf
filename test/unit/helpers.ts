// Test helpers. Every test points the engine at fixtures or temp folders: HOME and CLAUDE_CONFIG_DIR are always
// set, so no test can read the real home directory or real agent logs.

import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { Engine, type EngineOptions } from '../../src/core/engine';
import { descendants, readProcessTable } from '../../src/core/processes';
import type { Source } from '../../src/core/sources/source';

export const REPO = path.resolve(__dirname, '..', '..');
export const FIXTURES = path.join(REPO, 'test', 'fixtures', 'claude-code');
export const CLI = path.join(REPO, 'dist', 'cli.js');

/** A fresh temp folder, removed when the test file ends. */
export function tempDir(prefix = 'agent-spend-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A writable copy of the folder `source` in a fresh temp folder (tests that write never touch committed fixtures). */
export function copyDir(source: string, prefix?: string): string {
  const dir = tempDir(prefix);
  fs.cpSync(source, dir, { recursive: true });
  return dir;
}

/** An environment that can only see `configDir` (and an empty temp HOME). */
export function isolatedEnv(configDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const home = tempDir('agent-spend-home-');
  return { HOME: home, USERPROFILE: home, XDG_CONFIG_HOME: path.join(home, '.config'), CLAUDE_CONFIG_DIR: configDir, ...extra };
}

/**
 * An environment with an empty temp HOME (also USERPROFILE), XDG_CONFIG_HOME and XDG_DATA_HOME below it, and `vars`
 * (typically the one variable naming the agent's folder): nothing of this machine's home or variables.
 */
export function agentEnv(vars: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const home = tempDir('agent-spend-home-');
  return { HOME: home, USERPROFILE: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_DATA_HOME: path.join(home, '.local', 'share'), ...vars };
}

/** An opened engine that reads only `sources`, sees only `env` and keeps its state in memory (unless `options` say). */
export function sourceEngine(sources: readonly Source[], env: NodeJS.ProcessEnv, options: Partial<EngineOptions> = {}): Engine {
  const engine = new Engine({ env, stateDir: null, sources, ...options });
  engine.open();
  return engine;
}

/** A state folder holding what a first (cold) scan of every log `env` shows saved; returns the folder. */
export function savedColdScan(env: NodeJS.ProcessEnv, options: Partial<EngineOptions> = {}): string {
  const stateDir = tempDir();
  const cold = new Engine({ env, stateDir, ...options });
  cold.open();
  cold.scan();
  cold.save();
  return stateDir;
}

/** Scans with `engine`, then returns it with the scan's result and the report that follows. */
export function scanReport(engine: Engine) {
  const scan = engine.scan();
  return { engine, scan, report: engine.report() };
}

export function engineFor(configDir: string, options: Partial<EngineOptions> = {}): Engine {
  const engine = new Engine({ env: isolatedEnv(configDir), stateDir: null, ...options });
  engine.open();
  return engine;
}

/** Scans a fixture folder in memory and returns its report. */
export function reportOf(fixture: string, options: Partial<EngineOptions> = {}) {
  return scanReport(engineFor(path.join(FIXTURES, fixture), options));
}

let counter = 0;

/** One Claude Code assistant line, shaped like the real thing. */
export function assistantLine(options: {
  sessionId?: string;
  cwd?: string;
  messageId?: string;
  requestId?: string | null;
  timestamp?: string;
  model?: string;
  input?: number;
  output?: number;
  cacheWrite?: number;
  cacheRead?: number;
  content?: unknown;
  isSidechain?: boolean;
}): string {
  counter++;
  const line: Record<string, unknown> = {
    parentUuid: null,
    isSidechain: options.isSidechain ?? false,
    userType: 'external',
    cwd: options.cwd ?? '/home/ana/src/shop',
    sessionId: options.sessionId ?? '11111111-1111-4111-8111-111111111111',
    version: '2.1.90',
    gitBranch: 'main',
  };
  // Key order as Claude Code writes it: message, then requestId, type, uuid, timestamp.
  line.message = {
    id: options.messageId ?? `msg_${counter}`,
    type: 'message',
    role: 'assistant',
    model: options.model ?? 'claude-sonnet-4-5-20250929',
    content: options.content ?? [{ type: 'text', text: 'ok' }],
    stop_reason: null,
    stop_sequence: null,
    usage: {
      input_tokens: options.input ?? 10,
      cache_creation_input_tokens: options.cacheWrite ?? 0,
      cache_read_input_tokens: options.cacheRead ?? 0,
      cache_creation: { ephemeral_5m_input_tokens: options.cacheWrite ?? 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: options.output ?? 20,
      service_tier: 'standard',
    },
  };
  if (options.requestId !== null) line.requestId = options.requestId ?? `req_${counter}`;
  line.type = 'assistant';
  line.uuid = `uuid-${counter}`;
  line.timestamp = options.timestamp ?? '2026-07-01T10:00:00.000Z';
  return JSON.stringify(line);
}

/** A Claude Code config dir with one project folder; returns the transcript path for a session. */
export function claudeHome(): { configDir: string; transcript: (session: string) => string } {
  const configDir = tempDir('agent-spend-claude-');
  const project = path.join(configDir, 'projects', '-home-ana-src-shop');
  fs.mkdirSync(project, { recursive: true });
  return { configDir, transcript: (session) => path.join(project, `${session}.jsonl`) };
}

/** Polls `probe` until it returns a value (25 ms apart), or fails naming `what`. */
export async function until<T>(probe: () => T | undefined, what: string, tries = 400): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Processes a test starts, stopped by pid when the file ends: each is frozen first (so that it cannot start another
 * child meanwhile), then its descendants and itself are killed. Nothing the test did not start is touched.
 */
export function ownProcesses(): ChildProcess[] {
  const spawned: ChildProcess[] = [];
  after(() => {
    for (const child of spawned) {
      if (!child.pid || child.exitCode !== null || child.signalCode !== null) continue;
      const signal = (pid: number, name: NodeJS.Signals) => {
        try {
          process.kill(pid, name);
        } catch {
          // already gone
        }
      };
      signal(child.pid, 'SIGSTOP');
      for (const own of descendants(readProcessTable(), child.pid)) signal(own.pid, 'SIGSTOP');
      for (const own of descendants(readProcessTable(), child.pid)) signal(own.pid, 'SIGKILL');
      signal(child.pid, 'SIGKILL');
    }
  });
  return spawned;
}
