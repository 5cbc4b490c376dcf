// The live path: the engine in its worker thread, chokidar watching, a snapshot per change.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { EngineClient } from '../../src/core/engineClient';
import type { EngineWorkerOptions } from '../../src/core/engineProtocol';
import type { Report } from '../../src/core/report';
import { assistantLine, claudeHome, CLI, isolatedEnv, REPO, tempDir, until } from './helpers';

const S = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';

/** Resolves with the first snapshot that satisfies `until`, or rejects after `ms` (generous: CI is shared). */
function waitFor(snapshots: Report[], subscribe: (f: () => void) => void, until: (r: Report) => boolean, ms = 20000): Promise<Report> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching snapshot in ${ms} ms; last: ${JSON.stringify(snapshots.at(-1)?.totals)}`)), ms);
    const check = () => {
      const hit = snapshots.find(until);
      if (hit) {
        clearTimeout(timer);
        resolve(hit);
      }
    };
    subscribe(check);
    check();
  });
}

/** A watching engine worker over `configDir`, its snapshots and errors, and the subscription waitFor() needs. */
function watching(configDir: string, stateDir: string, onError: (message: string) => void, extra: Partial<EngineWorkerOptions> = {}) {
  const snapshots: Report[] = [];
  let notify = () => {};
  const client = new EngineClient(
    { env: isolatedEnv(configDir), stateDir, watch: true, debounceMs: 20, ...extra },
    { onSnapshot: ({ report }) => (snapshots.push(report), notify()), onError: (e) => (onError(e), notify()) },
    path.join(REPO, 'dist', 'engineWorker.js'),
  );
  return { client, snapshots, subscribe: (f: () => void) => (notify = f) };
}

describe('live updates', () => {
  it('the worker posts a snapshot for an append, a new session file and a new subagent file', async () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: 'm1', output: 1 })}\n`);
    const { client, snapshots, subscribe } = watching(configDir, tempDir(), (e) => assert.fail(e));
    try {
      await waitFor(snapshots, subscribe, (r) => r.totals.outputTokens === 1);
      fs.appendFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: 'm2', output: 10 })}\n`);
      await waitFor(snapshots, subscribe, (r) => r.totals.outputTokens === 11);
      fs.writeFileSync(transcript('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'), `${assistantLine({ messageId: 'm3', output: 100 })}\n`);
      await waitFor(snapshots, subscribe, (r) => r.totals.outputTokens === 111);
      const subagents = path.join(path.dirname(transcript(S)), S, 'subagents');
      fs.mkdirSync(subagents, { recursive: true });
      fs.writeFileSync(path.join(subagents, 'agent-x.jsonl'), `${assistantLine({ messageId: 'm4', output: 1000, isSidechain: true })}\n`);
      const last = await waitFor(snapshots, subscribe, (r) => r.totals.outputTokens === 1111);
      assert.equal(last.sessions.find((s) => s.sessionId === S)?.outputTokens, 1011, 'subagent spend joins its parent session');
    } finally {
      await client.stop();
    }
  });

  it('a log folder deleted and made again is watched again', async () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: 'm1', output: 1 })}\n`);
    const { client, snapshots, subscribe } = watching(configDir, tempDir(), (e) => assert.fail(e), { rootPollMs: 100 });
    try {
      await waitFor(snapshots, subscribe, (r) => r.totals.outputTokens === 1);
      await new Promise((r) => setTimeout(r, 1000)); // the watcher is set up
      fs.rmSync(path.join(configDir, 'projects'), { recursive: true });
      await new Promise((r) => setTimeout(r, 500)); // a few polls see it gone
      fs.mkdirSync(path.dirname(transcript(S)), { recursive: true });
      await new Promise((r) => setTimeout(r, 500)); // and back
      fs.writeFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: 'm2', output: 10 })}\n`);
      await waitFor(snapshots, subscribe, (r) => r.totals.outputTokens === 11, 15000); // well before the 60 s rescan
      fs.appendFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: 'm3', output: 100 })}\n`);
      await waitFor(snapshots, subscribe, (r) => r.totals.outputTokens === 111, 15000);
    } finally {
      await client.stop();
    }
  });

  it('agent-spend watch --json prints one snapshot per change and waits for a log folder that does not exist yet', async () => {
    const configDir = path.join(tempDir(), 'claude'); // not created yet
    const child = spawn(process.execPath, [CLI, 'watch', '--json', '--no-state'], {
      env: { ...isolatedEnv(configDir), PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const snapshots: Report[] = [];
    let notify = () => {};
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    createInterface({ input: child.stdout }).on('line', (line) => {
      snapshots.push(JSON.parse(line));
      notify();
    });
    const subscribe = (f: () => void) => (notify = f);
    try {
      await waitFor(snapshots, subscribe, (r) => r.totals.requests === 0);
      const project = path.join(configDir, 'projects', '-home-ana-src-shop');
      fs.mkdirSync(project, { recursive: true });
      fs.writeFileSync(path.join(project, `${S}.jsonl`), `${assistantLine({ messageId: 'm1', output: 5 })}\n`);
      // The folder is polled for every 5 s until it appears, then watched.
      await waitFor(snapshots, subscribe, (r) => r.totals.outputTokens === 5, 30000);
      fs.appendFileSync(path.join(project, `${S}.jsonl`), `${assistantLine({ messageId: 'm2', output: 6 })}\n`);
      await waitFor(snapshots, subscribe, (r) => r.totals.outputTokens === 11);
      assert.match(stderr, /no logs found under .*; waiting for them to appear/);
    } finally {
      child.kill('SIGTERM'); // by pid: our own child
      await new Promise((resolve) => child.once('exit', resolve));
    }
    assert.equal(child.exitCode, 0, 'watch saves and exits cleanly on SIGTERM');
  });
});

describe('agent-spend watch and its output', () => {
  it('watch piped into a reader that goes away (`| head -1`) quits cleanly', async () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: 'm1', output: 1 })}\n`);
    const child = spawn(process.execPath, [CLI, 'watch', '--json', '--no-state'], {
      env: { ...isolatedEnv(configDir), PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      child.stdout.destroy(); // what `head -1` does once it has its line
      for (let n = 2; n <= 4; n++) {
        fs.appendFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: `m${n}`, output: n })}\n`);
        await new Promise((r) => setTimeout(r, 300));
      }
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 20000))]);
      assert.equal(code, 0, stderr);
      assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); // by pid: our own child
    }
  });
});

describe('a worker that crashes', () => {
  it('is reported as gone, and stopping it afterwards does not wait for an exit that already happened', async () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: 'm1', output: 1 })}\n`);
    const script = path.join(tempDir(), 'crashing.js');
    fs.writeFileSync(script, `require(${JSON.stringify(path.join(REPO, 'dist', 'engineWorker.js'))}); setTimeout(() => { throw new Error('boom'); }, 200);`);
    let exitCode: number | undefined;
    const client = new EngineClient(
      { env: isolatedEnv(configDir), stateDir: tempDir(), watch: true },
      { onSnapshot: () => {}, onError: () => {}, onExit: (code) => (exitCode = code) },
      script,
    );
    await until(() => exitCode, 'onExit after the crash');
    const stopping = Date.now();
    await client.stop();
    assert.ok(Date.now() - stopping < 4000, 'stop() returns at once (it used to wait for its 5 s timeout)');
  });
});

describe('live updates without a state folder', () => {
  it('a state folder that cannot be written does not stop the live updates', async () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: 'm1', output: 1 })}\n`);
    const stateDir = path.join(tempDir(), 'state');
    fs.writeFileSync(stateDir, 'a file where the state folder should be');
    const errors: string[] = [];
    const { client, snapshots, subscribe } = watching(configDir, stateDir, (e) => errors.push(e));
    try {
      await waitFor(snapshots, subscribe, (r) => r.totals.outputTokens === 1);
      fs.appendFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: 'm2', output: 10 })}\n`);
      await waitFor(snapshots, subscribe, (r) => r.totals.outputTokens === 11);
      assert.ok(errors.some((e) => /EEXIST|ENOTDIR|state/.test(e)), `the failed save is reported: ${JSON.stringify(errors)}`);
    } finally {
      await client.stop();
    }
  });
});

describe('two windows', () => {
  it('two engines on one state folder (two VS Code windows) show the same totals and leave a sound state', async () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: 'w0', output: 1 })}\n`);
    const stateDir = tempDir();
    const latest: Report[][] = [[], []];
    const notify = [() => {}, () => {}];
    const clients = [0, 1].map(
      (i) =>
        new EngineClient(
          { env: isolatedEnv(configDir), stateDir, watch: true, debounceMs: 20 },
          { onSnapshot: ({ report }) => (latest[i].push(report), notify[i]()), onError: (e) => assert.fail(e) },
          path.join(REPO, 'dist', 'engineWorker.js'),
        ),
    );
    try {
      for (let n = 1; n <= 5; n++) {
        fs.appendFileSync(transcript(S), `${assistantLine({ sessionId: S, messageId: `w${n}`, output: 10 ** n })}\n`);
      }
      const expected = 1 + 10 + 100 + 1000 + 10000 + 100000;
      await Promise.all([0, 1].map((i) => waitFor(latest[i], (f) => (notify[i] = f), (r) => r.totals.outputTokens === expected)));
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
    }
    // Both saved on stop; whichever wrote last merged the other's records: the state reads back whole.
    const { Engine } = await import('../../src/core/engine');
    const engine = new Engine({ env: isolatedEnv(tempDir()), stateDir });
    engine.open();
    assert.deepEqual(engine.warnings(), []);
    assert.equal(engine.report().totals.requests, 6);
    assert.equal(fs.readdirSync(stateDir).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock')).length, 0);
  });
});
