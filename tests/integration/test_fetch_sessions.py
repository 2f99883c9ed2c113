"""Incremental fetch sessions (KIP-227) at the wire level, with Fetch v7."""

import threading
import time

import common
import kafka_wire as kw


class FetchSessionTest(common.BrokerTestCase):
    BROKER_SETTINGS = {"num.partitions": "3"}

    def setUp(self):
        super().setUp()
        self.c = self.client(timeout=20.0)
        self.topic = common.unique_topic("sessions")
        self.create_topic(self.c, self.topic)
        self.parts = [(self.topic, p, 0) for p in range(3)]

    def fetch(self, session_id, epoch, partitions=(), forgotten=(), **kwargs):
        body = self.c.call(kw.fetch_session_request, session_id, epoch, list(partitions),
                           list(forgotten), **kwargs)
        return kw.parse_fetch_v7(body)

    def open_session(self):
        r = self.fetch(0, 0, self.parts)
        self.assertEqual(r["error"], kw.NONE)
        self.assertNotEqual(r["session_id"], 0)
        self.assertEqual(sorted(r["partitions"]), [(self.topic, p) for p in range(3)])
        return r["session_id"]

    def produce(self, partition, values):
        p = self.c.produce(self.topic, partition, kw.record_batch(values))
        self.assertEqual(p["error"], kw.NONE)
        return p["base_offset"]

    def test_final_epoch_fetch_opens_no_session(self):
        r = self.fetch(0, -1, self.parts)
        self.assertEqual(r["error"], kw.NONE)
        self.assertEqual(r["session_id"], 0)
        self.assertEqual(len(r["partitions"]), 3)

    def test_incremental_fetch_carries_only_partitions_with_news(self):
        sid = self.open_session()
        # Nothing changed: an incremental fetch answers no partition at all.
        r = self.fetch(sid, 1)
        self.assertEqual((r["error"], r["session_id"], r["partitions"]), (kw.NONE, sid, {}))

        # Records on partition 1: only it is answered, read from the offset the session
        # remembers (0), though the request names no partition.
        self.produce(1, [b"a", b"b"])
        r = self.fetch(sid, 2)
        self.assertEqual(list(r["partitions"]), [(self.topic, 1)])
        p1 = r["partitions"][(self.topic, 1)]
        self.assertEqual(p1["high_watermark"], 2)
        values = [v for _, recs in kw.parse_record_batches(p1["records"]) for _, _, v in recs]
        self.assertEqual(values, [b"a", b"b"])

        # The client moves partition 1 to offset 2: nothing new anywhere.
        r = self.fetch(sid, 3, [(self.topic, 1, 2)])
        self.assertEqual(r["partitions"], {})

        # New records on partitions 0 and 2 come back; partition 1 stays quiet.
        self.produce(2, [b"c"])
        self.produce(0, [b"d"])
        r = self.fetch(sid, 4)
        self.assertEqual(sorted(r["partitions"]), [(self.topic, 0), (self.topic, 2)])

    def test_long_poll_in_a_session_wakes_on_produce(self):
        sid = self.open_session()
        producer = self.client()

        def produce_later():
            time.sleep(0.3)
            producer.produce(self.topic, 2, kw.record_batch([b"late"]))

        t = threading.Thread(target=produce_later)
        t.start()
        start = time.monotonic()
        r = self.fetch(sid, 1, max_wait_ms=10000, min_bytes=1)
        elapsed = time.monotonic() - start
        t.join()
        self.assertEqual(list(r["partitions"]), [(self.topic, 2)])
        self.assertLess(elapsed, 8.0)

    def test_forgotten_partitions_are_no_longer_read(self):
        sid = self.open_session()
        r = self.fetch(sid, 1, forgotten=[(self.topic, 1)])
        self.assertEqual(r["partitions"], {})
        self.produce(1, [b"x"])
        r = self.fetch(sid, 2)
        self.assertEqual(r["partitions"], {})
        # Forgetting the rest ends the session.
        r = self.fetch(sid, 3, forgotten=[(self.topic, 0), (self.topic, 2)])
        self.assertEqual(r["session_id"], 0)
        r = self.fetch(sid, 4)
        self.assertEqual(r["error"], kw.FETCH_SESSION_ID_NOT_FOUND)

    def test_wrong_epoch_and_unknown_session_are_errors(self):
        sid = self.open_session()
        r = self.fetch(sid, 5)
        self.assertEqual((r["error"], r["session_id"], r["partitions"]),
                         (kw.INVALID_FETCH_SESSION_EPOCH, 0, {}))
        r = self.fetch(sid ^ 0x5A5A, 1)
        self.assertEqual(r["error"], kw.FETCH_SESSION_ID_NOT_FOUND)
        # The session survives a refused request.
        self.assertEqual(self.fetch(sid, 1)["error"], kw.NONE)

    def test_full_fetch_naming_a_session_closes_it(self):
        sid = self.open_session()
        r = self.fetch(sid, -1, self.parts)
        self.assertEqual((r["error"], r["session_id"]), (kw.NONE, 0))
        self.assertEqual(len(r["partitions"]), 3)
        self.assertEqual(self.fetch(sid, 1)["error"], kw.FETCH_SESSION_ID_NOT_FOUND)
        # Epoch 0 with a session id replaces it with a new one.
        sid = self.open_session()
        r = self.fetch(sid, 0, self.parts)
        self.assertNotIn(r["session_id"], (0, sid))
        self.assertEqual(self.fetch(sid, 1)["error"], kw.FETCH_SESSION_ID_NOT_FOUND)

    def test_session_is_usable_from_another_connection(self):
        sid = self.open_session()
        self.produce(0, [b"z"])
        other = self.client()
        body = other.call(kw.fetch_session_request, sid, 1, [], [])
        r = kw.parse_fetch_v7(body)
        self.assertEqual(list(r["partitions"]), [(self.topic, 0)])

    def test_old_fetch_versions_never_get_a_session(self):
        self.produce(0, [b"v4"])
        f = self.c.fetch(self.topic, 0, 0)
        self.assertEqual(f["error"], kw.NONE)
        self.assertTrue(f["records"])


class FetchSessionCacheLimitTest(common.BrokerTestCase):
    BROKER_SETTINGS = {"max.incremental.fetch.session.cache.slots": "2"}

    def test_sessions_beyond_the_cache_slots_are_refused_and_fetch_stays_full(self):
        c = self.client()
        topic = common.unique_topic("slots")
        self.create_topic(c, topic)
        ids = []
        for _ in range(3):
            r = kw.parse_fetch_v7(c.call(kw.fetch_session_request, 0, 0, [(topic, 0, 0)]))
            self.assertEqual(r["error"], kw.NONE)
            self.assertEqual(len(r["partitions"]), 1)
            ids.append(r["session_id"])
        self.assertNotIn(0, ids[:2])
        self.assertEqual(ids[2], 0, "a third session fits in two slots")


if __name__ == "__main__":
    common.main()
