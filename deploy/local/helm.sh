#!/usr/bin/env bash
# Ensures a helm binary for the chart tests and CI: builds helm $ATRIUM_HELM_VERSION (default v3.22.0)
# once with `go install` from the Go module proxy into ${ATRIUM_CACHE:-$HOME/.cache/atrium}/helm-<version>.
# A second run finds the cached binary and returns at once. Go comes from PATH or /usr/local/go/bin.
# Prints one line on stdout: HELM=/path/to/helm. Everything else goes to stderr.
set -euo pipefail

log() { echo "[atrium] helm: $*" >&2; }
die() { echo "[atrium] helm: ERROR: $*" >&2; exit 1; }

version="${ATRIUM_HELM_VERSION:-v3.22.0}"
case "$version" in v3.*) ;; *) die "ATRIUM_HELM_VERSION must be a helm v3 tag such as v3.22.0, got '$version'" ;; esac
cache="${ATRIUM_CACHE:-$HOME/.cache/atrium}"
bin_dir="$cache/helm-$version"
helm="$bin_dir/helm"

# A binary that runs and reports the wanted version is reused; anything else is rebuilt.
if [ -x "$helm" ] && [ "$("$helm" version --template '{{.Version}}' 2>/dev/null)" = "$version" ]; then
  log "cached $helm"
  echo "HELM=$helm"
  exit 0
fi

go_bin="$(command -v go || true)"
[ -n "$go_bin" ] || go_bin=/usr/local/go/bin/go
[ -x "$go_bin" ] || die "no Go toolchain (looked on PATH and at /usr/local/go/bin/go); install Go 1.24+"

# Stamp the version and default Kubernetes version the way helm's own Makefile does: without them
# `helm version` says "v3.22" and `helm template` assumes Kubernetes 1.20, which charts that
# require a newer one refuse. The Kubernetes minor is that of the client-go helm is built with.
mod_json="$("$go_bin" mod download -json "helm.sh/helm/v3@$version")" || die "could not download helm.sh/helm/v3@$version from the Go module proxy"
go_mod="$(printf '%s\n' "$mod_json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
k8s_minor="$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$go_mod" | head -n1)"
[ -n "$k8s_minor" ] || die "could not read the client-go version from $go_mod"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags="$ldflags -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

mkdir -p "$bin_dir"
log "building helm $version with $("$go_bin" version | cut -d' ' -f3) (takes a few minutes once; cached in $bin_dir)"
# CGO off: a static binary that does not depend on the machine's C toolchain.
if ! CGO_ENABLED=0 GOBIN="$bin_dir" "$go_bin" install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$version" >&2; then
  rm -f "$helm"
  die "go install helm.sh/helm/v3/cmd/helm@$version failed (output above)"
fi
"$helm" version --short >&2 || die "$helm was built but does not run"
echo "HELM=$helm"
