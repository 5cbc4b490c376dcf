// Runs the engine in its worker thread and turns its messages into callbacks. Used by the extension host and by
// `agent-spend watch`.

import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { EngineWorkerOptions, FromWorker, ToWorker } from './engineProtocol';
import type { MeterOptions } from './meter';
import type { ReportQuery } from './report';

export interface EngineClientHandlers {
  onSnapshot(message: Extract<FromWorker, { type: 'snapshot' }>): void;
  onProgress?(message: Extract<FromWorker, { type: 'progress' }>): void;
  onLog?(message: string): void;
  onError?(message: string): void;
  /** The worker ended without being asked to (a crash, out of memory): no more snapshots will come from it. */
  onExit?(code: number): void;
}

export class EngineClient {
  private readonly worker: Worker;
  private stopped: Promise<void> | null = null;
  private exited = false;

  /** `workerScript` defaults to engineWorker.js beside the running bundle (dist/). */
  constructor(
    options: EngineWorkerOptions,
    private readonly handlers: EngineClientHandlers,
    workerScript = path.join(__dirname, 'engineWorker.js'),
  ) {
    // Required here, not at the top: the CLI bundles this module, and its one-shot `report` starts no thread.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Worker: WorkerThread } = require('node:worker_threads') as typeof import('node:worker_threads');
    this.worker = new WorkerThread(workerScript);
    this.worker.on('message', (message: FromWorker) => this.dispatch(message));
    this.worker.on('error', (error) => handlers.onError?.(error.stack ?? String(error)));
    this.worker.on('exit', (code) => {
      this.exited = true;
      if (!this.stopped) handlers.onExit?.(code);
    });
    this.send({ type: 'init', options });
  }

  private dispatch(message: FromWorker): void {
    switch (message.type) {
      case 'snapshot':
        this.handlers.onSnapshot(message);
        break;
      case 'progress':
        this.handlers.onProgress?.(message);
        break;
      case 'log':
        this.handlers.onLog?.(message.message);
        break;
      case 'error':
        this.handlers.onError?.(message.message);
        break;
      case 'stopped':
        break;
    }
  }

  private send(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  setQuery(query: ReportQuery): void {
    this.send({ type: 'query', query });
  }

  setMeter(meter: MeterOptions): void {
    this.send({ type: 'meter', meter });
  }

  refresh(): void {
    this.send({ type: 'refresh' });
  }

  /** Saves the ledger and ends the worker; resolves once it has exited. */
  stop(): Promise<void> {
    if (!this.stopped && this.exited) this.stopped = Promise.resolve(); // nothing left to wait for
    if (!this.stopped) {
      this.stopped = new Promise<void>((resolve) => {
        const timeout = setTimeout(() => void this.worker.terminate().then(() => resolve()), 5000);
        this.worker.once('exit', () => {
          clearTimeout(timeout);
          resolve();
        });
        this.send({ type: 'stop' });
      });
    }
    return this.stopped;
  }
}
