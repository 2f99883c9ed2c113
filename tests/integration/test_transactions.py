"""Transactions at the wire level (KIP-98): a transaction driven by hand request by request,
its abort as a read_committed fetch reports it, bad requests with Kafka's error codes, and
the operators' APIs (DescribeProducers, DescribeTransactions, ListTransactions)."""

import time

import common
import kafka_wire as kw
from kafka_wire import (array, boolean, compact_array, compact_string, i8, i16, i32, i64,
                        string, EMPTY_TAGS)

FIND_COORDINATOR, INIT_PRODUCER_ID, ADD_PARTITIONS_TO_TXN, END_TXN = 10, 22, 24, 26
WRITE_TXN_MARKERS = 27
DESCRIBE_PRODUCERS, DESCRIBE_TRANSACTIONS, LIST_TRANSACTIONS = 61, 65, 66

INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
INVALID_PRODUCER_ID_MAPPING = 49
INVALID_TRANSACTION_TIMEOUT = 50
UNKNOWN_TOPIC_OR_PARTITION = 3
OPERATION_NOT_ATTEMPTED = 55
PRODUCER_FENCED = 90
TRANSACTIONAL_ID_NOT_FOUND = 105
TRANSACTION_ABORTABLE = 120
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53


def find_txn_coordinator(cid, txn_id):
    return kw.request(FIND_COORDINATOR, 1, cid, string(txn_id) + i8(1))


def init_producer_id(cid, txn_id, timeout_ms=60000):
    return kw.request(INIT_PRODUCER_ID, 1, cid, string(txn_id) + i32(timeout_ms))


def add_partitions(cid, txn_id, pid, epoch, topic, partitions, version=1):
    body = (string(txn_id) + i64(pid) + i16(epoch) +
            array([topic], lambda t: string(t) + array(partitions, i32)))
    return kw.request(ADD_PARTITIONS_TO_TXN, version, cid, body)


def add_partitions_batched(cid, txns, version=4):
    """The brokers' form (v4+): txns is [(txn_id, pid, epoch, verify_only, topic, partitions)]."""
    body = compact_array(txns, lambda t: (
        compact_string(t[0]) + i64(t[1]) + i16(t[2]) + boolean(t[3]) +
        compact_array([t[4]], lambda n: compact_string(n) + compact_array(t[5], i32) +
                      EMPTY_TAGS) + EMPTY_TAGS)) + EMPTY_TAGS
    return kw.request(ADD_PARTITIONS_TO_TXN, version, cid, body, flexible=True)


def parse_add_partitions_batched(body):
    r = kw.Reader(body)
    r.i32()
    top = r.i16()
    out = {}
    for txn, topics, _ in r.compact_array(lambda x: (x.compact_string(), x.compact_array(
            lambda y: (y.compact_string(), y.compact_array(lambda z: (z.i32(), z.i16(), z.tags())),
                       y.tags())), x.tags())):
        for name, parts, _ in topics:
            for p, e, _ in parts:
                out[(txn, name, p)] = e
    return top, out


def write_txn_markers(cid, pid, epoch, commit, topic, partitions, coordinator_epoch=0):
    body = compact_array([0], lambda _: (
        i64(pid) + i16(epoch) + boolean(commit) +
        compact_array([topic], lambda n: compact_string(n) + compact_array(partitions, i32) +
                      EMPTY_TAGS) + i32(coordinator_epoch) + EMPTY_TAGS)) + EMPTY_TAGS
    return kw.request(WRITE_TXN_MARKERS, 1, cid, body, flexible=True)


def parse_write_txn_markers(body):
    r = kw.Reader(body)
    out = {}
    for pid, topics, _ in r.compact_array(lambda x: (x.i64(), x.compact_array(lambda y: (
            y.compact_string(), y.compact_array(lambda z: (z.i32(), z.i16(), z.tags())),
            y.tags())), x.tags())):
        for name, parts, _ in topics:
            for p, e, _ in parts:
                out[(pid, name, p)] = e
    return out


def end_txn(cid, txn_id, pid, epoch, commit, version=1):
    return kw.request(END_TXN, version, cid,
                      string(txn_id) + i64(pid) + i16(epoch) + boolean(commit))


def describe_producers(cid, topic, partition):
    body = compact_array([topic], lambda t: compact_string(t) + compact_array(
        [partition], i32) + EMPTY_TAGS) + EMPTY_TAGS
    return kw.request(DESCRIBE_PRODUCERS, 0, cid, body, flexible=True)


def describe_transactions(cid, ids):
    return kw.request(DESCRIBE_TRANSACTIONS, 0, cid,
                      compact_array(ids, compact_string) + EMPTY_TAGS, flexible=True)


def list_transactions(cid, states=()):
    return kw.request(LIST_TRANSACTIONS, 0, cid, compact_array(list(states), compact_string) +
                      compact_array([], i64) + EMPTY_TAGS, flexible=True)


def parse_error_first(body):
    r = kw.Reader(body)
    r.i32()  # throttle
    return r.i16()


def parse_init(body):
    r = kw.Reader(body)
    r.i32()
    return {"error": r.i16(), "producer_id": r.i64(), "epoch": r.i16()}


def parse_add_partitions(body):
    r = kw.Reader(body)
    r.i32()
    out = {}
    for name, parts in r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16())))):
        for p, e in parts:
            out[(name, p)] = e
    return out


class TransactionsWireTest(common.BrokerTestCase):
    BROKER_SETTINGS = {"transaction.state.log.num.partitions": 3}

    def setUp(self):
        super().setUp()
        self.c = self.client(timeout=20.0)
        self.topic = common.unique_topic("txn")
        self.create_topic(self.c, self.topic)

    def init(self, txn_id, timeout_ms=60000):
        deadline = time.monotonic() + 20
        while True:
            r = kw.Reader(self.c.call(find_txn_coordinator, txn_id))
            r.i32()
            if r.i16() == kw.NONE:
                break
            self.assertLess(time.monotonic(), deadline, "no transaction coordinator")
            time.sleep(0.1)
        while True:
            got = parse_init(self.c.call(init_producer_id, txn_id, timeout_ms))
            if got["error"] != kw.COORDINATOR_LOAD_IN_PROGRESS:
                return got
            time.sleep(0.05)

    def produce_txn(self, txn_id, pid, epoch, seq, values):
        # Kafka refuses transactional records in a Produce that names no transactional id.
        batch = kw.record_batch([v.encode() for v in values], producer=(pid, epoch, seq),
                                transactional=True)
        return self.c.produce(self.topic, 0, batch, acks=-1, transactional_id=txn_id)

    def fetch(self, isolation):
        return kw.parse_fetch_v4(self.c.call(kw.fetch_request, self.topic, 0, 0,
                                             isolation=isolation))[(self.topic, 0)]

    def test_aborted_transaction_is_listed_for_read_committed_fetches(self):
        t = self.init("wire-abort")
        self.assertEqual(t["error"], kw.NONE)
        pid, epoch = t["producer_id"], t["epoch"]
        added = parse_add_partitions(self.c.call(add_partitions, "wire-abort", pid, epoch,
                                                 self.topic, [0]))
        self.assertEqual(added, {(self.topic, 0): kw.NONE})
        self.assertEqual(self.produce_txn("wire-abort", pid, epoch, 0, ["x", "y"])["error"], kw.NONE)
        # Open: read_committed sees nothing past the first offset of the transaction.
        open_read = self.fetch(1)
        self.assertEqual(open_read["last_stable_offset"], 0)
        self.assertEqual(open_read["high_watermark"], 2)
        self.assertEqual(open_read["records"], b"")

        self.assertEqual(parse_error_first(self.c.call(end_txn, "wire-abort", pid, epoch, False)),
                         kw.NONE)
        deadline = time.monotonic() + 10
        while self.fetch(1)["last_stable_offset"] != 3:  # two records and the marker
            self.assertLess(time.monotonic(), deadline, "abort marker not written")
            time.sleep(0.05)
        committed = self.fetch(1)
        self.assertEqual(committed["aborted"], [(pid, 0)])
        self.assertIsNone(self.fetch(0)["aborted"])  # read_uncommitted gets no list

    def test_bad_requests_get_kafkas_errors(self):
        self.assertEqual(self.init("wire-timeout", timeout_ms=0)["error"],
                         INVALID_TRANSACTION_TIMEOUT)
        t = self.init("wire-bad")
        pid, epoch = t["producer_id"], t["epoch"]
        # EndTxn without a transaction.
        self.assertEqual(parse_error_first(self.c.call(end_txn, "wire-bad", pid, epoch, True)),
                         INVALID_TXN_STATE)
        # The wrong producer id; the wrong epoch (INVALID_PRODUCER_EPOCH before v2,
        # PRODUCER_FENCED from v2, KIP-588).
        self.assertEqual(parse_error_first(self.c.call(end_txn, "wire-bad", pid + 1, epoch, True)),
                         INVALID_PRODUCER_ID_MAPPING)
        self.assertEqual(parse_error_first(self.c.call(end_txn, "wire-bad", pid, epoch + 1, True)),
                         INVALID_PRODUCER_EPOCH)
        self.assertEqual(
            parse_error_first(self.c.call(end_txn, "wire-bad", pid, epoch + 1, True, version=2)),
            PRODUCER_FENCED)
        # An unknown partition spoils the whole request.
        added = parse_add_partitions(self.c.call(add_partitions, "wire-bad", pid, epoch,
                                                 self.topic, [0, 99]))
        self.assertEqual(added, {(self.topic, 0): OPERATION_NOT_ATTEMPTED,
                                 (self.topic, 99): UNKNOWN_TOPIC_OR_PARTITION})
        # Plain data from the producer amid its transaction.
        self.c.call(add_partitions, "wire-bad", pid, epoch, self.topic, [0])
        self.assertEqual(self.produce_txn("wire-bad", pid, epoch, 0, ["t"])["error"], kw.NONE)
        plain = kw.record_batch([b"p"], producer=(pid, epoch, 1))
        self.assertEqual(self.c.produce(self.topic, 0, plain, acks=-1)["error"], INVALID_TXN_STATE)

    def test_operators_see_producers_and_transactions(self):
        t = self.init("wire-ops")
        pid, epoch = t["producer_id"], t["epoch"]
        self.c.call(add_partitions, "wire-ops", pid, epoch, self.topic, [0])
        self.assertEqual(self.produce_txn("wire-ops", pid, epoch, 0, ["a"])["error"], kw.NONE)

        r = kw.Reader(self.c.call(describe_producers, self.topic, 0,
                                  flexible_response_header=True))
        r.i32()
        topics = r.compact_array(lambda x: (x.compact_string(), x.compact_array(lambda y: (
            y.i32(), y.i16(), y.compact_string(), y.compact_array(lambda z: (
                z.i64(), z.i32(), z.i32(), z.i64(), z.i32(), z.i64(), z.tags())), y.tags())),
            x.tags()))
        (name, parts, _), = topics
        (index, error, _, producers, _), = parts
        self.assertEqual((name, index, error), (self.topic, 0, kw.NONE))
        self.assertEqual([(p[0], p[1], p[2], p[5]) for p in producers], [(pid, epoch, 0, 0)])

        r = kw.Reader(self.c.call(describe_transactions, ["wire-ops", "nobody"],
                                  flexible_response_header=True))
        r.i32()
        states = r.compact_array(lambda x: (
            x.i16(), x.compact_string(), x.compact_string(), x.i32(), x.i64(), x.i64(), x.i16(),
            x.compact_array(lambda y: (y.compact_string(), y.compact_array(lambda z: z.i32()),
                                       y.tags())), x.tags()))
        ops, nobody = states
        self.assertEqual(ops[:3], (kw.NONE, "wire-ops", "Ongoing"))
        self.assertEqual((ops[5], ops[6]), (pid, epoch))
        self.assertEqual([(t[0], t[1]) for t in ops[7]], [(self.topic, [0])])
        self.assertEqual(nobody[:2], (TRANSACTIONAL_ID_NOT_FOUND, "nobody"))

        def listed(states=()):
            r = kw.Reader(self.c.call(list_transactions, states, flexible_response_header=True))
            r.i32()
            error = r.i16()
            unknown = r.compact_array(lambda x: x.compact_string())
            txns = r.compact_array(lambda x: (x.compact_string(), x.i64(), x.compact_string(),
                                              x.tags()))
            return error, unknown, {t[0]: t[2] for t in txns}

        error, unknown, txns = listed(["ongoing", "Bogus"])
        self.assertEqual((error, unknown), (kw.NONE, ["Bogus"]))
        self.assertEqual(txns.get("wire-ops"), "Ongoing")
        self.assertNotIn("wire-ops", listed(["CompleteCommit"])[2])

    def test_brokers_batched_add_verify_and_marker_requests(self):
        a, b = self.init("wire-batch-a"), self.init("wire-batch-b")
        # One request adds a partition to a's transaction and asks whether b has it.
        top, got = parse_add_partitions_batched(self.c.call(
            add_partitions_batched, [
                ("wire-batch-a", a["producer_id"], a["epoch"], False, self.topic, [0]),
                ("wire-batch-b", b["producer_id"], b["epoch"], True, self.topic, [0]),
            ], flexible_response_header=True))
        self.assertEqual(top, kw.NONE)
        self.assertEqual(got, {("wire-batch-a", self.topic, 0): kw.NONE,
                               ("wire-batch-b", self.topic, 0): INVALID_TXN_STATE})
        # v5 callers know TRANSACTION_ABORTABLE (KIP-890); a verified member answers NONE;
        # the wrong epoch is fenced.
        _, got = parse_add_partitions_batched(self.c.call(
            add_partitions_batched, [
                ("wire-batch-a", a["producer_id"], a["epoch"], True, self.topic, [0]),
                ("wire-batch-b", b["producer_id"], b["epoch"], True, self.topic, [0]),
                ("wire-batch-x", a["producer_id"], a["epoch"] + 1, True, self.topic, [0]),
            ], version=5, flexible_response_header=True))
        self.assertEqual(got, {("wire-batch-a", self.topic, 0): kw.NONE,
                               ("wire-batch-b", self.topic, 0): TRANSACTION_ABORTABLE,
                               ("wire-batch-x", self.topic, 0): INVALID_PRODUCER_ID_MAPPING})
        _, got = parse_add_partitions_batched(self.c.call(
            add_partitions_batched,
            [("wire-batch-a", a["producer_id"], a["epoch"] + 1, True, self.topic, [0])],
            flexible_response_header=True))
        self.assertEqual(got, {("wire-batch-a", self.topic, 0): PRODUCER_FENCED})

        # A coordinator's WriteTxnMarkers commits a's data in the partition: the last stable
        # offset moves past the marker.
        pid, epoch = a["producer_id"], a["epoch"]
        self.assertEqual(self.produce_txn("wire-batch-a", pid, epoch, 0, ["m", "n"])["error"], kw.NONE)
        self.assertEqual(self.fetch(1)["last_stable_offset"], 0)
        got = parse_write_txn_markers(self.c.call(
            write_txn_markers, pid, epoch, True, self.topic, [0, 7],
            flexible_response_header=True))
        self.assertEqual(got, {(pid, self.topic, 0): kw.NONE,
                               (pid, self.topic, 7): UNKNOWN_TOPIC_OR_PARTITION})
        committed = self.fetch(1)
        self.assertEqual(committed["last_stable_offset"], 3)
        self.assertEqual(committed["aborted"], [])
        # A marker from an older producer epoch is refused.
        got = parse_write_txn_markers(self.c.call(
            write_txn_markers, pid, epoch - 1 if epoch > 0 else -1, False, self.topic, [0],
            flexible_response_header=True))
        self.assertEqual(got, {(pid, self.topic, 0): INVALID_PRODUCER_EPOCH})

    def test_transactional_produce_is_verified_with_the_coordinator(self):
        """KIP-890: a transactional batch that would open a transaction in a partition is
        written only if the coordinator has the partition in the producer's transaction
        (Produce v7 here: INVALID_TXN_STATE rather than TRANSACTION_ABORTABLE)."""
        t = self.init("wire-verify")
        pid, epoch = t["producer_id"], t["epoch"]
        self.assertEqual(self.c.produce(self.topic, 0, kw.record_batch([b"p"]), acks=-1)["error"],
                         kw.NONE)
        forged = kw.record_batch([b"f"], producer=(pid + 7777, 0, 0), transactional=True)
        self.assertEqual(self.c.produce(self.topic, 0, forged, acks=-1,
                                        transactional_id="wire-verify")["error"],
                         INVALID_PRODUCER_ID_MAPPING)
        self.assertEqual(self.c.produce(self.topic, 0, forged, acks=-1)["error"],
                         TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        self.assertEqual(self.produce_txn("wire-verify", pid, epoch, 0, ["n"])["error"],
                         INVALID_TXN_STATE)
        self.assertEqual(self.produce_txn("wire-verify", pid, epoch + 1, 0, ["e"])["error"],
                         INVALID_PRODUCER_EPOCH)
        read = self.fetch(1)
        self.assertEqual((read["high_watermark"], read["last_stable_offset"]), (1, 1))
        # Added, the same batch goes in.
        self.c.call(add_partitions, "wire-verify", pid, epoch, self.topic, [0])
        self.assertEqual(self.produce_txn("wire-verify", pid, epoch, 0, ["n"])["error"], kw.NONE)
        self.assertEqual(self.fetch(1)["last_stable_offset"], 1)


class VerificationOffWireTest(common.BrokerTestCase):
    """transaction.partition.verification.enable=false: batches are not checked with the
    coordinator (Kafka before KIP-890)."""

    BROKER_SETTINGS = {"transaction.state.log.num.partitions": 1,
                       "transaction.partition.verification.enable": "false"}

    def test_forged_batch_is_written_unchecked(self):
        c = self.client(timeout=20.0)
        topic = common.unique_topic("txn-off")
        self.create_topic(c, topic)
        forged = kw.record_batch([b"f"], producer=(4242, 0, 0), transactional=True)
        self.assertEqual(c.produce(topic, 0, forged, acks=-1, transactional_id="off")["error"],
                         kw.NONE)
        read = kw.parse_fetch_v4(c.call(kw.fetch_request, topic, 0, 0, isolation=1))[(topic, 0)]
        self.assertEqual((read["high_watermark"], read["last_stable_offset"]), (1, 0))


if __name__ == "__main__":
    common.main()
