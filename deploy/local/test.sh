#!/usr/bin/env bash
# THE test command (README and .ci/run): bash deploy/local/test.sh [test files or dirs...]
# Installs dependencies when needed, starts the real services, then typecheck, lint, tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/local/node.sh
source deploy/local/node.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

log() { echo "[atrium] test: $*" >&2; }
fail() { echo "[atrium] test: FAILED: $*" >&2; exit 1; }

log "node $(node --version), npm $(npm --version)"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing dependencies (npm ci)"
  npm ci --no-audit --no-fund || fail "npm ci"
else
  log "node_modules is up to date with package-lock.json"
fi

env_lines="$(bash deploy/local/services.sh)" || fail "could not start the services the tests need (see above)"
admin_url="$(printf '%s\n' "$env_lines" | sed -n 's/^DATABASE_ADMIN_URL=//p' | tail -n1)"
[ -n "$admin_url" ] || fail "services.sh printed no DATABASE_ADMIN_URL line"
export ATRIUM_TEST_DATABASE_URL="$admin_url"
log "ATRIUM_TEST_DATABASE_URL=$ATRIUM_TEST_DATABASE_URL"
# The Keycloak auth suite (core/src/auth/keycloak.test.ts) gets tokens from this realm.
KEYCLOAK_URL="$(printf '%s\n' "$env_lines" | sed -n 's/^KEYCLOAK_URL=//p' | tail -n1)"
[ -n "$KEYCLOAK_URL" ] || fail "services.sh printed no KEYCLOAK_URL line"
export KEYCLOAK_URL
log "KEYCLOAK_URL=$KEYCLOAK_URL"
OLLAMA_URL="$(printf '%s\n' "$env_lines" | sed -n 's/^OLLAMA_URL=//p' | tail -n1)"
OLLAMA_MODEL="$(printf '%s\n' "$env_lines" | sed -n 's/^OLLAMA_MODEL=//p' | tail -n1)"
[ -n "$OLLAMA_URL" ] && [ -n "$OLLAMA_MODEL" ] || fail "services.sh printed no OLLAMA_URL/OLLAMA_MODEL lines"
export OLLAMA_URL OLLAMA_MODEL
log "OLLAMA_URL=$OLLAMA_URL OLLAMA_MODEL=$OLLAMA_MODEL"
# The chart tests (deploy/tests/chart.test.ts) run this helm: built once from the Go module proxy, cached.
if ! HELM="$(bash deploy/local/helm.sh | sed -n 's/^HELM=//p')" || [ -z "$HELM" ]; then fail "no helm (deploy/local/helm.sh)"; fi; export HELM

# CI must be green on all three, so stop at the first that fails.
log "typecheck"
npm run typecheck || fail "typecheck (npm run typecheck); the tests did not run"
log "lint"
npm run lint || fail "lint (npm run lint; 'npm run format' fixes formatting); the tests did not run"
log "tests"
node scripts/run-tests.ts "$@" || fail "tests"
