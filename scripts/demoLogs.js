// Writes a small set of realistic Claude Code logs (a few projects, sessions over the last days, one running now)
// for `npm start --demo`, or when a machine has no agent logs at all. Deterministic shape, timestamps relative
// to now, in the key order Claude Code writes.
const fs = require('node:fs');
const path = require('node:path');

const MODELS = ['claude-sonnet-4-5-20250929', 'claude-opus-4-6', 'claude-haiku-4-5-20251001'];
const PROJECTS = ['/home/demo/src/shop', '/home/demo/src/api-gateway', '/home/demo/work/data_pipeline'];

function writeDemoLogs(configDir, now = Date.now()) {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const uuid = () => 'xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx'.replace(/x/g, () => Math.floor(random() * 16).toString(16));
  let written = 0;
  for (let s = 0; s < 9; s++) {
    const project = PROJECTS[s % PROJECTS.length];
    const sessionId = uuid();
    const dir = path.join(configDir, 'projects', project.replace(/[^A-Za-z0-9]/g, '-'));
    fs.mkdirSync(dir, { recursive: true });
    // Sessions spread over the last four days; the last one is still running (its newest line a minute ago).
    const end = s === 8 ? now - 60_000 : now - (8 - s) * 9 * 3_600_000;
    const requests = 12 + Math.floor(random() * 40);
    const model = MODELS[s % 3 === 1 ? 1 : s % 5 === 4 ? 2 : 0];
    const lines = [];
    let context = 12_000;
    for (let r = 0; r < requests; r++) {
      const timestamp = new Date(end - (requests - r) * 75_000).toISOString();
      context += 800 + Math.floor(random() * 4000);
      const id = `msg_demo_${s}_${r}`;
      lines.push(
        JSON.stringify({
          parentUuid: null,
          isSidechain: false,
          userType: 'external',
          cwd: project,
          sessionId,
          version: '2.1.90',
          gitBranch: 'main',
          message: {
            id,
            type: 'message',
            role: 'assistant',
            model,
            content: [{ type: 'text', text: 'Working on it.' }],
            stop_reason: 'tool_use',
            stop_sequence: null,
            usage: {
              input_tokens: 4 + Math.floor(random() * 30),
              cache_creation_input_tokens: 600 + Math.floor(random() * 3000),
              cache_read_input_tokens: context,
              cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 600 },
              output_tokens: 80 + Math.floor(random() * 900),
              service_tier: 'standard',
            },
          },
          requestId: `req_demo_${s}_${r}`,
          type: 'assistant',
          uuid: uuid(),
          timestamp,
        }),
      );
    }
    fs.writeFileSync(path.join(dir, `${sessionId}.jsonl`), `${lines.join('\n')}\n`);
    written += requests;
  }
  return written;
}

module.exports = { writeDemoLogs };

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node scripts/demoLogs.js CLAUDE_CONFIG_DIR');
    process.exit(2);
  }
  console.log(`wrote ${writeDemoLogs(dir)} demo requests under ${dir}`);
}
