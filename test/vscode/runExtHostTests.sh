#!/usr/bin/env bash
# The extension-host suite in a real VS Code (the server inside code-server, driven by Debian's Chromium).
# Sets its toolchain up first (idempotent, cached outside the clone), builds, and runs in a throw-away state folder
# with its own HOME and fixture logs: it never sees the real home's agent logs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
. "$HERE/env.sh"
bash "$HERE/setup.sh"
(cd "$REPO" && node esbuild.js)

STATE=$(mktemp -d -t agent-spend-vscode.XXXXXX)
TRANSCRIPT="$STATE/claude/projects/-work-shop/dddddddd-dddd-4ddd-8ddd-dddddddddddd.jsonl"
node "$HERE/makeFixture.js" "$TRANSCRIPT"
PORT=${PORT:-$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")}

PID=$(CLAUDE_CONFIG_DIR="$STATE/claude" AGENT_SPEND_TEST_TRANSCRIPT="$TRANSCRIPT" \
  "$HERE/vscode-server.sh" start "$STATE" "$PORT" --enable-smoke-test-driver)
echo "[vscode-tests] VS Code server on port $PORT (pid $PID)"
cleanup() { "$HERE/vscode-server.sh" stop "$PID"; rm -rf "$STATE"; }
trap cleanup EXIT
"$NODE24/bin/node" "$HERE/extHostTests.js" "http://127.0.0.1:$PORT" "$REPO" "$HERE/suite/index.js" "$STATE/workspace"
