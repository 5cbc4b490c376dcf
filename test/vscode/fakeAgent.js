// A fake agent for the stop tests, installed as an executable named `claude` (argv: node …/claude), so Agent Spend
// recognises it exactly as it recognises the real one. Usage: claude TRANSCRIPT SESSION_ID MODE
//   MODE "stubborn": ignores SIGINT (only SIGTERM / SIGKILL end it), as Claude Code did during a startup hang;
//   MODE "interruptible": on SIGINT (Ctrl+C in its terminal) it ends its "turn": stops writing, stays alive, and
//   writes TRANSCRIPT.interrupted so that the test can see the keystroke arrived.
// While working it appends one Claude Code request ($0.30 of Sonnet 4.5 input) to TRANSCRIPT every 200 ms, and keeps
// a child process of its own (a tool it "runs").
const fs = require('node:fs');
const { spawn } = require('node:child_process');

const [transcript, sessionId, mode] = process.argv.slice(2);
spawn('sleep', ['600'], { stdio: 'ignore' });
let working = true;
process.on('SIGINT', () => {
  if (mode === 'interruptible') {
    working = false;
    fs.writeFileSync(`${transcript}.interrupted`, String(Date.now()));
  }
});
let i = 0;
setInterval(() => {
  if (!working) return;
  i++;
  const line = {
    cwd: process.cwd(),
    sessionId,
    message: {
      id: `msg_${sessionId}_${i}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [{ type: 'text', text: 'working' }],
      usage: { input_tokens: 100000, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
    },
    requestId: `req_${sessionId}_${i}`,
    type: 'assistant',
    uuid: `uuid_${sessionId}_${i}`,
    timestamp: new Date().toISOString(),
  };
  fs.appendFileSync(transcript, `${JSON.stringify(line)}\n`);
}, 200);
