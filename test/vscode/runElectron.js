// The extension-host suite under @vscode/test-electron, for machines that can download VS Code (desktop, CI with
// internet). Offline, point VSCODE_EXECUTABLE_PATH at test/vscode/codeShim.sh: runTests() then hands its arguments
// to the shim, which runs the same suite in the VS Code server.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runTests } = require('@vscode/test-electron');

async function main() {
  const repo = path.resolve(__dirname, '..', '..');
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-spend-electron-'));
  const transcript = path.join(state, 'claude', 'projects', '-work-shop', 'ffffffff-ffff-4fff-8fff-ffffffffffff.jsonl');
  require('node:child_process').execFileSync(process.execPath, [path.join(__dirname, 'makeFixture.js'), transcript]);
  const workspace = path.join(state, 'workspace');
  fs.mkdirSync(workspace, { recursive: true });
  try {
    await runTests({
      ...(process.env.VSCODE_EXECUTABLE_PATH ? { vscodeExecutablePath: process.env.VSCODE_EXECUTABLE_PATH } : {}),
      extensionDevelopmentPath: repo,
      extensionTestsPath: path.join(__dirname, 'suite', 'index.js'),
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--user-data-dir', path.join(state, 'user-data')],
      // The extension reads only the fixture; HOME is the run's own so nothing else can be seen.
      extensionTestsEnv: { CLAUDE_CONFIG_DIR: path.join(state, 'claude'), AGENT_SPEND_TEST_TRANSCRIPT: transcript, HOME: state },
    });
  } finally {
    fs.rmSync(state, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`[vscode-tests] ${error.message ?? error}`);
  process.exit(1);
});
