#!/usr/bin/env bash
# The benchmark (`npm run bench [-- --time-scale X --only S1,S2,S3 --out file.json]`): a report,
# not a test. Installs what it needs, compiles src/ and bench/ with tsc into .data/bench-dist,
# then runs bench/run.ts, which starts its own Temporal dev server, a throwaway Postgres
# database and the LLM simulator, and prints the table (JSON and markdown in bench/results/).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_node_modules
bash "$ROOT/scripts/temporal.sh" install
export TEMPORAL_CLI="$TEMPORAL_BIN"
cd "$ROOT"
say "compiling the benchmark (tsc -p tsconfig.bench.json → .data/bench-dist)"
npx tsc -p tsconfig.bench.json
exec node .data/bench-dist/bench/run.js "$@"
