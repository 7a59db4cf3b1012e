#!/usr/bin/env bash
# Install code-server from the npm registry into PREFIX, offline from GitHub.
# code-server's own postinstall fails without GitHub (@vscode/ripgrep downloads its binary from
# there) and insists on Node.js 24: so the steps of that postinstall are run here by hand, with
# the system's ripgrep (`rg`) in place of the download, on the system's Node.js.
# Usage: proxy_install_code_server.sh PREFIX VERSION
set -euo pipefail
PREFIX="$1"; VERSION="$2"
export npm_config_yes=true  # node-pty's own build step runs `npx node-gyp`
RG="$(command -v rg || true)"
[ -n "$RG" ] || { echo "code-server needs ripgrep (rg): apt-get install ripgrep" >&2; exit 1; }
mkdir -p "$PREFIX" && cd "$PREFIX"
npm install --no-audit --no-fund --loglevel=error --ignore-scripts "code-server@${VERSION}"
# code-server's own native module (its password hashing), then VS Code's dependencies.
npm rebuild --no-audit --no-fund --loglevel=error argon2
cd node_modules/code-server/lib/vscode
npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
mkdir -p node_modules/@vscode/ripgrep/bin && cp "$RG" node_modules/@vscode/ripgrep/bin/rg
# The native modules code-server loads (builds need a C++ compiler and Kerberos headers).
npm rebuild --no-audit --no-fund --loglevel=error @parcel/watcher @vscode/spdlog kerberos node-pty
(cd bin/remote-cli && ln -sf code-linux.sh code-server)
(cd bin/helpers && ln -sf browser-linux.sh browser.sh)
(cd extensions && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "code-server ${VERSION} installed in ${PREFIX}"
