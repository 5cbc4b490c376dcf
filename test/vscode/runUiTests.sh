#!/usr/bin/env bash
# The UI suite: packages the .vsix, installs it into a fresh VS Code server, and drives the workbench in Debian's
# Chromium against fixture logs written at run time under a throw-away HOME. Screenshots go to
# test/vscode/screenshots (or $SCREENSHOTS).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
. "$HERE/env.sh"
bash "$HERE/setup.sh"
(cd "$REPO" && npm run --silent package)
SHOTS="${SCREENSHOTS:-$HERE/screenshots}"
mkdir -p "$SHOTS"

STATE=$(mktemp -d -t agent-spend-vscode-ui.XXXXXX)
TRANSCRIPT="$STATE/claude/projects/-work-shop/eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee.jsonl"
node "$HERE/makeFixture.js" "$TRANSCRIPT"
"$HERE/vscode-server.sh" install-vsix "$STATE" "$REPO/agent-spend.vsix"
PORT=${PORT:-$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")}
PID=$(CLAUDE_CONFIG_DIR="$STATE/claude" "$HERE/vscode-server.sh" start "$STATE" "$PORT")
echo "[ui-tests] VS Code server on port $PORT (pid $PID)"
cleanup() { "$HERE/vscode-server.sh" stop "$PID"; rm -rf "$STATE"; }
trap cleanup EXIT
"$NODE24/bin/node" "$HERE/uiTests.js" "http://127.0.0.1:$PORT" "$STATE/workspace" "$TRANSCRIPT" "$SHOTS" \
  "$STATE/server/data/User/settings.json"
