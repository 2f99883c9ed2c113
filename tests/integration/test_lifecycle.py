"""The binary as an operator meets it: --version, --help, --print-config, bad configuration
(exit 2 with a message naming the key), the start-up banner, meta.properties, and a
graceful stop on SIGTERM / SIGINT within a bound, even with a long poll in flight."""

import os
import re
import signal
import socket
import tempfile
import threading
import time
import unittest

import broker_process
import common
import kafka_wire as kw


def fjord():
    return common.fjord_binary()


class CommandLineTest(unittest.TestCase):

    def test_version(self):
        rc, out, _ = broker_process.run_fjord(fjord(), ["--version"])
        self.assertEqual(rc, 0)
        self.assertRegex(out.strip(), r"^fjord \d+\.\d+\.\d+")

    def test_help_names_the_options(self):
        rc, out, _ = broker_process.run_fjord(fjord(), ["--help"])
        self.assertEqual(rc, 0)
        for option in ("--config", "--set", "--version", "--print-config"):
            self.assertIn(option, out)

    def test_unknown_option_exits_2(self):
        rc, _, err = broker_process.run_fjord(fjord(), ["--no-such-option"])
        self.assertEqual(rc, 2)
        self.assertIn("no-such-option", err)

    def test_bad_settings_exit_2_naming_key_and_value(self):
        cases = [
            (["--set", "num.partitons=3"], ["num.partitons"]),
            (["--set", "num.partitions=abc"], ["num.partitions", "abc"]),
            (["--set", "num.partitions=0"], ["num.partitions", ">= 1"]),
            (["--set", "listeners=PLAINTEXT://127.0.0.1:99999"], ["listener"]),
            (["--set", "novalue"], ["key=value"]),
            (["--config", "/nonexistent/fjord.yaml"], ["/nonexistent/fjord.yaml"]),
        ]
        for args, words in cases:
            rc, _, err = broker_process.run_fjord(fjord(), args)
            self.assertEqual(rc, 2, "%s: %s" % (args, err))
            for w in words:
                self.assertIn(w, err, args)

    def test_malformed_yaml_names_file_and_line(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.yaml")
            with open(path, "w") as f:
                f.write("node.id: 1\nlisteners: [unclosed\n")
            rc, _, err = broker_process.run_fjord(fjord(), ["--config", path])
            self.assertEqual(rc, 2)
            self.assertIn(path, err)
            self.assertIn("line", err)

    def test_printed_config_is_a_working_config(self):
        rc, out, _ = broker_process.run_fjord(fjord(), ["--print-config"])
        self.assertEqual(rc, 0)
        self.assertIn("\nauto.create.topics.enable: true\n", out)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "fjord.yaml")
            with open(path, "w") as f:
                f.write(out)
            b = broker_process.Broker(fjord(), extra_args=["--config", path])
            try:
                b.start()
                with kw.Client(b.port) as c:
                    self.assertEqual(c.api_versions(3)["error"], kw.NONE)
                self.assertEqual(b.stop(), 0)
            finally:
                b.cleanup()


class LifecycleTest(unittest.TestCase):

    def start(self, data_dir=None, settings=None):
        b = broker_process.Broker(fjord(), data_dir=data_dir, settings=settings)
        self.addCleanup(b.cleanup)
        return b.start()

    def test_banner_meta_properties_and_stable_cluster_id(self):
        b = self.start()
        line = b.wait_for_log(lambda l: "started" in l and "node.id" in l)
        self.assertIsNotNone(line, b.stderr())
        m = re.search(r"cluster\.id (\S+),", line)
        self.assertIsNotNone(m, line)
        cluster_id = m.group(1)
        self.assertEqual(len(cluster_id), 22)
        self.assertIn("node.id 1", line)
        self.assertIn("127.0.0.1:%d" % b.port, line)
        self.assertIn(b.data_dir, line)
        with open(os.path.join(b.data_dir, "meta.properties")) as f:
            props = dict(l.strip().split("=", 1) for l in f if "=" in l and not l.startswith("#"))
        self.assertEqual(props["cluster.id"], cluster_id)
        self.assertEqual(props["node.id"], "1")
        self.assertTrue(os.path.isdir(os.path.join(b.data_dir, "__cluster_metadata-0")))
        self.assertEqual(b.stop(), 0)

        again = self.start(data_dir=b.data_dir)
        line = again.wait_for_log(lambda l: "started" in l and "node.id" in l)
        self.assertIn("cluster.id %s," % cluster_id, line)
        self.assertEqual(again.stop(), 0)

    def test_data_dir_of_another_node_is_refused(self):
        b = self.start()
        self.assertEqual(b.stop(), 0)
        other = broker_process.Broker(fjord(), data_dir=b.data_dir, settings={"node.id": "2"})
        self.addCleanup(other.cleanup)
        with self.assertRaises(broker_process.BrokerError) as ctx:
            other.start()
        self.assertIn("node", str(ctx.exception))
        self.assertNotEqual(other.proc.returncode, 0)

    def test_sigterm_and_sigint_stop_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            b = self.start()
            with kw.Client(b.port) as c:
                self.assertEqual(c.api_versions(3)["error"], kw.NONE)
            t0 = time.monotonic()
            b.signal(sig)
            self.assertEqual(b.wait(30), 0, b.stderr()[-3000:])
            self.assertLess(time.monotonic() - t0, 10)
            self.assertIsNotNone(b.wait_for_log(lambda l: "stopped cleanly" in l, timeout=1))

    def test_stop_with_long_poll_in_flight_is_bounded(self):
        b = self.start(settings={"shutdown.timeout.ms": "5000"})
        c = kw.Client(b.port, timeout=60)
        self.addCleanup(c.close)
        topic = common.unique_topic("poll")
        for _ in range(50):
            t = c.metadata([topic])["topics"].get(topic)
            if t and t["partitions"] and t["partitions"][0]["leader"] >= 0:
                break
            time.sleep(0.1)
        c.send_raw(kw.fetch_request(99, topic, 0, 0, max_wait_ms=60000, min_bytes=1))
        time.sleep(0.3)
        t0 = time.monotonic()
        b.signal(signal.SIGTERM)
        self.assertEqual(b.wait(30), 0, b.stderr()[-3000:])
        self.assertLess(time.monotonic() - t0, 8, "stop waited for the 60 s long poll")

    def test_restart_after_sigkill_recovers(self):
        b = self.start()
        topic = common.unique_topic("crash")
        with kw.Client(b.port) as c:
            for _ in range(50):
                t = c.metadata([topic])["topics"].get(topic)
                if t and t["partitions"] and t["partitions"][0]["leader"] >= 0:
                    break
                time.sleep(0.1)
            for i in range(20):
                self.assertEqual(c.produce(topic, 0, kw.record_batch([b"m%d" % i]))["error"],
                                 kw.NONE)
        b.kill()
        again = self.start(data_dir=b.data_dir)
        with kw.Client(again.port) as c:
            f = c.fetch(topic, 0, 0)
            self.assertEqual(f["error"], kw.NONE)
            values = [v for _, recs in kw.parse_record_batches(f["records"]) for _, _, v in recs]
            self.assertEqual(values, [b"m%d" % i for i in range(20)])
        self.assertEqual(again.stop(), 0)


if __name__ == "__main__":
    common.main()
