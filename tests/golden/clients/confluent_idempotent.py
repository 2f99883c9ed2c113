"""confluent-kafka (librdkafka) idempotent producer for the golden capture."""
import sys
from confluent_kafka import Producer

p = Producer({"bootstrap.servers": sys.argv[1], "client.id": "confluent-idempotent",
              "enable.idempotence": True, "compression.type": "zstd", "linger.ms": 50})
for i in range(10):
    p.produce("golden", key=f"key-{i}", value=f"value-{i}", headers=[("h1", b"v1")])
left = p.flush(15)
sys.exit(1 if left else 0)
