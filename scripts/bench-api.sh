#!/usr/bin/env bash
# The HTTP API's load check (`npm run bench:api`): compiles like `npm run bench`, then runs
# bench/api-load.ts (its own Temporal dev server, database, simulator and workers; the API as a
# child process; loopback only).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_node_modules
bash "$ROOT/scripts/temporal.sh" install
export TEMPORAL_CLI="$TEMPORAL_BIN"
cd "$ROOT"
npx tsc -p tsconfig.bench.json
exec node .data/bench-dist/bench/api-load.js "$@"
