"""Many connections: 1,000 idle ones while a client is served, the idle timeout, a
pipelining client beyond queued.max.requests, and a client that never reads its replies."""

import socket
import threading
import time

import common
import kafka_wire as kw

IDLE_MS = 4000


open_raw = common.open_raw
closed_by_peer = common.closed_by_peer


class ManyConnectionsTest(common.BrokerTestCase):
    BROKER_SETTINGS = {"connections.max.idle.ms": str(IDLE_MS), "queued.max.requests": "16"}

    def test_thousand_idle_connections_while_a_client_is_served(self):
        rss_before = self.broker.rss_kib()
        idle = []
        try:
            for i in range(1000):
                s = open_raw(self.broker.port)
                if i % 2 == 0:  # half talk once, then go quiet
                    s.sendall(kw.api_versions_request(i, 3))
                idle.append(s)
            # A client alongside gets every answer, promptly.
            topic = common.unique_topic("alongside")
            with kw.Client(self.broker.port) as c:
                self.create_topic(c, topic)
                for i in range(200):
                    self.assertEqual(c.produce(topic, 0, kw.record_batch([b"%d" % i]))["error"],
                                     kw.NONE)
                f = c.fetch(topic, 0, 0)
                values = [v for _, r in kw.parse_record_batches(f["records"]) for _, _, v in r]
                self.assertEqual(values, [b"%d" % i for i in range(200)])
            for i, s in enumerate(idle[:20:2]):
                s.settimeout(10)
                head = s.recv(8)
                self.assertEqual(len(head), 8, "the talking idle connections were answered")
            grown_mib = (self.broker.rss_kib() - rss_before) / 1024.0
            self.assertLess(grown_mib, 256, "1,000 idle connections cost %.0f MiB" % grown_mib)
        finally:
            for s in idle:
                s.close()
        self.assert_well_behaved_client_served()

    def test_idle_connections_are_closed_after_connections_max_idle_ms(self):
        socks = [open_raw(self.broker.port) for _ in range(50)]
        try:
            t0 = time.monotonic()
            self.assertFalse(closed_by_peer(socks[0], IDLE_MS / 1000.0 * 0.5),
                             "closed long before connections.max.idle.ms")
            deadline = t0 + IDLE_MS / 1000.0 * 4 + 10
            for s in socks:
                self.assertTrue(closed_by_peer(s, max(0.1, deadline - time.monotonic())),
                                "an idle connection outlived connections.max.idle.ms")
            self.assertGreaterEqual(time.monotonic() - t0, IDLE_MS / 1000.0 * 0.8)
        finally:
            for s in socks:
                s.close()
        self.assertIsNotNone(self.broker.wait_for_log(lambda l: "idle" in l.lower()))
        self.assert_well_behaved_client_served()

    def test_pipelining_far_beyond_queued_max_requests_is_answered_in_order(self):
        with kw.Client(self.broker.port, timeout=30) as c:
            n = 2000
            c.send_raw(b"".join(kw.api_versions_request(i, 3) for i in range(n)))
            for i in range(n):
                cid, body = c.recv_frame()
                self.assertEqual(cid, i)
                self.assertEqual(kw.parse_api_versions(body, 3)["error"], kw.NONE)

    def test_client_that_never_reads_is_throttled_not_buffered(self):
        rss_before = self.broker.rss_kib()
        s = open_raw(self.broker.port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sent = [0]
        stop = threading.Event()

        def writer():
            req = kw.metadata_request(1, None)
            s.settimeout(0.5)
            while not stop.is_set() and sent[0] < 200000:
                try:
                    s.sendall(req * 100)
                    sent[0] += 100
                except socket.timeout:
                    continue  # the broker stopped reading: back-pressure
                except OSError:
                    return

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        time.sleep(3)
        stop.set()
        t.join(10)
        self.assertLess(sent[0], 200000, "the broker kept reading from a client that never reads")
        grown_mib = (self.broker.rss_kib() - rss_before) / 1024.0
        self.assertLess(grown_mib, 128, "unread replies cost %.0f MiB" % grown_mib)
        self.assert_well_behaved_client_served()
        s.close()


if __name__ == "__main__":
    common.main()
