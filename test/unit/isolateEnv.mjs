// Loaded before every unit test process (`npm test`: node --import ./test/unit/isolateEnv.mjs): the process starts
// with a home folder of its own and none of the variables that name an agent's folder, so that code reading
// process.env (the extension's activation, a default engine) sees temp folders, never this machine's home or its
// agents' real logs. Tests that need a folder set it in the environment they pass.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const AGENT_FOLDERS = [
  'AGENT_SPEND_CACHE_DIR', 'AGENT_SPEND_HOME', 'AIDER_ANALYTICS_LOG', 'AIDER_CHAT_HISTORY_FILE', 'AMP_DATA_DIR',
  'CLAUDE_CONFIG_DIR', 'CLINE_DATA_DIR', 'CLINE_DB_DATA_DIR', 'CLINE_DIR', 'CLINE_SESSION_DATA_DIR', 'CODEX_HOME',
  'COPILOT_HOME', 'CRUSH_GLOBAL_DATA', 'GEMINI_CLI_HOME', 'GOOSE_PATH_ROOT', 'QWEN_HOME', 'QWEN_RUNTIME_DIR',
  'VSCODE_AGENT_FOLDER', 'VSCODE_APPDATA', 'VSCODE_PORTABLE',
];

if (!process.env.AGENT_SPEND_TEST_HOME) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-spend-test-home-'));
  for (const name of AGENT_FOLDERS) delete process.env[name];
  Object.assign(process.env, {
    AGENT_SPEND_TEST_HOME: home,
    HOME: home,
    USERPROFILE: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_STATE_HOME: path.join(home, '.local', 'state'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    APPDATA: path.join(home, 'AppData', 'Roaming'),
    LOCALAPPDATA: path.join(home, 'AppData', 'Local'),
  });
  // The process that made it (the test runner, which outlives the test files' processes) takes it away.
  process.on('exit', () => fs.rmSync(home, { recursive: true, force: true }));
}
