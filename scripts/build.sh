#!/usr/bin/env bash
# Builds the Worker with worker-build, pointed at locally installed tools so that it
# downloads nothing: wasm-bindgen from cargo, esbuild from node_modules. wasm-opt is off
# (see docs/architecture.md for the measurement behind that choice).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/@esbuild/linux-x64/bin/esbuild}"
echo "[build] worker-build --release (wasm-bindgen: $WASM_BINDGEN_BIN)"
exec worker-build --release
