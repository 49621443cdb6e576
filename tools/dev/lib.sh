# Shared by tools/dev/* scripts: repository root, dependency install, service list.
set -euo pipefail

TRIBUTARY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="${TRIBUTARY_RUN_DIR:-$TRIBUTARY_ROOT/.run}"
SERVICES=(options-collector kafka-gateway cdc-listener cep-engine historical-data-manager)

declare -A SERVICE_PORTS=(
  [options-collector]=3101
  [kafka-gateway]=3102
  [cdc-listener]=3103
  [cep-engine]=3104
  [historical-data-manager]=3105
)

log() { printf '[tributary] %s\n' "$*" >&2; }
die() { printf '[tributary] error: %s\n' "$*" >&2; exit 1; }

require_command() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed or not on PATH: $2"
}

# Installs npm dependencies when node_modules is missing or older than the lock file.
ensure_node_modules() {
  require_command node "Tributary needs Node.js 20 or newer"
  require_command npm "Tributary needs npm"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node.js $(node -v) is too old: Tributary needs Node.js 20 or newer"
  cd "$TRIBUTARY_ROOT"
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies"
    # `npm install` with the committed lock, not `npm ci`: the lock does not list every platform's
    # optional native binary (e.g. @swc/core-darwin-arm64), which `npm ci` treats as out of sync.
    npm install --no-audit --no-fund
  fi
}
