# shellcheck shell=bash
# Kafka: Apache Kafka broker (KRaft combined mode, single node) run from Maven Central jars.

# Five consecutive ports from TRIBUTARY_KAFKA_PORT (default 9092): plaintext, controller, SASL,
# SASL_SSL, and the broker's JMX (loopback only: the tests read the broker's request metrics).
KAFKA_PLAINTEXT_PORT="${TRIBUTARY_KAFKA_PORT:-9092}"
[[ "$KAFKA_PLAINTEXT_PORT" =~ ^[1-9][0-9]{0,4}$ ]] && ((KAFKA_PLAINTEXT_PORT <= 65531)) ||
  die "TRIBUTARY_KAFKA_PORT=$KAFKA_PLAINTEXT_PORT is not a port number (it and the four above it are used)"
KAFKA_CONTROLLER_PORT=$((KAFKA_PLAINTEXT_PORT + 1))
KAFKA_SASL_PORT=$((KAFKA_PLAINTEXT_PORT + 2))
KAFKA_SASL_SSL_PORT=$((KAFKA_PLAINTEXT_PORT + 3))
KAFKA_JMX_PORT=$((KAFKA_PLAINTEXT_PORT + 4))
KAFKA_SCRAM_USER=tributary
KAFKA_SCRAM_PASSWORD=tributary-secret
KAFKA_TLS_PASSWORD=tributary-tls
KAFKA_READY_TIMEOUT="${TRIBUTARY_KAFKA_READY_TIMEOUT:-90}"

# The release line: Kafka 4 by default; TRIBUTARY_KAFKA_LINE=3.9 for users still on 3.x. Each line
# has its folder under tools/infra/kafka/ (the pom with the exact version, logging templates).
KAFKA_LINE="${TRIBUTARY_KAFKA_LINE:-4.4}"
KAFKA_LINE_DIR="$INFRA_TOOLS_DIR/kafka/$KAFKA_LINE"
[[ -f "$KAFKA_LINE_DIR/pom.xml" ]] ||
  die "TRIBUTARY_KAFKA_LINE=$KAFKA_LINE is not a release line of tools/infra/kafka; choose one of: $(cd "$INFRA_TOOLS_DIR/kafka" && ls -d [0-9]*/ | tr -d / | tr '\n' ' ')"
KAFKA_POM="$KAFKA_LINE_DIR/pom.xml"
KAFKA_VERSION="$(pom_property "$KAFKA_POM" kafka.version)"
KAFKA_LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"
KAFKA_DIR="$INFRA_DIR/kafka"
KAFKA_TLS_DIR="$KAFKA_DIR/tls"
# One data folder per release line: a 4.x log cannot be read by 3.9 again.
KAFKA_DATA_DIR="$KAFKA_DIR/data-$KAFKA_LINE"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
# The services' SCRAM passwords, generated once (KAFKA_USER_<SERVICE>_PASSWORD=...; never committed).
KAFKA_SERVICE_USERS_FILE="$KAFKA_DIR/service-users.env"
# The version of the broker that runs now, written when it starts.
KAFKA_RUNNING_VERSION_FILE="$KAFKA_DIR/version"
case "$KAFKA_LINE" in
  3.*) # Log4j 1 (reload4j); the readiness probe still lives in the core module.
    KAFKA_LOG4J_PROPERTY=log4j.configuration
    KAFKA_LOG4J_TEMPLATE="$KAFKA_LINE_DIR/log4j.properties.in"
    KAFKA_TOOLS_LOG4J_SOURCE="$KAFKA_LINE_DIR/tools-log4j.properties"
    KAFKA_API_VERSIONS_CLASS=kafka.admin.BrokerApiVersionsCommand
    ;;
  *) # Kafka 4: Log4j 2 (KIP-653); command-line tools in the tools module.
    KAFKA_LOG4J_PROPERTY=log4j2.configurationFile
    KAFKA_LOG4J_TEMPLATE="$KAFKA_LINE_DIR/log4j2.properties.in"
    KAFKA_TOOLS_LOG4J_SOURCE="$KAFKA_LINE_DIR/tools-log4j2.properties"
    KAFKA_API_VERSIONS_CLASS=org.apache.kafka.tools.BrokerApiVersionsCommand
    ;;
esac
KAFKA_LOG4J="$KAFKA_DIR/$(basename "${KAFKA_LOG4J_TEMPLATE%.in}")"
KAFKA_TOOLS_LOG4J="$KAFKA_DIR/$(basename "$KAFKA_TOOLS_LOG4J_SOURCE")"

kafka_requirements() {
  note_missing_commands java keytool
  jar_cache_ready "$KAFKA_POM" "$KAFKA_LIBS" || note_missing_commands mvn
}

kafka_java() { # runs a Kafka class with the cached jars and quiet tool logging
  "$(java_cmd)" -Xmx256m "-D$KAFKA_LOG4J_PROPERTY=file:$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIBS/*" "$@"
}

# CA + broker key pair for the SASL_SSL listener, generated once with keytool.
kafka_tls_ensure() {
  [[ -f "$KAFKA_TLS_DIR/.complete" ]] && return 0
  say "kafka: generating a local CA and broker certificate in $KAFKA_TLS_DIR"
  rm -rf "$KAFKA_TLS_DIR"
  mkdir -p "$KAFKA_TLS_DIR"
  local kt p="$KAFKA_TLS_PASSWORD" d="$KAFKA_TLS_DIR"
  kt="$(keytool_cmd)"
  {
    "$kt" -genkeypair -alias tributary-ca -keyalg RSA -keysize 2048 -validity 3650 \
      -dname "CN=Tributary Local Dev CA,O=Tributary" \
      -ext bc:c=ca:true -ext ku:c=keyCertSign,cRLSign \
      -storetype PKCS12 -keystore "$d/ca.p12" -storepass "$p" -keypass "$p" &&
      "$kt" -exportcert -rfc -alias tributary-ca -keystore "$d/ca.p12" -storepass "$p" -file "$d/ca.pem" &&
      "$kt" -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 3650 \
        -dname "CN=$INFRA_HOST,O=Tributary" \
        -storetype PKCS12 -keystore "$d/broker.p12" -storepass "$p" -keypass "$p" &&
      "$kt" -certreq -alias broker -keystore "$d/broker.p12" -storepass "$p" -file "$d/broker.csr" &&
      "$kt" -gencert -rfc -alias tributary-ca -keystore "$d/ca.p12" -storepass "$p" -validity 3650 \
        -ext "san=ip:$INFRA_HOST,dns:localhost" -ext ku:c=digitalSignature,keyEncipherment \
        -ext eku=serverAuth,clientAuth \
        -infile "$d/broker.csr" -outfile "$d/broker.pem" &&
      "$kt" -importcert -noprompt -alias tributary-ca -file "$d/ca.pem" -keystore "$d/broker.p12" -storepass "$p" &&
      "$kt" -importcert -noprompt -alias broker -file "$d/broker.pem" -keystore "$d/broker.p12" -storepass "$p" &&
      "$kt" -importcert -noprompt -alias tributary-ca -file "$d/ca.pem" \
        -storetype PKCS12 -keystore "$d/truststore.p12" -storepass "$p"
  } >"$d/keytool.log" 2>&1 || {
    show_log_tail "$d/keytool.log"
    die "kafka: generating the TLS material with keytool failed"
  }
  printf '%s\n' "$p" >"$d/password"
  touch "$d/.complete"
}

kafka_write_config() {
  mkdir -p "$KAFKA_DATA_DIR"
  render_template "$INFRA_TOOLS_DIR/kafka/server.properties.in" "$KAFKA_PROPS" \
    "HOST=$INFRA_HOST" \
    "PLAINTEXT_PORT=$KAFKA_PLAINTEXT_PORT" \
    "CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT" \
    "SASL_PORT=$KAFKA_SASL_PORT" \
    "SASL_SSL_PORT=$KAFKA_SASL_SSL_PORT" \
    "TLS_DIR=$KAFKA_TLS_DIR" \
    "TLS_PASSWORD=$KAFKA_TLS_PASSWORD" \
    "SCRAM_USER=$KAFKA_SCRAM_USER" \
    "DATA_DIR=$KAFKA_DATA_DIR"
  render_template "$KAFKA_LOG4J_TEMPLATE" "$KAFKA_LOG4J" \
    "LOG_FILE=$(log_file kafka)"
  cp -f "$KAFKA_TOOLS_LOG4J_SOURCE" "$KAFKA_TOOLS_LOG4J"
}

# Formats the KRaft storage once (with the SCRAM user); later starts reuse the data.
kafka_format_storage() {
  [[ -f "$KAFKA_DATA_DIR/meta.properties" ]] && return 0
  local cid
  if [[ -s "$KAFKA_DIR/cluster.id" ]]; then
    cid="$(<"$KAFKA_DIR/cluster.id")"
  else
    cid="$(kafka_java kafka.tools.StorageTool random-uuid | tail -n1)"
    [[ -n "$cid" ]] || die "kafka: StorageTool random-uuid returned nothing"
    printf '%s\n' "$cid" >"$KAFKA_DIR/cluster.id"
  fi
  say "kafka: formatting storage $KAFKA_DATA_DIR (cluster id $cid)"
  local mech scram=()
  for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
    scram+=(--add-scram "$mech=[name=$KAFKA_SCRAM_USER,password=$KAFKA_SCRAM_PASSWORD]")
  done
  kafka_java kafka.tools.StorageTool format --ignore-formatted -t "$cid" -c "$KAFKA_PROPS" "${scram[@]}" \
    >"$KAFKA_DIR/format.log" 2>&1 || {
    show_log_tail "$KAFKA_DIR/format.log"
    die "kafka: formatting the storage failed"
  }
}

kafka_start() {
  local pid
  if pid="$(our_pid kafka)"; then
    local running
    running="$(cat "$KAFKA_RUNNING_VERSION_FILE" 2>/dev/null || echo unknown)"
    [[ "$running" == "$KAFKA_VERSION" ]] ||
      die "kafka: Kafka $running is running (pid $pid) but $KAFKA_VERSION was asked for (TRIBUTARY_KAFKA_LINE=$KAFKA_LINE); stop it first with tools/infra/down kafka"
    say "kafka: already running (pid $pid, Kafka $running)"
    return 0
  fi
  ensure_ports_free kafka "$KAFKA_PLAINTEXT_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SASL_PORT" "$KAFKA_SASL_SSL_PORT" "$KAFKA_JMX_PORT"
  fetch_jars "kafka $KAFKA_VERSION" "$KAFKA_POM" "$KAFKA_LIBS"
  mkdir -p "$KAFKA_DIR"
  kafka_tls_ensure
  kafka_write_config
  kafka_format_storage
  say "kafka: starting Apache Kafka $KAFKA_VERSION (KRaft, node 1)"
  printf '\n===== %s start of Kafka %s =====\n' "$(date '+%F %T')" "$KAFKA_VERSION" >>"$KAFKA_DIR/kafka.out"
  printf '%s\n' "$KAFKA_VERSION" >"$KAFKA_RUNNING_VERSION_FILE"
  start_background kafka "$KAFKA_DIR/kafka.out" \
    "$(java_cmd)" -Xms512m -Xmx1g -server \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.port="$KAFKA_JMX_PORT" \
    -Dcom.sun.management.jmxremote.rmi.port="$KAFKA_JMX_PORT" -Dcom.sun.management.jmxremote.host="$INFRA_HOST" \
    -Djava.rmi.server.hostname="$INFRA_HOST" -Dcom.sun.management.jmxremote.authenticate=false \
    -Dcom.sun.management.jmxremote.ssl=false \
    -Dkafka.logs.dir="$KAFKA_DIR" "-D$KAFKA_LOG4J_PROPERTY=file:$KAFKA_LOG4J" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS"
}

kafka_answers() { # broker answers an ApiVersions/metadata round trip on the PLAINTEXT listener
  port_open "$KAFKA_PLAINTEXT_PORT" || return 1
  timeout 30 "$(java_cmd)" -Xmx128m -XX:TieredStopAtLevel=1 \
    "-D$KAFKA_LOG4J_PROPERTY=file:$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIBS/*" \
    "$KAFKA_API_VERSIONS_CLASS" --bootstrap-server "$INFRA_HOST:$KAFKA_PLAINTEXT_PORT" \
    >/dev/null 2>&1
}

kafka_wait() {
  local deadline=$((SECONDS + KAFKA_READY_TIMEOUT)) pid
  while :; do
    if ! pid="$(our_pid kafka)"; then
      show_log_tail "$(log_file kafka)"
      show_log_tail "$KAFKA_DIR/kafka.out" 20
      die "kafka: the broker process exited during startup (logs above)"
    fi
    if kafka_answers; then
      say "kafka: ready on $INFRA_HOST:$KAFKA_PLAINTEXT_PORT (pid $pid)"
      kafka_service_users
      return 0
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$(log_file kafka)"
      show_log_tail "$KAFKA_DIR/kafka.out" 20
      die "kafka: no answer on $INFRA_HOST:$KAFKA_PLAINTEXT_PORT after ${KAFKA_READY_TIMEOUT}s (pid $pid still running; logs above)"
    fi
    sleep 1
  done
}

# One SCRAM user per service with exactly its ACLs (libs/contracts SERVICE_KAFKA_ACCESS), set over the
# PLAINTEXT listener by tools/infra/kafka/service-users.ts with the repository's Node.js (installed by
# tools/dev/lib.sh when missing). Idempotent: users keep their passwords, ACLs are only added or removed.
kafka_service_users() {
  (
    # shellcheck source=../../dev/lib.sh
    source "$TRIBUTARY_ROOT/tools/dev/lib.sh"
    ensure_node_modules >&2
    cd "$TRIBUTARY_ROOT"
    KAFKA_ADMIN_BROKERS="$INFRA_HOST:$KAFKA_PLAINTEXT_PORT" KAFKA_SERVICE_USERS_FILE="$KAFKA_SERVICE_USERS_FILE" \
      SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/infra/kafka/service-users.ts
  ) || die "kafka: creating the service users and their ACLs failed (output above)"
}

kafka_status() {
  local pid
  if pid="$(our_pid kafka)"; then
    status_line kafka running "$pid" "$INFRA_HOST:$KAFKA_PLAINTEXT_PORT plaintext, :$KAFKA_SASL_PORT sasl-scram, :$KAFKA_SASL_SSL_PORT sasl-scram+tls, :$KAFKA_CONTROLLER_PORT controller (Kafka $(cat "$KAFKA_RUNNING_VERSION_FILE" 2>/dev/null || echo "of unknown version"))"
  elif port_open "$KAFKA_PLAINTEXT_PORT"; then
    status_line kafka stopped - "port $KAFKA_PLAINTEXT_PORT is held by a process not started by tools/infra: $(port_holder "$KAFKA_PLAINTEXT_PORT")"
  else
    status_line kafka stopped - "$INFRA_HOST:$KAFKA_PLAINTEXT_PORT$(stale_note kafka)"
  fi
}

kafka_stop() { stop_component kafka; }

# `down --purge kafka`: after the stop, deletes the broker's data of every release line (topics,
# offsets, cluster id); the next `up` formats a new cluster. Jar cache, TLS and passwords stay.
kafka_purge() {
  local dir found=0
  for dir in "$KAFKA_DIR"/data-*; do
    [[ -d "$dir" ]] || continue
    found=1
    say "kafka: deleting $dir (topics, consumer offsets, cluster id $(sed -n 's/^cluster.id=//p' "$dir/meta.properties" 2>/dev/null || echo unknown))"
    rm -rf "$dir"
  done
  ((found)) || say "kafka: no data to delete"
  return 0
}

kafka_env() {
  env_line KAFKA_BROKERS "$INFRA_HOST:$KAFKA_PLAINTEXT_PORT"
  env_line KAFKA_SASL_BROKERS "$INFRA_HOST:$KAFKA_SASL_PORT"
  env_line KAFKA_SASL_SSL_BROKERS "$INFRA_HOST:$KAFKA_SASL_SSL_PORT"
  env_line KAFKA_SASL_USERNAME "$KAFKA_SCRAM_USER"
  env_line KAFKA_SASL_PASSWORD "$KAFKA_SCRAM_PASSWORD"
  env_line KAFKA_TLS_CA_FILE "$KAFKA_TLS_DIR/ca.pem"
  env_line KAFKA_TLS_TRUSTSTORE_FILE "$KAFKA_TLS_DIR/truststore.p12"
  env_line KAFKA_TLS_TRUSTSTORE_PASSWORD "$KAFKA_TLS_PASSWORD"
  env_line KAFKA_HOME_LIBS "$KAFKA_LIBS"
  env_line KAFKA_TOOLS_LOG4J "$KAFKA_TOOLS_LOG4J"
  env_line KAFKA_TOOLS_LOG4J_PROPERTY "$KAFKA_LOG4J_PROPERTY"
  env_line KAFKA_VERSION "$KAFKA_VERSION"
  env_line KAFKA_JMX_URL "service:jmx:rmi:///jndi/rmi://$INFRA_HOST:$KAFKA_JMX_PORT/jmxrmi"
  # The services' own SCRAM users (tools/dev/start gives each service its own); absent until up kafka made them.
  if [[ -f "$KAFKA_SERVICE_USERS_FILE" ]]; then
    grep -E '^KAFKA_USER_[A-Z0-9_]+_PASSWORD=' "$KAFKA_SERVICE_USERS_FILE" || true
  fi
}

kafka_endpoints() {
  say "  kafka     PLAINTEXT      $INFRA_HOST:$KAFKA_PLAINTEXT_PORT"
  say "            SASL SCRAM     $INFRA_HOST:$KAFKA_SASL_PORT (SCRAM-SHA-256/512, operator user $KAFKA_SCRAM_USER, one user per service with its ACLs)"
  say "            SASL_SSL SCRAM $INFRA_HOST:$KAFKA_SASL_SSL_PORT (CA $KAFKA_TLS_DIR/ca.pem)"
  say "            JMX            $INFRA_HOST:$KAFKA_JMX_PORT (loopback, no authentication)"
}
