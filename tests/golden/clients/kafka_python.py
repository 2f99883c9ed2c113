"""kafka-python producer and group consumer for the golden capture."""
import sys
from kafka import KafkaConsumer, KafkaProducer

bs = sys.argv[1]
p = KafkaProducer(bootstrap_servers=bs, client_id="kafka-python-producer",
                  compression_type="gzip", linger_ms=50)
for i in range(10):
    p.send("golden", key=f"key-{i}".encode(), value=f"value-{i}".encode(),
           headers=[("h1", b"v1")])
p.flush(15)
p.close(5)

c = KafkaConsumer("golden", bootstrap_servers=bs, client_id="kafka-python-consumer",
                  group_id="golden-group", consumer_timeout_ms=3000,
                  auto_offset_reset="earliest")
for _ in c:
    pass
c.commit({})
c.close()
