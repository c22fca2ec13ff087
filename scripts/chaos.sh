#!/usr/bin/env bash
# The fault matrix (`npm run chaos [-- --time-scale X --only id,id --scenes N --keep-database --name NAME --list]`):
# a report, not a test. Starts its own Temporal dev server (data file), Postgres database behind
# a proxy it can cut, the LLM simulator and worker processes it can SIGKILL; loopback only.
# Writes bench/results/chaos-latest.md and a dated JSON. Sources run through SWC (no build step).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_node_modules
bash "$ROOT/scripts/temporal.sh" install
export TEMPORAL_CLI="${TEMPORAL_CLI:-$TEMPORAL_BIN}"
cd "$ROOT"
exec node -r ./test/helpers/ts-register.js bench/chaos/run.ts "$@"
