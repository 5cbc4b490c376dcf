#!/usr/bin/env bash
# vscode-server.sh start STATE_DIR PORT [server args...]   prints the server's pid (leader of its own group)
# vscode-server.sh stop PID
# vscode-server.sh install-vsix STATE_DIR FILE.vsix
# Runs the plain VS Code server inside code-server (server-main.js): unlike code-server's own CLI it accepts
# VS Code's --enable-smoke-test-driver. Each run gets its own HOME, data, extensions and settings under STATE_DIR.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/env.sh"
cmd=$1; shift
prepare() {
  local state=$1
  mkdir -p "$state/home" "$state/server/data/User" "$state/extensions" "$state/workspace"
  # TRUST=1: workspace trust on (folders open in Restricted Mode, no start-up prompt); otherwise off.
  local trust=false; [ "${TRUST:-}" = 1 ] && trust=true
  [ -f "$state/server/data/User/settings.json" ] || cat > "$state/server/data/User/settings.json" <<JSON
{ "workbench.startupEditor": "none", "telemetry.telemetryLevel": "off", "update.mode": "none",
  "extensions.autoCheckUpdates": false, "extensions.autoUpdate": false, "workbench.enableExperiments": false,
  "chat.disableAIFeatures": true, "security.workspace.trust.enabled": $trust,
  "security.workspace.trust.startupPrompt": "never", "git.enabled": false, "workbench.tips.enabled": false }
JSON
  SERVER_ARGS=(--accept-server-license-terms --disable-telemetry --server-data-dir "$state/server"
    --user-data-dir "$state/server/data" --extensions-dir "$state/extensions")
}
case "$cmd" in
  install-vsix)
    state=$1; prepare "$state"
    HOME="$state/home" "$NODE24/bin/node" "$VSCODE_SERVER" "${SERVER_ARGS[@]}" --install-extension "$2" --force ;;
  start)
    state=$1; port=$2; shift 2; prepare "$state"
    # HOME is the run's own: the extension under test must never see the real home's agent logs.
    HOME="$state/home" setsid "$NODE24/bin/node" "$VSCODE_SERVER" "${SERVER_ARGS[@]}" --host 127.0.0.1 --port "$port" \
      --without-connection-token $([ "${TRUST:-}" = 1 ] || echo --disable-workspace-trust) "$@" > "$state/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 150); do
      curl -fs -o /dev/null "http://127.0.0.1:$port/version" && { echo "$pid"; exit 0; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    echo "the VS Code server did not start:" >&2; cat "$state/server.log" >&2
    kill -- "-$pid" 2>/dev/null || true
    exit 1 ;;
  stop)
    kill -- "-$1" 2>/dev/null || true ;; # the process group this script created with setsid, and only it
  *) echo "usage: $0 start|stop|install-vsix ..." >&2; exit 2 ;;
esac
