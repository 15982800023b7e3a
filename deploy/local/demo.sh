#!/usr/bin/env bash
# `make demo`: a local Kafka, the topics, one worker and a synthetic CRM, until Ctrl-C.
# The first-touch target is shortened (30s) so breaches show within a minute.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="$root/.venv/bin/python"
cli=("$py" -m stream_sla.cli)
run="$root/var/demo"
mkdir -p "$run"

export KAFKA_PORT="${KAFKA_PORT:-9092}"
export STREAM_SLA_KAFKA_BOOTSTRAP_SERVERS="${STREAM_SLA_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
export STREAM_SLA_FIRST_TOUCH_WITHIN="${STREAM_SLA_FIRST_TOUCH_WITHIN:-30s}"
export STREAM_SLA_DATA_DIR="${STREAM_SLA_DATA_DIR:-$run/state}"
export STREAM_SLA_WEB_PORT="${STREAM_SLA_WEB_PORT:-6066}"
export STREAM_SLA_APP_ID="${STREAM_SLA_APP_ID:-stream-sla-demo}"
# The simulator's teams, named in metric labels (any other team counts in a hash bucket).
export STREAM_SLA_KNOWN_TEAMS="${STREAM_SLA_KNOWN_TEAMS:-smb-east,smb-west,mid-market,enterprise}"

pids=()
started_kafka=0
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $started_kafka == 1 ]]; then bash "$here/kafka.sh" stop; fi
  exit 0
}
trap cleanup INT TERM EXIT

if ! bash "$here/kafka.sh" status >/dev/null 2>&1; then
  bash "$here/kafka.sh" start
  started_kafka=1
fi
"${cli[@]}" topics create

"${cli[@]}" worker >"$run/worker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$STREAM_SLA_WEB_PORT/ready" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fs "http://127.0.0.1:$STREAM_SLA_WEB_PORT/ready" >/dev/null || {
  echo "demo: worker did not become ready; last lines of $run/worker.log:"; tail -40 "$run/worker.log"; exit 1; }

if [[ "${STREAM_SLA_DEMO_VIA:-}" == hubspot ]]; then
  # `make demo-gateway`: the synthetic CRM posts signed HubSpot webhooks to `stream-sla gateway`.
  export STREAM_SLA_GATEWAY_PORT="${STREAM_SLA_GATEWAY_PORT:-6067}"
  export STREAM_SLA_GATEWAY_HUBSPOT_CLIENT_SECRET="${STREAM_SLA_GATEWAY_HUBSPOT_CLIENT_SECRET:-demo-secret}"
  export STREAM_SLA_GATEWAY_PEOPLE_FILE="$run/people.yaml"
  "$py" -m stream_sla.gateway.demo --people-out "$STREAM_SLA_GATEWAY_PEOPLE_FILE"
  "${cli[@]}" gateway >"$run/gateway.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$STREAM_SLA_GATEWAY_PORT/ready" >/dev/null 2>&1 && break
    sleep 0.5
  done
  hook="http://127.0.0.1:$STREAM_SLA_GATEWAY_PORT/hooks/hubspot"
  "$py" -m stream_sla.gateway.demo --url "$hook" --secret "$STREAM_SLA_GATEWAY_HUBSPOT_CLIENT_SECRET" \
    --leads 100000 --rate 2 --target-seconds 30 >"$run/simulate.log" 2>&1 &
  pids+=($!)
  echo "demo: HubSpot webhooks go to $hook (gateway log: $run/gateway.log)"
else
  "${cli[@]}" simulate --leads 100000 --rate 2 >"$run/simulate.log" 2>&1 &
  pids+=($!)
fi

# Reminders and escalations: a local mailbox that prints what it gets, and the notifier.
"$py" "$here/mailbox.py" --port 2525 &
pids+=($!)
"${cli[@]}" notifier --routing "$here/demo-notifications.yaml" \
  --web-port "$((STREAM_SLA_WEB_PORT + 1))" >"$run/notifier.log" 2>&1 &
pids+=($!)

cat <<MSG

  stream-sla demo is running (first-touch target $STREAM_SLA_FIRST_TOUCH_WITHIN, 2 new leads/s).
  metrics:     http://127.0.0.1:$STREAM_SLA_WEB_PORT/metrics
  breaches:    topic sla.breaches on $STREAM_SLA_KAFKA_BOOTSTRAP_SERVERS (printed below as they come)
  warnings:    topic sla.warnings      dead letters: topic sla.dead-letter
  reminders:   printed below as the local mailbox gets them (mail ...); last notifications:
               http://127.0.0.1:$((STREAM_SLA_WEB_PORT + 1))/   notifier log: $run/notifier.log
  worker log:  $run/worker.log
  Ctrl-C stops the worker, the simulator and the Kafka this demo started.

MSG
"${cli[@]}" tail sla.breaches
