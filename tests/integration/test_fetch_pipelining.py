"""Fetch edge cases (out-of-range offsets, long polls) and request pipelining."""

import threading
import time

import common
import kafka_wire as kw


class FetchTest(common.BrokerTestCase):

    def setUp(self):
        super().setUp()
        self.c = self.client(timeout=20.0)
        self.topic = common.unique_topic("fetch")
        self.create_topic(self.c, self.topic)

    def test_offset_past_end_is_offset_out_of_range(self):
        p = self.c.produce(self.topic, 0, kw.record_batch([b"a", b"b", b"c"]))
        self.assertEqual(p["error"], kw.NONE)
        f = self.c.fetch(self.topic, 0, 13)
        self.assertEqual(f["error"], kw.OFFSET_OUT_OF_RANGE)
        self.assertFalse(f["records"])

    def test_negative_offset_is_offset_out_of_range(self):
        self.c.produce(self.topic, 0, kw.record_batch([b"a"]))
        f = self.c.fetch(self.topic, 0, -5)
        self.assertEqual(f["error"], kw.OFFSET_OUT_OF_RANGE)

    def test_offset_at_high_watermark_is_empty_not_an_error(self):
        self.c.produce(self.topic, 0, kw.record_batch([b"a", b"b"]))
        f = self.c.fetch(self.topic, 0, 2)
        self.assertEqual(f["error"], kw.NONE)
        self.assertEqual(f["high_watermark"], 2)
        self.assertFalse(f["records"])

    def test_fetch_from_middle_returns_requested_records(self):
        self.c.produce(self.topic, 0, kw.record_batch([b"a", b"b"]))
        self.c.produce(self.topic, 0, kw.record_batch([b"c"]))
        f = self.c.fetch(self.topic, 0, 2)
        recs = [(o, v) for _, rs in kw.parse_record_batches(f["records"]) for o, _, v in rs]
        self.assertIn((2, b"c"), recs)
        self.assertNotIn((0, b"a"), recs)

    def test_missing_topic_is_unknown_topic_or_partition(self):
        f = self.c.fetch(common.unique_topic("nosuch"), 0, 0)
        self.assertEqual(f["error"], kw.UNKNOWN_TOPIC_OR_PARTITION)

    def test_long_poll_on_empty_partition_waits_about_max_wait(self):
        start = time.monotonic()
        f = self.c.fetch(self.topic, 0, 0, max_wait_ms=500, min_bytes=1, timeout=20)
        elapsed = time.monotonic() - start
        self.assertEqual(f["error"], kw.NONE)
        self.assertFalse(f["records"])
        self.assertGreaterEqual(elapsed, 0.4, "returned too early")
        self.assertLess(elapsed, 3.0, "returned too late")

    def test_long_poll_returns_early_when_another_connection_produces(self):
        producer = self.client()
        errors = []

        def produce_later():
            try:
                time.sleep(0.5)
                p = producer.produce(self.topic, 0, kw.record_batch([b"wake-up"]))
                if p["error"] != kw.NONE:
                    errors.append(p)
            except Exception as e:  # reported by the main thread
                errors.append(e)

        t = threading.Thread(target=produce_later, daemon=True)
        start = time.monotonic()
        t.start()
        f = self.c.fetch(self.topic, 0, 0, max_wait_ms=10000, min_bytes=1, timeout=30)
        elapsed = time.monotonic() - start
        t.join(timeout=20)
        self.assertFalse(t.is_alive())
        self.assertEqual(errors, [])
        self.assertEqual(f["error"], kw.NONE)
        values = [v for _, rs in kw.parse_record_batches(f["records"]) for _, _, v in rs]
        self.assertEqual(values, [b"wake-up"])
        self.assertGreaterEqual(elapsed, 0.4)
        self.assertLess(elapsed, 5.0, "long poll was not woken by the produce")

    def test_long_poll_does_not_block_other_connections(self):
        waiter = self.client(timeout=30.0)
        cid = waiter.correlation_id()
        waiter.send_raw(kw.fetch_request(cid, self.topic, 0, 0, max_wait_ms=3000, min_bytes=1))
        start = time.monotonic()
        self.assertEqual(self.c.api_versions(3)["error"], kw.NONE)
        self.assertLess(time.monotonic() - start, 2.0)
        got, _ = waiter.recv_frame(timeout=30)
        self.assertEqual(got, cid)


class PipeliningTest(common.BrokerTestCase):

    def test_hundred_mixed_requests_answered_in_order(self):
        c = self.client(timeout=30.0)
        topic = common.unique_topic("pipe")
        self.create_topic(c, topic)
        kinds = []
        data = bytearray()
        first = 1000
        produced = 0
        for i in range(100):
            cid = first + i
            k = i % 5
            if k == 0:
                data += kw.api_versions_request(cid, i % 4)
                kinds.append(("api_versions", i % 4))
            elif k == 1:
                data += kw.metadata_request(cid, [topic])
                kinds.append(("metadata", None))
            elif k == 2:
                data += kw.produce_request(cid, topic, 0, kw.record_batch([b"m%d" % i]))
                kinds.append(("produce", produced))
                produced += 1
            elif k == 3:
                data += kw.fetch_request(cid, topic, 0, 0)
                kinds.append(("fetch", None))
            else:
                data += kw.list_offsets_request(cid, topic, 0, -1)
                kinds.append(("list_offsets", None))
        c.send_raw(bytes(data))
        for i in range(100):
            cid, body = c.recv_frame(timeout=30)
            self.assertEqual(cid, first + i, "response %d out of order" % i)
            kind, arg = kinds[i]
            if kind == "api_versions":
                self.assertEqual(kw.parse_api_versions(body, arg)["error"], kw.NONE)
            elif kind == "metadata":
                self.assertEqual(kw.parse_metadata_v1(body)["topics"][topic]["error"], kw.NONE)
            elif kind == "produce":
                p = kw.parse_produce(body, 7)[(topic, 0)]
                self.assertEqual(p["error"], kw.NONE)
                self.assertEqual(p["base_offset"], arg)
            elif kind == "fetch":
                self.assertEqual(kw.parse_fetch_v4(body)[(topic, 0)]["error"], kw.NONE)
            else:
                self.assertEqual(kw.parse_list_offsets_v1(body)[(topic, 0)]["error"], kw.NONE)
        self.assert_well_behaved_client_served()

    def test_request_written_one_byte_at_a_time_is_answered(self):
        c = self.client()
        req = kw.api_versions_request(77, 3)
        for b in req:
            c.send_raw(bytes([b]))
        cid, body = c.recv_frame()
        self.assertEqual(cid, 77)
        self.assertEqual(kw.parse_api_versions(body, 3)["error"], kw.NONE)

    def test_pipelined_requests_across_two_connections_stay_separate(self):
        a = self.client()
        b = self.client()
        a.send_raw(b"".join(kw.api_versions_request(i, 3) for i in range(1, 21)))
        b.send_raw(b"".join(kw.metadata_request(i, None) for i in range(500, 520)))
        for i in range(1, 21):
            self.assertEqual(a.recv_frame()[0], i)
        for i in range(500, 520):
            self.assertEqual(b.recv_frame()[0], i)


if __name__ == "__main__":
    common.main()
