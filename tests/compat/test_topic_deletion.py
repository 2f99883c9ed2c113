"""A topic deleted under live consumers, groups and producers, with real clients.

Each group (librdkafka eager and cooperative-sticky through confluent-kafka, kafka-python,
kafkajs) has two members subscribed to two topics; one topic is deleted while they
consume. Every member must then hold only partitions of the other topic (cooperative-
sticky librdkafka 2.0 keeps the deleted partitions it owned: its assignor hands back
owned partitions it cannot place) within the session timeout, and keep consuming; the
group's committed offsets of the deleted topic are gone. A producer to the deleted topic
gets UNKNOWN_TOPIC_OR_PARTITION.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest

from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient

import compat

_HERE = os.path.dirname(os.path.abspath(__file__))
_NODE_MODULES = os.path.join(_HERE, "..", "golden", "clients", "node_modules")
SESSION_MS = 6000
PARTITIONS = 2


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


class PollingMember(threading.Thread):
    """Polls a consumer on its own thread, recording what it got and its assignment."""

    def __init__(self, make, poll):
        super().__init__(daemon=True)
        self.make, self.poll_one = make, poll
        self.values = []
        self.assignment = set()
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            self.consumer = self.make()
            while not self.stop.is_set():
                self.poll_one(self)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


class ProcessMember:
    """A member in a child process that reports its assignment and count as JSON lines."""

    def __init__(self, proc):
        self.proc = proc
        self.assignment = set()
        self.values = []
        self.error = None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            state = json.loads(line)
            self.assignment = {tuple(tp) for tp in state["assignment"]}
            self.values = [None] * state["consumed"]

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)
        self.reader.join(5)
        self.proc.stdout.close()


class DeletionCase(compat.BrokerCase):
    """Two topics, one to delete, and the checks; the tests are in the classes below."""

    BROKER_SETTINGS = {"group.initial.rebalance.delay.ms": "300", "auto.create.topics.enable": "false",
                       "group.min.session.timeout.ms": "1000"}

    def setUp(self):
        super().setUp()
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap()})
        tag = "%d-%d" % (os.getpid(), int(time.monotonic() * 1000))
        self.keep, self.gone = "keep-" + tag, "gone-" + tag
        fs = self.admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (self.keep, self.gone)])
        for f in fs.values():
            f.result(timeout=10)
        self.producer = Producer({"bootstrap.servers": self.bootstrap()})
        self.produce(self.keep, 20)
        self.produce(self.gone, 20)

    def produce(self, topic, n):
        for i in range(n):
            self.producer.produce(topic, b"%s-%d" % (topic.encode(), i), partition=i % PARTITIONS)
        self.assertEqual(self.producer.flush(10), 0)

    def delete_gone(self):
        for f in self.admin.delete_topics([self.gone]).values():
            f.result(timeout=10)

    def committed_topics(self, group):
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap())
        try:
            return {tp.topic for tp in admin.list_consumer_group_offsets(group)}
        finally:
            admin.close()

    def check_group(self, members, group, cooperative_keeps_deleted=False):
        """Both members consume, the topic goes, each ends up on the other topic only."""
        # The first member may take and drain every partition before the second joins:
        # once both hold partitions, more messages give each something to consume.
        wait_until(lambda: all(m.assignment for m in members) or any(m.error for m in members),
                   30, "both members to get partitions")
        self.produce(self.keep, 20)
        self.produce(self.gone, 20)
        wait_until(lambda: all(m.values for m in members) or any(m.error for m in members),
                   30, "both members to consume")
        for m in members:
            self.assertIsNone(m.error)
        wait_until(lambda: self.gone in self.committed_topics(group), 20,
                   "commits of the topic to be deleted")
        self.delete_gone()
        start = time.monotonic()
        wanted = {(self.keep, p) for p in range(PARTITIONS)}

        def settled():
            held = set()
            for m in members:
                mine = set(m.assignment)
                if not cooperative_keeps_deleted and any(t == self.gone for t, _ in mine):
                    return False
                held |= {tp for tp in mine if tp[0] == self.keep}
            return held == wanted

        wait_until(settled, SESSION_MS / 1000 + 10, "the group to settle on %s" % self.keep)
        settle_s = time.monotonic() - start
        before = sum(len(m.values) for m in members)
        self.produce(self.keep, 20)
        wait_until(lambda: sum(len(m.values) for m in members) >= before + 20, 20,
                   "the members to keep consuming")
        wait_until(lambda: self.gone not in self.committed_topics(group), 10,
                   "the deleted topic's offsets to go")
        for m in members:
            self.assertIsNone(m.error)
        return settle_s

    def librdkafka_group(self, strategy):
        """Members in processes of their own (rdkafka_member.py), ended by SIGKILL: after
        a topic it fetched is deleted, librdkafka 2.0's close can spin for minutes (forever
        with cooperative-sticky), whatever the broker, since its broker handles keep
        references to the topic's partitions."""
        group = "g-" + strategy + "-" + self.keep
        members = []
        for _ in range(2):
            proc = subprocess.Popen(
                [sys.executable, os.path.join(_HERE, "rdkafka_member.py"), self.bootstrap(),
                 group, strategy, self.keep, self.gone],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            members.append(ProcessMember(proc))
        try:
            self.check_group(members, group,
                             cooperative_keeps_deleted=strategy == "cooperative-sticky")
        finally:
            for m in members:
                m.kill()


class TopicDeletionTest(DeletionCase):
    """Topics stay deleted (auto.create.topics.enable=false)."""

    def test_librdkafka_eager_group(self):
        self.librdkafka_group("range")

    def test_librdkafka_cooperative_sticky_group(self):
        self.librdkafka_group("cooperative-sticky")

    def test_kafka_python_group(self):
        # Asynchronous commits: kafka-python 2.0's synchronous commit (auto-commit before it
        # rejoins, or commit()) retries UNKNOWN_TOPIC_OR_PARTITION for a deleted topic's
        # partitions forever, against Kafka as here.
        group = "g-kp-" + self.keep

        def make():
            return KafkaConsumer(self.keep, self.gone, bootstrap_servers=self.bootstrap(),
                                 group_id=group, auto_offset_reset="earliest",
                                 session_timeout_ms=SESSION_MS, heartbeat_interval_ms=500,
                                 enable_auto_commit=False)

        def poll(member):
            got = member.consumer.poll(200)
            for records in got.values():
                member.values.extend(r.value for r in records)
            if got:
                member.consumer.commit_async()
            member.assignment = {(tp.topic, tp.partition)
                                 for tp in member.consumer.assignment()}

        members = [PollingMember(make, poll) for _ in range(2)]
        for m in members:
            m.start()
        try:
            self.check_group(members, group)
        finally:
            for m in members:
                m.stop.set()
            for m in members:
                m.join(10)
                m.consumer.close()

    def test_a_producer_of_the_deleted_topic_gets_an_error_and_goes_on(self):
        # librdkafka reports the broker's UNKNOWN_TOPIC_OR_PARTITION (retriable) as a
        # delivery failure once it gives up: the topic's metadata is gone, or the message
        # times out. The wire-level answer is in tests/integration/test_fetch_limits.py.
        errors = []
        p = Producer({"bootstrap.servers": self.bootstrap(), "message.timeout.ms": 3000})
        p.produce(self.gone, b"before", partition=0)
        self.assertEqual(p.flush(10), 0)
        self.delete_gone()
        p.produce(self.gone, b"after", partition=0,
                  on_delivery=lambda err, msg: errors.append(err))
        p.produce(self.keep, b"other", partition=0,
                  on_delivery=lambda err, msg: errors.append(err))
        p.flush(10)
        self.assertEqual(len(errors), 2)
        failed = [e for e in errors if e is not None]
        self.assertEqual(len(failed), 1, errors)
        self.assertIn(failed[0].code(), (KafkaError.UNKNOWN_TOPIC_OR_PART,
                                         KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION,
                                         KafkaError._MSG_TIMED_OUT))


class KafkajsTopicDeletionTest(DeletionCase):
    """kafkajs, with Kafka's default auto.create.topics.enable=true (see the script)."""

    BROKER_SETTINGS = dict(DeletionCase.BROKER_SETTINGS, **{"auto.create.topics.enable": "true"})

    @unittest.skipUnless(shutil.which("node") and
                         os.path.isdir(os.path.join(_NODE_MODULES, "kafkajs")),
                         "node or kafkajs missing")
    def test_kafkajs_group_keeps_consuming(self):
        env = dict(os.environ, NODE_PATH=os.path.abspath(_NODE_MODULES))
        p = subprocess.run(["node", os.path.join(_HERE, "kafkajs_topic_deletion.js"),
                            self.bootstrap(), self.keep, self.gone], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("kafkajs topic deletion: ok", p.stdout)


if __name__ == "__main__":
    compat.main()
