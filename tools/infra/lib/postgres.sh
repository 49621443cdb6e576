# shellcheck shell=bash
# PostgreSQL: the machine's own server (never started from scratch, never stopped by us).
# `up postgres` makes sure it runs, has logical decoding enabled, and has the database.

PG_PORT=5432
PG_USER=postgres
PG_DATABASE=tributary
PG_MIN_REPLICATION_SLOTS=20
PG_MIN_WAL_SENDERS=20
PG_READY_TIMEOUT="${TRIBUTARY_PG_READY_TIMEOUT:-60}"

postgres_requirements() { note_missing_commands psql pg_isready pg_lsclusters pg_ctlcluster; }

pg_psql() { # sql [database]
  psql -h "$INFRA_HOST" -p "$PG_PORT" -U "$PG_USER" -d "${2:-postgres}" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"
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

  if [[ "$(pg_psql "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")" != 1 ]]; then
    say "postgres: creating database $PG_DATABASE"
    pg_psql "CREATE DATABASE $PG_DATABASE" >/dev/null ||
      [[ "$(pg_psql "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")" == 1 ]] ||
      die "postgres: could not create database $PG_DATABASE"
  fi
}

postgres_wait() {
  pg_wait_ready
  say "postgres: ready on $INFRA_HOST:$PG_PORT (wal_level=$(pg_psql 'SHOW wal_level'), database $PG_DATABASE)"
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
    status_line postgres running "$(pg_server_pid)" "$INFRA_HOST:$PG_PORT (machine server; wal_level=$(pg_psql 'SHOW wal_level' 2>/dev/null || echo '?'))"
  else
    status_line postgres stopped - "$INFRA_HOST:$PG_PORT (machine server)"
  fi
}

postgres_stop() { say "postgres: left running (it is the machine's own server; tools/infra never stops it)"; }

postgres_env() {
  env_line DATABASE_URL "postgres://$PG_USER@$INFRA_HOST:$PG_PORT/$PG_DATABASE"
}

postgres_endpoints() {
  say "  postgres  postgres://$PG_USER@$INFRA_HOST:$PG_PORT/$PG_DATABASE"
}
