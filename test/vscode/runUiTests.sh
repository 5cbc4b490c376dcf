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

# Restricted Mode: a second server with workspace trust on, so that the folder opens untrusted.
RSTATE=$(mktemp -d -t agent-spend-vscode-restricted.XXXXXX)
node "$HERE/makeFixture.js" "$RSTATE/claude/projects/-work-shop/ffffffff-ffff-4fff-8fff-ffffffffffff.jsonl"
# Another Claude folder with three requests: a setting pointing at it must be ignored while untrusted.
for i in 1 2 3; do
  OTHER="$RSTATE/other-claude/projects/-work-other/0000000$i-0000-4000-8000-000000000000.jsonl"
  node "$HERE/makeFixture.js" "$OTHER" && sed -i "s/msg_fixture/msg_other_$i/; s/req_fixture/req_other_$i/" "$OTHER"
done
# The user settings point Claude Code's folder at the other one: ignored while the folder is untrusted.
mkdir -p "$RSTATE/server/data/User"
cat > "$RSTATE/server/data/User/settings.json" <<JSON
{ "workbench.startupEditor": "none", "telemetry.telemetryLevel": "off", "update.mode": "none",
  "extensions.autoCheckUpdates": false, "extensions.autoUpdate": false, "workbench.enableExperiments": false,
  "chat.disableAIFeatures": true, "security.workspace.trust.enabled": true,
  "security.workspace.trust.startupPrompt": "never", "git.enabled": false, "workbench.tips.enabled": false,
  "agentSpend.claudeCode.configDir": "$RSTATE/other-claude" }
JSON
TRUST=1 "$HERE/vscode-server.sh" install-vsix "$RSTATE" "$REPO/agent-spend.vsix"
RPORT=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
RPID=$(TRUST=1 CLAUDE_CONFIG_DIR="$RSTATE/claude" "$HERE/vscode-server.sh" start "$RSTATE" "$RPORT")
echo "[ui-tests] VS Code server with workspace trust on port $RPORT (pid $RPID)"
cleanup() { "$HERE/vscode-server.sh" stop "$PID"; "$HERE/vscode-server.sh" stop "$RPID"; rm -rf "$STATE" "$RSTATE"; }
"$NODE24/bin/node" "$HERE/restrictedTests.js" "http://127.0.0.1:$RPORT" "$RSTATE/workspace" "$SHOTS"
