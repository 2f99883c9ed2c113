"""kafka-python (python3-kafka, a pure-Python client with its own protocol code): admin,
produce with every codec it ships, assign-mode consume, offsets by time, configs."""

import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

import compat


class KafkaPythonTest(compat.BrokerCase):

    def admin(self):
        a = KafkaAdminClient(bootstrap_servers=self.bootstrap(), request_timeout_ms=30000)
        self.addCleanup(a.close)
        return a

    def test_admin_produce_consume_and_offsets(self):
        topic = "compat-kafka-python"
        admin = self.admin()
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        with self.assertRaises(TopicAlreadyExistsError):
            admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        self.assertIn(topic, admin.list_topics())

        count = compat.scaled(3000, minimum=300)
        base_ts = int(time.time() * 1000) - 60000
        sent = {}
        for codec in (None, "gzip"):
            p = KafkaProducer(bootstrap_servers=self.bootstrap(), acks="all", linger_ms=5,
                              compression_type=codec)
            futures = []
            for i in range(count):
                value = b"%s-%d" % ((codec or "none").encode(), i)
                ts = base_ts + len(sent) + len(futures)
                futures.append((p.send(topic, key=b"k%d" % (i % 10), value=value,
                                       headers=[("i", b"%d" % i)], timestamp_ms=ts),
                                value, ts))
            p.flush(60)
            for f, value, ts in futures:
                md = f.get(timeout=30)
                sent[(md.partition, md.offset)] = (value, ts)
            p.close()

        c = KafkaConsumer(bootstrap_servers=self.bootstrap(), enable_auto_commit=False,
                          auto_offset_reset="earliest", consumer_timeout_ms=5000)
        parts = [TopicPartition(topic, p) for p in range(3)]
        c.assign(parts)
        c.seek_to_beginning(*parts)
        got = {}
        deadline = time.monotonic() + 60
        while len(got) < len(sent) and time.monotonic() < deadline:
            for tp, records in c.poll(timeout_ms=500).items():
                for r in records:
                    got[(tp.partition, r.offset)] = (r.value, r.timestamp)
        self.assertEqual(got, sent)

        end = c.end_offsets(parts)
        self.assertEqual(sum(end.values()), len(sent))
        self.assertEqual(set(c.beginning_offsets(parts).values()), {0})
        probe = base_ts + len(sent) // 2
        times = c.offsets_for_times({tp: probe for tp in parts})
        for tp, ot in times.items():
            rows = sorted((o, t) for (p, o), (_, t) in sent.items() if p == tp.partition)
            want = next(((o, t) for o, t in rows if t >= probe), None)
            if want is None:
                self.assertIsNone(ot)
            else:
                self.assertEqual((ot.offset, ot.timestamp), want)
        c.close()

    def test_configs_round_trip(self):
        topic = "compat-kafka-python-configs"
        admin = self.admin()
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})])
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                             configs={"retention.ms": "123456"})])
        resp = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = {e[0]: e[1] for e in resp[0].resources[0][4]}
        self.assertEqual(entries["retention.ms"], "123456")
        # AlterConfigs replaces the whole set: the create-time override is gone.
        self.assertEqual(entries["cleanup.policy"], "delete")
        resp = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
        entries = {e[0]: e[1] for e in resp[0].resources[0][4]}
        self.assertEqual(entries["num.partitions"], "1")
        self.assertEqual(entries["listeners"], "PLAINTEXT://127.0.0.1:0")


if __name__ == "__main__":
    compat.main()
