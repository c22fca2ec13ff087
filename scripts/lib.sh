# Shared by the project's scripts: paths, logging, and the dependency install.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_BIN="$ROOT/.tools/bin"
DATA_DIR="$ROOT/.data"
TEMPORAL_BIN="${TEMPORAL_CLI:-$TOOLS_BIN/temporal}"
mkdir -p "$DATA_DIR"

say() { printf '[storyloom] %s\n' "$*"; }
die() { printf '[storyloom] error: %s\n' "$*" >&2; exit 1; }

# Installs from the lockfile when node_modules is missing or older than it; `prepare` builds
# dist/. `npm install`, not `npm ci`: some registries (this machine kind's among them) do not
# serve other platforms' optional binaries (e.g. @swc/core-darwin-arm64), npm leaves those out
# of the lockfile, and `npm ci` then refuses the lockfile as out of sync.
ensure_node_modules() {
  cd "$ROOT"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm dependencies (npm install from package-lock.json)"
    npm install --no-audit --no-fund --loglevel=error
  elif [ ! -f dist/starter.js ] || [ -n "$(find src -newer dist/starter.js -name '*.ts' -print -quit)" ]; then
    say "building (tsc)"
    npm run --silent build
  fi
}

# Reads host and port of TEMPORAL_ADDRESS (default 127.0.0.1:7233).
temporal_host() { local a="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"; echo "${a%:*}"; }
temporal_port() { local a="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"; echo "${a##*:}"; }

# True when something accepts TCP connections on host:port.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
