"""Malformed and hostile input: garbage, oversized frames, truncation, bad versions and keys.

Every case checks that the broker closes the offending connection (and logs a line naming
the peer), and that a well-behaved client is still served afterwards.
"""

import random
import socket
import struct
import time

import common
import kafka_wire as kw

MAX_REQUEST = 1048576
IDLE_MS = 3000


class BadInputTest(common.BrokerTestCase):
    BROKER_SETTINGS = {
        "socket.request.max.bytes": str(MAX_REQUEST),
        "connections.max.idle.ms": str(IDLE_MS),
    }

    def expect_closed_without_response(self, c, timeout=10.0):
        """The broker closes c without sending any byte."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("connection still open after %.1f s" % timeout)
            c.sock.settimeout(left)
            try:
                chunk = c.sock.recv(4096)
            except socket.timeout:
                self.fail("connection still open after %.1f s" % timeout)
            except (ConnectionResetError, BrokenPipeError):
                return
            if not chunk:
                return
            self.fail("unexpected response bytes: %r" % chunk[:64])

    def send_and_expect_close(self, data, timeout=10.0, half_close=False):
        c = self.client()
        port = c.local_port()
        try:
            c.send_raw(data)
        except (ConnectionResetError, BrokenPipeError):
            pass  # the broker may close before it has read everything
        if half_close:
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        self.expect_closed_without_response(c, timeout)
        return port

    # 1. Garbage.
    def test_random_garbage_closes_connection_and_broker_keeps_serving(self):
        rng = random.Random(20240511)
        for _ in range(5):
            junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096)))
            # Whatever size the junk claims, EOF after it ends the connection.
            self.send_and_expect_close(junk, half_close=True)
        self.assert_well_behaved_client_served()

    def test_negative_size_prefix_closes_connection(self):
        port = self.send_and_expect_close(b"\xff\xff\xff\xf0" + b"\x00" * 32)
        self.assert_logged_peer(port)
        self.assert_well_behaved_client_served()

    def test_plausible_size_with_junk_header_closes_connection(self):
        junk = b"\x7a\x7a\x00\x01\x00\x00\x00\x07" + b"\xee" * 24
        port = self.send_and_expect_close(struct.pack(">i", len(junk)) + junk)
        self.assert_logged_peer(port)
        self.assert_well_behaved_client_served()

    def test_header_client_id_longer_than_frame_closes_connection(self):
        # ApiVersions v1, correlation id 1, client id claiming 1000 bytes but only 4 present.
        payload = kw.i16(kw.API_VERSIONS) + kw.i16(1) + kw.i32(1) + kw.i16(1000) + b"abcd"
        port = self.send_and_expect_close(kw.frame(payload))
        self.assert_logged_peer(port)
        self.assert_well_behaved_client_served()

    def test_frame_shorter_than_request_header_closes_connection(self):
        port = self.send_and_expect_close(kw.frame(b"\x00\x12\x00"))
        self.assert_logged_peer(port)
        self.assert_well_behaved_client_served()

    # 2. Oversized frames.
    def test_frame_claiming_2gib_closes_without_allocating(self):
        rss_before = self.broker.rss_kib()
        port = self.send_and_expect_close(struct.pack(">i", 2**31 - 1) + b"\x00" * 64)
        rss_after = self.broker.rss_kib()
        self.assertLess(rss_after - rss_before, 64 * 1024,
                        "broker RSS grew from %d KiB to %d KiB" % (rss_before, rss_after))
        self.assert_logged_peer(port)
        self.assert_well_behaved_client_served()

    def test_frame_just_over_request_max_bytes_closes_connection(self):
        rss_before = self.broker.rss_kib()
        # Only the prefix and a little body are sent: the broker must refuse on the size alone.
        port = self.send_and_expect_close(struct.pack(">i", MAX_REQUEST + 1) + b"\x00" * 64)
        rss_after = self.broker.rss_kib()
        self.assertLess(rss_after - rss_before, 64 * 1024)
        self.assert_logged_peer(port)
        self.assert_well_behaved_client_served()

    def test_many_oversized_frames_do_not_grow_rss(self):
        rss_before = self.broker.rss_kib()
        for _ in range(20):
            self.send_and_expect_close(struct.pack(">i", 2**31 - 1))
        rss_after = self.broker.rss_kib()
        self.assertLess(rss_after - rss_before, 64 * 1024)
        self.assert_well_behaved_client_served()

    # 3. Truncation.
    def test_truncated_frame_then_eof_gets_no_response_and_is_closed(self):
        req = kw.metadata_request(1, None)
        self.send_and_expect_close(req[:len(req) - 3], half_close=True)
        self.assert_well_behaved_client_served()

    def test_truncated_frame_is_closed_by_idle_timeout(self):
        req = kw.api_versions_request(1, 3)
        c = self.client(timeout=30.0)
        start = time.monotonic()
        c.send_raw(req[:len(req) - 2])
        # Nothing may come back, and the connection is not closed at once ...
        c.sock.settimeout(0.5)
        try:
            chunk = c.sock.recv(4096)
            self.fail("connection answered or closed at once: %r" % chunk)
        except socket.timeout:
            pass
        # ... but it is closed by the idle timeout (generous bound for slow builds).
        self.expect_closed_without_response(c, timeout=IDLE_MS / 1000.0 * 5 + 10)
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, IDLE_MS / 1000.0 * 0.8)
        self.assert_well_behaved_client_served()

    def test_body_truncated_inside_frame_closes_connection_with_log_line(self):
        # Metadata v1 whose topic array claims 5 topics but carries one.
        body = kw.i32(5) + kw.string("only-one")
        port = self.send_and_expect_close(kw.request(kw.METADATA, 1, 7, body))
        self.assert_logged_peer(port)
        self.assert_well_behaved_client_served()

    def test_produce_body_truncated_inside_frame_closes_connection(self):
        batch = kw.record_batch([b"x" * 100])
        req = kw.produce_request(3, common.unique_topic(), 0, batch)
        # Drop the tail of the records but fix the frame length so the frame itself is whole.
        payload = req[4:len(req) - 50]
        port = self.send_and_expect_close(kw.frame(payload))
        self.assert_logged_peer(port)
        self.assert_well_behaved_client_served()

    # 4. Unsupported versions.
    def test_api_versions_every_supported_version_answers(self):
        c = self.client()
        for v in range(4):
            av = c.api_versions(v)
            self.assertEqual(av["error"], kw.NONE, "ApiVersions v%d" % v)
            lo, hi = av["apis"][kw.API_VERSIONS]
            self.assertEqual(lo, 0)
            self.assertGreaterEqual(hi, 3)

    def test_api_versions_unknown_version_gets_v0_error_response(self):
        c = self.client()
        # Header v2 (flexible) and a v3-shaped body; the broker must ignore the body.
        req = kw.request(kw.API_VERSIONS, 99, 42, kw.api_versions_body(3), flexible=True)
        c.send_raw(req)
        cid, body = c.recv_frame()
        self.assertEqual(cid, 42)
        resp = kw.parse_api_versions(body, 0)
        self.assertEqual(resp["error"], kw.UNSUPPORTED_VERSION)
        self.assertIn(kw.API_VERSIONS, resp["apis"])
        lo, hi = resp["apis"][kw.API_VERSIONS]
        self.assertEqual(lo, 0)
        self.assertGreaterEqual(hi, 3)
        # The connection stays usable: the client retries with a version both sides know.
        av = c.api_versions(3)
        self.assertEqual(av["error"], kw.NONE)
        self.assertIn(kw.METADATA, av["apis"])

    def test_metadata_unsupported_version_closes_connection(self):
        port = self.send_and_expect_close(kw.request(kw.METADATA, 99, 5, b""))
        self.assert_logged_peer(port)
        self.assert_well_behaved_client_served()

    # 5. Unknown API key.
    def test_unknown_api_key_closes_connection(self):
        port = self.send_and_expect_close(kw.request(999, 0, 5, b""))
        self.assert_logged_peer(port)
        self.assert_well_behaved_client_served()

    def test_negative_api_key_closes_connection(self):
        port = self.send_and_expect_close(kw.request(-1, 0, 5, b""))
        self.assert_logged_peer(port)
        self.assert_well_behaved_client_served()

    def test_bad_input_on_one_connection_leaves_others_open(self):
        healthy = self.client()
        self.assertEqual(healthy.api_versions(3)["error"], kw.NONE)
        self.send_and_expect_close(kw.request(999, 0, 5, b""))
        self.send_and_expect_close(struct.pack(">i", 2**31 - 1))
        md = healthy.metadata([])
        self.assertIsInstance(md["brokers"], list)
        self.assertEqual(len(md["brokers"]), 1)
        self.assertEqual(md["brokers"][0][2], self.broker.port)


if __name__ == "__main__":
    common.main()
