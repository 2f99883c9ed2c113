"""Idempotent produce at the wire level (KIP-98): InitProducerId hands out distinct ids, a
retried batch gets its original offset and is not written twice, a sequence gap is
OUT_OF_ORDER_SEQUENCE_NUMBER and an older epoch INVALID_PRODUCER_EPOCH. Transactional
producers are tested in test_transactions.py."""

import common
import kafka_wire as kw
from kafka_wire import i32, string

INIT_PRODUCER_ID = 22
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47


def init_producer_id(cid, transactional_id=None):
    body = string(transactional_id) + i32(60000)
    return kw.request(INIT_PRODUCER_ID, 1, cid, body)


def parse_init(body):
    r = kw.Reader(body)
    r.i32()
    return {"error": r.i16(), "producer_id": r.i64(), "epoch": r.i16()}


class IdempotenceTest(common.BrokerTestCase):

    def setUp(self):
        super().setUp()
        self.c = self.client(timeout=20.0)
        self.topic = common.unique_topic("idem")
        self.create_topic(self.c, self.topic)

    def produce(self, producer, values):
        batch = kw.record_batch([v.encode() for v in values], producer=producer)
        return self.c.produce(self.topic, 0, batch, acks=-1)

    def test_retries_are_answered_with_the_original_offsets(self):
        first = parse_init(self.c.call(init_producer_id))
        second = parse_init(self.c.call(init_producer_id))
        self.assertEqual((first["error"], first["epoch"]), (kw.NONE, 0))
        self.assertNotEqual(first["producer_id"], second["producer_id"])
        pid = first["producer_id"]

        a = self.produce((pid, 0, 0), ["a0", "a1"])
        b = self.produce((pid, 0, 2), ["b2"])
        self.assertEqual((a["error"], a["base_offset"]), (kw.NONE, 0))
        self.assertEqual((b["error"], b["base_offset"]), (kw.NONE, 2))
        retry = self.produce((pid, 0, 0), ["a0", "a1"])
        self.assertEqual((retry["error"], retry["base_offset"]), (kw.NONE, 0))
        gap = self.produce((pid, 0, 7), ["x"])
        self.assertEqual(gap["error"], OUT_OF_ORDER_SEQUENCE_NUMBER)

        # The producer moves to epoch 1; epoch 0 is fenced from then on.
        self.assertEqual(self.produce((pid, 1, 0), ["c0"])["error"], kw.NONE)
        self.assertEqual(self.produce((pid, 0, 3), ["z"])["error"], INVALID_PRODUCER_EPOCH)

        records = self.c.fetch(self.topic, 0, 0)
        values = [v for _, batch in kw.parse_record_batches(records["records"])
                  for _, _, v in batch]
        self.assertEqual(values, [b"a0", b"a1", b"b2", b"c0"])


if __name__ == "__main__":
    common.main()
