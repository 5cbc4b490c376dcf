// The CLI's report cache (src/cli/reportCache.ts): a `report --json` of a ledger that has not changed is served from
// the state folder, and it is never served when anything that shapes the report changed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { assistantLine, claudeHome, CLI, isolatedEnv, tempDir } from './helpers';

const S = '55555555-5555-4555-8555-555555555555';

/** One working folder for every run: Aider and Crush look in it, and a new one would change what is read. */
const CWD = tempDir('agent-spend-cwd-');

function report(args: string[], env: NodeJS.ProcessEnv): { json: Record<string, unknown>; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, 'report', '--json', ...args], {
    env: { PATH: process.env.PATH, AGENT_SPEND_DEBUG: '1', ...env },
    encoding: 'utf8',
    cwd: CWD,
  });
  assert.equal(run.status, 0, run.stderr);
  return { json: JSON.parse(run.stdout), stderr: run.stderr };
}

function withoutTime(json: Record<string, unknown>): Record<string, unknown> {
  const { generatedAt, ...rest } = json;
  assert.match(String(generatedAt), /^\d{4}-\d\d-\d\dT/);
  return rest;
}

describe('report cache', () => {
  it('serves an unchanged ledger from the cache, with a fresh generatedAt, and the same report', async () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ messageId: 'm1', output: 5, sessionId: S })}\n`);
    const stateDir = tempDir('agent-spend-state-');
    const env = isolatedEnv(configDir);
    const first = report(['--state-dir', stateDir], env);
    const cacheFile = path.join(stateDir, 'report-cache.txt');
    assert.ok(fs.existsSync(cacheFile), 'the first report is cached');
    const cachedBefore = fs.statSync(cacheFile).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    const second = report(['--state-dir', stateDir], env);
    assert.deepEqual(withoutTime(second.json), withoutTime(first.json));
    assert.notEqual(second.json.generatedAt, first.json.generatedAt);
    assert.equal(fs.statSync(cacheFile).mtimeMs, cachedBefore, 'a hit does not rewrite the cache');
  });

  it('prints a cached report whole, one line, to a pipe and to a file alike', () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ messageId: 'm1', output: 5, sessionId: S })}\n`);
    const stateDir = tempDir('agent-spend-state-');
    const env = isolatedEnv(configDir);
    const first = report(['--state-dir', stateDir], env);
    const piped = spawnSync(process.execPath, [CLI, 'report', '--json', '--state-dir', stateDir], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', cwd: CWD });
    assert.match(piped.stdout, /^\{.*\}\n$/s);
    const out = path.join(tempDir(), 'report.json');
    const fd = fs.openSync(out, 'w');
    try {
      const toFile = spawnSync(process.execPath, [CLI, 'report', '--json', '--state-dir', stateDir], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', fd, 'pipe'], cwd: CWD });
      assert.equal(toFile.status, 0, String(toFile.stderr));
    } finally {
      fs.closeSync(fd);
    }
    const written = fs.readFileSync(out, 'utf8');
    assert.match(written, /^\{.*\}\n$/s);
    for (const text of [piped.stdout, written]) assert.deepEqual(withoutTime(JSON.parse(text)), withoutTime(first.json));
  });

  it('is not served after new usage, for another question, or when the cache file is damaged', () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ messageId: 'm1', output: 5, sessionId: S })}\n`);
    const stateDir = tempDir('agent-spend-state-');
    const env = isolatedEnv(configDir);
    report(['--state-dir', stateDir], env);

    fs.appendFileSync(transcript(S), `${assistantLine({ messageId: 'm2', output: 7, sessionId: S })}\n`);
    const afterAppend = report(['--state-dir', stateDir], env).json as { totals: { outputTokens: number; requests: number } };
    assert.equal(afterAppend.totals.outputTokens, 12);
    assert.equal(afterAppend.totals.requests, 2);

    const byModel = report(['--state-dir', stateDir, '--by', 'model'], env).json as { groups?: { by: string } };
    assert.equal(byModel.groups?.by, 'model', 'a different query is not answered from the cache');
    const since = report(['--state-dir', stateDir, '--since', '2099-01-01'], env).json as { totals: { requests: number } };
    assert.equal(since.totals.requests, 0);

    const cacheFile = path.join(stateDir, 'report-cache.txt');
    const intact = fs.readFileSync(cacheFile);
    for (const damaged of [intact.subarray(0, intact.length - 10), Buffer.concat([intact, Buffer.from('x')]), Buffer.from('garbage'), Buffer.alloc(0)]) {
      fs.writeFileSync(cacheFile, damaged);
      const again = report(['--state-dir', stateDir, '--since', '2099-01-01'], env).json as { totals: { requests: number }; since: string };
      assert.equal(again.totals.requests, 0);
      assert.equal(again.since, '2099-01-01');
    }
    const whole = report(['--state-dir', stateDir], env).json as { totals: { requests: number } };
    assert.equal(whole.totals.requests, 2);
  });

  it('a price change is a different question', () => {
    const { configDir, transcript } = claudeHome();
    fs.writeFileSync(transcript(S), `${assistantLine({ messageId: 'm1', input: 0, output: 1_000_000, cacheWrite: 0, cacheRead: 0, sessionId: S, model: 'acme-coder-9000' })}\n`);
    const stateDir = tempDir('agent-spend-state-');
    const env = isolatedEnv(configDir);
    const unpriced = report(['--state-dir', stateDir], env).json as { totals: { costUsd: number | null } };
    assert.equal(unpriced.totals.costUsd, null);
    const prices = path.join(tempDir(), 'prices.json');
    fs.writeFileSync(prices, JSON.stringify({ 'acme-coder-9000': { input: 1, output: 2 } }));
    const priced = report(['--state-dir', stateDir, '--prices', prices], env).json as { totals: { costUsd: number | null } };
    assert.equal(priced.totals.costUsd, 2);
  });
});
