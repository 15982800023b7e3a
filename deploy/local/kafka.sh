#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, broker+controller) from Maven Central's jars, no Docker.
#   kafka.sh start | stop [--purge] | status | logs | purge
# Knobs (environment): KAFKA_VERSION (4.0.2), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
# STREAM_SLA_CACHE (~/.cache/stream-sla), KAFKA_RUN_DIR ($STREAM_SLA_CACHE/kafka-run-$KAFKA_PORT),
# KAFKA_HEAP (-Xms256m -Xmx768m), KAFKA_START_TIMEOUT (90 s), KAFKA_JAVA_OPTS (extra JVM flags),
# KAFKA_SASL_PORT (unset: no SASL) adds a SASL_PLAINTEXT listener with PLAIN users from
# KAFKA_SASL_USERS (default "stream-sla:stream-sla-secret"), to try SASL settings locally.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.0.2}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
STREAM_SLA_CACHE="${STREAM_SLA_CACHE:-$HOME/.cache/stream-sla}"
KAFKA_RUN_DIR="${KAFKA_RUN_DIR:-$STREAM_SLA_CACHE/kafka-run-$KAFKA_PORT}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx768m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
libs="$STREAM_SLA_CACHE/kafka-$KAFKA_VERSION/libs"
pid_file="$KAFKA_RUN_DIR/kafka.pid"
log_file="$KAFKA_RUN_DIR/logs/server.log"
out_file="$KAFKA_RUN_DIR/kafka.out"

say() { echo "kafka.sh: $*"; }

fetch_jars() {
  [[ -f "$libs/.complete" ]] && return 0
  command -v java >/dev/null || { say "java not found (Kafka needs Java 17)"; exit 1; }
  command -v mvn >/dev/null || { say "mvn not found (apt-get install maven)"; exit 1; }
  say "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central (first run only)"
  rm -rf "$libs" && mkdir -p "$libs"
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs"
  touch "$libs/.complete"
}

running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid="$(cat "$pid_file")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q "kafka.Kafka" "/proc/$pid/cmdline" 2>/dev/null \
    && echo "$pid"
}

java_tool() {  # run a Kafka main class with the cached jars
  java -Xmx256m -cp "$libs/*" -Dlog4j2.configurationFile="$here/log4j2.properties" \
    -Dkafka.logs.dir="$KAFKA_RUN_DIR/logs/tools" "$@"
}

answers_metadata() {  # a cheap port probe first, then a real metadata request
  (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null || return 1
  java_tool org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "127.0.0.1:$KAFKA_PORT" --list >/dev/null 2>&1
}

write_config() {
  mkdir -p "$KAFKA_RUN_DIR/data" "$KAFKA_RUN_DIR/logs"
  local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT" sasl_users="" sasl_lines=""
  if [[ -n "${KAFKA_SASL_PORT:-}" ]]; then
    listeners="$listeners,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT"
    local pair
    for pair in ${KAFKA_SASL_USERS:-stream-sla:stream-sla-secret}; do
      sasl_users="$sasl_users user_${pair%%:*}=\"${pair#*:}\""
    done
    sasl_lines="sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$sasl_users;"
  fi
  cat >"$KAFKA_RUN_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
$sasl_lines
log.dirs=$KAFKA_RUN_DIR/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# A restarted single node waits for its previous broker session to expire before it registers
# again (KAFKA-19130, fixed in 4.1): a short session keeps warm restarts quick.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
message.max.bytes=1048588
log.retention.check.interval.ms=60000
EOF
}

format_storage() {
  [[ -f "$KAFKA_RUN_DIR/data/meta.properties" ]] && return 0
  local cluster_id
  # Kafka's cluster id is a URL-safe base64 UUID; python saves a JVM start over StorageTool random-uuid.
  # (An id starting with "-" would be read as an option by StorageTool: draw again.)
  cluster_id="$(python3 -c 'import base64, uuid
while True:
    text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not text.startswith("-"):
        print(text)
        break')"
  java_tool kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$KAFKA_RUN_DIR/server.properties" >/dev/null
}

start() {
  local began pid
  began=$(date +%s%N)
  if pid="$(running_pid)"; then
    say "already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  fetch_jars
  write_config
  format_storage
  # shellcheck disable=SC2086 # KAFKA_HEAP and KAFKA_JAVA_OPTS are lists of flags
  setsid nohup java $KAFKA_HEAP ${KAFKA_JAVA_OPTS:-} -XX:+UseG1GC -Djava.awt.headless=true \
    -cp "$libs/*" -Dlog4j2.configurationFile="$here/log4j2.properties" \
    -Dkafka.logs.dir="$KAFKA_RUN_DIR/logs" \
    kafka.Kafka "$KAFKA_RUN_DIR/server.properties" >"$out_file" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pid_file"
  local deadline=$(( $(date +%s) + KAFKA_START_TIMEOUT ))
  until answers_metadata; do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "the broker exited during start-up; last lines of its logs:"
      tail -n 40 "$log_file" "$out_file" 2>/dev/null || true
      rm -f "$pid_file"
      exit 1
    fi
    if (( $(date +%s) >= deadline )); then
      say "no metadata answer on 127.0.0.1:$KAFKA_PORT after ${KAFKA_START_TIMEOUT}s; last log lines:"
      tail -n 40 "$log_file" "$out_file" 2>/dev/null || true
      stop
      exit 1
    fi
    sleep 0.5
  done
  local took_ms=$(( ($(date +%s%N) - began) / 1000000 ))
  say "Apache Kafka $KAFKA_VERSION ready on 127.0.0.1:$KAFKA_PORT (pid $pid)" \
    "in $((took_ms / 1000)).$(( (took_ms % 1000) / 100 ))s; log: $log_file"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$pid_file"
    say "not running"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "still running after 30s, killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
  say "stopped (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop)
    stop
    if [[ "${2:-}" == "--purge" ]]; then rm -rf "$KAFKA_RUN_DIR"; say "purged $KAFKA_RUN_DIR"; fi
    ;;
  purge) stop; rm -rf "$KAFKA_RUN_DIR"; say "purged $KAFKA_RUN_DIR" ;;
  status)
    if pid="$(running_pid)"; then say "running (pid $pid) on 127.0.0.1:$KAFKA_PORT"; else say "not running"; exit 1; fi
    ;;
  logs) tail -n "${2:-100}" "$log_file" ;;
  *) echo "usage: $0 start | stop [--purge] | status | logs [N] | purge" >&2; exit 2 ;;
esac
