#!/usr/bin/env bash
# The main job end to end (`npm run demo`): installs dependencies, builds or finds the Temporal
# CLI, starts what is not running, migrates, starts the LLM simulator when no provider key is
# set, starts a worker and the HTTP API (printing its URL and a curl that follows the run),
# ingests the sample screenplay with a progress bar, prints the Web UI link to that run; then
# imports the sample news articles (samples/news.csv) and generates their stories.
# Other commands: `npm run demo -- <storyloom command…>`.
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
    # The seeds' latencies (summary 2 s, outline 5 s, sheet 3 s, story synthesis 17.5 s, embeddings 0.5 s + 15 ms/input) at a quarter.
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

API_HOST="${STORYLOOM_API_HOST:-127.0.0.1}"
API_PORT="${STORYLOOM_API_PORT:-7880}"
API_URL="http://$API_HOST:$API_PORT"
if port_open "$API_HOST" "$API_PORT"; then
  say "something already answers on $API_URL: using it as the API"
else
  say "starting the HTTP API on $API_URL (log: $DATA_DIR/api.log)"
  node bin/storyloom.js serve >"$DATA_DIR/api.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do port_open "$API_HOST" "$API_PORT" && break; sleep 0.1; done
fi
AUTH_HEADER=""
[ -n "${STORYLOOM_API_TOKENS:-}" ] && AUTH_HEADER="-H 'Authorization: Bearer <one of STORYLOOM_API_TOKENS>' "

# The main job: ingest the sample screenplay (a re-run re-imports it and ingests only what changed).
if [ $# -eq 0 ]; then
  IMPORTED="$(node bin/storyloom.js import samples/the-storm-collector.fountain)"
  echo "$IMPORTED"
  SCRIPT_ID="$(printf '%s\n' "$IMPORTED" | sed -n 's/^script id: //p')"
  say "HTTP API: $API_URL (OpenAPI: $API_URL/openapi.json). Follow this run from another terminal:"
  echo "  curl -N ${AUTH_HEADER}$API_URL/api/runs/ingest-$SCRIPT_ID/events"
  echo "  curl -s ${AUTH_HEADER}$API_URL/api/runs/ingest-$SCRIPT_ID"
  node bin/storyloom.js ingest "$SCRIPT_ID" --wait

  # The second job: the sample articles (the project's own, all of 2 March 2026) into stories.
  # A re-run re-imports them (nothing changes) and reuses every story: no LLM call.
  say "news stories: importing samples/news.csv and generating the stories of its day"
  node bin/storyloom.js articles import samples/news.csv
  node bin/storyloom.js stories generate --from 2026-03-02 --to 2026-03-03 --wait
  node bin/storyloom.js stories list
  say "a story in full: node bin/storyloom.js stories show <id>; search: node bin/storyloom.js stories search \"ferry strike\""
  exit 0
fi
say "HTTP API: $API_URL (OpenAPI: $API_URL/openapi.json)"
node bin/storyloom.js "$@"
