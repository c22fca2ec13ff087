#!/usr/bin/env bash
# The test suite (`npm test`): installs what it needs, type-checks, lints, then runs jest against a
# throwaway Postgres database and dev servers started from the project's Temporal CLI.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_node_modules
bash "$ROOT/scripts/temporal.sh" install
export TEMPORAL_CLI="$TEMPORAL_BIN"
cd "$ROOT"
say "type-checking"
npx tsc --noEmit -p tsconfig.json
say "linting"
npm run --silent lint
say "running jest"
npx jest "$@"
