#!/usr/bin/env python3
"""Transaction benchmarks against a real `fjord`, with librdkafka's producer
(python3-confluent-kafka).

1. Transactions/s with 10 messages each: begin, produce 10, commit, --small times.
2. Messages/s with 1,000 messages per transaction, --large transactions.
3. The cost of idempotence: --messages messages (100 bytes) with enable.idempotence
   against the same with plain acks=all, alternating --reps times in the same run; the
   figure is the ratio of the medians (target >= 0.9).

Bounded in count and time. Usage: run_txn.py --fjord path [--small 300] [--large 20]
[--messages 200000] [--reps 3]
"""

import argparse
import os
import statistics
import sys
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "..", "tests", "integration"))

import broker_process  # noqa: E402

PAYLOAD = b"x" * 100


def create(bootstrap, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=30)


def transactional(bootstrap, txn_id):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                  "linger.ms": 1})
    p.init_transactions(60)
    return p


def bench_transactions(bootstrap, topic, count, per_txn):
    """(transactions/s, messages/s) for `count` transactions of `per_txn` messages."""
    p = transactional(bootstrap, "bench-%d" % per_txn)
    start = time.monotonic()
    for _ in range(count):
        p.begin_transaction()
        for _ in range(per_txn):
            p.produce(topic, PAYLOAD)
            p.poll(0)
        p.commit_transaction(60)
    elapsed = time.monotonic() - start
    return count / elapsed, count * per_txn / elapsed


def bench_produce(bootstrap, topic, messages, idempotent):
    """Messages/s of one producer with acks=all, idempotent or not."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                  "enable.idempotence": idempotent, "queue.buffering.max.messages": 500000})
    start = time.monotonic()
    for _ in range(messages):
        while True:
            try:
                p.produce(topic, PAYLOAD)
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    if p.flush(120) != 0:
        raise RuntimeError("messages left unsent")
    return messages / (time.monotonic() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fjord", required=True)
    ap.add_argument("--small", type=int, default=300)
    ap.add_argument("--large", type=int, default=20)
    ap.add_argument("--messages", type=int, default=200000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    broker = broker_process.Broker(os.path.abspath(args.fjord), settings={
        "transaction.state.log.num.partitions": 4, "offsets.topic.num.partitions": 4})
    broker.start()
    try:
        bootstrap = "127.0.0.1:%d" % broker.port
        for topic in ("bench-txn", "bench-plain", "bench-idem"):
            create(bootstrap, topic, 4)
        small_txn, small_msgs = bench_transactions(bootstrap, "bench-txn", args.small, 10)
        large_txn, large_msgs = bench_transactions(bootstrap, "bench-txn", args.large, 1000)
        plain, idem = [], []
        for _ in range(args.reps):
            plain.append(bench_produce(bootstrap, "bench-plain", args.messages, False))
            idem.append(bench_produce(bootstrap, "bench-idem", args.messages, True))
    finally:
        broker.stop()
        broker.cleanup()
    print("transactions of 10 messages: %.0f transactions/s (%.0f messages/s)"
          % (small_txn, small_msgs))
    print("transactions of 1000 messages: %.0f messages/s (%.1f transactions/s)"
          % (large_msgs, large_txn))
    print("acks=all, %d messages of %d bytes:" % (args.messages, len(PAYLOAD)))
    print("  plain runs (msgs/s): %s" % ", ".join("%.0f" % x for x in plain))
    print("  idempotent runs (msgs/s): %s" % ", ".join("%.0f" % x for x in idem))
    print("  idempotent / plain (medians): %.2f"
          % (statistics.median(idem) / statistics.median(plain)))


if __name__ == "__main__":
    main()
