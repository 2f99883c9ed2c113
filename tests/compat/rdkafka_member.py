"""One librdkafka (confluent-kafka) group member in a process of its own, for tests that
must be able to end a member whatever state librdkafka is in (test_topic_deletion: after a
topic it fetched is deleted, librdkafka 2.0's close can spin for minutes).

Usage: rdkafka_member.py BOOTSTRAP GROUP STRATEGY TOPIC [TOPIC...]
Prints one JSON object per line on stdout: {"assignment": [[topic, partition], ...],
"consumed": N} whenever either changes. Runs until killed.
"""

import json
import sys

from confluent_kafka import Consumer


def main():
    bootstrap, group, strategy, topics = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    assignment = set()
    consumed = 0

    def report():
        print(json.dumps({"assignment": sorted(assignment), "consumed": consumed}), flush=True)

    def on_assign(consumer, partitions):
        nonlocal assignment
        got = {(p.topic, p.partition) for p in partitions}
        assignment = assignment | got if strategy == "cooperative-sticky" else got
        report()

    def on_revoke(consumer, partitions):
        nonlocal assignment
        assignment = assignment - {(p.topic, p.partition) for p in partitions}
        report()

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                  "heartbeat.interval.ms": 500, "auto.commit.interval.ms": 200,
                  "partition.assignment.strategy": strategy})
    c.subscribe(topics, on_assign=on_assign, on_revoke=on_revoke)
    while True:
        msg = c.poll(0.2)
        if msg is not None and not msg.error():
            consumed += 1
            report()


if __name__ == "__main__":
    main()
