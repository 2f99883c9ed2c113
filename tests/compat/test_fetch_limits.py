"""Fetch size limits with real clients: a consumer whose response limit is far below its
per-partition limit reads everything, in many responses each within the limit.

librdkafka enforces it: a response larger than receive.message.max.bytes drops the
connection ("Invalid response size"), so a broker that ignores fetch.max.bytes stalls it
(the bug this guards against: a 19 MB answer to fetch.max.bytes=1 MB). kafka-python and
kafkajs read the same topic with the same limits. The exact byte accounting is checked at
the wire level in tests/integration/test_fetch_limits.py.
"""

import os
import shutil
import subprocess
import time
import unittest

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, TopicPartition

import compat

_HERE = os.path.dirname(os.path.abspath(__file__))
_NODE_MODULES = os.path.join(_HERE, "..", "golden", "clients", "node_modules")
PARTITIONS = 4
FETCH_MAX = 1 << 20         # the response limit
PARTITION_MAX = 50 << 20    # far above it
VALUE = 100_000             # one record per batch: 100 KB batches


class FetchLimitsClientsTest(compat.BrokerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.topic = "fetch-limits-%d" % os.getpid()
        bootstrap = "127.0.0.1:%d" % cls.broker.port
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for f in admin.create_topics([NewTopic(cls.topic, PARTITIONS, 1)]).values():
            f.result(timeout=10)
        cls.count = compat.scaled(200, minimum=40)  # 20 MB at full scale
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "batch.size": VALUE + 1000,
                      "compression.type": "none"})
        value = os.urandom(VALUE)
        for i in range(cls.count):
            p.produce(cls.topic, value, key=b"%d" % i, partition=i % PARTITIONS)
            p.poll(0)
        assert p.flush(30) == 0

    def test_librdkafka_stays_within_fetch_max_bytes(self):
        c = Consumer({"bootstrap.servers": self.bootstrap(), "group.id": "limits-rdkafka",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False,
                      "fetch.max.bytes": FETCH_MAX, "max.partition.fetch.bytes": PARTITION_MAX,
                      "receive.message.max.bytes": FETCH_MAX + 512})
        errors = []
        try:
            c.subscribe([self.topic])
            got = set()
            deadline = time.monotonic() + 60
            while len(got) < self.count and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    errors.append(str(m.error()))
                    continue
                got.add(m.key())
            self.assertEqual(len(got), self.count, "errors: %s" % errors[:5])
        finally:
            c.close()

    def test_kafka_python_reads_everything_with_the_same_limits(self):
        c = KafkaConsumer(bootstrap_servers=self.bootstrap(), auto_offset_reset="earliest",
                          fetch_max_bytes=FETCH_MAX, max_partition_fetch_bytes=PARTITION_MAX,
                          enable_auto_commit=False)
        try:
            c.assign([TopicPartition(self.topic, p) for p in range(PARTITIONS)])
            got = set()
            deadline = time.monotonic() + 60
            while len(got) < self.count and time.monotonic() < deadline:
                for records in c.poll(500).values():
                    got.update(r.key for r in records)
            self.assertEqual(len(got), self.count)
        finally:
            c.close()

    @unittest.skipUnless(shutil.which("node") and
                         os.path.isdir(os.path.join(_NODE_MODULES, "kafkajs")),
                         "node or kafkajs missing")
    def test_kafkajs_reads_everything_with_the_same_limits(self):
        script = """
const { Kafka, logLevel } = require('kafkajs');
const [broker, topic, count, maxBytes, perPartition] = process.argv.slice(1);
const kafka = new Kafka({ brokers: [broker], logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: 'limits-kafkajs', maxBytes: Number(maxBytes),
  maxBytesPerPartition: Number(perPartition) });
const seen = new Set();
const timer = setTimeout(() => { console.error(`only ${seen.size}`); process.exit(1); }, 60000);
(async () => {
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => {
    seen.add(message.key.toString());
    if (seen.size === Number(count)) {
      clearTimeout(timer);
      console.log('kafkajs limits: ok');
      process.exit(0);
    }
  } });
})().catch((e) => { console.error(e); process.exit(1); });
"""
        env = dict(os.environ, NODE_PATH=os.path.abspath(_NODE_MODULES))
        p = subprocess.run(["node", "-e", script, self.bootstrap(), self.topic, str(self.count),
                            str(FETCH_MAX), str(PARTITION_MAX)], env=env, capture_output=True,
                           text=True, timeout=90)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("kafkajs limits: ok", p.stdout)


if __name__ == "__main__":
    compat.main()
