// The helpers every adapter shares: where home and the per-user data folders are on each platform.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { homeOf, userDataDir, xdgDataHome } from '../../src/core/sources/source';

describe('source helpers', () => {
  it('home: HOME on Linux and macOS; USERPROFILE first on Windows, where a MSYS shell may set HOME elsewhere', () => {
    const env = { HOME: '/c/msys64/home/ana', USERPROFILE: 'C:\\Users\\ana' };
    assert.equal(homeOf({ env, platform: 'linux' }), '/c/msys64/home/ana');
    assert.equal(homeOf({ env, platform: 'darwin' }), '/c/msys64/home/ana');
    assert.equal(homeOf({ env, platform: 'win32' }), 'C:\\Users\\ana');
    assert.equal(homeOf({ env: { HOME: '/h' }, platform: 'win32' }), '/h', 'HOME when USERPROFILE is missing');
  });

  it('per-user data folders per platform', () => {
    assert.equal(userDataDir({ env: { HOME: '/h' }, platform: 'linux' }), '/h/.local/share');
    assert.equal(userDataDir({ env: { HOME: '/h', XDG_DATA_HOME: '/x' }, platform: 'linux' }), '/x');
    assert.equal(userDataDir({ env: { HOME: '/Users/a' }, platform: 'darwin' }), '/Users/a/Library/Application Support');
    assert.equal(userDataDir({ env: { USERPROFILE: 'C:\\Users\\a', APPDATA: 'C:\\Users\\a\\AppData\\Roaming' }, platform: 'win32' }), 'C:\\Users\\a\\AppData\\Roaming');
    assert.equal(xdgDataHome({ env: { HOME: '/h' } }), '/h/.local/share');
  });
});

describe('the agent list', () => {
  it('names exactly the registered sources, in order, with their labels', async () => {
    const { AGENTS } = await import('../../src/core/agentIds');
    const { ALL_SOURCES } = await import('../../src/core/sources/registry');
    assert.deepEqual(
      AGENTS.map((a) => [a.id, a.label]),
      ALL_SOURCES.map((s) => [s.agent, s.label]),
    );
  });

  it("is what the budgets setting's schema offers for a budget's agents", async () => {
    const { AGENTS } = await import('../../src/core/agentIds');
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    const budget = manifest.contributes.configuration.properties['agentSpend.budgets'].items;
    assert.deepEqual(budget.properties.agents.items.enum, AGENTS.map((a) => a.id));
  });
});
