"""librdkafka through python3-confluent-kafka against a real `fjord`: admin, produce through
every codec, consume everything back, ListOffsets by time, topic configs, restart, and
SIGKILL with an fsync-per-append topic.
"""

import collections
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

import compat

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
PARTITIONS = 6
KEYS = 200


def source(entry):
    """A ConfigEntry's source as Kafka's number (an enum in newer clients)."""
    return int(getattr(entry.source, "value", entry.source))


def error_code(exc):
    return exc.args[0].code()


def create_topic(admin, name, partitions=PARTITIONS, config=None):
    futures = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})],
                                  operation_timeout=30)
    futures[name].result(timeout=30)


def produce(bootstrap, topic, messages, codec="none", acks="all"):
    """Produces (key, value, headers, timestamp) tuples; returns delivery reports in order."""
    p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 5,
                  "acks": acks, "batch.size": 1 << 20, "queue.buffering.max.messages": 200000})
    reports = [None] * len(messages)
    errors = []

    def on_delivery(i):
        def cb(err, msg):
            if err is not None:
                errors.append(err)
            else:
                reports[i] = (msg.partition(), msg.offset())
        return cb

    for i, (key, value, headers, ts) in enumerate(messages):
        while True:
            try:
                p.produce(topic, value=value, key=key, headers=headers, timestamp=ts,
                          on_delivery=on_delivery(i))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(120)
    assert left == 0, "%d messages not delivered" % left
    assert not errors, "delivery errors: %s" % errors[:5]
    return reports


def consume_all(bootstrap, topic, partitions, expected, timeout=120):
    """Reads every partition from the beginning until `expected` messages arrived."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "fjord-compat-assign",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 100,
                  "enable.partition.eof": False})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expected and time.monotonic() < deadline:
            for m in c.consume(num_messages=10000, timeout=0.5):
                if m.error() is not None:
                    raise AssertionError("consume error: %s" % m.error())
                got.append(m)
    finally:
        c.close()
    return got


def watermarks(bootstrap, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "fjord-compat-wm"})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                for p in range(partitions)]
    finally:
        c.close()


class ConfluentKafkaTest(compat.BrokerCase):

    def admin(self):
        return AdminClient({"bootstrap.servers": self.bootstrap()})

    def test_1_produce_every_codec_consume_offsets_by_time_configs_and_restart(self):
        topic = "compat-confluent"
        admin = self.admin()
        create_topic(admin, topic)
        md = admin.list_topics(topic, timeout=10)
        self.assertEqual(len(md.topics[topic].partitions), PARTITIONS)

        total = compat.scaled(100000, minimum=len(CODECS) * KEYS)
        per_codec = total // len(CODECS)
        base_ts = int(time.time() * 1000) - 10 * 60 * 1000
        sent = {}  # (partition, offset) -> (key, value, headers, ts)
        seq = collections.Counter()
        n = 0
        for codec in CODECS:
            batch = []
            for _ in range(per_codec):
                key = b"key-%03d" % (n % KEYS)
                s = seq[key]
                seq[key] += 1
                value = b"%s|%s|%d|" % (codec.encode(), key, s) + b"x" * (n % 300)
                headers = [("seq", b"%d" % s), ("codec", codec.encode()), ("empty", b"")]
                batch.append((key, value, headers, base_ts + n))
                n += 1
            reports = produce(self.bootstrap(), topic, batch, codec=codec)
            for msg, where in zip(batch, reports):
                self.assertNotIn(where, sent)
                sent[where] = msg

        got = consume_all(self.bootstrap(), topic, PARTITIONS, len(sent))
        self.assertEqual(len(got), len(sent))
        self.assertEqual(sum(len(m.value()) for m in got), sum(len(v[1]) for v in sent.values()))
        last_seq = {}
        by_partition = collections.defaultdict(list)
        for m in got:
            key, value, headers, ts = sent[(m.partition(), m.offset())]
            self.assertEqual(m.key(), key)
            self.assertEqual(m.value(), value)
            self.assertEqual(m.headers(), headers)
            self.assertEqual(m.timestamp()[1], ts)
            s = int(dict(m.headers())["seq"])
            self.assertGreater(s, last_seq.get(key, -1), "per-key order broken for %s" % key)
            last_seq[key] = s
            by_partition[m.partition()].append((m.offset(), ts))

        # ListOffsets by time: the first offset whose timestamp is >= the asked one.
        admin_consumer = Consumer({"bootstrap.servers": self.bootstrap(),
                                   "group.id": "fjord-compat-times"})
        try:
            for probe in (base_ts - 1, base_ts + n // 3, base_ts + n - 1, base_ts + n + 1000):
                asked = [TopicPartition(topic, p, probe) for p in range(PARTITIONS)]
                answered = admin_consumer.offsets_for_times(asked, timeout=10)
                for tp in answered:
                    self.assertIsNone(tp.error)
                    rows = sorted(by_partition[tp.partition])
                    want = next((o for o, t in rows if t >= probe), -1)
                    if want == -1:
                        self.assertEqual(tp.offset, -1, "probe %d p%d" % (probe, tp.partition))
                    else:
                        self.assertEqual(tp.offset, want, "probe %d p%d" % (probe, tp.partition))
        finally:
            admin_consumer.close()

        # Topic config round trip through AlterConfigs / DescribeConfigs.
        res = ConfigResource(ConfigResource.Type.TOPIC, topic,
                             set_config={"retention.ms": "3600000", "segment.bytes": "2097152"})
        admin.alter_configs([res])[res].result(timeout=30)
        described = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
        entries = list(described.values())[0].result(timeout=30)
        self.assertEqual(entries["retention.ms"].value, "3600000")
        self.assertEqual(source(entries["retention.ms"]), 1)  # DYNAMIC_TOPIC_CONFIG
        self.assertEqual(entries["segment.bytes"].value, "2097152")
        self.assertEqual(entries["cleanup.policy"].value, "delete")
        self.assertEqual(source(entries["cleanup.policy"]), 5)  # DEFAULT_CONFIG

        before = watermarks(self.bootstrap(), topic, PARTITIONS)
        self.restart()
        self.assertEqual(watermarks(self.bootstrap(), topic, PARTITIONS), before)
        again = consume_all(self.bootstrap(), topic, PARTITIONS, len(sent))
        self.assertEqual(len(again), len(sent))
        for m in again:
            self.assertEqual(m.value(), sent[(m.partition(), m.offset())][1])
        admin = self.admin()
        entries = list(admin.describe_configs(
            [ConfigResource(ConfigResource.Type.TOPIC, topic)]).values())[0].result(timeout=30)
        self.assertEqual(entries["retention.ms"].value, "3600000")

    def test_2_sigkill_loses_no_acknowledged_message_with_flush_per_append(self):
        topic = "compat-durable"
        create_topic(self.admin(), topic, partitions=2, config={"flush.messages": "1"})
        count = compat.scaled(3000, minimum=200)
        msgs = [(b"k%d" % (i % 7), b"durable-%d" % i, [], None) for i in range(count)]
        # acks=all is answered only after the append (and its fsync); SIGKILL lands while
        # requests are in flight, so some messages are acknowledged and some are not.
        p = Producer({"bootstrap.servers": self.bootstrap(), "acks": "all", "linger.ms": 1,
                      "message.timeout.ms": 5000, "retries": 0})
        acked = []

        def cb(err, msg):
            if err is None:
                acked.append((msg.partition(), msg.offset(), msg.value()))

        for i, (k, v, _, _) in enumerate(msgs):
            p.produce(topic, value=v, key=k, on_delivery=cb)
            p.poll(0)
            if i == count // 4:
                p.flush(30)  # a first part surely acknowledged
            if i == count // 2:
                self.broker.kill()  # the rest is in flight or queued
                break
        p.flush(10)
        self.assertGreater(len(acked), 0)
        self.restart(kill=True)
        got = consume_all(self.bootstrap(), topic, 2, len(acked), timeout=60)
        stored = {(m.partition(), m.offset()): m.value() for m in got}
        for part, off, value in acked:
            self.assertEqual(stored.get((part, off)), value,
                             "acknowledged message at %d/%d lost" % (part, off))

    def test_3_errors_a_client_sees(self):
        admin = self.admin()
        fut = admin.create_topics([NewTopic("bad name!", 1, 1)])["bad name!"]
        with self.assertRaises(Exception) as ctx:
            fut.result(timeout=30)
        self.assertEqual(error_code(ctx.exception), 17)  # INVALID_TOPIC_EXCEPTION
        fut = admin.create_topics([NewTopic("too-many-replicas", 1, 3)])["too-many-replicas"]
        with self.assertRaises(Exception) as ctx:
            fut.result(timeout=30)
        self.assertEqual(error_code(ctx.exception), 38)  # INVALID_REPLICATION_FACTOR
        create_topic(admin, "dup-topic", partitions=1)
        with self.assertRaises(Exception) as ctx:
            create_topic(admin, "dup-topic", partitions=1)
        self.assertEqual(error_code(ctx.exception), 36)  # TOPIC_ALREADY_EXISTS
        admin.delete_topics(["dup-topic"], operation_timeout=30)["dup-topic"].result(timeout=30)
        self.assertNotIn("dup-topic", admin.list_topics(timeout=10).topics)


if __name__ == "__main__":
    compat.main()
