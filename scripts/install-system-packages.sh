#!/usr/bin/env bash
# Install the Debian packages the local platform needs, when they are missing:
# PostgreSQL with PostGIS (the catalogue's database) and Node.js/npm (JupyterHub's proxy).
# Without apt-get, or without permission to use it, say exactly what to install.
#   --browser   also Chromium, for the browser tests (make test)
set -euo pipefail

WITH_BROWSER=0
[ "${1:-}" = "--browser" ] && WITH_BROWSER=1

PG_VERSION="${EOPDE_PG_VERSION:-15}"
missing=()
[ -x "/usr/lib/postgresql/${PG_VERSION}/bin/initdb" ] || missing+=("postgresql-${PG_VERSION}" postgresql)
[ -f "/usr/share/postgresql/${PG_VERSION}/extension/postgis.control" ] || missing+=("postgresql-${PG_VERSION}-postgis-3")
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The browser IDE (code-server): ripgrep, and what its native modules build with.
command -v rg >/dev/null 2>&1 || missing+=(ripgrep)
command -v g++ >/dev/null 2>&1 || missing+=(g++ make)
[ -f /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev)
if [ "$WITH_BROWSER" = 1 ]; then
  # Playwright cannot download its own browser here; the tests drive Debian's Chromium.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "eopde: installing system packages: ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "eopde: apt-get is not available on this system. Install these yourself, then re-run:" >&2
  echo "  PostgreSQL ${PG_VERSION} with PostGIS 3 (Debian/Ubuntu: ${missing[*]})" >&2
  echo "  or point EOPDE_PG_BINDIR at an existing PostgreSQL bin folder that has PostGIS." >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "eopde: installing system packages needs root. Run this once, then re-run make:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "eopde: system packages installed"
