"""Transactions (KIP-98) with librdkafka's transactional producer (python3-confluent-kafka)
against a real `fjord`: commit and abort as read_committed and read_uncommitted consumers
see them, consume-transform-produce with offsets sent to the transaction across a broker
restart, zombie fencing, transactions aborted by their timeout, and a commit completed by
the coordinator after a kill."""

import socket
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import compat


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TransactionsTest(compat.BrokerCase):
    # A fixed port, so clients find the broker again after a restart; timed-out
    # transactions are looked for twice a second.
    BROKER_SETTINGS = {
        "listeners": "PLAINTEXT://127.0.0.1:%d" % free_port(),
        "transaction.abort.timed.out.transaction.cleanup.interval.ms": 500,
    }

    def create(self, topic, partitions=1):
        admin = AdminClient({"bootstrap.servers": self.bootstrap()})
        admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=30)

    def producer(self, txn_id, **extra):
        conf = {"bootstrap.servers": self.bootstrap(), "transactional.id": txn_id,
                "linger.ms": 2, "reconnect.backoff.max.ms": 200}
        conf.update(extra)
        p = Producer(conf)
        p.init_transactions(60)
        return p

    def read(self, topic, isolation, expect=None, partitions=1, seconds=10):
        """Values of the topic as a consumer with this isolation level sees them: until
        `expect` values arrived, or until it has been quiet for a second."""
        c = Consumer({"bootstrap.servers": self.bootstrap(), "group.id": "reader-" + isolation,
                      "enable.auto.commit": False, "isolation.level": isolation})
        try:
            c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
            got, deadline, quiet = [], time.monotonic() + seconds, time.monotonic() + 1.5
            while time.monotonic() < deadline:
                if expect is not None and len(got) >= expect:
                    break
                if expect is None and time.monotonic() > quiet:
                    break
                m = c.poll(0.1)
                if m is None or m.error():
                    continue
                got.append(m.value().decode())
                quiet = time.monotonic() + 1.5
            return got
        finally:
            c.close()

    def test_commit_abort_commit_as_each_isolation_level_sees_it(self):
        topic = "txn-isolation"
        self.create(topic)
        p = self.producer("tx-isolation")
        for batch, commit in (("a", True), ("b", False), ("c", True)):
            p.begin_transaction()
            for i in range(3):
                p.produce(topic, ("%s%d" % (batch, i)).encode())
            p.flush(30)
            if commit:
                p.commit_transaction(30)
            else:
                p.abort_transaction(30)
        committed = self.read(topic, "read_committed", expect=6)
        self.assertEqual(committed, ["a0", "a1", "a2", "c0", "c1", "c2"])
        uncommitted = self.read(topic, "read_uncommitted", expect=9)
        self.assertEqual(uncommitted, ["a0", "a1", "a2", "b0", "b1", "b2", "c0", "c1", "c2"])

    def test_open_transaction_holds_back_read_committed(self):
        topic = "txn-lso"
        self.create(topic)
        p = self.producer("tx-lso")
        p.begin_transaction()
        p.produce(topic, b"pending")
        p.flush(30)
        self.assertEqual(self.read(topic, "read_committed"), [])
        self.assertEqual(self.read(topic, "read_uncommitted", expect=1), ["pending"])
        p.commit_transaction(30)
        self.assertEqual(self.read(topic, "read_committed", expect=1), ["pending"])

    def test_zombie_producer_is_fenced(self):
        topic = "txn-zombie"
        self.create(topic)
        old = self.producer("tx-zombie")
        old.begin_transaction()
        old.produce(topic, b"zombie")
        old.flush(30)
        new = self.producer("tx-zombie")  # fences `old` and aborts its transaction
        new.begin_transaction()
        new.produce(topic, b"fresh")
        new.commit_transaction(30)
        with self.assertRaises(KafkaException) as raised:
            old.produce(topic, b"late")
            old.commit_transaction(30)
        self.assertTrue(raised.exception.args[0].fatal(), raised.exception.args[0])
        self.assertEqual(self.read(topic, "read_committed", expect=1), ["fresh"])

    def test_timed_out_transaction_is_aborted_and_consumers_move_on(self):
        topic = "txn-timeout"
        self.create(topic)
        stuck = self.producer("tx-stuck", **{"transaction.timeout.ms": 2000})
        stuck.begin_transaction()
        stuck.produce(topic, b"stuck")
        stuck.flush(30)
        other = self.producer("tx-other")
        other.begin_transaction()
        other.produce(topic, b"after")
        other.commit_transaction(30)
        # The stuck transaction pins the last stable offset until the coordinator aborts it.
        got = self.read(topic, "read_committed", expect=1, seconds=20)
        self.assertEqual(got, ["after"])
        with self.assertRaises(KafkaException):
            stuck.commit_transaction(30)

    def test_consume_transform_produce_exactly_once_across_a_restart(self):
        src, dst, total = "txn-src", "txn-dst", compat.scaled(2000, minimum=200)
        self.create(src, 2)
        self.create(dst, 2)
        plain = Producer({"bootstrap.servers": self.bootstrap()})
        for i in range(total):
            plain.produce(src, str(i).encode(), partition=i % 2)
        self.assertEqual(plain.flush(30), 0)

        group = "copier"
        p = self.producer("tx-copier", **{"transaction.timeout.ms": 60000})
        c = Consumer({"bootstrap.servers": self.bootstrap(), "group.id": group,
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "isolation.level": "read_committed", "session.timeout.ms": 6000,
                      "reconnect.backoff.max.ms": 200})
        self.addCleanup(c.close)
        c.subscribe([src])
        copied, restarted, deadline = 0, False, time.monotonic() + 120
        while copied < total and time.monotonic() < deadline:
            msgs = c.consume(100, 0.5)
            msgs = [m for m in msgs if not m.error()]
            if not msgs:
                continue
            try:
                p.begin_transaction()
                for m in msgs:
                    p.produce(dst, m.value(), partition=m.partition())
                p.send_offsets_to_transaction(c.position(c.assignment()),
                                              c.consumer_group_metadata(), 30)
                p.commit_transaction(30)
                copied += len(msgs)
            except KafkaException as e:
                if not e.args[0].txn_requires_abort():
                    raise
                p.abort_transaction(30)
                # Rewind to the committed offsets: the aborted copies are redone.
                committed = c.committed(c.assignment(), 30)
                for tp in committed:
                    c.seek(tp)
            if not restarted and copied >= total // 2:
                restarted = True
                self.restart(kill=False)
        self.assertTrue(restarted)
        got = self.read(dst, "read_committed", expect=total, partitions=2, seconds=60)
        self.assertEqual(sorted(got, key=int), [str(i) for i in range(total)])

    def test_commit_completes_after_the_broker_is_killed(self):
        topic = "txn-kill"
        self.create(topic)
        p = self.producer("tx-kill")
        p.begin_transaction()
        for i in range(5):
            p.produce(topic, ("k%d" % i).encode())
        p.commit_transaction(30)
        # EndTxn is answered once PrepareCommit is stored; markers may still be on their way.
        self.restart(kill=True)
        got = self.read(topic, "read_committed", expect=5, seconds=30)
        self.assertEqual(got, ["k%d" % i for i in range(5)])
        # The transactional id carries on with a new epoch.
        p2 = self.producer("tx-kill")
        p2.begin_transaction()
        p2.produce(topic, b"k5")
        p2.commit_transaction(30)
        self.assertEqual(self.read(topic, "read_committed", expect=6, seconds=30)[-1], "k5")


if __name__ == "__main__":
    compat.main()
