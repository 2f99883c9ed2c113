"""librdkafka's idempotent producer (enable.idempotence) against a real `fjord` that is
killed (SIGKILL) and restarted in the middle of the stream: batches in flight at the kill
are retried with their sequence numbers, and every message lands exactly once, in order."""

import socket
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import compat

PARTITIONS = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class IdempotentProducerTest(compat.BrokerCase):
    # A fixed port, so the producer finds the broker again after the restart.
    BROKER_SETTINGS = {"listeners": "PLAINTEXT://127.0.0.1:%d" % free_port()}

    def test_exactly_once_in_order_across_a_broker_kill(self):
        topic, total = "idempotent", compat.scaled(6000, minimum=600)
        admin = AdminClient({"bootstrap.servers": self.bootstrap()})
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=30)
        p = Producer({"bootstrap.servers": self.bootstrap(), "enable.idempotence": True,
                      "linger.ms": 2, "message.timeout.ms": 90000,
                      "reconnect.backoff.max.ms": 200})
        failures = []

        def delivered(err, msg):
            if err is not None:
                failures.append(err)

        for i in range(total):
            p.produce(topic, str(i).encode(), partition=i % PARTITIONS, on_delivery=delivered)
            p.poll(0)
            if i == total // 2:
                self.restart(kill=True)
        self.assertEqual(p.flush(120), 0)
        self.assertEqual(failures, [])

        c = Consumer({"bootstrap.servers": self.bootstrap(), "group.id": "idem-check",
                      "enable.auto.commit": False})
        self.addCleanup(c.close)
        c.assign([TopicPartition(topic, part, 0) for part in range(PARTITIONS)])
        got = {part: [] for part in range(PARTITIONS)}
        deadline = time.monotonic() + 60
        while sum(len(v) for v in got.values()) < total and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got[m.partition()].append(int(m.value()))
        for part in range(PARTITIONS):
            self.assertEqual(got[part], list(range(part, total, PARTITIONS)), part)


if __name__ == "__main__":
    compat.main()
