"""Starts and stops a real `fjord` broker for the integration tests.

The broker runs in its own temporary directory on an ephemeral loopback port; its stdout and
stderr go to files there so that tests can read the log without pipe back-pressure. Only
the process started here is ever signalled, by its PID.
"""

import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time

_LISTENING = re.compile(r"listening on PLAINTEXT://([0-9.]+):(\d+)")


class BrokerError(Exception):
    pass


class Broker:
    def __init__(self, fjord, settings=None, data_dir=None, extra_args=(), start_timeout=30.0,
                 nofile=None):
        self.fjord = fjord
        self.nofile = nofile  # RLIMIT_NOFILE (soft and hard) for the broker, when set
        self.workdir = tempfile.mkdtemp(prefix="fjord-integ-")
        self.data_dir = data_dir or os.path.join(self.workdir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.stdout_path = os.path.join(self.workdir, "stdout.txt")
        self.stderr_path = os.path.join(self.workdir, "stderr.txt")
        self.settings = {
            "listeners": "PLAINTEXT://127.0.0.1:0",
            "log.dirs": self.data_dir,
        }
        self.settings.update(settings or {})
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None

    def command(self):
        cmd = [self.fjord]
        for k, v in self.settings.items():
            cmd += ["--set", "%s=%s" % (k, v)]
        return cmd + self.extra_args

    def start(self):
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        try:
            limit = None
            if self.nofile is not None:
                def limit():
                    resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, cwd=self.workdir, preexec_fn=limit)
        finally:
            out.close()
            err.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            m = _LISTENING.search(self.stdout())
            if m:
                self.port = int(m.group(2))
                return self
            if self.proc.poll() is not None:
                raise BrokerError("fjord exited with %s before listening:\n%s" %
                                  (self.proc.returncode, self.stderr()[-4000:]))
            time.sleep(0.05)
        self.kill()
        raise BrokerError("fjord printed no 'listening on' line within %.0f s:\n%s" %
                          (self.start_timeout, self.stderr()[-4000:]))

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log_lines(self):
        return self.stderr().splitlines()

    def wait_for_log(self, predicate, timeout=5.0):
        """Returns the first log line satisfying predicate, waiting up to timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines():
                if predicate(line):
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pid(self):
        return self.proc.pid

    def cpu_seconds(self):
        """User plus system CPU time the broker has used."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise BrokerError("no VmRSS for pid %d" % self.proc.pid)

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        """Waits up to timeout seconds; returns the exit status or None if still running."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=20.0):
        """SIGTERM, then SIGKILL after timeout seconds. Returns the exit status."""
        if self.proc is None:
            return None
        if self.alive():
            self.signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
            rc = self.proc.returncode
        return rc

    def kill(self):
        if self.alive():
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self):
        self.kill()
        if os.environ.get("FJORD_KEEP_TEST_DIRS"):
            return
        shutil.rmtree(self.workdir, ignore_errors=True)


def run_fjord(fjord, args, timeout=30.0):
    """Runs fjord to completion (for --help, --version, bad settings): (rc, stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="fjord-integ-run-") as d:
        p = subprocess.run([fjord] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=d,
                           timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
