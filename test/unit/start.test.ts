// `npm start`'s desktop branch: with a `code` command on PATH it opens VS Code with this folder as a development
// extension (and, without agent logs, the demo logs). A stand-in `code` records what it was given; no real VS Code
// is started (none can be downloaded here), and HOME is a temp folder.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { REPO, tempDir } from './helpers';

describe('npm start', () => {
  it('opens desktop VS Code with the extension under development, on demo logs when there are no agent logs', () => {
    const bin = tempDir('agent-spend-bin-');
    const record = path.join(bin, 'record.json');
    fs.writeFileSync(
      path.join(bin, 'code'),
      `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), claude: process.env.CLAUDE_CONFIG_DIR }));\n`,
      { mode: 0o755 },
    );
    const home = tempDir('agent-spend-home-');
    const run = spawnSync(process.execPath, [path.join(REPO, 'scripts', 'start.js')], {
      env: { PATH: `${bin}${path.delimiter}${process.env.PATH}`, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_DATA_HOME: path.join(home, '.local', 'share') },
      encoding: 'utf8',
      cwd: home,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /no agent logs found on this machine, so showing \d+ sample requests/);
    assert.match(run.stdout, /opening VS Code with Agent Spend as a development extension/);
    const { argv, claude } = JSON.parse(fs.readFileSync(record, 'utf8')) as { argv: string[]; claude: string };
    assert.deepEqual(argv, ['--new-window', `--extensionDevelopmentPath=${REPO}`]);
    assert.ok(fs.readdirSync(path.join(claude, 'projects')).length > 0, 'the demo logs are where VS Code is told to look');
    fs.rmSync(claude, { recursive: true, force: true });
  });
});
