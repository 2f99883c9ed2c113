"""kafkajs (npm; a pure-JavaScript client) against a real `fjord`: admin and producer APIs,
its group consumer, and its transactional producer."""

import os
import shutil
import subprocess
import unittest

import compat

_HERE = os.path.dirname(os.path.abspath(__file__))
_NODE_MODULES = os.path.join(_HERE, "..", "golden", "clients", "node_modules")


@unittest.skipUnless(shutil.which("node") and os.path.isdir(os.path.join(_NODE_MODULES, "kafkajs")),
                     "node or kafkajs missing (scripts/test.sh installs them)")
class KafkajsTest(compat.BrokerCase):
    BROKER_SETTINGS = {"group.initial.rebalance.delay.ms": 300}

    def run_script(self, script, expect):
        env = dict(os.environ, NODE_PATH=os.path.abspath(_NODE_MODULES))
        p = subprocess.run(["node", os.path.join(_HERE, script), self.bootstrap()], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        self.assertIn(expect, p.stdout.decode())

    def test_admin_and_producer(self):
        self.run_script("kafkajs_admin_producer.js", "kafkajs: ok")

    def test_group_consumer(self):
        self.run_script("kafkajs_group_consumer.js", "kafkajs group: ok")

    def test_transactions(self):
        self.run_script("kafkajs_transactions.js", "kafkajs transactions: ok")


if __name__ == "__main__":
    compat.main()
