"""kcat (librdkafka's command-line client): the README's round trip, metadata listing and
auto-creation, as a new user runs them."""

import json
import subprocess

import compat


class KcatTest(compat.BrokerCase):

    def kcat(self, *args, data=None, timeout=60):
        p = subprocess.run(["kcat", "-b", self.bootstrap()] + list(args), input=data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        self.assertEqual(p.returncode, 0, "kcat %s failed: %s" % (args, p.stderr.decode()))
        return p.stdout

    def test_produce_then_consume_round_trips_and_auto_creates(self):
        lines = [b"line-%d" % i for i in range(1000)]
        self.kcat("-P", "-t", "demo", data=b"\n".join(lines) + b"\n")
        out = self.kcat("-C", "-t", "demo", "-e", "-q")
        self.assertEqual(out.splitlines(), lines)

    def test_keys_and_partitions(self):
        data = b"".join(b"k%d:v%d\n" % (i % 3, i) for i in range(30))
        self.kcat("-P", "-t", "keyed", "-K:", data=data)
        out = self.kcat("-C", "-t", "keyed", "-e", "-q", "-f", "%k=%s\n")
        got = sorted(out.splitlines())
        self.assertEqual(got, sorted(b"k%d=v%d" % (i % 3, i) for i in range(30)))

    def test_metadata_lists_the_broker_and_topics(self):
        self.kcat("-P", "-t", "listed", data=b"x\n")
        md = json.loads(self.kcat("-L", "-J"))
        self.assertEqual(len(md["brokers"]), 1)
        self.assertEqual(md["brokers"][0]["id"], 1)
        self.assertEqual(md["brokers"][0]["name"], "127.0.0.1:%d" % self.broker.port)
        topics = {t["topic"]: t for t in md["topics"]}
        self.assertIn("listed", topics)
        self.assertEqual(len(topics["listed"]["partitions"]), 1)
        self.assertEqual(topics["listed"]["partitions"][0]["leader"], 1)


if __name__ == "__main__":
    compat.main()
