"""Descriptors per partition, and partitions whose logs cannot be opened.

- A partition holds one descriptor per segment (its log): indexes are opened only while
  they are read or written, so thousands of partitions fit a modest descriptor limit.
- A partition whose log cannot be opened (here: the broker is out of descriptors) is
  offline: Metadata reports no leader (LEADER_NOT_AVAILABLE) with this broker among the
  offline replicas, Produce answers KAFKA_STORAGE_ERROR (not the NOT_LEADER_OR_FOLLOWER
  a client would retry forever), one log line per partition says why, and the broker
  tries again: once descriptors are free the partition is served.
"""

import os
import time
import unittest

import common
import kafka_wire as kw

LEADER_NOT_AVAILABLE = 5
KAFKA_STORAGE_ERROR = 56


def open_descriptors(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class PartitionTestCase(common.BrokerTestCase):
    def create(self, c, name, partitions):
        resp = kw.parse_create_topics_v2(c.call(kw.create_topics_request, name, partitions))
        self.assertEqual(resp[name][0], kw.NONE, resp)

    def delete(self, c, name):
        resp = kw.parse_delete_topics_v1(c.call(kw.delete_topics_request, [name]))
        self.assertEqual(resp[name], kw.NONE, resp)

    def partitions(self, c, name):
        md = c.metadata([name])
        return md["topics"][name]["partitions"]

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        self.fail("timed out waiting for " + what)


class DescriptorsPerPartitionTest(PartitionTestCase):
    def test_a_partition_holds_one_descriptor(self):
        c = self.client(timeout=60)
        before = open_descriptors(self.broker.pid())
        self.create(c, "wide", 2000)
        self.wait_for(lambda: all(p["leader"] >= 0 for p in self.partitions(c, "wide")), 60,
                      "2,000 partitions online")
        # Writes go through the indexes too (one entry per index.interval.bytes).
        for p in range(0, 2000, 40):
            r = c.produce("wide", p, kw.record_batch([b"x" * 5000, b"y" * 5000]))
            self.assertEqual(r["error"], kw.NONE)
            f = c.fetch("wide", p, 0)
            self.assertEqual(f["error"], kw.NONE)
        grown = open_descriptors(self.broker.pid()) - before
        # Four per partition (log and three indexes) was 8,000.
        self.assertLess(grown, 2200, "2,000 partitions hold %d descriptors" % grown)


@unittest.skipIf(os.environ.get("FJORD_SANITIZED") == "1",
                 "with ASan/UBSan the sanitizer runtime itself runs out of descriptors and "
                 "stops the broker; the Release build runs this test")
class OfflinePartitionTest(PartitionTestCase):
    BROKER_NOFILE = 400

    def test_a_partition_that_cannot_be_opened_is_offline_and_retried(self):
        c = self.client(timeout=60)
        self.create(c, "big", 600)
        parts = []

        def settled():
            parts[:] = self.partitions(c, "big")
            return len(parts) == 600 and any(p["leader"] < 0 for p in parts)
        self.wait_for(settled, 30, "partitions of 'big' reported offline")
        offline = [p for p in parts if p["leader"] < 0]
        online = [p for p in parts if p["leader"] >= 0]
        self.assertTrue(online, "no partition of 'big' could be opened at all")
        for p in offline:
            self.assertEqual(p["error"], LEADER_NOT_AVAILABLE)
        for p in online:
            self.assertEqual(p["error"], kw.NONE)
        down = offline[0]["partition"]
        r = c.produce("big", down, kw.record_batch([b"lost?"]))
        self.assertEqual(r["error"], KAFKA_STORAGE_ERROR)
        up = online[0]["partition"]
        self.assertEqual(c.produce("big", up, kw.record_batch([b"kept"]))["error"], kw.NONE)

        # One line per offline partition, not one per retry.
        time.sleep(6)
        lines = [l for l in self.broker.log_lines() if "is offline: cannot open its log" in l]
        self.assertGreaterEqual(len(lines), len(offline))
        self.assertLessEqual(len(lines), 600, "offline partitions logged at every retry")
        self.assertIn("big-%d" % down, " ".join(lines))

        # Freeing the descriptors brings a partition created meanwhile online.
        self.create(c, "later", 1)
        self.delete(c, "big")
        self.wait_for(lambda: self.partitions(c, "later")[0]["leader"] >= 0, 20,
                      "'later' served once 'big' is gone")
        r = c.produce("later", 0, kw.record_batch([b"served"]))
        self.assertEqual(r["error"], kw.NONE)
        self.assertTrue(self.broker.alive())
        self.assert_well_behaved_client_served()


if __name__ == "__main__":
    common.main()
