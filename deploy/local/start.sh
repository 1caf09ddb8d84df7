#!/usr/bin/env bash
# Quick start: installs what Atrium needs (Node 24 if the machine's is older, npm packages)
# and starts it on the embedded database under .atrium/ (set DATABASE_URL for PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/node.sh
source deploy/local/node.sh
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[atrium] installing dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
fi
exec npx atrium start
