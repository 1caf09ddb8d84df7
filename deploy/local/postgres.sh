#!/usr/bin/env bash
# Ensures a real PostgreSQL server for the tests runs on 127.0.0.1:${ATRIUM_PG_PORT:-55432}
# (superuser postgres / password postgres, scram auth on TCP). Its data lives outside the repo,
# in ${ATRIUM_CACHE:-$HOME/.cache/atrium}/pg-<port>. If the port already answers, it does nothing.
# The binaries come from Debian's `postgresql` package (installed here if missing).
# Prints one line on stdout: DATABASE_ADMIN_URL=postgresql://postgres:postgres@127.0.0.1:<port>/postgres
# Everything else goes to stderr.
set -euo pipefail

log() { echo "[atrium] postgres: $*" >&2; }
die() { echo "[atrium] postgres: ERROR: $*" >&2; exit 1; }

port="${ATRIUM_PG_PORT:-55432}"
case "$port" in '' | *[!0-9]*) die "ATRIUM_PG_PORT must be a port number, got '$port'" ;; esac
cache="${ATRIUM_CACHE:-$HOME/.cache/atrium}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd -P)"
data_dir="$cache/pg-$port"
run_dir="$cache/pg-$port-run" # unix socket + server log; writable by the server's OS user
log_file="$run_dir/postgres.log"
admin_url="postgresql://postgres:postgres@127.0.0.1:$port/postgres"

# The server's OS user must be able to enter its directories, whatever the caller's cwd is.
cd /

# Highest installed major version under /usr/lib/postgresql/*/bin, or nothing.
find_bindir() {
  local best="" v
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] || continue
    v="$(basename "$(dirname "$d")")"
    if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$v" | sort -V | tail -n1)" = "$v" ]; then best="$v"; fi
  done
  [ -n "$best" ] && echo "/usr/lib/postgresql/$best/bin"
  return 0
}

# Does something answer on the port? Uses pg_isready when there is one, else a bare TCP probe.
port_answers() {
  local isready
  isready="$(find_bindir)/pg_isready"
  [ -x "$isready" ] || isready="$(command -v pg_isready || true)"
  if [ -n "$isready" ] && [ -x "$isready" ]; then
    "$isready" -q -h 127.0.0.1 -p "$port" -t 2
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

if port_answers; then
  log "already running on 127.0.0.1:$port"
  echo "DATABASE_ADMIN_URL=$admin_url"
  exit 0
fi

bindir="$(find_bindir)"
if [ -z "$bindir" ]; then
  log "no PostgreSQL under /usr/lib/postgresql; installing Debian's postgresql package"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "PostgreSQL is not installed and this is not root: run 'apt-get install -y postgresql' as root"
    sudo="sudo"
  fi
  $sudo apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y postgresql >&2
  bindir="$(find_bindir)"
  [ -n "$bindir" ] || die "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/pg_ctl was found"
fi
major="$(basename "$(dirname "$bindir")")"

# PostgreSQL refuses to run as root: as root, run it as the `postgres` OS user.
if [ "$(id -u)" -eq 0 ]; then
  pg_user=postgres
  if ! id -u "$pg_user" >/dev/null 2>&1; then
    log "creating OS user $pg_user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash "$pg_user"
  fi
  as_pg() {
    if command -v runuser >/dev/null; then
      runuser -u "$pg_user" -- "$@"
    else
      su "$pg_user" -s /bin/bash -c "$(printf '%q ' "$@")"
    fi
  }
  # It must be able to reach the cache (e.g. /root is 0700): grant search (x) only, no read.
  if ! as_pg test -x "$cache"; then
    p="$cache"
    blocked=()
    while [ "$p" != "/" ]; do
      blocked=("$p" "${blocked[@]}")
      p="$(dirname "$p")"
    done
    for p in "${blocked[@]}"; do
      if ! as_pg test -x "$p"; then
        log "granting $pg_user search-only access (x) to $p so it can reach $data_dir"
        if command -v setfacl >/dev/null; then setfacl -m "u:$pg_user:x" "$p"; else chmod o+x "$p"; fi
      fi
    done
  fi
else
  pg_user="$(id -un)"
  as_pg() { "$@"; }
fi

mkdir -p "$run_dir"
[ "$(id -u)" -eq 0 ] && chown "$pg_user:" "$run_dir"
chmod 700 "$run_dir"

# A data dir from an interrupted initdb, or from another major version: it is test data, start over.
if [ -d "$data_dir" ] && [ ! -f "$data_dir/PG_VERSION" ]; then
  log "removing incomplete data dir $data_dir"
  rm -rf "$data_dir"
elif [ -f "$data_dir/PG_VERSION" ] && [ "$(cat "$data_dir/PG_VERSION")" != "$major" ]; then
  log "data dir $data_dir is PostgreSQL $(cat "$data_dir/PG_VERSION"), binaries are $major: re-creating it"
  rm -rf "$data_dir"
fi

if [ ! -d "$data_dir" ]; then
  log "initdb (PostgreSQL $major) in $data_dir"
  mkdir -p "$data_dir"
  [ "$(id -u)" -eq 0 ] && chown "$pg_user:" "$data_dir"
  chmod 700 "$data_dir"
  pwfile="$run_dir/pwfile"
  printf 'postgres\n' >"$pwfile"
  [ "$(id -u)" -eq 0 ] && chown "$pg_user:" "$pwfile"
  locale_opts=(--no-locale)
  if locale -a 2>/dev/null | grep -qix 'c.utf-\?8'; then locale_opts=(--locale=C.UTF-8); fi
  if ! as_pg "$bindir/initdb" -D "$data_dir" -U postgres --pwfile="$pwfile" --encoding=UTF8 "${locale_opts[@]}" \
    --auth-host=scram-sha-256 --auth-local=trust >"$run_dir/initdb.log" 2>&1; then
    rm -f "$pwfile"
    tail -n 30 "$run_dir/initdb.log" >&2
    rm -rf "$data_dir"
    die "initdb failed (log above, full log in $run_dir/initdb.log)"
  fi
  rm -f "$pwfile"
  echo "include 'atrium.conf'" >>"$data_dir/postgresql.conf"
fi

# Rewritten on every start, so a changed port or cache path takes effect.
# THIS IS A THROWAWAY TEST SERVER: fsync, synchronous_commit and full_page_writes are off for
# speed, so a machine crash can corrupt it. Never use these settings for data you care about.
as_pg tee "$data_dir/atrium.conf" >/dev/null <<EOF
# Written by deploy/local/postgres.sh on every start; edits here are lost.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$run_dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
grep -q "^include 'atrium.conf'" "$data_dir/postgresql.conf" || echo "include 'atrium.conf'" | as_pg tee -a "$data_dir/postgresql.conf" >/dev/null

# Lock files left by a server that was killed (postmaster.pid, and the socket's lock, which would
# make the next start fail): drop each unless its PID is still a live postgres. A zombie counts as
# gone (where PID 1 does not reap, a killed server stays a zombie).
pid_is_live_postgres() {
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] && grep -q '^postgres' "/proc/$1/comm" 2>/dev/null &&
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != "Z" ]
}
for lock in "$data_dir/postmaster.pid" "$run_dir/.s.PGSQL.$port.lock"; do
  [ -f "$lock" ] || continue
  old_pid="$(head -n1 "$lock" | tr -dc '0-9' || true)"
  for _ in $(seq 1 10); do pid_is_live_postgres "$old_pid" || break; sleep 1; done # a server still going down
  if pid_is_live_postgres "$old_pid"; then
    die "a postgres (pid $old_pid) holds $lock but 127.0.0.1:$port does not answer; stop it with deploy/local/postgres-stop.sh"
  fi
  log "removing stale $lock (pid ${old_pid:-?} is gone)"
  rm -f "$lock"
done

log "starting PostgreSQL $major on 127.0.0.1:$port (data $data_dir, log $log_file)"
if ! as_pg "$bindir/pg_ctl" start -D "$data_dir" -l "$log_file" -w -t 30 -s >&2; then
  echo "[atrium] postgres: last lines of $log_file:" >&2
  tail -n 30 "$log_file" >&2 || true
  die "PostgreSQL did not start within 30s. If the data dir is damaged, remove $data_dir (test data only) and rerun."
fi
for _ in $(seq 1 30); do
  if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; then break; fi
  sleep 1
done
"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 || {
  tail -n 30 "$log_file" >&2 || true
  die "server started but 127.0.0.1:$port does not answer"
}
# Keep the password as documented even if someone changed it (local socket auth is trust).
as_pg "$bindir/psql" -h "$run_dir" -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
  -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
log "ready on 127.0.0.1:$port"
echo "DATABASE_ADMIN_URL=$admin_url"
