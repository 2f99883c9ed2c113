#!/usr/bin/env bash
# Records the requests real Kafka clients send, into golden fixtures.
#   tests/golden/capture.sh CAPTURE_BROKER_BINARY OUT_DIR
# Starts the capture broker on an ephemeral 127.0.0.1 port and points at it:
#   kcat (librdkafka) producers with every codec and a group consumer,
#   confluent-kafka (librdkafka) with an idempotent producer,
#   kafka-python producer and group consumer, kafkajs producer and group consumer.
# Every produced message is key-<i> / value-<i> with header h1=v1, i in 0..9. Every client
# runs under `timeout`, so the whole capture is bounded in time.
set -uo pipefail
broker_bin=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
PY=/usr/bin/python3   # Debian's interpreter, which has the Debian client packages

"$broker_bin" "$out" 90 > "$out/.port" &
broker_pid=$!
trap 'kill $broker_pid 2>/dev/null; wait $broker_pid 2>/dev/null' EXIT
for _ in $(seq 50); do grep -q port "$out/.port" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/port/ {print $2}' "$out/.port")
[[ -n "$port" ]] || { echo "capture: broker did not start" >&2; exit 1; }
bs="127.0.0.1:$port"
echo "capture: broker on $bs, writing to $out"

lines() { for i in $(seq 0 9); do echo "key-$i:value-$i"; done; }

if command -v kcat >/dev/null; then
  for codec in none gzip snappy lz4 zstd; do
    lines | timeout 20 kcat -b "$bs" -P -t golden -K: -H h1=v1 -z "$codec" \
      -X client.id="kcat-$codec" -X linger.ms=50 || echo "capture: kcat $codec failed"
  done
  timeout 8 kcat -b "$bs" -G golden-group -X client.id=kcat-group -q golden >/dev/null 2>&1
fi

if $PY -c 'import confluent_kafka' 2>/dev/null; then
  timeout 20 $PY "$here/clients/confluent_idempotent.py" "$bs" || echo "capture: confluent failed"
fi
if $PY -c 'import kafka' 2>/dev/null; then
  timeout 30 $PY "$here/clients/kafka_python.py" "$bs" || echo "capture: kafka-python failed"
fi
if [[ -d "$here/clients/node_modules/kafkajs" ]]; then
  timeout 30 node "$here/clients/kafkajs_client.js" "$bs" || echo "capture: kafkajs failed"
fi
rm -f "$out/.port"
find "$out" -name '*.bin' | sort | sed "s|$out/||" | tr '\n' ' '
echo
