#!/usr/bin/env bash
# Installs what building and testing the Worker needs, skipping whatever is already present:
# the wasm32 target, worker-build, wasm-bindgen-cli at the exact version in Cargo.lock,
# s3s-fs (the S3 server the tests run against), moto (a weaker one, from PyPI), with
# WITH_BROWSER=1 Debian's chromium (the browser test), and the npm packages (the root's and
# those of the Uppy 5 and 6 test pages). Only the Rust, Debian, PyPI and npm registries are
# used, never a binary download.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bootstrap] %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

WORKER_BUILD_VERSION=0.8.7
BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock)

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "wasm32-unknown-unknown target: present"
else
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  say "worker-build $WORKER_BUILD_VERSION: present"
else
  say "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

if wasm-bindgen --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
  say "wasm-bindgen-cli $BINDGEN_VERSION: present"
else
  # Not --locked: its lockfile pins a crate version the registry no longer serves.
  say "installing wasm-bindgen-cli $BINDGEN_VERSION to match Cargo.lock (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION" --force
fi

if s3s-fs --version 2>/dev/null | grep -q "0.14.1"; then
  say "s3s-fs 0.14.1 (the S3 server the tests use): present"
else
  say "installing s3s-fs 0.14.1, a local S3 server for the tests (a few minutes, once)"
  cargo install s3s-fs --version 0.14.1 --features binary --locked
fi

if python3 -c 'import moto.server' 2>/dev/null; then
  say "moto (the weakest S3 store the tests use): present"
else
  say "installing moto's S3 server, a store that checks neither signatures nor digests, for the tests"
  python3 -m pip install --quiet "moto[server]==5.2.1"
fi

if [ "${WITH_BROWSER:-0}" != 1 ]; then
  : # only the test suite (WITH_BROWSER=1) needs a browser
elif command -v "${CHROMIUM_BIN:-chromium}" >/dev/null 2>&1; then
  say "chromium (for the browser test): present"
else
  # Debian's package: the browser test never downloads a browser of its own.
  say "installing Debian's chromium for the browser test"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
  fi
fi

if [ -x node_modules/.bin/wrangler ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  say "npm packages: present"
else
  say "installing npm packages"
  npm ci --no-audit --no-fund
fi

# Uppy's S3 plugin 5.x and 6.x need @uppy/core 5 and 6, the root's Uppy tests 4.x: each major
# is a package of its own that the browser tests bundle.
for major in 5 6; do
  dir=tests/uppy$major
  if [ -d $dir/node_modules/@uppy/aws-s3 ] && [ $dir/node_modules/.package-lock.json -nt $dir/package-lock.json ]; then
    say "npm packages of the Uppy $major test page: present"
  else
    say "installing the npm packages of the Uppy $major test page"
    npm ci --prefix $dir --no-audit --no-fund
  fi
done
