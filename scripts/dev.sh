#!/usr/bin/env bash
# Local development server: bootstraps missing tools, creates .dev.vars with a random JWT
# secret if absent, applies the local D1 migrations and starts `wrangler dev` with local
# R2 and D1 (wrangler runs the build command from wrangler.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/bootstrap.sh
if [ ! -f .dev.vars ]; then
  random() { node -e "console.log(require('node:crypto').randomBytes(32).toString('base64url'))"; }
  sed -e "s#^JWT_SECRET=.*#JWT_SECRET=$(random)#" -e "s#^URL_SIGNING_SECRET=.*#URL_SIGNING_SECRET=$(random)#" \
    .dev.vars.example > .dev.vars
  echo "[dev] created .dev.vars with a random JWT_SECRET and URL_SIGNING_SECRET"
fi
echo "[dev] applying D1 migrations (local)"
npx wrangler d1 migrations apply DB --local
exec npx wrangler dev --port "${PORT:-8787}" "$@"
