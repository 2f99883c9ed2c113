"""The classic group protocol at the wire level: JoinGroup (KIP-394), SyncGroup, Heartbeat,
OffsetCommit by members, LeaveGroup, ListGroups with a state filter and DescribeGroups,
with Kafka's error codes for bad input (stale generation, unknown member, wrong protocol
type, oversized metadata, bad session timeout), and COORDINATOR_LOAD_IN_PROGRESS while a
restarted broker replays __consumer_offsets."""

import time

import broker_process
import common
import kafka_wire as kw
from kafka_wire import (COORDINATOR_LOAD_IN_PROGRESS, ILLEGAL_GENERATION,
                        INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT,
                        MEMBER_ID_REQUIRED, OFFSET_METADATA_TOO_LARGE,
                        REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID, describe_groups,
                        find_coordinator, heartbeat, join_group, leave_group, list_groups,
                        offset_commit, offset_fetch, parse_commit, parse_describe,
                        parse_error_after_throttle, parse_offset_fetch, parse_join, parse_leave,
                        parse_list, parse_sync, sync_group)

class GroupProtocolTest(common.BrokerTestCase):
    BROKER_SETTINGS = {"group.initial.rebalance.delay.ms": "0"}

    def setUp(self):
        super().setUp()
        self.c = self.client(timeout=20.0)
        self.topic = common.unique_topic("groups")
        self.create_topic(self.c, self.topic)
        deadline = time.monotonic() + 20
        while True:  # the first lookup creates __consumer_offsets
            r = kw.Reader(self.c.call(find_coordinator, "g"))
            if r.i16() == kw.NONE:
                break
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)

    def join(self, group, member_id, **kwargs):
        return parse_join(self.c.call(join_group, group, member_id, **kwargs))

    def test_membership_commits_and_admin_views(self):
        g = "wire-group"
        first = self.join(g, "")
        self.assertEqual(first["error"], MEMBER_ID_REQUIRED)
        self.assertTrue(first["member_id"].startswith(kw.CLIENT_ID + "-"), first)
        member = first["member_id"]
        joined = self.join(g, member)
        self.assertEqual(joined["error"], kw.NONE)
        self.assertEqual((joined["generation"], joined["leader"], joined["protocol"]),
                         (1, member, "range"))
        self.assertEqual(joined["members"], [(member, None, b"sub")])
        synced = parse_sync(self.c.call(sync_group, g, 1, member, [(member, b"A")]))
        self.assertEqual(synced, {"error": kw.NONE, "assignment": b"A"})

        hb = lambda gen, m: parse_error_after_throttle(self.c.call(heartbeat, g, gen, m))  # noqa
        self.assertEqual(hb(1, member), kw.NONE)
        self.assertEqual(hb(7, member), ILLEGAL_GENERATION)
        self.assertEqual(hb(1, "nobody"), UNKNOWN_MEMBER_ID)

        commit = lambda gen, m, **kw_: parse_commit(  # noqa: E731
            self.c.call(offset_commit, g, gen, m, self.topic, 42, **kw_))
        self.assertEqual(commit(1, member), kw.NONE)
        self.assertEqual(commit(0, member), ILLEGAL_GENERATION)
        self.assertEqual(commit(1, "nobody"), UNKNOWN_MEMBER_ID)
        self.assertEqual(commit(-1, ""), UNKNOWN_MEMBER_ID)  # a simple commit needs no members
        self.assertEqual(commit(1, member, metadata="m" * 5000), OFFSET_METADATA_TOO_LARGE)
        self.assertEqual(parse_offset_fetch(self.c.call(offset_fetch, g, self.topic)),
                         {"error": kw.NONE, "offset": 42})

        other = self.join(g, "", protocol_type="connect")
        self.assertEqual(other["error"], INCONSISTENT_GROUP_PROTOCOL)
        no_common = self.join(g, "", protocols=(("roundrobin", b""),))
        self.assertEqual(no_common["error"], INCONSISTENT_GROUP_PROTOCOL)
        self.assertEqual(self.join(g, "", session_ms=10)["error"], INVALID_SESSION_TIMEOUT)

        error, stable = parse_list(self.c.call(list_groups, ["Stable"], flexible_response_header=True))
        self.assertEqual(error, kw.NONE)
        self.assertIn((g, "consumer", "Stable"), stable)
        _, empty = parse_list(self.c.call(list_groups, ["empty"], flexible_response_header=True))  # case-insensitive
        self.assertNotIn(g, [x[0] for x in empty])

        described = parse_describe(self.c.call(describe_groups, [g, "never-seen"]))
        self.assertEqual((described[0]["state"], described[0]["protocol"]), ("Stable", "range"))
        m = described[0]["members"][0]
        self.assertEqual((m["member_id"], m["client_host"], m["assignment"]),
                         (member, "/127.0.0.1", b"A"))
        self.assertEqual((described[1]["error"], described[1]["state"]), (kw.NONE, "Dead"))

        error, members = parse_leave(self.c.call(leave_group, g, member))
        self.assertEqual((error, members), (kw.NONE, [(member, None, kw.NONE)]))
        self.assertEqual(parse_describe(self.c.call(describe_groups, [g]))[0]["state"], "Empty")
        self.assertEqual(hb(2, member), UNKNOWN_MEMBER_ID)
        # The offsets stay with the empty group.
        self.assertEqual(parse_offset_fetch(self.c.call(offset_fetch, g, self.topic))["offset"], 42)

    def test_second_member_rebalances_the_first(self):
        g = "wire-rebalance"
        a = self.join(g, "")["member_id"]
        self.assertEqual(self.join(g, a)["generation"], 1)
        parse_sync(self.c.call(sync_group, g, 1, a, [(a, b"all")]))
        other = self.client(timeout=20.0)
        b = parse_join(other.call(join_group, g, ""))["member_id"]
        # b's JoinGroup waits for a to rejoin; a learns of the rebalance from its heartbeat.
        other.send_raw(join_group(other.correlation_id(), g, b))
        deadline = time.monotonic() + 10
        while parse_error_after_throttle(self.c.call(heartbeat, g, 1, a)) != REBALANCE_IN_PROGRESS:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        joined_a = self.join(g, a)
        _, body = other.recv_frame()
        joined_b = parse_join(body)
        self.assertEqual((joined_a["generation"], joined_b["generation"]), (2, 2))
        self.assertEqual(joined_a["leader"], a)
        self.assertEqual(sorted(m[0] for m in joined_a["members"]), sorted([a, b]))
        self.assertEqual(joined_b["members"], [])


class LoadInProgressTest(common.BrokerTestCase):
    # One batch per loading step, so a partition of many commits loads over many turns.
    BROKER_SETTINGS = {"offsets.load.buffer.size": "1"}

    def test_requests_during_loading_get_load_in_progress(self):
        c = self.client(timeout=20.0)
        topic = common.unique_topic("loading")
        self.create_topic(c, topic)
        deadline = time.monotonic() + 20
        while kw.Reader(c.call(find_coordinator, "loading-group")).i16() != kw.NONE:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        for i in range(200):
            self.assertEqual(
                parse_commit(c.call(offset_commit, "loading-group", -1, "", topic, i)), kw.NONE)
        c.close()

        old = type(self).broker
        self.assertEqual(old.stop(), 0)
        new = broker_process.Broker(common.FJORD, settings=dict(old.settings),
                                    data_dir=old.data_dir).start()
        type(self).broker = new
        self.addCleanup(old.cleanup)
        c = self.client(timeout=20.0)
        first = parse_offset_fetch(c.call(offset_fetch, "loading-group", topic))
        self.assertEqual(first["error"], COORDINATOR_LOAD_IN_PROGRESS)
        deadline = time.monotonic() + 20
        while True:
            r = parse_offset_fetch(c.call(offset_fetch, "loading-group", topic))
            if r["error"] == kw.NONE:
                break
            self.assertEqual(r["error"], COORDINATOR_LOAD_IN_PROGRESS)
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        self.assertEqual(r["offset"], 199)


if __name__ == "__main__":
    common.main()
