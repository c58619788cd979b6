#!/usr/bin/env bash
# The whole suite: native tests of the core, then the built Worker in Miniflare over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/bootstrap.sh
echo "[test] cargo test (gateway-core, native)"
cargo test -p gateway-core --quiet
bash scripts/build.sh
echo "[test] integration tests against the built Worker"
node --test --test-concurrency=1 tests/
