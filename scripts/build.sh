#!/usr/bin/env bash
# Builds the Worker with worker-build, pointed at locally installed tools so that it
# downloads nothing: wasm-bindgen from cargo, esbuild from node_modules. wasm-opt is off
# (see docs/architecture.md for the measurement behind that choice). The module's name section
# is removed afterwards unless KEEP_WASM_NAMES=1.
# `build.sh --contract` builds the test-only variant with the `/__contract/*` routes into
# build-contract/ (tests/contract.test.mjs); the Worker itself is always build/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export ESBUILD_BIN="${ESBUILD_BIN:-$PWD/node_modules/@esbuild/linux-x64/bin/esbuild}"
if [ "${1:-}" = "--contract" ]; then
  echo "[build] worker-build --release --features contract -> build-contract/"
  exec worker-build --release --out-dir build-contract . --features contract
fi
echo "[build] worker-build --release (wasm-bindgen: $WASM_BINDGEN_BIN)"
worker-build --release
# Function names only serve profilers: KEEP_WASM_NAMES=1 keeps them (bench/cpu-profile.mjs).
if [ "${KEEP_WASM_NAMES:-0}" != 1 ]; then
  node scripts/strip-wasm-names.mjs build/index_bg.wasm
fi
