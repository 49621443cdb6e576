# shellcheck shell=bash
# S3: MinIO when a `minio` binary is on PATH, otherwise S3Proxy (filesystem backend) run
# from Maven Central jars. Both keep their objects in $INFRA_DIR/s3/data.

S3_PORT="${TRIBUTARY_S3_PORT:-9000}"
[[ "$S3_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || die "TRIBUTARY_S3_PORT=$S3_PORT is not a port number"
S3_ACCESS_KEY=tributary
S3_SECRET_KEY=tributary-secret
S3_REGION_NAME=us-east-1
S3_BUCKETS=(tributary-archive tributary-test)
S3_READY_TIMEOUT="${TRIBUTARY_S3_READY_TIMEOUT:-60}"

S3_POM="$INFRA_TOOLS_DIR/s3/pom.xml"
S3PROXY_VERSION="$(pom_property "$S3_POM" s3proxy.version)"
S3PROXY_LIBS="$CACHE_DIR/s3proxy-$S3PROXY_VERSION/libs"
S3_DIR="$INFRA_DIR/s3"
S3_CONF="$S3_DIR/s3proxy.conf"
S3_ENDPOINT_URL="http://$INFRA_HOST:$S3_PORT"

# Which server `up s3` uses on this machine.
s3_kind() {
  if command -v minio >/dev/null 2>&1; then echo minio; else echo s3proxy; fi
}
# Which server is running (recorded at start), falling back to what would be used.
s3_running_kind() {
  if [[ -s "$S3_DIR/server" ]]; then cat "$S3_DIR/server"; else s3_kind; fi
}

s3_requirements() {
  note_missing_commands curl
  if [[ "$(s3_kind)" == s3proxy ]]; then
    note_missing_commands java
    jar_cache_ready "$S3_POM" "$S3PROXY_LIBS" || note_missing_commands mvn
  fi
}

# SHA-256 of an empty body. curl's --aws-sigv4 signs the request but (before curl 8.x) does
# not send x-amz-content-sha256, which S3 servers require; body-less requests send this.
S3_EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

s3_curl() { # method path -> prints the HTTP status code of a signed, body-less request
  local method="$1" path="$2" head=()
  [[ "$method" == HEAD ]] && head=(--head)
  curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
    --aws-sigv4 "aws:amz:$S3_REGION_NAME:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: $S3_EMPTY_SHA256" \
    "${head[@]}" -X "$method" "$S3_ENDPOINT_URL$path" 2>/dev/null || true
}

s3_start() {
  local pid kind
  kind="$(s3_kind)"
  if pid="$(our_pid s3)"; then
    say "s3: already running (pid $pid, $(s3_running_kind))"
    return 0
  fi
  ensure_ports_free s3 "$S3_PORT"
  # MinIO and S3Proxy keep different on-disk formats: never point one at the other's data.
  if [[ -s "$S3_DIR/server" && "$(<"$S3_DIR/server")" != "$kind" && -d "$S3_DIR/data" ]]; then
    local aside
    aside="$S3_DIR/data.$(<"$S3_DIR/server").$(date +%Y%m%d%H%M%S)"
    warn "s3: switching from $(<"$S3_DIR/server") to $kind; moving the old objects aside to $aside"
    mv "$S3_DIR/data" "$aside"
  fi
  mkdir -p "$S3_DIR/data"
  printf '\n===== %s start =====\n' "$(date '+%F %T')" >>"$(log_file s3)"
  if [[ "$kind" == minio ]]; then
    say "s3: starting MinIO ($(command -v minio))"
    echo minio >"$S3_DIR/server"
    start_background s3 "$(log_file s3)" \
      env MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" \
      MINIO_BROWSER=off MINIO_UPDATE=off \
      minio server --quiet --address "$INFRA_HOST:$S3_PORT" "$S3_DIR/data"
  else
    require_java_17
    fetch_jars "s3proxy $S3PROXY_VERSION" "$S3_POM" "$S3PROXY_LIBS"
    render_template "$INFRA_TOOLS_DIR/s3/s3proxy.conf.in" "$S3_CONF" \
      "HOST=$INFRA_HOST" "PORT=$S3_PORT" "REGION=$S3_REGION_NAME" \
      "ACCESS_KEY=$S3_ACCESS_KEY" "SECRET_KEY=$S3_SECRET_KEY" "DATA_DIR=$S3_DIR/data"
    say "s3: starting S3Proxy $S3PROXY_VERSION (filesystem backend)"
    echo s3proxy >"$S3_DIR/server"
    start_background s3 "$(log_file s3)" \
      "$(java_cmd)" -Xms64m -Xmx256m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true -Dlogback.configurationFile="$INFRA_TOOLS_DIR/s3/logback.xml" \
      -cp "$S3PROXY_LIBS/*" org.gaul.s3proxy.Main --properties "$S3_CONF"
  fi
}

s3_wait() {
  local deadline=$((SECONDS + S3_READY_TIMEOUT)) pid code
  while :; do
    if ! pid="$(our_pid s3)"; then
      show_log_tail "$(log_file s3)"
      die "s3: the server process exited during startup (log above)"
    fi
    code="$(s3_curl GET /)"
    [[ "$code" == 200 ]] && break
    if ((SECONDS >= deadline)); then
      show_log_tail "$(log_file s3)"
      die "s3: no signed answer from $S3_ENDPOINT_URL after ${S3_READY_TIMEOUT}s (last HTTP status '${code:-none}'; pid $pid; log above)"
    fi
    sleep 0.5
  done
  local b
  for b in "${S3_BUCKETS[@]}"; do
    code="$(s3_curl HEAD "/$b")"
    [[ "$code" == 200 ]] && continue
    code="$(s3_curl PUT "/$b")"
    case "$code" in
      200 | 409) say "s3: bucket $b created" ;;
      *) die "s3: creating bucket $b failed (HTTP $code)" ;;
    esac
  done
  say "s3: ready at $S3_ENDPOINT_URL (pid $pid, $(s3_running_kind))"
}

s3_status() {
  local pid
  if pid="$(our_pid s3)"; then
    status_line s3 running "$pid" "$S3_ENDPOINT_URL ($(s3_running_kind), data $S3_DIR/data)"
  elif port_open "$S3_PORT"; then
    status_line s3 stopped - "port $S3_PORT is held by a process not started by tools/infra: $(port_holder "$S3_PORT")"
  else
    status_line s3 stopped - "$S3_ENDPOINT_URL$(stale_note s3)"
  fi
}

s3_stop() { stop_component s3; }

# `down --purge s3`: after the stop, deletes the stored objects (and folders of another server kind
# moved aside); the next `up` creates empty buckets.
s3_purge() {
  local dir found=0
  for dir in "$S3_DIR"/data "$S3_DIR"/data.*; do
    [[ -d "$dir" ]] || continue
    found=1
    say "s3: deleting $dir (every bucket's objects)"
    rm -rf "$dir"
  done
  ((found)) || say "s3: no data to delete"
  return 0
}

s3_env() {
  env_line S3_ENDPOINT "$S3_ENDPOINT_URL"
  env_line S3_REGION "$S3_REGION_NAME"
  env_line S3_ACCESS_KEY_ID "$S3_ACCESS_KEY"
  env_line S3_SECRET_ACCESS_KEY "$S3_SECRET_KEY"
  env_line S3_BUCKET "${S3_BUCKETS[0]}"
  env_line S3_FORCE_PATH_STYLE true
}

s3_endpoints() {
  say "  s3        $S3_ENDPOINT_URL (region $S3_REGION_NAME, path-style, key $S3_ACCESS_KEY, buckets ${S3_BUCKETS[*]})"
}
