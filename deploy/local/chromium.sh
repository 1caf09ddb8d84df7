#!/usr/bin/env bash
# Ensures a Chromium for the browser tests (the web chat widget's end-to-end test drives it with
# playwright-core, which never downloads a browser). Uses Debian's `chromium` package, installed
# here if missing. Prints one line on stdout: CHROMIUM=<path>; everything else goes to stderr.
set -euo pipefail

log() { echo "[atrium] chromium: $*" >&2; }
die() { echo "[atrium] chromium: ERROR: $*" >&2; exit 1; }

chromium="/usr/bin/chromium"
if [ ! -x "$chromium" ]; then
  log "not installed; installing Debian's chromium package"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "Chromium is not installed and this is not root: run 'apt-get install -y chromium' as root"
    sudo="sudo"
  fi
  $sudo apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium >&2
  [ -x "$chromium" ] || die "apt-get installed chromium but there is no $chromium"
fi
log "$("$chromium" --version 2>/dev/null || echo "$chromium")"
echo "CHROMIUM=$chromium"
