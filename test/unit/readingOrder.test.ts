// Reading order must not change the ledger: engines that read as the logs grow (live, or a CLI run after each write)
// against a cold scan of the same files. Cases found by differential fuzzing. Every engine sees only temp folders.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';
import { assistantLine, claudeHome, isolatedEnv, tempDir } from './helpers';

const S = '11111111-1111-4111-8111-111111111111';

/**
 * A session whose message id a gateway gave two main-chain responses (README: they "stay two"), the first replayed
 * by a subagent under a new request id with a larger (final) output count. Returns the environment and the three
 * writes, in the order Claude Code makes them: the first response, the subagent's replay, the second response.
 */
function gatewayAndReplay(): { env: NodeJS.ProcessEnv; writes: Array<() => void> } {
  const { configDir, transcript } = claudeHome();
  const main = transcript(S);
  const subagent = path.join(path.dirname(main), S, 'subagents', 'agent-a1.jsonl');
  const line = (requestId: string, input: number, output: number, isSidechain = false) =>
    `${assistantLine({ sessionId: S, messageId: 'msg_1', requestId, input, output, isSidechain })}\n`;
  return {
    env: isolatedEnv(configDir),
    writes: [
      () => fs.writeFileSync(main, line('req_1', 100, 10)),
      () => {
        fs.mkdirSync(path.dirname(subagent), { recursive: true });
        fs.writeFileSync(subagent, line('req_3', 100, 50, true));
      },
      () => fs.appendFileSync(main, line('req_2', 200, 20)),
    ],
  };
}

function coldTotals(env: NodeJS.ProcessEnv) {
  const cold = new Engine({ env, stateDir: null });
  cold.open();
  cold.scan();
  return cold.report().totals;
}

describe('reading as the logs grow agrees with a cold scan of the same files', () => {
  it('a long-lived engine keeps a gateway-reused message id as two requests after a side chain replayed the first', () => {
    const { env, writes } = gatewayAndReplay();
    const live = new Engine({ env, stateDir: null });
    live.open();
    for (const write of writes) {
      write();
      live.scan();
    }
    const cold = coldTotals(env);
    assert.equal(cold.requests, 2);
    assert.equal(cold.inputTokens, 300);
    // The replay once took the row over, and req_2 was then folded into it: 1 request, 100 input tokens.
    assert.deepEqual(live.report().totals, cold);
  });

  it('so does the CLI run after each write (a deferred start on the saved state)', () => {
    const { env, writes } = gatewayAndReplay();
    const stateDir = tempDir();
    let totals;
    for (const write of writes) {
      write();
      const engine = new Engine({ env, stateDir });
      engine.open({ deferRecords: true });
      engine.scan();
      engine.save();
      totals = engine.report().totals;
    }
    assert.deepEqual(totals, coldTotals(env));
  });
});
