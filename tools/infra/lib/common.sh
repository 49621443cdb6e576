# shellcheck shell=bash
# Shared helpers for tools/infra/{up,down,status}. Sourced, never executed.
#
# Layout (all state under $INFRA_DIR, default <repo>/.infra, override with TRIBUTARY_INFRA_DIR):
#   <component>/<component>.pid   pid of the process `up` started (absent for postgres)
#   <component>/<component>.log   its log
#   cache/<artifact>-<version>/   jars fetched from Maven Central
#   env                           KEY=value connection settings for other scripts
#   .lock                         serialises concurrent up/down runs

INFRA_TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRIBUTARY_ROOT="$(cd "$INFRA_TOOLS_DIR/../.." && pwd)"
INFRA_DIR="${TRIBUTARY_INFRA_DIR:-$TRIBUTARY_ROOT/.infra}"
mkdir -p "$INFRA_DIR"
INFRA_DIR="$(cd "$INFRA_DIR" && pwd)"
# shellcheck disable=SC2034 # used by the component files and the commands
CACHE_DIR="$INFRA_DIR/cache"

INFRA_HOST=127.0.0.1

ALL_COMPONENTS=(kafka postgres s3)
# shellcheck disable=SC2034
STOPPABLE_COMPONENTS=(kafka s3)

PROG="tools/infra/$(basename "$0")"

say() { printf '[infra] %s\n' "$*"; }
warn() { printf '[infra] warning: %s\n' "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}

is_component() {
  local c
  for c in "${ALL_COMPONENTS[@]}"; do [[ "$c" == "$1" ]] && return 0; done
  return 1
}

# require_commands <what-for> cmd... : fail listing every missing command at once.
MISSING_COMMANDS=()
note_missing_commands() {
  local cmd
  for cmd in "$@"; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
      case " ${MISSING_COMMANDS[*]-} " in
        *" $cmd "*) ;;
        *) MISSING_COMMANDS+=("$cmd") ;;
      esac
    fi
  done
}
fail_if_commands_missing() {
  if ((${#MISSING_COMMANDS[@]} > 0)); then
    local list
    list="$(printf '%s, ' "${MISSING_COMMANDS[@]}")"
    die "missing required command(s): ${list%, }. On Debian: java/keytool -> openjdk-17-jre-headless, mvn -> maven, psql/pg_isready/pg_lsclusters/pg_ctlcluster -> postgresql + postgresql-client, curl -> curl."
  fi
}

java_cmd() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    printf '%s\n' "$JAVA_HOME/bin/java"
  else
    printf 'java\n'
  fi
}
keytool_cmd() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/keytool" ]]; then
    printf '%s\n' "$JAVA_HOME/bin/keytool"
  else
    printf 'keytool\n'
  fi
}

require_java_17() {
  local v
  v="$("$(java_cmd)" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n1)"
  [[ -n "$v" ]] || die "could not determine the Java version of '$(java_cmd)'"
  if [[ "$v" == 1.* ]] || ((${v%%.*} < 17)); then
    die "Java 17 or newer is required (found Java $v at '$(command -v "$(java_cmd)")')"
  fi
}

# Serialise up/down so parallel callers (e.g. several test runners) do not race.
acquire_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$INFRA_DIR/.lock"
  if ! flock -n 9; then
    say "waiting for another tools/infra command to finish ($INFRA_DIR/.lock)"
    flock -w 600 9 || die "timed out waiting for $INFRA_DIR/.lock (held by pid(s): $(fuser "$INFRA_DIR/.lock" 2>/dev/null || echo unknown))"
  fi
}

# ---------------------------------------------------------------- ports

port_open() { # port -> 0 when something accepts TCP connections on INFRA_HOST:port
  # shellcheck disable=SC2016 # expanded by the inner shell
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$INFRA_HOST" "$1" >/dev/null 2>&1
}

port_holder() { # best-effort description of who listens on a port
  local out=""
  if command -v ss >/dev/null 2>&1; then
    out="$(ss -Hltnp "( sport = :$1 )" 2>/dev/null | sed -n 's/.*users:(\(.*\))$/\1/p' | head -n1)"
  fi
  printf '%s\n' "${out:-unknown process}"
}

ensure_ports_free() { # component port...
  local comp="$1" port
  shift
  for port in "$@"; do
    if port_open "$port"; then
      die "cannot start $comp: port $port on $INFRA_HOST is already in use by a process that tools/infra did not start (no live pid in $(pid_file "$comp")); holder: $(port_holder "$port"). Stop that process or free port $port."
    fi
  done
}

# ---------------------------------------------------------------- processes

comp_dir() { printf '%s/%s\n' "$INFRA_DIR" "$1"; }
pid_file() { printf '%s/%s/%s.pid\n' "$INFRA_DIR" "$1" "$1"; }
log_file() { printf '%s/%s/%s.log\n' "$INFRA_DIR" "$1" "$1"; }

# Prints the pid of the component's process when the pid file names a live process that
# was started by us (its command line mentions the component's state folder).
our_pid() {
  local comp="$1" f pid
  f="$(pid_file "$comp")"
  [[ -s "$f" ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$(comp_dir "$comp")/" || return 1
  fi
  printf '%s\n' "$pid"
}

stale_note() { # component -> " (stale pid file ...)" when a pid file outlived its process
  [[ -e "$(pid_file "$1")" ]] && printf ' (stale pid file %s: process gone; up will replace it)' "$(pid_file "$1")"
  return 0
}

# start_background <component> <stdout-file> cmd... : detached from this terminal's
# process group (Ctrl-C in a test run does not kill it); writes the pid file.
start_background() {
  local comp="$1" out="$2"
  shift 2
  local pf
  pf="$(pid_file "$comp")"
  rm -f "$pf"
  local launcher=()
  command -v setsid >/dev/null 2>&1 && launcher=(setsid)
  # The inner shell writes its own pid, then execs the server, so the pid is the server's.
  # fd 9 (the lock) is closed so the server does not keep holding it.
  # shellcheck disable=SC2016 # expanded by the inner shell
  "${launcher[@]}" bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pf" "$@" \
    </dev/null >>"$out" 2>&1 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$pf" ]] && return 0
    sleep 0.1
  done
  die "could not start $comp (no pid file written)"
}

stop_component() { # component -> stops our process, removes the pid file
  local comp="$1" pid pf
  pf="$(pid_file "$comp")"
  if ! pid="$(our_pid "$comp")"; then
    if [[ -e "$pf" ]]; then
      rm -f "$pf"
      say "$comp: was not running (removed stale pid file)"
    else
      say "$comp: not running"
    fi
    return 0
  fi
  say "$comp: stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$comp: pid $pid still alive after 20 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  if kill -0 "$pid" 2>/dev/null; then
    die "$comp: pid $pid did not exit"
  fi
  rm -f "$pf"
  say "$comp: stopped"
}

show_log_tail() { # file [lines]
  local f="$1" n="${2:-40}"
  if [[ -s "$f" ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2
    printf -- '-----\n' >&2
  fi
}

# ---------------------------------------------------------------- files

# render_template <template> <dest> KEY=value... : replaces every @KEY@ in the template.
render_template() {
  local tpl="$1" dest="$2" content kv key val
  shift 2
  content="$(<"$tpl")"
  for kv in "$@"; do
    key="${kv%%=*}"
    val="${kv#*=}"
    content="${content//"@$key@"/"$val"}"
  done
  if [[ "$content" =~ @[A-Z0-9_]+@ ]]; then
    die "template $tpl: unreplaced placeholder ${BASH_REMATCH[0]}"
  fi
  printf '%s\n' "$content" >"$dest.tmp.$$"
  mv -f "$dest.tmp.$$" "$dest"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

pom_property() { # pom property-name
  sed -n "s:.*<$2>\\([^<]*\\)</$2>.*:\\1:p" "$1" | head -n1
}

jar_cache_ready() { # pom libs-dir -> 0 when the cache was filled from this exact pom
  local marker
  marker="$(dirname "$2")/.complete"
  [[ -d "$2" && -f "$marker" && "$(<"$marker")" == "$(sha256_of "$1")" ]]
}

# fetch_jars <label> <pom> <libs-dir> : mvn dependency:copy-dependencies into libs-dir,
# skipped when the cache is complete for this exact pom (marker holds the pom's hash).
fetch_jars() {
  local label="$1" pom="$2" libs="$3"
  jar_cache_ready "$pom" "$libs" && return 0
  command -v mvn >/dev/null 2>&1 || die "missing required command: mvn (needed once to fetch the $label jars into $libs)"
  say "$label: fetching jars from Maven Central into $libs"
  mkdir -p "$(dirname "$libs")"
  local tmp="$libs.tmp.$$"
  rm -rf "$tmp"
  local mvnlog
  mvnlog="$(dirname "$libs")/mvn.log"
  if ! mvn -B -ntp -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
    rm -rf "$tmp"
    show_log_tail "$mvnlog" 30
    die "$label: 'mvn dependency:copy-dependencies' failed for $pom (is Maven Central reachable?)"
  fi
  rm -rf "$libs"
  mv "$tmp" "$libs"
  sha256_of "$pom" >"$(dirname "$libs")/.complete"
}

# env-file value: plain when safe, single-quoted otherwise (still valid for `source`).
env_line() {
  local k="$1" v="$2"
  if [[ "$v" =~ ^[A-Za-z0-9_@%+=:,./-]*$ ]]; then
    printf '%s=%s\n' "$k" "$v"
  else
    printf "%s='%s'\n" "$k" "${v//\'/\'\\\'\'}"
  fi
}
