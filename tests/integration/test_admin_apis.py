"""DeleteRecords, OffsetForLeaderEpoch, DescribeLogDirs and DescribeCluster at the wire
level, with the errors Kafka gives."""

import common
import kafka_wire as kw


class AdminApisTest(common.BrokerTestCase):

    def filled_topic(self, c, n=10):
        topic = common.unique_topic("admin")
        self.create_topic(c, topic)
        for i in range(n):
            self.assertEqual(c.produce(topic, 0, kw.record_batch([b"r%d" % i]))["error"], kw.NONE)
        return topic

    def test_delete_records_moves_the_log_start(self):
        c = self.client()
        topic = self.filled_topic(c)
        r = kw.parse_delete_records_v0(c.call(kw.delete_records_request, topic, 0, 4))
        self.assertEqual(r[(topic, 0)], {"low_watermark": 4, "error": kw.NONE})
        self.assertEqual(c.list_offsets(topic, 0, -2)["offset"], 4)  # earliest
        self.assertEqual(c.fetch(topic, 0, 2)["error"], kw.OFFSET_OUT_OF_RANGE)
        f = c.fetch(topic, 0, 4)
        values = [v for _, recs in kw.parse_record_batches(f["records"]) for _, _, v in recs]
        self.assertEqual(values, [b"r%d" % i for i in range(4, 10)])
        # -1 means "up to the high watermark"; beyond it is OFFSET_OUT_OF_RANGE.
        r = kw.parse_delete_records_v0(c.call(kw.delete_records_request, topic, 0, -1))
        self.assertEqual(r[(topic, 0)]["low_watermark"], 10)
        r = kw.parse_delete_records_v0(c.call(kw.delete_records_request, topic, 0, 99))
        self.assertEqual(r[(topic, 0)]["error"], kw.OFFSET_OUT_OF_RANGE)
        r = kw.parse_delete_records_v0(c.call(kw.delete_records_request, "no-such-topic", 0, 1))
        self.assertEqual(r[("no-such-topic", 0)]["error"], kw.UNKNOWN_TOPIC_OR_PARTITION)

    def test_offset_for_leader_epoch(self):
        c = self.client()
        topic = self.filled_topic(c, 5)
        md = c.metadata([topic])
        r = kw.parse_offset_for_leader_epoch_v3(
            c.call(kw.offset_for_leader_epoch_request, topic, 0, 0))
        got = r[(topic, 0)]
        self.assertEqual(got["error"], kw.NONE)
        self.assertEqual(got["end_offset"], 5)
        self.assertEqual(got["leader_epoch"], 0)
        r = kw.parse_offset_for_leader_epoch_v3(
            c.call(kw.offset_for_leader_epoch_request, "no-such-topic", 0, 0))
        self.assertEqual(r[("no-such-topic", 0)]["error"], kw.UNKNOWN_TOPIC_OR_PARTITION)
        self.assertTrue(md["topics"][topic]["partitions"])

    def test_describe_log_dirs_reports_sizes(self):
        c = self.client()
        topic = self.filled_topic(c, 3)
        dirs = kw.parse_describe_log_dirs_v1(c.call(kw.describe_log_dirs_request))
        self.assertEqual(len(dirs), 1)
        self.assertEqual(dirs[0]["error"], kw.NONE)
        self.assertEqual(dirs[0]["log_dir"], self.broker.data_dir)
        parts = dirs[0]["topics"][topic]
        self.assertEqual(parts[0]["partition"], 0)
        self.assertGreater(parts[0]["size"], 0)
        self.assertNotIn("__cluster_metadata", dirs[0]["topics"])

    def test_describe_cluster(self):
        c = self.client()
        d = kw.parse_describe_cluster_v0(c.call(kw.describe_cluster_request,
                                                flexible_response_header=True))
        self.assertEqual(d["error"], kw.NONE)
        self.assertEqual(d["controller_id"], 1)
        self.assertEqual(len(d["cluster_id"]), 22)
        self.assertEqual(d["brokers"], [(1, "127.0.0.1", self.broker.port, None)])


if __name__ == "__main__":
    common.main()
