#!/usr/bin/env bash
# Ensures a real Keycloak for the auth tests runs on 127.0.0.1:${ATRIUM_KEYCLOAK_PORT:-18080} with the
# realm `atrium` imported from deploy/keycloak/atrium-realm.json. Keycloak's distribution comes from
# Maven Central (org.keycloak:keycloak-quarkus-dist) and runs on the installed JDK (17 or 21); it is
# downloaded and built once into ${ATRIUM_CACHE:-$HOME/.cache/atrium}/keycloak-<version>/, with its
# dev-file (H2) database there too. If the realm already answers on the port, it does nothing.
# When the realm file changes, the database is dropped so that the next start imports it again.
# Prints on stdout: KEYCLOAK_URL=http://127.0.0.1:<port> and
# AUTH_ISSUER_URL=http://127.0.0.1:<port>/realms/atrium. Everything else goes to stderr.
# Master-realm admin: admin / admin (a throwaway test server; never expose it).
set -euo pipefail

log() { echo "[atrium] keycloak: $*" >&2; }
die() { echo "[atrium] keycloak: ERROR: $*" >&2; exit 1; }

version="${ATRIUM_KEYCLOAK_VERSION:-26.7.3}"
port="${ATRIUM_KEYCLOAK_PORT:-18080}"
case "$port" in '' | *[!0-9]*) die "ATRIUM_KEYCLOAK_PORT must be a port number, got '$port'" ;; esac
management_port=$((port + 1000))
cache="${ATRIUM_CACHE:-$HOME/.cache/atrium}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd -P)"
here="$(cd "$(dirname "$0")" && pwd -P)"
realm_file="$here/../keycloak/atrium-realm.json"
[ -f "$realm_file" ] || die "no realm file at $realm_file"
base="$cache/keycloak-$version"
home="$base/keycloak-$version"
log_file="$base/keycloak.log"
url="http://127.0.0.1:$port"

realm_answers() { curl -fsS -o /dev/null --max-time 2 "$url/realms/atrium/.well-known/openid-configuration" 2>/dev/null; }
print_lines() {
  echo "KEYCLOAK_URL=$url"
  echo "AUTH_ISSUER_URL=$url/realms/atrium"
}

if realm_answers; then
  log "already running on $url"
  print_lines
  exit 0
fi

command -v java >/dev/null || die "no java on PATH: install a JDK 17 or 21 (apt-get install -y openjdk-17-jre-headless)"
java_major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
[ "${java_major:-0}" -ge 17 ] || die "Keycloak $version needs Java 17 or newer; java -version says ${java_major:-unknown}"
command -v curl >/dev/null || die "curl is needed to download Keycloak"

mkdir -p "$base"
if [ ! -x "$home/bin/kc.sh" ]; then
  archive="$base/keycloak-quarkus-dist-$version.tar.gz"
  if [ ! -s "$archive" ]; then
    src="https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/$version/keycloak-quarkus-dist-$version.tar.gz"
    log "downloading $src"
    curl -fSL --retry 3 -o "$archive.part" "$src" >&2 || die "download failed: $src"
    mv "$archive.part" "$archive"
  fi
  log "unpacking into $base"
  tar xzf "$archive" -C "$base" || { rm -f "$archive"; die "could not unpack $archive (removed it; rerun to download again)"; }
  rm -f "$archive"
fi

# A server started earlier may still be booting: wait for it rather than start a second one.
pid_file="$base/keycloak.pid"
if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  log "a Keycloak (pid $(cat "$pid_file")) is starting; waiting for it"
else
  # The realm is imported only into an empty database: a changed realm file starts from scratch.
  realm_sum="$(sha256sum "$realm_file" | cut -d' ' -f1)"
  if [ "$(cat "$base/realm.sha256" 2>/dev/null || true)" != "$realm_sum" ]; then
    log "realm file changed (or first start): dropping the dev-file database so it is imported again"
    rm -rf "$home/data/h2"
  fi
  mkdir -p "$home/data/import"
  cp "$realm_file" "$home/data/import/atrium-realm.json"

  # The build (Quarkus augmentation) takes about a minute on 2 cores; done once per version.
  if [ ! -f "$base/built" ]; then
    log "building Keycloak $version once (about a minute)"
    "$home/bin/kc.sh" build --db=dev-file --cache=local >"$base/build.log" 2>&1 || { tail -n 30 "$base/build.log" >&2; die "kc.sh build failed (log $base/build.log)"; }
    touch "$base/built"
  fi

  log "starting Keycloak $version on $url (log $log_file; first start imports the realm, 30-90 s)"
  # `start --optimized` reuses the build above; start-dev would rebuild on every start.
  (
    cd "$base"
    KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
      JAVA_OPTS_KC_HEAP="-Xms64m -Xmx512m" \
      nohup "$home/bin/kc.sh" start --optimized --import-realm \
      --http-enabled=true --http-host=127.0.0.1 --http-port="$port" \
      --http-management-port="$management_port" \
      --hostname-strict=false \
      >"$log_file" 2>&1 </dev/null &
    echo $! >"$pid_file"
  )
  echo "$realm_sum" >"$base/realm.sha256"
fi

for _ in $(seq 1 180); do
  if realm_answers; then
    log "ready on $url (realm atrium)"
    print_lines
    exit 0
  fi
  if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    tail -n 40 "$log_file" >&2 || true
    rm -f "$base/realm.sha256"
    die "Keycloak exited during start (log above, full log in $log_file)"
  fi
  sleep 1
done
tail -n 40 "$log_file" >&2 || true
die "Keycloak did not answer on $url within 180 s (log $log_file)"
