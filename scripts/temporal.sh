#!/usr/bin/env bash
# The Temporal CLI dev server (a real Temporal server: SQLite persistence, Web UI).
#   install   build the CLI into .tools/bin when missing (go install; reused when present)
#   start     start the dev server unless something already answers at TEMPORAL_ADDRESS
#   stop      stop the dev server this script started
#   status    say what answers at TEMPORAL_ADDRESS
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PID_FILE="$DATA_DIR/temporal.pid"
LOG_FILE="$DATA_DIR/temporal.log"
DB_FILE="$DATA_DIR/temporal.sqlite"
UI_PORT="${TEMPORAL_UI_PORT:-8233}"
# v1.5.1 first; later tags carry a `replace` directive that `go install` refuses.
CLI_VERSIONS=(v1.5.1 v1.5.0 v1.4.1)
# The custom search attributes the workflows set (src/shared/search-attributes.ts: keep in step).
SEARCH_ATTRIBUTES=(StoryloomJob=Keyword StoryloomTitle=Keyword StoryloomStatus=Keyword StoryloomTurns=Int)
# Latency and priority settings (src/shared/temporal-server-settings.ts says why: keep in step).
DYNAMIC_CONFIG=(history.transferProcessorMaxPollRPS=200 matching.numTaskqueueReadPartitions=1 matching.numTaskqueueWritePartitions=1 matching.useNewMatcher=true)

install_cli() {
  if [ -x "$TEMPORAL_BIN" ]; then return 0; fi
  command -v go >/dev/null || die "Go is needed to build the Temporal CLI (go install); install Go or set TEMPORAL_CLI to a temporal binary"
  mkdir -p "$TOOLS_BIN"
  local start=$SECONDS v
  for v in "${CLI_VERSIONS[@]}"; do
    say "building the Temporal CLI $v with go install (a few minutes on a fresh machine)"
    if GOBIN="$TOOLS_BIN" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$v" >"$DATA_DIR/temporal-build.log" 2>&1; then
      echo "$v" >"$TOOLS_BIN/temporal.version"
      say "Temporal CLI $v built in $((SECONDS - start)) s: $TEMPORAL_BIN"
      return 0
    fi
    say "go install of $v failed (see $DATA_DIR/temporal-build.log)"
  done
  die "could not build the Temporal CLI (tried ${CLI_VERSIONS[*]})"
}

healthy() { "$TEMPORAL_BIN" operator cluster health --address "${TEMPORAL_ADDRESS:-127.0.0.1:7233}" >/dev/null 2>&1; }

# On a server this script did not start: registers the search attributes (an existing one is kept).
register_search_attributes() {
  local sa
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do
    "$TEMPORAL_BIN" operator search-attribute create --name "${sa%%=*}" --type "${sa#*=}" \
      --address "${TEMPORAL_ADDRESS:-127.0.0.1:7233}" --namespace "${TEMPORAL_NAMESPACE:-default}" >/dev/null 2>&1 ||
      say "could not register the search attribute ${sa%%=*} (register it yourself: ingestion runs set it)"
  done
}

start() {
  local host port
  host=$(temporal_host); port=$(temporal_port)
  if port_open "$host" "$port"; then
    say "a Temporal server already answers at $host:$port; using it"
    if [ -x "$TEMPORAL_BIN" ]; then
      register_search_attributes
    else
      say "no Temporal CLI here to register the search attributes ${SEARCH_ATTRIBUTES[*]}: register them on that server"
    fi
    return 0
  fi
  install_cli
  say "starting the Temporal dev server on $host:$port (Web UI on :$UI_PORT, data in $DB_FILE, log in $LOG_FILE)"
  local sa_args=() sa
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do sa_args+=(--search-attribute "$sa"); done
  local dc_args=() dc
  for dc in "${DYNAMIC_CONFIG[@]}"; do dc_args+=(--dynamic-config-value "$dc"); done
  nohup "$TEMPORAL_BIN" server start-dev --ip "$host" --port "$port" --ui-port "$UI_PORT" \
    --db-filename "$DB_FILE" --log-format json --log-level warn "${sa_args[@]}" "${dc_args[@]}" >>"$LOG_FILE" 2>&1 &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 120); do
    if healthy; then say "Temporal is up: http://$host:$UI_PORT"; return 0; fi
    kill -0 "$(cat "$PID_FILE")" 2>/dev/null || die "the dev server exited; see $LOG_FILE"
    sleep 0.5
  done
  die "the dev server did not become healthy in 60 s; see $LOG_FILE"
}

stop() {
  if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    kill "$(cat "$PID_FILE")"
    for _ in $(seq 1 40); do kill -0 "$(cat "$PID_FILE")" 2>/dev/null || break; sleep 0.25; done
    rm -f "$PID_FILE"
    say "stopped the Temporal dev server"
  else
    rm -f "$PID_FILE"
    say "no dev server started by this project is running"
  fi
}

status() {
  local host port
  host=$(temporal_host); port=$(temporal_port)
  if port_open "$host" "$port"; then
    if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
      say "running: dev server pid $(cat "$PID_FILE") at $host:$port, Web UI http://$host:$UI_PORT"
    else
      say "a Temporal server (not started by this script) answers at $host:$port"
    fi
  else
    say "nothing answers at $host:$port"
    return 3
  fi
}

case "${1:-}" in
  install) install_cli ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
