"""kafkajs (npm; a pure-JavaScript client) against a real `fjord`: admin and producer APIs.
Its group consumer needs consumer groups, which come with the group coordinator."""

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

    def test_admin_and_producer(self):
        env = dict(os.environ, NODE_PATH=os.path.abspath(_NODE_MODULES))
        p = subprocess.run(["node", os.path.join(_HERE, "kafkajs_admin_producer.js"),
                            self.bootstrap()], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        self.assertIn("kafkajs: ok", p.stdout.decode())


if __name__ == "__main__":
    compat.main()
