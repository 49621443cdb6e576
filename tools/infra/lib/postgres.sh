# shellcheck shell=bash
# PostgreSQL: the machine's own server (never started from scratch, never stopped by us).
# `up postgres` makes sure it runs, has logical decoding enabled, and has this stack's database.
#
# One database per stack: an infra folder gets a stack id once ($INFRA_DIR/stack-id) and its own
# database (tributary_<id>, named in $INFRA_DIR/postgres/database), so a second checkout, or this one
# after .infra was deleted, never inherits another stack's catalog, replication slots or offsets.
# The database's comment names its stack and folder ("tributary stack <id> <dir>"): `up postgres`
# drops the databases of stacks whose folder is gone (or holds another stack id now), and
# `down --purge postgres` drops this stack's own; replication slots first, as a slot belongs to a
# database and would otherwise keep holding WAL.

PG_PORT=5432
PG_USER=postgres
# Database of the stacks from before stack ids (tools/infra/README.md, "One database per stack").
PG_LEGACY_DATABASE=tributary
STACK_ID_FILE="$INFRA_DIR/stack-id"
PG_DATABASE_FILE="$INFRA_DIR/postgres/database"
PG_COMMENT_PREFIX='tributary stack'
PG_MIN_REPLICATION_SLOTS=20
PG_MIN_WAL_SENDERS=20
PG_READY_TIMEOUT="${TRIBUTARY_PG_READY_TIMEOUT:-60}"

postgres_requirements() { note_missing_commands psql pg_isready pg_lsclusters pg_ctlcluster; }

pg_psql() { # sql [database]
  psql -h "$INFRA_HOST" -p "$PG_PORT" -U "$PG_USER" -d "${2:-postgres}" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"
}

# The stack id of this infra folder, generated once (8 hex digits).
stack_id() {
  if [[ ! -s "$STACK_ID_FILE" ]]; then
    local id
    id="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    [[ "$id" =~ ^[0-9a-f]{8}$ ]] || die "could not generate a stack id from /dev/urandom"
    printf '%s\n' "$id" >"$STACK_ID_FILE.tmp.$$"
    mv -f "$STACK_ID_FILE.tmp.$$" "$STACK_ID_FILE"
  fi
  tr -dc '0-9a-f' <"$STACK_ID_FILE"
}

# The database of this stack: the one recorded in the folder; else, for a folder that ran `up`
# before stack ids, the database its env file names (tributary: its Kafka and S3 data belong with
# it); else tributary_<stack id>. Recorded on first use, so it never changes under a running stack.
pg_database() {
  if [[ ! -s "$PG_DATABASE_FILE" ]]; then
    local name
    name="$(pg_database_known)"
    [[ -n "$name" ]] || name="tributary_$(stack_id)"
    stack_id >/dev/null
    mkdir -p "$(dirname "$PG_DATABASE_FILE")"
    printf '%s\n' "$name" >"$PG_DATABASE_FILE.tmp.$$"
    mv -f "$PG_DATABASE_FILE.tmp.$$" "$PG_DATABASE_FILE"
  fi
  tr -dc 'a-z0-9_' <"$PG_DATABASE_FILE"
}

# The database of this stack as far as it is decided, without deciding it (empty for a new folder).
pg_database_known() {
  if [[ -s "$PG_DATABASE_FILE" ]]; then
    tr -dc 'a-z0-9_' <"$PG_DATABASE_FILE"
  elif [[ ! -s "$STACK_ID_FILE" && -f "$INFRA_DIR/env" ]]; then
    sed -n 's|^DATABASE_URL=postgres://[^/]*/\(tributary[a-z0-9_]*\)$|\1|p' "$INFRA_DIR/env"
  fi
}

pg_sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }

pg_database_exists() { [[ "$(pg_psql "SELECT 1 FROM pg_database WHERE datname = $(pg_sql_literal "$1")")" == 1 ]]; }

# "<stack id> <dir>" of a database's stack comment, empty when it has none.
pg_database_owner() {
  local comment
  comment="$(pg_psql "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $(pg_sql_literal "$1")")"
  [[ "$comment" == "$PG_COMMENT_PREFIX "* ]] && printf '%s\n' "${comment#"$PG_COMMENT_PREFIX "}"
  return 0
}

# Whether the stack named by a comment ("<id> <dir>") still exists: its folder holds that stack id.
pg_stack_alive() {
  local id="${1%% *}" dir="${1#* }"
  [[ -d "$dir" && -s "$dir/stack-id" && "$(tr -dc '0-9a-f' <"$dir/stack-id")" == "$id" ]]
}

pg_claim_database() { # database
  pg_psql "COMMENT ON DATABASE \"$1\" IS $(pg_sql_literal "$PG_COMMENT_PREFIX $(stack_id) $INFRA_DIR")" >/dev/null
}

# Drops a database with its replication slots; with "force", ends its sessions first (the stack's
# own services), otherwise leaves a database in use alone and says so. Prints what it removes.
pg_drop_stack_database() { # database [force]
  local db="$1" force="${2:-}" lit busy slot
  lit="$(pg_sql_literal "$db")"
  if [[ "$force" == force ]]; then
    pg_psql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $lit AND pid <> pg_backend_pid()" >/dev/null
    local deadline=$((SECONDS + 30))
    while [[ "$(pg_psql "SELECT count(*) FROM pg_replication_slots WHERE database = $lit AND active")" != 0 ]]; do
      ((SECONDS < deadline)) || die "postgres: replication slots of $db still in use after 30 s"
      sleep 0.5
    done
  else
    busy="$(pg_psql "SELECT count(*) FROM pg_stat_activity WHERE datname = $lit") $(pg_psql "SELECT count(*) FROM pg_replication_slots WHERE database = $lit AND active")"
    if [[ "$busy" != "0 0" ]]; then
      warn "postgres: database $db belongs to no stack any more but is in use (sessions, active slots: $busy); left as it is"
      return 0
    fi
  fi
  while read -r slot; do
    [[ -n "$slot" ]] || continue
    say "postgres: dropping replication slot $slot (database $db)"
    pg_psql "SELECT pg_drop_replication_slot($(pg_sql_literal "$slot"))" >/dev/null
  done < <(pg_psql "SELECT slot_name FROM pg_replication_slots WHERE database = $lit ORDER BY slot_name")
  say "postgres: dropping database $db"
  pg_psql "DROP DATABASE IF EXISTS \"$db\"" >/dev/null || {
    warn "postgres: could not drop database $db (a session connected meanwhile?)"
    return 1
  }
}

# Drops the databases of stacks that no longer exist (a deleted infra folder, a CI clone killed
# before it cleaned up): only databases whose comment names a stack, never this stack's own.
pg_collect_orphans() {
  local db owner own
  own="$(pg_database)"
  while read -r db; do
    [[ -n "$db" && "$db" != "$own" ]] || continue
    owner="$(pg_database_owner "$db")"
    [[ -n "$owner" ]] || continue
    pg_stack_alive "$owner" && continue
    say "postgres: database $db belongs to stack ${owner%% *}, whose folder ${owner#* } is gone or holds another stack"
    pg_drop_stack_database "$db" || true
  done < <(pg_psql "SELECT datname FROM pg_database WHERE datname = $(pg_sql_literal "$PG_LEGACY_DATABASE") OR datname LIKE 'tributary\_%' ORDER BY datname")
}

# Creates this stack's database when missing and marks it as this stack's.
pg_ensure_database() {
  local db owner
  db="$(pg_database)"
  if [[ "$db" != "tributary_$(stack_id)" ]] && pg_database_exists "$db"; then
    owner="$(pg_database_owner "$db")"
    if [[ -n "$owner" && "$owner" != "$(stack_id) $INFRA_DIR" ]] && pg_stack_alive "$owner"; then
      # Another folder of the time before stack ids adopted it first: this one gets its own.
      warn "postgres: database $db belongs to the stack in ${owner#* }; this stack uses tributary_$(stack_id)"
      db="tributary_$(stack_id)"
      printf '%s\n' "$db" >"$PG_DATABASE_FILE"
    fi
  fi
  if ! pg_database_exists "$db"; then
    say "postgres: creating database $db (stack $(stack_id))"
    pg_psql "CREATE DATABASE \"$db\"" >/dev/null || pg_database_exists "$db" || die "postgres: could not create database $db"
    if compgen -G "$INFRA_DIR/kafka/data-*/meta.properties" >/dev/null || [[ -d "$INFRA_DIR/s3/data" && -n "$(ls -A "$INFRA_DIR/s3/data" 2>/dev/null)" ]]; then
      warn "postgres: this stack's Kafka or S3 data predates its new database $db; 'tools/infra/down --purge' starts the stack afresh"
    fi
  fi
  [[ "$(pg_database_owner "$db")" == "$(stack_id) $INFRA_DIR" ]] || pg_claim_database "$db"
}

pg_ready() { pg_isready -q -h "$INFRA_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

# Prints "<version> <cluster>" of the local cluster serving PG_PORT (or the first one).
pg_cluster() {
  local ver name port _rest first=""
  while read -r ver name port _rest; do
    [[ -n "$ver" && -n "$name" ]] || continue
    [[ -z "$first" ]] && first="$ver $name"
    if [[ "$port" == "$PG_PORT" ]]; then
      printf '%s %s\n' "$ver" "$name"
      return 0
    fi
  done < <(pg_lsclusters -h 2>/dev/null)
  [[ -n "$first" ]] || return 1
  printf '%s\n' "$first"
}

pg_cluster_ctl() { # start|restart
  local action="$1" cluster ver name
  cluster="$(pg_cluster)" || die "postgres: no PostgreSQL cluster found by pg_lsclusters (install the postgresql package, or create one with pg_createcluster)"
  read -r ver name <<<"$cluster"
  say "postgres: pg_ctlcluster $ver $name $action"
  # fd 9 is the tools/infra lock: the server must not inherit it.
  pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" "$action" 9>&- ||
    die "postgres: 'pg_ctlcluster --skip-systemctl-redirect $ver $name $action' failed (its log file is listed by pg_lsclusters)"
}

pg_wait_ready() {
  local deadline=$((SECONDS + PG_READY_TIMEOUT))
  until pg_ready; do
    ((SECONDS < deadline)) || die "postgres: $INFRA_HOST:$PG_PORT not ready after ${PG_READY_TIMEOUT}s"
    sleep 0.5
  done
}

postgres_start() {
  if ! pg_ready; then
    say "postgres: not answering on $INFRA_HOST:$PG_PORT, starting the local cluster"
    pg_cluster_ctl start
    pg_wait_ready
  fi
  pg_psql 'SELECT 1' >/dev/null ||
    die "postgres: cannot connect as '$PG_USER' to $INFRA_HOST:$PG_PORT (trust auth for 127.0.0.1 is expected in pg_hba.conf)"

  local wal slots senders
  wal="$(pg_psql 'SHOW wal_level')"
  slots="$(pg_psql 'SHOW max_replication_slots')"
  senders="$(pg_psql 'SHOW max_wal_senders')"
  [[ "$wal" == logical ]] || pg_psql "ALTER SYSTEM SET wal_level = 'logical'" >/dev/null
  ((slots >= PG_MIN_REPLICATION_SLOTS)) || pg_psql "ALTER SYSTEM SET max_replication_slots = $PG_MIN_REPLICATION_SLOTS" >/dev/null
  ((senders >= PG_MIN_WAL_SENDERS)) || pg_psql "ALTER SYSTEM SET max_wal_senders = $PG_MIN_WAL_SENDERS" >/dev/null
  pg_psql 'SELECT pg_reload_conf()' >/dev/null

  local pending
  pending="$(pg_psql "SELECT count(*) FROM pg_settings WHERE pending_restart AND name IN ('wal_level','max_replication_slots','max_wal_senders')")"
  if [[ "$wal" != logical ]] || ((slots < PG_MIN_REPLICATION_SLOTS || senders < PG_MIN_WAL_SENDERS || pending > 0)); then
    say "postgres: restarting to apply wal_level=logical, max_replication_slots>=$PG_MIN_REPLICATION_SLOTS, max_wal_senders>=$PG_MIN_WAL_SENDERS"
    pg_cluster_ctl restart
    pg_wait_ready
    wal="$(pg_psql 'SHOW wal_level')"
    [[ "$wal" == logical ]] || die "postgres: wal_level is still '$wal' after the restart"
  fi

  pg_ensure_database
  pg_collect_orphans
}

postgres_wait() {
  pg_wait_ready
  say "postgres: ready on $INFRA_HOST:$PG_PORT (wal_level=$(pg_psql 'SHOW wal_level'), database $(pg_database), stack $(stack_id))"
}

pg_server_pid() {
  local pid=""
  if pg_ready; then
    pid="$(pg_psql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'" 2>/dev/null || true)"
    # The postmaster is the checkpointer's parent.
    if [[ -n "$pid" && -r "/proc/$pid/stat" ]]; then
      pid="$(awk '{print $4}' "/proc/$pid/stat")"
    fi
  fi
  printf '%s\n' "${pid:--}"
}

postgres_status() {
  if pg_ready; then
    local database="no stack database yet" name
    name="$(pg_database_known)"
    if [[ -n "$name" ]]; then
      database="database $name"
      if pg_database_exists "$name" 2>/dev/null; then database+=" present"; else database+=" absent"; fi
    fi
    status_line postgres running "$(pg_server_pid)" "$INFRA_HOST:$PG_PORT (machine server; wal_level=$(pg_psql 'SHOW wal_level' 2>/dev/null || echo '?'); $database)"
  else
    status_line postgres stopped - "$INFRA_HOST:$PG_PORT (machine server)"
  fi
}

postgres_stop() { say "postgres: left running (it is the machine's own server; tools/infra never stops it)"; }

# `down --purge postgres`: drops this stack's database (its replication slots first, its sessions
# ended), and forgets the name, so the next `up` creates it afresh. The server keeps running.
postgres_purge() {
  local db
  if [[ ! -s "$PG_DATABASE_FILE" ]]; then
    say "postgres: this stack has no database yet; nothing to drop"
    return 0
  fi
  db="$(pg_database)"
  pg_ready || die "postgres: $INFRA_HOST:$PG_PORT does not answer; cannot drop database $db"
  if pg_database_exists "$db"; then
    local owner
    owner="$(pg_database_owner "$db")"
    [[ -z "$owner" || "$owner" == "$(stack_id) $INFRA_DIR" ]] ||
      die "postgres: database $db is marked as the stack in ${owner#* }, not this one ($INFRA_DIR); not dropped"
    pg_drop_stack_database "$db" force
  else
    say "postgres: database $db does not exist"
  fi
  # An adopted database is not adopted again: the next `up` creates tributary_<stack id>.
  [[ "$db" == "tributary_$(stack_id)" ]] || rm -f "$PG_DATABASE_FILE"
  return 0
}

postgres_env() {
  env_line DATABASE_URL "postgres://$PG_USER@$INFRA_HOST:$PG_PORT/$(pg_database)"
}

postgres_endpoints() {
  say "  postgres  postgres://$PG_USER@$INFRA_HOST:$PG_PORT/$(pg_database)"
}
