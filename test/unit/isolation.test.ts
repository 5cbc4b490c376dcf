// The unit tests' own guard: every test process runs with a temp home and no agent folder variables
// (test/unit/isolateEnv.mjs, loaded by `npm test`), so nothing here can read this machine's home or real agent logs,
// even through code that takes process.env as it is (the extension's activation does).

import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../../src/core/engine';

describe('test isolation', () => {
  it('runs with a temp home and no agent folder variables', () => {
    const home = process.env.HOME ?? '';
    assert.ok(home.startsWith(path.join(os.tmpdir(), 'agent-spend-test-home-')), `HOME is ${home}: run the tests with npm test`);
    assert.equal(process.env.CLAUDE_CONFIG_DIR, undefined);
    assert.equal(process.env.CODEX_HOME, undefined);
    assert.equal(os.homedir(), home, 'os.homedir() follows HOME');
  });

  it('an engine given process.env looks only below that temp home', () => {
    const engine = new Engine({ env: process.env, stateDir: null });
    for (const root of engine.watchRoots()) {
      assert.ok(root.startsWith(process.env.HOME!) || !path.isAbsolute(root) || root.startsWith(process.cwd()), root);
    }
  });
});
