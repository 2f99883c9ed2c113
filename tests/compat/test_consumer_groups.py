"""Consumer groups through real clients (librdkafka via confluent-kafka, kafka-python,
kcat): members split a topic's partitions and take over from each other at the committed
offsets, a silent member is expired after its session timeout, cooperative-sticky moves
only the partitions it must, a static member restarts without a rebalance, and groups and
offsets come back after a broker restart."""

import signal
import socket
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient

import compat

PARTITIONS = 6
GROUP_SETTINGS = {
    # Short waits so the tests run in seconds; the rules are the same as with defaults.
    "group.initial.rebalance.delay.ms": 300,
    "group.min.session.timeout.ms": 1000,
}


def wait_until(predicate, timeout, poll=None, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if poll:
            poll()
        if predicate():
            return
        if not poll:
            time.sleep(0.05)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


class Member:
    """A librdkafka group consumer that commits each message it processes."""

    def __init__(self, case, group, name, commit=True, **extra):
        self.name = name
        self.commit = commit
        self.values = []
        self.commit_failures = 0
        self.revoked = []
        self.assigned = []
        config = {"bootstrap.servers": case.bootstrap(), "group.id": group,
                  "client.id": name, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                  "heartbeat.interval.ms": 500}
        config.update(extra)
        self.c = Consumer(config)
        self.closed = False
        case.addCleanup(self.close)

    def subscribe(self, topic):
        self.c.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, consumer, partitions):
        self.assigned.append(sorted(tp.partition for tp in partitions))

    def _on_revoke(self, consumer, partitions):
        self.revoked.append(sorted(tp.partition for tp in partitions))

    def poll(self, timeout=0.05):
        m = self.c.poll(timeout)
        if m is None or m.error():
            return
        self.values.append(int(m.value()))
        if not self.commit:
            return
        try:
            self.c.commit(message=m, asynchronous=False)
        except KafkaException:
            # e.g. REBALANCE_IN_PROGRESS while the group completes a rebalance, as Kafka
            # answers; the message is then part of the uncommitted tail.
            self.commit_failures += 1

    def partitions(self):
        return {tp.partition for tp in self.c.assignment()}

    def close(self):
        if not self.closed:
            self.closed = True
            self.c.close()


class ConsumerGroupsTest(compat.BrokerCase):
    BROKER_SETTINGS = GROUP_SETTINGS

    def topic(self, name, count):
        admin = AdminClient({"bootstrap.servers": self.bootstrap()})
        admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result(timeout=30)
        self.produce(name, range(count))

    def produce(self, name, values):
        p = Producer({"bootstrap.servers": self.bootstrap()})
        for v in values:
            p.produce(name, str(v).encode(), partition=v % PARTITIONS)
        self.assertEqual(p.flush(30), 0)

    def assert_split(self, members):
        """Each member has partitions, none twice, all covered."""
        parts = [m.partitions() for m in members]
        if any(not p for p in parts):
            return False
        union = set().union(*parts)
        return union == set(range(PARTITIONS)) and sum(len(p) for p in parts) == PARTITIONS

    def poll_all(self, members):
        return lambda: [m.poll() for m in members]

    def test_members_split_partitions_and_take_over_without_duplicates(self):
        topic, total = "groups-split", 600
        self.topic(topic, total)
        a = Member(self, "split", "a")
        b = Member(self, "split", "b")
        for m in (a, b):
            m.subscribe(topic)
        wait_until(lambda: self.assert_split([a, b]), 30, self.poll_all([a, b]), "a 2-way split")
        wait_until(lambda: len(a.values) + len(b.values) >= total // 3, 30,
                   self.poll_all([a, b]), "the first third consumed")

        c = Member(self, "split", "c")
        c.subscribe(topic)
        wait_until(lambda: self.assert_split([a, b, c]), 30, self.poll_all([a, b, c]),
                   "a 3-way split")

        # b leaves; a and c take over its partitions at b's committed offsets.
        b.close()
        wait_until(lambda: self.assert_split([a, c]), 30, self.poll_all([a, c]),
                   "a 2-way split after b left")
        seen = lambda: a.values + b.values + c.values  # noqa: E731
        wait_until(lambda: set(seen()) == set(range(total)), 60, self.poll_all([a, c]),
                   "every message consumed")
        # Every message was committed as it was processed, so nothing is read twice beyond
        # the uncommitted tail: the messages whose commit a rebalance refused.
        failures = a.commit_failures + b.commit_failures + c.commit_failures
        self.assertLessEqual(len(seen()) - total, failures)

    def test_cross_client_group_kafka_python_and_librdkafka(self):
        topic, total = "groups-cross", 300
        self.topic(topic, total)
        r = Member(self, "cross", "rdkafka")
        r.subscribe(topic)
        kp = KafkaConsumer(topic, bootstrap_servers=self.bootstrap(), group_id="cross",
                           auto_offset_reset="earliest", enable_auto_commit=False,
                           session_timeout_ms=6000, heartbeat_interval_ms=500,
                           api_version_auto_timeout_ms=30000)
        self.addCleanup(kp.close)
        kp_values = []

        def poll():
            r.poll()
            for records in kp.poll(timeout_ms=50).values():
                kp_values.extend(int(rec.value) for rec in records)
                kp.commit()

        def split():
            mine = {tp.partition for tp in kp.assignment()}
            theirs = r.partitions()
            return mine and theirs and not (mine & theirs) and \
                (mine | theirs) == set(range(PARTITIONS))

        wait_until(split, 60, poll, "kafka-python and librdkafka sharing the topic")
        wait_until(lambda: set(r.values + kp_values) == set(range(total)), 60, poll,
                   "every message consumed")
        self.assertEqual(len(r.values + kp_values), total)

    def test_every_client_side_assignor_splits_the_topic(self):
        # The coordinator only carries the assignors' bytes; each must still work end to end.
        from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
        from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
        topic = "groups-assignors"
        self.topic(topic, 60)
        for strategy in ("roundrobin", "range"):
            group = "assignor-" + strategy
            a = Member(self, group, "a", **{"partition.assignment.strategy": strategy})
            b = Member(self, group, "b", **{"partition.assignment.strategy": strategy})
            for m in (a, b):
                m.subscribe(topic)
            wait_until(lambda: self.assert_split([a, b]), 30, self.poll_all([a, b]),
                       "a 2-way %s split" % strategy)
            a.close()
            b.close()
        for assignor in (RoundRobinPartitionAssignor, StickyPartitionAssignor):
            consumers = [KafkaConsumer(topic, bootstrap_servers=self.bootstrap(),
                                       group_id="kp-" + assignor.name,
                                       partition_assignment_strategy=[assignor],
                                       session_timeout_ms=6000, heartbeat_interval_ms=500,
                                       api_version_auto_timeout_ms=30000) for _ in range(2)]
            # kafka-python's poll blocks through a rebalance, so each member polls in its
            # own thread (as applications run them).
            stop = threading.Event()

            def run(c):
                while not stop.is_set():
                    c.poll(timeout_ms=50)
            threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in consumers]
            for t in threads:
                t.start()

            def split():
                parts = [{tp.partition for tp in c.assignment()} for c in consumers]
                return all(parts) and not (parts[0] & parts[1]) and \
                    (parts[0] | parts[1]) == set(range(PARTITIONS))
            try:
                wait_until(split, 60, None, "a 2-way kafka-python %s split" % assignor.name)
            finally:
                stop.set()
                for t in threads:
                    t.join(30)
                for c in consumers:
                    c.close()

    def test_silent_member_is_expired_after_its_session_timeout(self):
        topic = "groups-silent"
        self.topic(topic, 60)
        script = (
            "import sys\n"
            "from confluent_kafka import Consumer\n"
            "c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': 'silent',\n"
            "              'session.timeout.ms': 2000, 'heartbeat.interval.ms': 300})\n"
            "c.subscribe([sys.argv[2]])\n"
            "while not c.assignment():\n"
            "    c.poll(0.1)\n"
            "print('assigned', flush=True)\n"
            "while True:\n"
            "    c.poll(0.1)\n")
        child = subprocess.Popen([sys.executable, "-c", script, self.bootstrap(), topic],
                                 stdout=subprocess.PIPE)
        self.addCleanup(lambda: child.poll() is None and child.kill())
        a = Member(self, "silent", "a", **{"session.timeout.ms": 6000})
        a.subscribe(topic)
        wait_until(lambda: len(a.partitions()) > 0, 30, a.poll, "a assigned")
        self.assertEqual(child.stdout.readline().strip(), b"assigned")
        wait_until(lambda: len(a.partitions()) < PARTITIONS, 30, a.poll, "a 2-way split")
        # The other member dies without leaving: only its session timeout removes it.
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        killed = time.monotonic()
        wait_until(lambda: a.partitions() == set(range(PARTITIONS)), 30, a.poll,
                   "a owning every partition")
        self.assertGreater(time.monotonic() - killed, 1.5)
        self.broker.wait_for_log(lambda line: "expired (no heartbeat" in line, timeout=5)

    def test_cooperative_sticky_moves_only_what_it_must(self):
        topic = "groups-coop"
        self.topic(topic, 60)
        # No commits here: a commit racing the rebalance may get ILLEGAL_GENERATION (as from
        # Kafka), which librdkafka treats as a lost assignment, and that is not what this
        # test is about.
        coop = {"partition.assignment.strategy": "cooperative-sticky", "commit": False}
        a = Member(self, "coop", "a", **coop)
        b = Member(self, "coop", "b", **coop)
        for m in (a, b):
            m.subscribe(topic)
        wait_until(lambda: self.assert_split([a, b]), 30, self.poll_all([a, b]), "a 2-way split")
        before = {m.name: m.partitions() for m in (a, b)}
        revoked_before = {m.name: len(m.revoked) for m in (a, b)}
        c = Member(self, "coop", "c", **coop)
        c.subscribe(topic)
        wait_until(lambda: self.assert_split([a, b, c]), 30, self.poll_all([a, b, c]),
                   "a 3-way split")
        for m in (a, b):
            # Incremental: a member only loses partitions (never all), gains none.
            self.assertTrue(m.partitions() <= before[m.name], (m.name, before, m.partitions()))
            self.assertTrue(m.partitions())
            for revoked in m.revoked[revoked_before[m.name]:]:
                self.assertLess(len(revoked), len(before[m.name]))
        moved = (before["a"] - a.partitions()) | (before["b"] - b.partitions())
        self.assertEqual(moved, c.partitions())
        self.assertEqual(len(c.partitions()), PARTITIONS // 3)

    def test_static_member_restarts_without_a_rebalance(self):
        topic = "groups-static"
        self.topic(topic, 60)
        static = {"session.timeout.ms": 10000}
        a = Member(self, "static", "a", **{"group.instance.id": "instance-a"}, **static)
        b = Member(self, "static", "b", **{"group.instance.id": "instance-b"}, **static)
        for m in (a, b):
            m.subscribe(topic)
        wait_until(lambda: self.assert_split([a, b]), 30, self.poll_all([a, b]), "a 2-way split")
        b_parts = b.partitions()
        rebalances = sum("group static: preparing" in line for line in self.broker.log_lines())
        revokes = len(a.revoked)

        b.close()  # a static member does not leave the group when it closes
        b2 = Member(self, "static", "b2", **{"group.instance.id": "instance-b"}, **static)
        b2.subscribe(topic)
        wait_until(lambda: b2.partitions() == b_parts, 30, self.poll_all([a, b2]),
                   "the restarted instance holding its old partitions")
        for _ in range(20):
            a.poll()
        self.assertEqual(len(a.revoked), revokes)
        self.assertEqual(
            sum("group static: preparing" in line for line in self.broker.log_lines()), rebalances)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RestartTest(compat.BrokerCase):
    # A fixed port, so the running clients find the broker again after the restart.
    BROKER_SETTINGS = dict(GROUP_SETTINGS, listeners="PLAINTEXT://127.0.0.1:%d" % free_port())

    topic = ConsumerGroupsTest.topic
    produce = ConsumerGroupsTest.produce
    poll_all = ConsumerGroupsTest.poll_all

    def test_groups_and_offsets_survive_a_broker_restart(self):
        topic = "groups-restart"
        self.topic(topic, 120)
        a = Member(self, "restart", "a")
        b = Member(self, "restart", "b")
        for m in (a, b):
            m.subscribe(topic)
        wait_until(lambda: len(a.values) + len(b.values) == 120, 60, self.poll_all([a, b]),
                   "the first 120 messages")
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap(),
                                 api_version_auto_timeout_ms=30000)
        before = admin.describe_consumer_groups(["restart"])[0]
        self.assertEqual(before.state, "Stable")
        members_before = {m.member_id for m in before.members}
        self.assertEqual(len(members_before), 2)
        admin.close()

        self.restart()
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap(),
                                 api_version_auto_timeout_ms=30000)
        self.addCleanup(admin.close)
        described = admin.describe_consumer_groups(["restart"])[0]
        self.assertEqual(described.state, "Stable")
        self.assertEqual({m.member_id for m in described.members}, members_before)

        # The members carry on in the same generation, from their committed offsets.
        self.produce(topic, range(120, 180))
        wait_until(lambda: len(a.values) + len(b.values) >= 180, 60, self.poll_all([a, b]),
                   "the next 60 messages")
        self.assertEqual(sorted(a.values + b.values), list(range(180)))
        offsets = admin.list_consumer_group_offsets("restart")
        self.assertEqual(sum(o.offset for o in offsets.values()), 180)



class AdminAndKcatTest(compat.BrokerCase):
    BROKER_SETTINGS = GROUP_SETTINGS

    def bootstrap_topic(self, name, count):
        admin = AdminClient({"bootstrap.servers": self.bootstrap()})
        admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result(timeout=30)
        p = Producer({"bootstrap.servers": self.bootstrap()})
        for v in range(count):
            p.produce(name, str(v).encode(), partition=v % PARTITIONS)
        self.assertEqual(p.flush(30), 0)

    def test_two_kcat_group_consumers_share_the_topic(self):
        topic, total = "kcat-group", 300
        self.bootstrap_topic(topic, total)
        procs = []
        for _ in range(2):
            p = subprocess.Popen(["kcat", "-b", self.bootstrap(), "-G", "kcatgroup", topic,
                                  "-o", "beginning", "-f", "%p %s\\n", "-q",
                                  "-X", "session.timeout.ms=6000"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            procs.append(p)
            self.addCleanup(lambda p=p: p.poll() is None and p.kill())
            time.sleep(0.1)
        # Both join one generation; stop them once the group has committed everything.
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap(),
                                 api_version_auto_timeout_ms=30000)
        self.addCleanup(admin.close)

        def committed():
            try:
                offsets = admin.list_consumer_group_offsets("kcatgroup")
            except Exception:  # noqa: BLE001 (coordinator not ready yet)
                return 0
            return sum(o.offset for o in offsets.values() if o.offset > 0)

        wait_until(lambda: committed() == total, 60, None, "kcat committing every message")
        group = admin.describe_consumer_groups(["kcatgroup"])[0]
        self.assertEqual(group.state, "Stable")
        self.assertEqual(len(group.members), 2)
        for p in procs:
            p.send_signal(signal.SIGINT)
        outputs = [p.communicate(timeout=30)[0].decode().split("\n") for p in procs]
        parts = [{int(line.split()[0]) for line in out if line.strip()} for out in outputs]
        values = sorted(int(line.split()[1]) for out in outputs for line in out if line.strip())
        self.assertTrue(parts[0] and parts[1] and not (parts[0] & parts[1]), parts)
        self.assertEqual(values, list(range(total)))

    def test_admin_list_describe_delete_and_lag(self):
        topic = "admin-groups"
        self.bootstrap_topic(topic, 60)
        kp = KafkaConsumer(topic, bootstrap_servers=self.bootstrap(), group_id="admin-g",
                           auto_offset_reset="earliest", enable_auto_commit=False,
                           api_version_auto_timeout_ms=30000)
        self.addCleanup(kp.close)
        got = 0
        deadline = time.monotonic() + 30
        while got < 40 and time.monotonic() < deadline:
            for records in kp.poll(timeout_ms=100, max_records=40 - got).values():
                got += len(records)
        self.assertEqual(got, 40)
        kp.commit()
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap(),
                                 api_version_auto_timeout_ms=30000)
        self.addCleanup(admin.close)
        listed = dict(admin.list_consumer_groups())
        self.assertEqual(listed.get("admin-g"), "consumer")
        g = admin.describe_consumer_groups(["admin-g"])[0]
        self.assertEqual((g.state, g.protocol_type, g.protocol), ("Stable", "consumer", "range"))
        self.assertEqual(len(g.members), 1)
        # Lag from committed offsets and the log end (OffsetFetch + ListOffsets).
        committed = admin.list_consumer_group_offsets("admin-g")
        ends = kp.end_offsets(list(committed.keys()))
        self.assertEqual(sum(ends[tp] - committed[tp].offset for tp in committed), 20)
        # A group with members cannot be deleted; once its member leaves, it can.
        result = dict(admin.delete_consumer_groups(["admin-g", "no-such-group"]))
        self.assertIn("NonEmptyGroup", result["admin-g"].__name__)
        self.assertIn("GroupIdNotFound", result["no-such-group"].__name__)
        kp.close()
        result = dict(admin.delete_consumer_groups(["admin-g"]))
        self.assertEqual(result["admin-g"].__name__, "NoError")
        self.assertNotIn("admin-g", dict(admin.list_consumer_groups()))


if __name__ == "__main__":
    compat.main()
