#!/usr/bin/env bash
# The main job end to end (`npm run demo`): installs dependencies, builds or finds the Temporal
# CLI, starts what is not running, migrates, starts the LLM simulator when no provider key is
# set, starts a worker, ingests the sample screenplay with a progress bar, prints the Web UI
# link to that run. Other commands: `npm run demo -- <storyloom command…>`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_node_modules
bash "$ROOT/scripts/temporal.sh" start
cd "$ROOT"

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

if [ -z "${ANTHROPIC_API_KEY:-}" ] && [ -z "${OPENAI_API_KEY:-}" ] && [ -z "${OLLAMA_HOST:-}" ]; then
  SIM_PORT="${SIM_PORT:-7800}"
  say "No provider key is set (ANTHROPIC_API_KEY, OPENAI_API_KEY, OLLAMA_HOST): using the storyloom LLM SIMULATOR on port $SIM_PORT, not a real model."
  if ! port_open 127.0.0.1 "$SIM_PORT"; then
    # The seed's latencies (summary 2 s, outline 5 s, sheet 3 s, embeddings 0.5 s + 15 ms/input) at a quarter.
    node dist/llm/simulator/cli.js --port "$SIM_PORT" --config samples/demo-simulator.json --time-scale "${SIM_TIME_SCALE:-0.25}" >"$DATA_DIR/simulator.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 50); do port_open 127.0.0.1 "$SIM_PORT" && break; sleep 0.1; done
  fi
  export ANTHROPIC_BASE_URL="http://127.0.0.1:$SIM_PORT" ANTHROPIC_API_KEY="simulator"
  export OPENAI_BASE_URL="http://127.0.0.1:$SIM_PORT/v1" OPENAI_API_KEY="simulator"
fi

say "migrating the database"
node dist/db/migrate.js

say "starting a worker (log: $DATA_DIR/worker.log)"
node dist/worker.js >"$DATA_DIR/worker.log" 2>&1 &
PIDS+=($!)

# The main job: ingest the sample screenplay (a re-run re-imports it and ingests only what changed).
if [ $# -eq 0 ]; then
  set -- ingest samples/the-storm-collector.fountain --wait
fi
node bin/storyloom.js "$@"
