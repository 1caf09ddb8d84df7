#!/usr/bin/env bash
# Stops the test PostgreSQL server started by deploy/local/postgres.sh (same ATRIUM_PG_PORT and
# ATRIUM_CACHE). Its data dir is kept; a later postgres.sh starts it again quickly.
set -euo pipefail

log() { echo "[atrium] postgres: $*" >&2; }

port="${ATRIUM_PG_PORT:-55432}"
cache="${ATRIUM_CACHE:-$HOME/.cache/atrium}"
case "$cache" in /*) ;; *) cache="$PWD/$cache" ;; esac
data_dir="$cache/pg-$port"
cd /

if [ ! -f "$data_dir/postmaster.pid" ]; then
  log "not running (no $data_dir/postmaster.pid)"
  exit 0
fi

bindir=""
for d in /usr/lib/postgresql/*/bin; do
  if [ -x "$d/pg_ctl" ] && [ "$(basename "$(dirname "$d")")" = "$(cat "$data_dir/PG_VERSION")" ]; then bindir="$d"; fi
done
[ -n "$bindir" ] || { echo "[atrium] postgres: ERROR: no pg_ctl for PostgreSQL $(cat "$data_dir/PG_VERSION")" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  as_pg() {
    if command -v runuser >/dev/null; then
      runuser -u postgres -- "$@"
    else
      su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
    fi
  }
else
  as_pg() { "$@"; }
fi

# A killed server leaves its postmaster.pid behind (and, where PID 1 does not reap, a zombie).
pid="$(head -n1 "$data_dir/postmaster.pid" | tr -dc '0-9' || true)"
if [ -z "$pid" ] || [ ! -r "/proc/$pid/stat" ] || [ "$(awk '{print $3}' "/proc/$pid/stat")" = "Z" ] ||
  ! grep -q '^postgres' "/proc/$pid/comm" 2>/dev/null; then
  log "not running (stale postmaster.pid in $data_dir)"
  exit 0
fi
log "stopping the server on port $port (data $data_dir)"
as_pg "$bindir/pg_ctl" stop -D "$data_dir" -m fast -w -t 30 -s >&2
log "stopped"
