"""fjordctl against a real `fjord`, as an operator runs it: every command family with its
tables and JSON parsed, produce/consume interoperating with kcat and kafka-python in both
directions, and the bad input a user types (unknown topic, bad or dead bootstrap address,
malformed reset spec, missing argument), each a non-zero exit with one line on stderr."""

import json
import os
import signal
import subprocess
import time

import compat

FJORDCTL = os.environ.get("FJORDCTL", "")


class FjordctlTest(compat.BrokerCase):
    BROKER_SETTINGS = {"group.initial.rebalance.delay.ms": 0}

    def run_ctl(self, *args, data=None, timeout=60, bootstrap=None):
        cmd = [FJORDCTL, "-b", bootstrap or self.bootstrap()] + list(args)
        return subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout)

    def ctl(self, *args, data=None):
        p = self.run_ctl(*args, data=data)
        self.assertEqual(p.returncode, 0, "fjordctl %s failed: %s" % (args, p.stderr.decode()))
        return p.stdout.decode()

    def ctl_json(self, *args, data=None):
        return json.loads(self.ctl("--format", "json", *args, data=data))

    def table(self, *args):
        """A table's rows as dicts keyed by its (lower-cased) header."""
        lines = [l for l in self.ctl(*args).splitlines() if l.strip()]
        header = lines[0].lower().split()
        return [dict(zip(header, l.split())) for l in lines[1:]]

    def kcat(self, *args, data=None):
        p = subprocess.run(["kcat", "-b", self.bootstrap()] + list(args), input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout

    def test_cluster_topics_and_configs(self):
        info = self.ctl_json("cluster", "info")
        self.assertTrue(info["cluster_id"])
        self.assertEqual([b["port"] for b in info["brokers"]], [self.broker.port])
        self.assertEqual(info["controller"], info["brokers"][0]["id"])
        features = self.ctl_json("cluster", "features")
        self.assertIn("metadata.version", [f["name"] for f in features["features"]])
        self.assertIn("Produce", [a["name"] for a in features["apis"]])

        made = self.ctl_json("topic", "create", "ctl-orders", "-p", "3", "-c",
                             "retention.ms=3600000")
        self.assertEqual((made["partitions"], made["replication_factor"]), (3, 1))
        rows = {r["name"]: r for r in self.table("topic", "list")}
        self.assertEqual(rows["ctl-orders"]["partitions"], "3")
        self.assertNotIn("__consumer_offsets", rows)

        d = self.ctl_json("topic", "describe", "ctl-orders")
        self.assertEqual([p["partition"] for p in d["partitions"]], [0, 1, 2])
        self.assertEqual({c["name"]: (c["value"], c["source"]) for c in d["configs"]},
                         {"retention.ms": ("3600000", "DYNAMIC_TOPIC_CONFIG")})

        self.ctl("topic", "alter-config", "ctl-orders", "--set", "cleanup.policy=compact",
                 "--delete", "retention.ms")
        conf = {c["name"]: c for c in self.ctl_json("config", "describe", "--topic",
                                                     "ctl-orders")}
        self.assertEqual(conf["cleanup.policy"]["value"], "compact")
        self.assertEqual(conf["retention.ms"]["source"], "DEFAULT_CONFIG")
        self.ctl("config", "set", "--topic", "ctl-orders", "segment.ms=600000")
        changed = {c["name"] for c in self.ctl_json("config", "describe", "--topic", "ctl-orders",
                                                     "--changed")}
        self.assertEqual(changed, {"cleanup.policy", "segment.ms"})
        self.ctl("config", "delete", "--topic", "ctl-orders", "segment.ms")
        broker = self.ctl_json("config", "describe", "--broker", str(info["controller"]))
        self.assertIn("log.retention.hours", [c["name"] for c in broker])

        self.ctl("topic", "add-partitions", "ctl-orders", "--count", "4")
        self.assertEqual(len(self.ctl_json("topic", "describe", "ctl-orders")["partitions"]), 4)
        self.assertEqual(self.ctl_json("topic", "delete", "ctl-orders")["deleted"],
                         ["ctl-orders"])
        self.assertNotIn("ctl-orders", [t["name"] for t in self.ctl_json("topic", "list")])

    def test_produce_and_consume_interoperate_with_kcat_and_kafka_python(self):
        import kafka
        self.ctl("topic", "create", "ctl-data", "-p", "2")
        # fjordctl -> kcat, keys placed by Kafka's partitioner as librdkafka's murmur2 would.
        lines = ["k%d:v%d" % (i % 5, i) for i in range(50)]
        out = self.ctl_json("produce", "ctl-data", "-K", ":", "--idempotent", "-z", "lz4",
                            data="\n".join(lines).encode() + b"\n")
        self.assertEqual(out["records"], 50)
        got = self.kcat("-C", "-t", "ctl-data", "-e", "-q", "-f", "%k:%s:%p\n").decode()
        seen = sorted(l.rsplit(":", 1)[0] for l in got.splitlines())
        self.assertEqual(seen, sorted(lines))
        parts = {}
        for l in got.splitlines():
            k, _, p = l.split(":")
            parts.setdefault(k, set()).add(p)
        self.assertTrue(all(len(p) == 1 for p in parts.values()), parts)  # a key, a partition
        # librdkafka's murmur2 partitioner (Java's default) puts k1 where fjordctl did.
        self.kcat("-P", "-t", "ctl-data", "-K:", "-X", "topic.partitioner=murmur2_random",
                  data=b"k1:again\n")
        placed = self.ctl("consume", "ctl-data", "--from-beginning", "-n", "51", "-o", "format",
                          "--format-string", "%k %p").splitlines()
        self.assertEqual(len(placed), 51)
        self.assertEqual(len({l for l in placed if l.startswith("k1 ")}), 1, placed)

        # kcat -> fjordctl, with headers.
        self.kcat("-P", "-t", "ctl-in", "-H", "h1=x", data=b"one\ntwo\nthree\n")
        self.assertEqual(
            self.ctl("consume", "ctl-in", "--from-beginning", "-n", "3").splitlines(),
            ["one", "two", "three"])
        recs = [json.loads(l) for l in self.ctl("consume", "ctl-in", "--from-beginning", "-n",
                                                 "3", "-o", "json").splitlines()]
        self.assertEqual([(r["offset"], r["value"], r["headers"]) for r in recs],
                         [(0, "one", {"h1": "x"}), (1, "two", {"h1": "x"}),
                          (2, "three", {"h1": "x"})])

        # kafka-python -> fjordctl, and fjordctl -> kafka-python.
        p = kafka.KafkaProducer(bootstrap_servers=self.bootstrap())
        for i in range(20):
            p.send("ctl-kp", key=b"key%d" % i, value=b"val%d" % i)
        p.flush()
        p.close()
        kv = self.ctl("consume", "ctl-kp", "--from-beginning", "-n", "20", "-o", "kv",
                      "--key-separator", "=").splitlines()
        self.assertEqual(sorted(kv), sorted("key%d=val%d" % (i, i) for i in range(20)))
        self.ctl("produce", "ctl-kp2", "--file", self._write_lines(["x%d" % i for i in range(10)]))
        c = kafka.KafkaConsumer("ctl-kp2", bootstrap_servers=self.bootstrap(),
                                auto_offset_reset="earliest", consumer_timeout_ms=10000)
        values = [m.value.decode() for _, m in zip(range(10), c)]
        c.close()
        self.assertEqual(values, ["x%d" % i for i in range(10)])

    def _write_lines(self, lines):
        path = os.path.join(self.broker.workdir, "lines.txt")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def test_groups_lag_reset_and_delete(self):
        import kafka
        self.ctl("topic", "create", "ctl-g", "-p", "2")
        self.ctl("produce", "ctl-g", "-p", "0", data=b"".join(b"m%d\n" % i for i in range(10)))
        self.ctl("produce", "ctl-g", "-p", "1", data=b"".join(b"n%d\n" % i for i in range(4)))
        c = kafka.KafkaConsumer("ctl-g", group_id="ctl-group", bootstrap_servers=self.bootstrap(),
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                consumer_timeout_ms=10000)
        got = [m for _, m in zip(range(14), c)]
        self.assertEqual(len(got), 14)
        c.commit({kafka.TopicPartition("ctl-g", 0): kafka.OffsetAndMetadata(6, None),
                  kafka.TopicPartition("ctl-g", 1): kafka.OffsetAndMetadata(4, None)})
        live = self.ctl_json("group", "describe", "ctl-group")
        self.assertEqual(live["state"], "Stable")
        self.assertEqual(len(live["members"]), 1)
        owned = sorted(live["members"][0]["assignment"])
        self.assertEqual(owned, ["ctl-g-0", "ctl-g-1"])
        lag = {o["partition"]: o["lag"] for o in live["offsets"]}
        self.assertEqual(lag, {0: 4, 1: 0})
        self.assertEqual(live["total_lag"], 4)
        # A reset needs the group empty.
        p = self.run_ctl("group", "reset-offsets", "ctl-group", "-t", "ctl-g", "--to-earliest",
                         "--execute")
        self.assertEqual(p.returncode, 1)
        self.assertIn("Stable", p.stderr.decode())
        c.close()

        groups = {g["group"]: g["state"] for g in self.ctl_json("group", "list")}
        self.assertEqual(groups.get("ctl-group"), "Empty")
        dry = self.ctl_json("group", "reset-offsets", "ctl-group", "-t", "ctl-g", "--to-earliest")
        self.assertFalse(dry["executed"])
        self.assertEqual({o["partition"]: o["new_offset"] for o in dry["offsets"]}, {0: 0, 1: 0})
        still = self.ctl_json("group", "describe", "ctl-group")
        self.assertEqual({o["partition"]: o["current_offset"] for o in still["offsets"]},
                         {0: 6, 1: 4})
        self.ctl("group", "reset-offsets", "ctl-group", "-t", "ctl-g", "--shift-by", "-2",
                 "--execute")
        moved = self.ctl_json("group", "describe", "ctl-group")
        self.assertEqual({o["partition"]: o["current_offset"] for o in moved["offsets"]},
                         {0: 4, 1: 2})
        self.ctl("group", "reset-offsets", "ctl-group", "-t", "ctl-g", "-p", "0", "--to-offset",
                 "99", "--execute")  # clamped to the log end
        self.assertEqual(self.ctl_json("group", "describe", "ctl-group")["offsets"][0]
                         ["current_offset"], 10)
        self.ctl("group", "delete-offsets", "ctl-group", "-t", "ctl-g", "-p", "1")
        left = self.ctl_json("group", "describe", "ctl-group")["offsets"]
        self.assertEqual([o["partition"] for o in left], [0])
        # consume --group resumes at the committed offset (a partition without one starts
        # at the end) and commits where it stops.
        self.assertEqual(self.ctl("consume", "ctl-g", "-g", "ctl-group", "-n", "1",
                                  "--idle-timeout", "1000").splitlines(), [])
        self.ctl("group", "reset-offsets", "ctl-group", "-t", "ctl-g", "-p", "0", "--to-offset",
                 "8", "--execute")
        self.assertEqual(self.ctl("consume", "ctl-g", "-g", "ctl-group", "-n", "2").splitlines(),
                         ["m8", "m9"])
        self.assertEqual(self.ctl_json("group", "describe", "ctl-group")["offsets"][0]
                         ["current_offset"], 10)
        self.assertEqual(self.ctl_json("group", "delete", "ctl-group")["deleted"], ["ctl-group"])

    def test_consume_as_a_group_member_beside_kafka_python(self):
        import threading
        import kafka
        self.ctl("topic", "create", "ctl-members", "-p", "4")
        for p in range(4):
            self.ctl("produce", "ctl-members", "-p", str(p),
                     data=b"".join(b"p%d-%d\n" % (p, i) for i in range(10)))
        # A kafka-python member that polls (and so rebalances) but never commits.
        c = kafka.KafkaConsumer("ctl-members", group_id="ctl-mix",
                                bootstrap_servers=self.bootstrap(), auto_offset_reset="earliest",
                                enable_auto_commit=False, max_poll_records=1)
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                c.poll(timeout_ms=100)
        t = threading.Thread(target=poll)
        t.start()
        try:
            deadline = time.monotonic() + 30
            while len(c.assignment()) != 4 and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertEqual(len(c.assignment()), 4)
            member = subprocess.Popen(
                [FJORDCTL, "-b", self.bootstrap(), "consume", "ctl-members", "-g", "ctl-mix",
                 "--from-beginning", "--idle-timeout", "4000"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                # The group rebalances to two members, two partitions each.
                split = None
                while time.monotonic() < deadline:
                    g = self.ctl_json("group", "describe", "ctl-mix")
                    if g["state"] == "Stable" and len(g["members"]) == 2:
                        split = {m["client_id"]: sorted(m["assignment"]) for m in g["members"]}
                        if all(len(a) == 2 for a in split.values()):
                            break
                    time.sleep(0.1)
                self.assertIsNotNone(split)
                self.assertIn("fjordctl", split)
                self.assertEqual(g["protocol"], "range")
                ours = split["fjordctl"]
                self.assertEqual(sorted(ours + [a for cid, a in split.items()
                                                if cid != "fjordctl"][0]),
                                 ["ctl-members-%d" % p for p in range(4)])
                out, err = member.communicate(timeout=60)
            finally:
                if member.poll() is None:
                    member.kill()
                    member.wait()
            self.assertEqual(member.returncode, 0, err.decode())
            # It read its two partitions from the start (nothing was committed) ...
            parts = sorted(int(tp.rsplit("-", 1)[1]) for tp in ours)
            self.assertEqual(sorted(out.decode().split()),
                             sorted("p%d-%d" % (p, i) for p in parts for i in range(10)))
            # ... committed them, and left: kafka-python gets all four back.
            while len(c.assignment()) != 4 and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertEqual(len(c.assignment()), 4)
            g = self.ctl_json("group", "describe", "ctl-mix")
            self.assertEqual(len(g["members"]), 1)
            committed = {o["partition"]: o["current_offset"] for o in g["offsets"]}
            self.assertEqual({p: committed.get(p) for p in parts}, {p: 10 for p in parts})
        finally:
            stop.set()
            t.join(timeout=30)
            c.close()
        # Ctrl-C: the member commits what it printed and leaves, exit 0. (It resumes the
        # partitions fjordctl committed; the others start at the end.)
        self.ctl("produce", "ctl-members", "-p", str(parts[0]), data=b"late\n")
        member = subprocess.Popen(
            [FJORDCTL, "-b", self.bootstrap(), "consume", "ctl-members", "-g", "ctl-mix",
             "--idle-timeout", "60000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                g = self.ctl_json("group", "describe", "ctl-mix")
                if g["state"] == "Stable" and len(g["members"]) == 1:
                    break
                time.sleep(0.1)
            time.sleep(0.5)  # a fetch round or two
            member.send_signal(signal.SIGINT)
            out, err = member.communicate(timeout=30)
        finally:
            if member.poll() is None:
                member.kill()
                member.wait()
        self.assertEqual(member.returncode, 0, err.decode())
        self.assertEqual(out.decode().split(), ["late"])
        g = self.ctl_json("group", "describe", "ctl-mix")
        self.assertEqual((g["state"], g["members"]), ("Empty", []))
        self.assertEqual({o["partition"]: o["current_offset"] for o in g["offsets"]},
                         {p: 11 if p == parts[0] else 10 for p in range(4)})
        fails = self.run_ctl("consume", "ctl-members", "-g", "ctl-mix", "-p", "0")
        self.assertEqual(fails.returncode, 2)
        self.assertIn("--group", fails.stderr.decode())

    def test_perf_produce_and_consume(self):
        self.ctl("topic", "create", "ctl-perf", "-p", "3")
        p = self.run_ctl("--format", "json", "perf", "produce", "ctl-perf", "--count", "20000",
                         "--record-size", "50", "--throughput", "20000", "--progress-interval",
                         "100", "-z", "lz4")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        s = json.loads(p.stdout)
        self.assertEqual((s["records"], s["bytes"], s["stopped_by"]), (20000, 1000000, "count"))
        self.assertGreater(s["records_per_sec"], 0)
        self.assertLessEqual(s["records_per_sec"], 20000 * 1.2)  # --throughput holds it back
        self.assertLessEqual(s["latency_p50_ms"], s["latency_p99_ms"])
        self.assertLessEqual(s["latency_p99_ms"], s["latency_p999_ms"])
        self.assertLessEqual(s["latency_p999_ms"], s["latency_max_ms"])
        progress = [l for l in p.stderr.decode().splitlines() if l.startswith("perf produce:")]
        self.assertGreaterEqual(len(progress), 3, p.stderr.decode())
        self.assertIn("records/s", progress[0])
        ends = self.ctl_json("offsets", "ctl-perf", "--time", "latest")
        self.assertEqual(sum(o["offset"] for o in ends), 20000)

        c = self.ctl_json("perf", "consume", "ctl-perf")
        self.assertEqual((c["records"], c["bytes"], c["stopped_by"]), (20000, 1000000, "log end"))
        c = self.ctl_json("perf", "consume", "ctl-perf", "--count", "5000")
        self.assertEqual((c["records"], c["stopped_by"]), (5000, "count"))
        table = {r["measure"]: r["value"] for r in
                 (dict(zip(["measure", "value"], l.rsplit(None, 1)))
                  for l in self.ctl("perf", "consume", "ctl-perf").splitlines()[1:])}
        self.assertEqual(table["records"], "20000")
        self.assertIn("latency p99.9 ms", table)

        # The time bound ends a run the count would not.
        start = time.monotonic()
        d = self.ctl_json("perf", "produce", "ctl-perf", "--count", "100000000", "--duration",
                          "1", "--throughput", "2000", "--progress-interval", "0")
        self.assertEqual(d["stopped_by"], "duration")
        self.assertLess(d["records"], 10000)
        self.assertLess(time.monotonic() - start, 15)
        bad = self.run_ctl("perf", "produce", "ctl-perf", "-z", "brotli")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("compression must be", bad.stderr.decode())
        bad = self.run_ctl("perf", "consume", "ctl-nope")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("UNKNOWN_TOPIC_OR_PARTITION", bad.stderr.decode())

    def test_offsets_records_and_transactions(self):
        from confluent_kafka import Producer
        self.ctl("topic", "create", "ctl-t", "-p", "1")
        self.ctl("produce", "ctl-t", data=b"a\nb\nc\nd\n")
        ends = self.ctl_json("offsets", "ctl-t")
        self.assertEqual([(o["partition"], o["offset"]) for o in ends], [(0, 4)])
        first = self.ctl_json("offsets", "ctl-t", "--time", "earliest")
        self.assertEqual(first[0]["offset"], 0)
        by_time = self.ctl_json("offsets", "ctl-t", "--time", "2001-01-01T00:00:00Z")
        self.assertEqual(by_time[0]["offset"], 0)
        future = self.ctl_json("offsets", "ctl-t", "--time", str(int(time.time() * 1000) + 10**9))
        self.assertIsNone(future[0]["offset"])
        self.assertEqual(self.ctl_json("records", "delete", "ctl-t", "-p", "0", "--before", "2")
                         ["low_watermark"], 2)
        self.assertEqual(self.ctl("consume", "ctl-t", "--from-beginning", "-n", "2")
                         .splitlines(), ["c", "d"])

        p = Producer({"bootstrap.servers": self.bootstrap(), "transactional.id": "ctl-tx"})
        p.init_transactions(30)
        p.begin_transaction()
        p.produce("ctl-t", b"in-flight")
        p.flush(30)
        listed = {t["transactional_id"]: t["state"]
                  for t in self.ctl_json("transactions", "list")}
        self.assertEqual(listed.get("ctl-tx"), "Ongoing")
        self.assertEqual(self.ctl_json("transactions", "list", "--state", "CompleteCommit"), [])
        d = self.ctl_json("transactions", "describe", "ctl-tx")
        self.assertEqual((d["state"], d["topics"]), ("Ongoing", [{"topic": "ctl-t",
                                                                  "partitions": [0]}]))
        producers = self.ctl_json("producers", "describe", "ctl-t", "-p", "0")
        txn = [x for x in producers if x["producer_id"] == d["producer_id"]]
        self.assertEqual(txn[0]["current_txn_start_offset"], 4)
        # read_committed stops at the open transaction; read_uncommitted sees it.
        self.assertEqual(self.ctl("consume", "ctl-t", "--offset", "4", "-n", "1",
                                  "--idle-timeout", "1000", "--read-committed").splitlines(), [])
        self.assertEqual(self.ctl("consume", "ctl-t", "--offset", "4", "-n", "1").splitlines(),
                         ["in-flight"])
        p.abort_transaction(30)
        self.assertEqual(self.ctl("consume", "ctl-t", "--offset", "4", "--idle-timeout", "1000",
                                  "--read-committed").splitlines(), [])

    def test_bad_input_fails_with_one_line(self):
        def fails(code, needle, *args, bootstrap=None):
            p = self.run_ctl(*args, bootstrap=bootstrap)
            err = p.stderr.decode()
            self.assertEqual(p.returncode, code, "%s: %s" % (args, err))
            self.assertIn(needle, err)
            return err

        err = fails(1, "UNKNOWN_TOPIC_OR_PARTITION", "topic", "describe", "no-such-topic")
        self.assertEqual(len(err.strip().splitlines()), 1)
        self.ctl("topic", "create", "ctl-twice")
        fails(1, "TOPIC_ALREADY_EXISTS", "topic", "create", "ctl-twice")
        fails(2, "host:port", "topic", "list", bootstrap="localhost")
        start = time.monotonic()
        fails(1, "timed out", "--timeout", "1500", "topic", "list",
              bootstrap="127.0.0.1:%d" % self._dead_port())
        self.assertLess(time.monotonic() - start, 10)
        self.ctl("topic", "create", "ctl-bad")
        fails(2, "is not a time", "group", "reset-offsets", "g", "-t", "ctl-bad",
              "--to-datetime", "yesterday")
        fails(2, "exactly one", "group", "reset-offsets", "g", "-t", "ctl-bad")
        fails(2, "required", "topic", "create")
        fails(2, "key=value", "config", "set", "--topic", "ctl-bad", "retention.ms")
        fails(2, "--topic", "config", "describe")

    def _dead_port(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def test_help_and_completion(self):
        p = subprocess.run([FJORDCTL, "--help"], stdout=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0)
        for family in (b"cluster", b"topic", b"config", b"group", b"transactions", b"produce",
                       b"consume", b"offsets", b"records", b"perf"):
            self.assertIn(family, p.stdout)
        p = subprocess.run([FJORDCTL, "group", "reset-offsets", "--help"], stdout=subprocess.PIPE,
                           timeout=30)
        self.assertIn(b"e.g. fjordctl group reset-offsets", p.stdout)
        script = self.ctl("completion", "bash")
        self.assertIn("complete -F _fjordctl fjordctl", script)
        r = subprocess.run(["bash", "-c", script + "\nCOMP_WORDS=(fjordctl topic de); "
                            "COMP_CWORD=2; _fjordctl; echo ${COMPREPLY[@]}"],
                           stdout=subprocess.PIPE, timeout=30)
        self.assertEqual(sorted(r.stdout.decode().split()), ["delete", "describe"])


if __name__ == "__main__":
    compat.main()
