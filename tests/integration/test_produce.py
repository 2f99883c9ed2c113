"""Produce: missing topics, auto-creation, and per-partition error codes."""

import time

import common
import kafka_wire as kw

DEFAULT_MESSAGE_MAX_BYTES = 1048588  # Kafka's default message.max.bytes


class AutoCreateDisabledTest(common.BrokerTestCase):
    BROKER_SETTINGS = {"auto.create.topics.enable": "false"}

    def test_produce_to_missing_topic_is_unknown_topic_or_partition(self):
        c = self.client()
        topic = common.unique_topic("missing")
        p = c.produce(topic, 0, kw.record_batch([b"v"]))
        self.assertEqual(p["error"], kw.UNKNOWN_TOPIC_OR_PARTITION)
        # The connection stays usable after a per-partition error.
        self.assertEqual(c.api_versions(3)["error"], kw.NONE)
        self.assert_well_behaved_client_served_without_autocreate()

    def test_metadata_for_missing_topic_does_not_create_it(self):
        c = self.client()
        topic = common.unique_topic("missing")
        for _ in range(3):
            md = c.metadata([topic])
            self.assertEqual(md["topics"][topic]["error"], kw.UNKNOWN_TOPIC_OR_PARTITION)
        md = c.metadata(None)
        self.assertNotIn(topic, md["topics"])

    def assert_well_behaved_client_served_without_autocreate(self):
        with kw.Client(self.broker.port) as c:
            self.assertEqual(c.api_versions(3)["error"], kw.NONE)
            md = c.metadata(None)
            self.assertEqual(len(md["brokers"]), 1)


class ProduceTest(common.BrokerTestCase):
    BROKER_SETTINGS = {"auto.create.topics.enable": "true", "num.partitions": "1"}

    def setUp(self):
        super().setUp()
        self.c = self.client()
        self.topic = common.unique_topic("produce")
        self.create_topic(self.c, self.topic)

    def fetch_values(self, offset=0):
        f = self.c.fetch(self.topic, 0, offset)
        self.assertEqual(f["error"], kw.NONE)
        return [v for _, recs in kw.parse_record_batches(f["records"]) for _, _, v in recs]

    def test_metadata_auto_creates_topic_with_num_partitions(self):
        topic = common.unique_topic("auto")
        t = self.create_topic(self.c, topic)
        self.assertEqual(len(t["partitions"]), 1)
        self.assertEqual(t["partitions"][0]["leader"], self.c.metadata([])["brokers"][0][0])
        self.assertIn(topic, self.c.metadata(None)["topics"])

    def test_produce_does_not_auto_create(self):
        topic = common.unique_topic("noauto")
        p = self.c.produce(topic, 0, kw.record_batch([b"v"]))
        self.assertEqual(p["error"], kw.UNKNOWN_TOPIC_OR_PARTITION)

    def test_produce_to_missing_partition_is_unknown_topic_or_partition(self):
        p = self.c.produce(self.topic, 7, kw.record_batch([b"v"]))
        self.assertEqual(p["error"], kw.UNKNOWN_TOPIC_OR_PARTITION)

    def test_produce_v3_and_v7_append_in_order(self):
        p1 = self.c.produce(self.topic, 0, kw.record_batch([b"a", b"b"]), version=3)
        p2 = self.c.produce(self.topic, 0, kw.record_batch([b"c"]), version=7)
        self.assertEqual(p1["error"], kw.NONE)
        self.assertEqual(p2["error"], kw.NONE)
        self.assertEqual(p1["base_offset"], 0)
        self.assertEqual(p2["base_offset"], 2)
        self.assertEqual(p2["log_start_offset"], 0)
        self.assertEqual(self.fetch_values(), [b"a", b"b", b"c"])

    def test_bad_crc_is_corrupt_message(self):
        p = self.c.produce(self.topic, 0, kw.record_batch([b"x"], corrupt_crc=True))
        self.assertEqual(p["error"], kw.CORRUPT_MESSAGE)
        self.assertEqual(self.fetch_values(), [])
        # Same connection keeps working.
        ok = self.c.produce(self.topic, 0, kw.record_batch([b"y"]))
        self.assertEqual(ok["error"], kw.NONE)
        self.assertEqual(ok["base_offset"], 0)

    def test_batch_over_message_max_bytes_is_message_too_large(self):
        big = self.c.produce(self.topic, 0,
                             kw.record_batch([b"z" * (DEFAULT_MESSAGE_MAX_BYTES + 1000)]))
        self.assertEqual(big["error"], kw.MESSAGE_TOO_LARGE)
        fits = self.c.produce(self.topic, 0, kw.record_batch([b"z" * 900000]))
        self.assertEqual(fits["error"], kw.NONE)
        self.assertEqual(fits["base_offset"], 0)

    def test_timestamp_far_in_future_is_invalid_timestamp(self):
        future = int(time.time() * 1000) + 7 * 24 * 3600 * 1000
        p = self.c.produce(self.topic, 0, kw.record_batch([b"t"], timestamp_ms=future))
        self.assertEqual(p["error"], kw.INVALID_TIMESTAMP)
        self.assertEqual(self.fetch_values(), [])

    def test_acks_2_is_invalid_required_acks(self):
        p = self.c.produce(self.topic, 0, kw.record_batch([b"a"]), acks=2)
        self.assertEqual(p["error"], kw.INVALID_REQUIRED_ACKS)
        self.assertEqual(self.fetch_values(), [])

    def test_acks_all_succeeds_on_single_broker(self):
        p = self.c.produce(self.topic, 0, kw.record_batch([b"a"]), acks=-1)
        self.assertEqual(p["error"], kw.NONE)

    def test_acks_0_gets_no_response_and_next_response_comes_first(self):
        c = self.c
        c.send_raw(kw.produce_request(100, self.topic, 0, kw.record_batch([b"fire"]), acks=0) +
                   kw.api_versions_request(101, 3) +
                   kw.produce_request(102, self.topic, 0, kw.record_batch([b"forget"]), acks=0) +
                   kw.metadata_request(103, [self.topic]))
        cid1, body1 = c.recv_frame()
        self.assertEqual(cid1, 101)
        self.assertEqual(kw.parse_api_versions(body1, 3)["error"], kw.NONE)
        cid2, _ = c.recv_frame()
        self.assertEqual(cid2, 103)
        # The acks=0 records were appended anyway.
        values = []
        for _ in range(50):
            values = self.fetch_values()
            if len(values) == 2:
                break
            time.sleep(0.1)
        self.assertEqual(values, [b"fire", b"forget"])

    def test_pipelined_produces_append_in_request_order_large_or_small(self):
        # Batches over 64 KiB are checked on a worker before their append; smaller ones are
        # not. Pipelined on one connection, they must still land in request order.
        c = self.c
        big = [b"B" * 70000]
        frames = b""
        expected = []
        for i in range(20):
            values = big if i % 2 == 0 else [b"small-%d" % i]
            frames += kw.produce_request(200 + i, self.topic, 0, kw.record_batch(values))
            expected += values
        c.send_raw(frames)
        offsets = []
        for i in range(20):
            cid, body = c.recv_frame()
            self.assertEqual(cid, 200 + i)
            r = kw.parse_produce(body, 7)[(self.topic, 0)]
            self.assertEqual(r["error"], kw.NONE)
            offsets.append(r["base_offset"])
        self.assertEqual(offsets, list(range(20)), "appends out of request order")
        got = []
        while len(got) < len(expected):
            more = self.fetch_values(len(got))
            self.assertTrue(more)
            got += more
        self.assertEqual(got, expected)

    def test_errors_for_one_partition_do_not_affect_the_connection(self):
        for _ in range(3):
            self.assertEqual(
                self.c.produce(self.topic, 0, kw.record_batch([b"x"], corrupt_crc=True))["error"],
                kw.CORRUPT_MESSAGE)
            self.assertEqual(self.c.produce(self.topic, 0, kw.record_batch([b"x"]),
                                            acks=2)["error"], kw.INVALID_REQUIRED_ACKS)
        self.assert_well_behaved_client_served()


if __name__ == "__main__":
    common.main()
