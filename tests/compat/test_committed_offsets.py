"""Committed offsets through real clients: librdkafka (confluent-kafka) and kafka-python
commit for partitions they assign themselves, read the commits back, see each other's
commits, and find them all again after a broker restart."""

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer
from kafka import TopicPartition as KpTopicPartition
from kafka.structs import OffsetAndMetadata

import compat

TOPIC = "compat-offsets"


class CommittedOffsetsTest(compat.BrokerCase):

    def consumer(self, group):
        c = Consumer({"bootstrap.servers": self.bootstrap(), "group.id": group,
                      "enable.auto.commit": False})
        self.addCleanup(c.close)
        return c

    def committed(self, group, partitions=3):
        c = self.consumer(group)
        got = c.committed([TopicPartition(TOPIC, p) for p in range(partitions)], timeout=30)
        for tp in got:
            self.assertIsNone(tp.error)
        return {tp.partition: tp.offset for tp in got}

    def test_commit_fetch_across_clients_and_restart(self):
        admin = AdminClient({"bootstrap.servers": self.bootstrap()})
        admin.create_topics([NewTopic(TOPIC, 3, 1)])[TOPIC].result(timeout=30)

        c = self.consumer("librdkafka-group")
        c.commit(offsets=[TopicPartition(TOPIC, 0, 5), TopicPartition(TOPIC, 2, 7)],
                 asynchronous=False)
        # Nothing committed for partition 1: librdkafka shows OFFSET_INVALID (-1001).
        self.assertEqual(self.committed("librdkafka-group"), {0: 5, 1: -1001, 2: 7})
        c.commit(offsets=[TopicPartition(TOPIC, 2, 9)], asynchronous=False)
        self.assertEqual(self.committed("librdkafka-group")[2], 9)
        # Groups are separate.
        self.assertEqual(self.committed("other-group"), {0: -1001, 1: -1001, 2: -1001})

        kp = KafkaConsumer(bootstrap_servers=self.bootstrap(), group_id="kafka-python-group",
                           enable_auto_commit=False, api_version_auto_timeout_ms=30000)
        self.addCleanup(kp.close)
        tp1 = KpTopicPartition(TOPIC, 1)
        kp.assign([tp1])
        kp.commit({tp1: OffsetAndMetadata(11, "from kafka-python")})
        self.assertEqual(kp.committed(tp1), 11)
        # librdkafka reads what kafka-python committed.
        self.assertEqual(self.committed("kafka-python-group")[1], 11)
        kp.close()

        self.restart()
        self.assertEqual(self.committed("librdkafka-group"), {0: 5, 1: -1001, 2: 9})
        self.assertEqual(self.committed("kafka-python-group")[1], 11)
        self.assertTrue(any("loaded __consumer_offsets" in line
                            for line in self.broker.log_lines()))


if __name__ == "__main__":
    compat.main()
