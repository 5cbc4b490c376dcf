// The engine, for the extension: its worker thread, fed the settings, its snapshots as an event. Activation does
// no scanning; the worker starts reading once created and posts the first snapshot when done.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { EngineClient } from '../core/engineClient';
import type { FromWorker } from '../core/engineProtocol';
import type { MeterOptions } from '../core/meter';
import type { ReportQuery } from '../core/report';
import type { AgentSpendConfig } from './config';
import { Disposable } from './lifecycle';

export type Snapshot = Extract<FromWorker, { type: 'snapshot' }>;

export class EngineService extends Disposable {
  private client: EngineClient | null = null;
  /** The stops of every worker stopped so far (see shutdown()). */
  private stopping: Promise<void> = Promise.resolve();
  private readonly snapshotEmitter = this.register(new vscode.EventEmitter<Snapshot>());
  private readonly progressEmitter = this.register(new vscode.EventEmitter<{ filesDone: number; filesTotal: number }>());
  readonly onSnapshot = this.snapshotEmitter.event;
  readonly onProgress = this.progressEmitter.event;
  latest: Snapshot | undefined;
  private query: ReportQuery = {};

  constructor(
    private readonly storageDir: string,
    private readonly extensionDir: string,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
  }

  /** What the worker was started with: a change of any of it restarts the worker (folders to watch change). */
  private startedWith = '';

  /** Whether these settings need a restart (log locations changed) rather than a reconfigure. */
  needsRestart(config: AgentSpendConfig): boolean {
    return startKey(config) !== this.startedWith;
  }

  /** Starts (or restarts, when the log locations changed) the worker with these settings. */
  start(config: AgentSpendConfig): void {
    this.crashes = 0;
    this.launch(config);
  }

  /** Restarts after unexpected exits so far (a few are retried, then the error stays in the log). */
  private crashes = 0;

  private launch(config: AgentSpendConfig): void {
    this.startedWith = startKey(config);
    this.stopClient();
    const env: Record<string, string | undefined> = { ...process.env };
    if (config.claudeConfigDir) env.CLAUDE_CONFIG_DIR = config.claudeConfigDir;
    this.log.info(`starting the engine (state in ${this.storageDir})`);
    const client: EngineClient = new EngineClient(
      {
        env,
        stateDir: path.join(this.storageDir, 'state'),
        cacheDir: path.join(this.storageDir, 'cache'),
        watch: true,
        agents: config.agents,
        workspaceFolders: workspaceFolders(),
        meter: meterOptions(config),
        groups: true,
        query: this.query,
      },
      {
        onSnapshot: (snapshot) => {
          if (client !== this.client) return; // a worker being stopped (restart, dispose): its totals are stale
          this.latest = snapshot;
          this.snapshotEmitter.fire(snapshot);
        },
        onProgress: ({ progress }) => this.progressEmitter.fire(progress),
        onLog: (line) => this.log.info(line),
        onError: (message) => this.log.error(message),
        onExit: (code) => {
          if (client !== this.client) return;
          this.client = null;
          this.log.error(`the engine stopped unexpectedly (exit code ${code})`);
          if (this.crashes >= 3) return;
          this.crashes++;
          setTimeout(() => {
            if (!this.isDisposed && this.client === null) this.launch(config);
          }, 1000 * this.crashes);
        },
      },
      path.join(this.extensionDir, 'dist', 'engineWorker.js'),
    );
    this.client = client;
  }

  /** New budgets or week start: the worker recomputes without reading anything again. */
  configure(config: AgentSpendConfig): void {
    this.client?.setMeter(meterOptions(config));
  }

  refresh(): void {
    this.client?.refresh();
  }

  /** The period the breakdown shows (local days, inclusive). */
  setQuery(query: ReportQuery): void {
    this.query = query;
    this.client?.setQuery(query);
  }

  private stopClient(): void {
    void this.shutdown();
  }

  /**
   * Stops the worker; resolves once it and any worker a restart stopped before it have saved and exited (or were
   * terminated after 5 s). Called again, or after dispose(), it answers the stops already on their way.
   */
  shutdown(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) {
      const stopped = client.stop();
      this.stopping = Promise.all([this.stopping, stopped]).then(() => undefined);
    }
    return this.stopping;
  }

  override dispose(): void {
    this.stopClient();
    super.dispose();
  }
}

export function workspaceFolders(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath);
}

function startKey(config: AgentSpendConfig): string {
  return JSON.stringify([config.claudeConfigDir, config.agents, workspaceFolders()]);
}

function meterOptions(config: AgentSpendConfig): MeterOptions {
  return { budgets: config.budgets, weekStartsOn: config.weekStartsOn, workspaceFolders: workspaceFolders() };
}
