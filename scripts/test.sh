#!/usr/bin/env bash
# The whole suite: native tests of the core, then the built Worker in Miniflare over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
WITH_BROWSER=1 bash scripts/bootstrap.sh
echo "[test] cargo test (gateway-core, native; property tests with ${PROPTEST_CASES:=2048} cases each)"
PROPTEST_CASES="$PROPTEST_CASES" cargo test -p gateway-core --quiet
bash scripts/build.sh
bash scripts/build.sh --contract
echo "[test] integration tests: the built Worker on the R2 binding"
GATEWAY_BACKEND=r2 node --test --test-concurrency=1 tests/
echo "[test] integration tests: the same suite on a real S3 server (s3s-fs)"
GATEWAY_BACKEND=s3 node --test --test-concurrency=1 tests/
echo "[test] integration tests: the same suite with the metadata on Durable Object shards (METADATA=durable-objects)"
GATEWAY_METADATA=durable-objects GATEWAY_BACKEND=r2 node --test --test-concurrency=1 tests/
