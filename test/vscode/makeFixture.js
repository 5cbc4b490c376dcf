// node makeFixture.js TRANSCRIPT: writes one Claude Code request timestamped now (100k tokens of Sonnet 4.5
// input, $0.30), in the order Claude Code writes its keys.
const fs = require('node:fs');
const path = require('node:path');

const file = process.argv[2];
fs.mkdirSync(path.dirname(file), { recursive: true });
const session = path.basename(file, '.jsonl');
const line = {
  parentUuid: null,
  isSidechain: false,
  userType: 'external',
  cwd: '/work/<img src=x onerror=alert(1)>',
  sessionId: session,
  version: '2.1.90',
  gitBranch: 'main',
  message: {
    id: 'msg_fixture',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content: [{ type: 'text', text: 'ok' }],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 100000, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0, service_tier: 'standard' },
  },
  requestId: 'req_fixture',
  type: 'assistant',
  uuid: 'uuid-fixture',
  timestamp: new Date().toISOString(),
};
fs.writeFileSync(file, `${JSON.stringify(line)}\n`);
