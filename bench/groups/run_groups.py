#!/usr/bin/env python3
"""Group coordinator benchmarks against a real `fjord`, at the wire level.

1. Rebalance time: a Stable group of 50 members over a 500-partition topic; one more member
   joins, and the time runs from its JoinGroup until every member holds its new assignment
   (JoinGroup answered and SyncGroup answered in the new generation). Members heart-beat
   every --heartbeat-ms and rejoin as soon as a heartbeat says REBALANCE_IN_PROGRESS, as
   real consumers do; the leader computes a range assignment. The protocol's own floor is
   one heartbeat interval (members learn of the rebalance from their next heartbeat), so
   the figure is reported as a ratio to that interval.
2. OffsetCommit throughput: one connection keeps --window commits in flight, each for one
   partition; the baseline is Produce (acks=1, one small record, the same window) in the
   same run: both are one append to a partition's log.

Bounded in count and time. Usage: run_groups.py --fjord path [--members 50]
[--partitions 500] [--reps 3] [--commits 20000]
"""

import argparse
import os
import statistics
import sys
import threading
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "..", "tests", "integration"))

import broker_process  # noqa: E402
import kafka_wire as kw  # noqa: E402

GROUP = "bench-group"
TOPIC = "bench-groups"


def subscription():
    # ConsumerProtocolSubscription v0: topics, null user data.
    return kw.i16(0) + kw.array([TOPIC], kw.string) + kw.bytes_(None)


def assignment(partitions):
    # ConsumerProtocolAssignment v0: topic -> partitions, null user data.
    return (kw.i16(0) + kw.array([TOPIC], lambda t: kw.string(t) + kw.array(partitions, kw.i32)) +
            kw.bytes_(None))


def range_assignment(member_ids, partitions):
    ids = sorted(member_ids)
    per, extra = divmod(partitions, len(ids))
    out, start = [], 0
    for i, m in enumerate(ids):
        n = per + (1 if i < extra else 0)
        out.append((m, assignment(list(range(start, start + n)))))
        start += n
    return out


class Member(threading.Thread):
    """One consumer: joins, syncs, heart-beats, rejoins on REBALANCE_IN_PROGRESS."""

    def __init__(self, port, partitions, heartbeat_ms, synced):
        super().__init__(daemon=True)
        self.client = kw.Client(port, timeout=120)
        self.partitions = partitions
        self.heartbeat_ms = heartbeat_ms
        self.synced = synced  # callback(member, generation)
        self.member_id = ""
        self.generation = -1
        self.stop = threading.Event()

    def join(self):
        while True:
            r = kw.parse_join(self.client.call(kw.join_group, GROUP, self.member_id,
                                               session_ms=30000,
                                               protocols=(("range", subscription()),)))
            if r["error"] == kw.MEMBER_ID_REQUIRED:
                self.member_id = r["member_id"]
                continue
            if r["error"] != kw.NONE:
                raise RuntimeError("JoinGroup error %d" % r["error"])
            self.member_id, self.generation = r["member_id"], r["generation"]
            plan = []
            if r["leader"] == self.member_id:
                plan = range_assignment([m[0] for m in r["members"]], self.partitions)
            s = kw.parse_sync(self.client.call(kw.sync_group, GROUP, self.generation,
                                               self.member_id, plan))
            if s["error"] == kw.REBALANCE_IN_PROGRESS:
                continue
            if s["error"] != kw.NONE:
                raise RuntimeError("SyncGroup error %d" % s["error"])
            self.synced(self, self.generation)
            return

    def run(self):
        # An error ends the thread with a traceback; the main thread then times out.
        self.join()
        while not self.stop.wait(self.heartbeat_ms / 1000.0):
            e = kw.parse_error_after_throttle(
                self.client.call(kw.heartbeat, GROUP, self.generation, self.member_id))
            if e == kw.REBALANCE_IN_PROGRESS:
                self.join()
            elif e != kw.NONE:
                raise RuntimeError("Heartbeat error %d" % e)


class Group:
    def __init__(self):
        self.lock = threading.Condition()
        self.synced = {}  # member -> generation

    def on_synced(self, member, generation):
        with self.lock:
            self.synced[member] = generation
            self.lock.notify_all()

    def wait_generation(self, members, generation, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while not all(self.synced.get(m, -1) >= generation for m in members):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("group did not reach generation %d" % generation)
                self.lock.wait(left)
            return time.monotonic()


def bench_rebalance(port, args):
    group = Group()
    members = []
    for _ in range(args.members):
        m = Member(port, args.partitions, args.heartbeat_ms, group.on_synced)
        m.start()
        members.append(m)
    # The initial delay is 0 in this run, so members may form over a few generations.
    deadline = time.monotonic() + 120
    while True:
        with group.lock:
            gens = [group.synced.get(m, -1) for m in members]
        if min(gens) >= 1 and len(set(gens)) == 1:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the first %d members did not form a group" % args.members)
        time.sleep(0.05)
    times = []
    for _ in range(args.reps):
        gen = max(gens)
        newcomer = Member(port, args.partitions, args.heartbeat_ms, group.on_synced)
        start = time.monotonic()
        newcomer.start()
        members.append(newcomer)
        end = group.wait_generation(members, gen + 1, 120)
        times.append((end - start) * 1000)
        gens = [gen + 1]
        time.sleep(args.heartbeat_ms / 1000.0)
    for m in members:
        m.stop.set()
    return times


def pipelined(client, build, count, window, check):
    sent = received = 0
    start = time.monotonic()
    while received < count:
        while sent < count and sent - received < window:
            client.send_raw(build(client.correlation_id(), sent))
            sent += 1
        _, body = client.recv_frame()
        check(body)
        received += 1
    return count / (time.monotonic() - start)


def wait_coordinator(client, group):
    """FindCoordinator until it answers (the first lookup creates __consumer_offsets)."""
    deadline = time.monotonic() + 30
    while kw.Reader(client.call(kw.find_coordinator, group)).i16() != kw.NONE:
        if time.monotonic() > deadline:
            raise RuntimeError("no coordinator for %s" % group)
        time.sleep(0.05)


def bench_commits(port, args):
    c = kw.Client(port, timeout=60)
    wait_coordinator(c, "commit-bench")

    def commit_check(body):
        if kw.parse_commit(body) != kw.NONE:
            raise RuntimeError("OffsetCommit failed")

    def produce_check(body):
        r = kw.Reader(body)
        r.i32()  # topics
        r.string()
        r.i32()  # partitions
        r.i32()
        if r.i16() != kw.NONE:
            raise RuntimeError("Produce failed")

    commits = pipelined(
        c, lambda cid, i: kw.offset_commit(cid, "commit-bench", -1, "", TOPIC, i), args.commits,
        args.window, commit_check)
    batch = kw.record_batch([b"x" * 40])
    produces = pipelined(
        c, lambda cid, i: kw.produce_request(cid, "bench-produce", 0, batch, acks=1, version=7),
        args.commits, args.window, produce_check)
    return commits, produces


def create_topic(client, topic):
    """Auto-creates topic (num.partitions) through Metadata and waits for its leaders."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        t = client.metadata([topic])["topics"].get(topic)
        if t and t["error"] == kw.NONE and t["partitions"] and \
                all(p["leader"] >= 0 for p in t["partitions"]):
            return
        time.sleep(0.1)
    raise RuntimeError("topic %s has no leaders" % topic)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fjord", required=True)
    ap.add_argument("--members", type=int, default=50)
    ap.add_argument("--partitions", type=int, default=500)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--heartbeat-ms", type=int, default=100)
    ap.add_argument("--commits", type=int, default=20000)
    ap.add_argument("--window", type=int, default=32)
    args = ap.parse_args()

    broker = broker_process.Broker(os.path.abspath(args.fjord), settings={
        "group.initial.rebalance.delay.ms": 0, "num.partitions": args.partitions})
    broker.start()
    try:
        c = kw.Client(broker.port, timeout=60)
        for name in (TOPIC, "bench-produce"):
            create_topic(c, name)
        wait_coordinator(c, GROUP)
        times = bench_rebalance(broker.port, args)
        commits, produces = bench_commits(broker.port, args)
    finally:
        broker.stop()
        broker.cleanup()
    med = statistics.median(times)
    print("rebalance, %d members + 1 over %d partitions, heartbeat every %d ms:"
          % (args.members, args.partitions, args.heartbeat_ms))
    print("  runs (ms): %s" % ", ".join("%.0f" % t for t in times))
    print("  median %.0f ms = %.2f x the heartbeat interval" % (med, med / args.heartbeat_ms))
    print("OffsetCommit, %d in flight: %.0f commits/s; Produce (acks=1) baseline %.0f req/s;"
          " ratio %.2f" % (args.window, commits, produces, commits / produces))


if __name__ == "__main__":
    main()
