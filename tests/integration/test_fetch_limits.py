"""Fetch sizing and error paths at the wire level (KIP-74, KIP-541).

- A response carries at most the request's max_bytes (and the broker's fetch.max.bytes)
  across all its partitions, and each partition at most its partition_max_bytes. The one
  exception: the first batch of the first partition with data comes whole, however large.
- Every partition answered with an error carries empty records (size 0), never null (-1),
  at every version: librdkafka rejects a whole response with a null records field.
"""

import os
import struct
import uuid

import common
import kafka_wire as kw

UNKNOWN_TOPIC_ID = 100
UNKNOWN_LEADER_EPOCH = 75
DELETE_TOPICS = 20
BROKER_FETCH_MAX = 300 * 1024


def fetch_body(version, partitions, max_bytes, max_wait_ms=0, min_bytes=0, session=(0, -1),
               forgotten=()):
    """A Fetch request body. partitions: [(topic or topic id bytes, partition, offset,
    partition_max_bytes, current_leader_epoch)], one topic's partitions adjacent."""
    flexible = version >= 12
    arr = kw.compact_array if flexible else kw.array
    tags = kw.EMPTY_TAGS if flexible else b""

    def topic_ref(t):
        if version >= 13:
            return t
        return kw.compact_string(t) if flexible else kw.string(t)

    def partition(p):
        out = kw.i32(p[1])
        if version >= 9:
            out += kw.i32(p[4])
        out += kw.i64(p[2])
        if version >= 12:
            out += kw.i32(-1)  # last_fetched_epoch
        if version >= 5:
            out += kw.i64(-1)  # log_start_offset
        return out + kw.i32(p[3]) + tags

    groups = []
    for p in partitions:
        if groups and groups[-1][0] == p[0]:
            groups[-1][1].append(p)
        else:
            groups.append((p[0], [p]))
    body = kw.i32(-1) + kw.i32(max_wait_ms) + kw.i32(min_bytes) + kw.i32(max_bytes) + kw.i8(0)
    if version >= 7:
        body += kw.i32(session[0]) + kw.i32(session[1])
    body += arr(groups, lambda g: topic_ref(g[0]) + arr(g[1], partition) + tags)
    if version >= 7:
        body += arr(list(forgotten), lambda f: topic_ref(f[0]) +
                    arr(f[1], lambda p: kw.i32(p)) + tags)
    if version >= 11:
        body += (kw.compact_string("") if flexible else kw.string(""))
    return body + tags


def parse_fetch(body, version):
    """{"error", "session_id", "partitions": {(topic, p): {..., "records", "records_size"}},
    "order"}. records_size is the raw length on the wire (-1 for null)."""
    flexible = version >= 12
    r = kw.Reader(body)
    r.i32()
    out = {"error": 0, "session_id": 0, "partitions": {}, "order": []}
    if version >= 7:
        out["error"] = r.i16()
        out["session_id"] = r.i32()

    def arr(dec):
        return (r.compact_array(dec) if flexible else r.array(dec)) or []

    def partition(rr):
        p = {"partition": rr.i32(), "error": rr.i16(), "high_watermark": rr.i64()}
        p["last_stable_offset"] = rr.i64()
        if version >= 5:
            p["log_start_offset"] = rr.i64()
        (rr.compact_array if flexible else rr.array)(lambda x: (x.i64(), x.i64(),
                                                                 x.tags() if flexible else 0))
        if version >= 11:
            rr.i32()
        if flexible:
            n = rr.uvarint() - 1
        else:
            n = rr.i32()
        p["records_size"] = n
        p["records"] = None if n < 0 else rr._take(n)
        if flexible:
            rr.tags()
        return p

    def topic(rr):
        if version >= 13:
            name = rr._take(16)
        else:
            name = rr.compact_string() if flexible else rr.string()
        parts = (rr.compact_array(partition) if flexible else rr.array(partition)) or []
        if flexible:
            rr.tags()
        return name, parts

    for name, parts in arr(topic):
        for p in parts:
            out["partitions"][(name, p["partition"])] = p
            out["order"].append((name, p["partition"]))
    return out


def batch_sizes(records):
    """The size of each whole batch in records; fails on a torn tail."""
    sizes = []
    pos = 0
    while pos < len(records):
        (length,) = struct.unpack(">i", records[pos + 8:pos + 12])
        sizes.append(12 + length)
        pos += 12 + length
    assert pos == len(records), "torn batch at the end of the records"
    return sizes


class FetchLimitsTest(common.BrokerTestCase):
    BROKER_SETTINGS = {"num.partitions": "4", "fetch.max.bytes": str(BROKER_FETCH_MAX),
                       "message.max.bytes": str(4 << 20)}

    def call_fetch(self, c, version, partitions, max_bytes, **kwargs):
        body = fetch_body(version, partitions, max_bytes, **kwargs)
        raw = c.call(lambda cid: kw.request(kw.FETCH, version, cid, body, flexible=version >= 12),
                     flexible_response_header=version >= 12)
        return parse_fetch(raw, version)

    def filled_topic(self, c, batches_per_partition, batch_bytes):
        topic = common.unique_topic("limits")
        self.create_topic(c, topic)
        value = os.urandom(batch_bytes)
        for p in range(4):
            for _ in range(batches_per_partition):
                r = c.produce(topic, p, kw.record_batch([value]))
                self.assertEqual(r["error"], kw.NONE)
        return topic

    def test_max_bytes_bounds_the_whole_response_with_large_partition_limits(self):
        c = self.client()
        topic = self.filled_topic(c, 20, 10_000)
        for version in (4, 7, 11, 12):
            parts = [(topic, p, 0, 50 << 20, -1) for p in range(4)]
            r = self.call_fetch(c, version, parts, 64 * 1024)
            total = sum(len(p["records"] or b"") for p in r["partitions"].values())
            self.assertLessEqual(total, 64 * 1024, "v%d" % version)
            self.assertGreater(total, 50 * 1024, "v%d: the budget should be used" % version)
            for p in r["partitions"].values():
                batch_sizes(p["records"])
            first = r["partitions"][(topic, 0)]
            self.assertGreater(len(first["records"]), 0, "v%d" % version)

    def test_partition_max_bytes_bounds_each_partition(self):
        c = self.client()
        topic = self.filled_topic(c, 10, 5_000)
        parts = [(topic, p, 0, 12_000, -1) for p in range(4)]
        r = self.call_fetch(c, 11, parts, 10 << 20)
        for key, p in r["partitions"].items():
            sizes = batch_sizes(p["records"])
            self.assertEqual(len(sizes), 2, key)  # two 5 KB batches fit in 12,000 bytes
            self.assertLessEqual(len(p["records"]), 12_000)

    def test_first_batch_larger_than_both_limits_comes_whole_and_alone(self):
        c = self.client()
        topic = self.filled_topic(c, 2, 100_000)
        parts = [(topic, p, 0, 10_000, -1) for p in range(4)]
        r = self.call_fetch(c, 11, parts, 20_000)
        sizes = batch_sizes(r["partitions"][(topic, 0)]["records"])
        self.assertEqual(len(sizes), 1)
        self.assertGreater(sizes[0], 100_000)
        for p in range(1, 4):
            self.assertEqual(r["partitions"][(topic, p)]["records_size"], 0)

    def test_a_later_partition_gets_only_the_whole_batches_that_still_fit(self):
        c = self.client()
        topic = self.filled_topic(c, 10, 4_000)
        one = len(kw.record_batch([os.urandom(4_000)]))
        budget = 3 * one + one // 2  # partition 0: 2 batches, partition 1: 1 whole batch
        parts = [(topic, 0, 0, 2 * one, -1), (topic, 1, 0, 10 * one, -1),
                 (topic, 2, 0, 10 * one, -1)]
        r = self.call_fetch(c, 11, parts, budget)
        self.assertEqual(len(batch_sizes(r["partitions"][(topic, 0)]["records"])), 2)
        self.assertEqual(len(batch_sizes(r["partitions"][(topic, 1)]["records"])), 1)
        self.assertEqual(r["partitions"][(topic, 2)]["records_size"], 0)

    def test_broker_fetch_max_bytes_caps_a_larger_request(self):
        c = self.client()
        topic = self.filled_topic(c, 40, 10_000)
        parts = [(topic, p, 0, 50 << 20, -1) for p in range(4)]
        r = self.call_fetch(c, 11, parts, 50 << 20)
        total = sum(len(p["records"]) for p in r["partitions"].values())
        self.assertLessEqual(total, BROKER_FETCH_MAX)
        self.assertGreater(total, BROKER_FETCH_MAX - 20_000)

    def test_incremental_session_fetches_keep_the_limit(self):
        c = self.client()
        topic = self.filled_topic(c, 20, 10_000)
        parts = [(topic, p, 0, 50 << 20, -1) for p in range(4)]
        r = self.call_fetch(c, 7, parts, 64 * 1024, session=(0, 0))
        self.assertNotEqual(r["session_id"], 0)
        offsets = {}
        for (t, p), pd in r["partitions"].items():
            offsets[p] = len(batch_sizes(pd["records"]))
        epoch = 1
        for _ in range(5):
            r = self.call_fetch(c, 7, [(topic, p, offsets[p], 50 << 20, -1) for p in range(4)],
                                64 * 1024, session=(r["session_id"], epoch))
            self.assertEqual(r["error"], kw.NONE)
            total = sum(len(p["records"]) for p in r["partitions"].values())
            self.assertLessEqual(total, 64 * 1024)
            for (t, p), pd in r["partitions"].items():
                offsets[p] += len(batch_sizes(pd["records"]))
            epoch += 1
        self.assertGreater(sum(offsets.values()), 10)

    # Error paths: records are empty (0), never null (-1).

    def assert_empty_records(self, r, key, error):
        p = r["partitions"][key]
        self.assertEqual(p["error"], error)
        self.assertEqual(p["records_size"], 0, "records must be empty, not null")

    def test_unknown_topic_has_empty_records_at_every_version(self):
        c = self.client()
        for version in (4, 7, 11, 12):
            r = self.call_fetch(c, version, [("no-such-topic", 0, 0, 1 << 20, -1)], 1 << 20)
            self.assert_empty_records(r, ("no-such-topic", 0), kw.UNKNOWN_TOPIC_OR_PARTITION)
        tid = uuid.uuid4().bytes
        for version in (13, 14):
            r = self.call_fetch(c, version, [(tid, 0, 0, 1 << 20, -1)], 1 << 20)
            self.assert_empty_records(r, (tid, 0), UNKNOWN_TOPIC_ID)

    def test_deleted_topic_has_empty_records(self):
        c = self.client()
        topic = self.filled_topic(c, 1, 100)
        body = kw.array([topic], kw.string) + kw.i32(10000)
        raw = c.call(lambda cid: kw.request(DELETE_TOPICS, 1, cid, body))
        rd = kw.Reader(raw)
        rd.i32()
        self.assertEqual(rd.array(lambda x: (x.string(), x.i16())), [(topic, kw.NONE)])
        r = self.call_fetch(c, 11, [(topic, 0, 0, 1 << 20, -1)], 1 << 20)
        self.assert_empty_records(r, (topic, 0), kw.UNKNOWN_TOPIC_OR_PARTITION)

    def test_missing_partition_offset_out_of_range_and_future_epoch_have_empty_records(self):
        c = self.client()
        topic = self.filled_topic(c, 1, 100)
        r = self.call_fetch(c, 11, [(topic, 0, 999, 1 << 20, -1), (topic, 1, 0, 1 << 20, 99),
                                    (topic, 9, 0, 1 << 20, -1)], 1 << 20)
        self.assert_empty_records(r, (topic, 0), kw.OFFSET_OUT_OF_RANGE)
        self.assert_empty_records(r, (topic, 1), UNKNOWN_LEADER_EPOCH)
        self.assert_empty_records(r, (topic, 9), kw.UNKNOWN_TOPIC_OR_PARTITION)

    def test_an_error_beside_data_keeps_both(self):
        c = self.client()
        topic = self.filled_topic(c, 1, 100)
        r = self.call_fetch(c, 12, [(topic, 0, 0, 1 << 20, -1), (topic, 1, 999, 1 << 20, -1)],
                            1 << 20)
        self.assertEqual(len(batch_sizes(r["partitions"][(topic, 0)]["records"])), 1)
        self.assert_empty_records(r, (topic, 1), kw.OFFSET_OUT_OF_RANGE)


if __name__ == "__main__":
    common.main()
