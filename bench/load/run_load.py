#!/usr/bin/env python3
"""Runs fjord_load against a fresh `fjord` and against librdkafka's in-process mock cluster,
in the same run on the same machine, and prints each scenario's figures and the ratio
Fjord / mock (for latency: mock p99 / Fjord p99, so > 1 is better for Fjord too).

    bench/load/run_load.py --fjord build/release/src/app/fjord \
        --load build/release/bench/load/fjord_load [--reps 3] [--scale 1.0]
"""

import argparse
import os
import statistics
import subprocess
import sys

# The broker fixture of the integration tests starts fjord on an ephemeral loopback port
# with a temporary data dir, and stops only the process it started.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "integration"))
import broker_process  # noqa: E402


def run(load, target, args, timeout=600):
    cmd = [load] + target + [str(a) for a in args]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode != 0:
        sys.exit("%s failed:\n%s%s" % (" ".join(cmd), p.stdout.decode(), p.stderr.decode()[-2000:]))
    phases = {}
    for line in p.stdout.decode().splitlines():
        words = line.split()
        if words and words[0] in ("produce", "consume"):
            phases[words[0]] = {k: float(v) for k, v in (w.split("=") for w in words[1:])}
    return phases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fjord", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    n = lambda x: max(1000, int(x * a.scale))  # noqa: E731

    common = ["--linger-ms", 5, "--batch-bytes", 1 << 20]
    # Smaller Fetch responses suit librdkafka's consumer, which parses each response whole
    # into freshly allocated buffers; the Kafka default lets one response reach 55 MB.
    small_fetch = {"fetch.max.bytes": str(1 << 20)}
    # (name, fjord_load arguments, phase, metric, higher is better, broker settings)
    scenarios = [
        ("produce 1 KiB, acks=1", ["--size", 1024, "--count", n(1000000), "--partitions", 6,
                                   "--acks", "1", "--produce-only"] + common,
         "produce", "msgs_per_s", True, {}),
        ("produce 100 B, acks=1", ["--size", 100, "--count", n(5000000), "--partitions", 6,
                                   "--acks", "1", "--produce-only"] + common,
         "produce", "msgs_per_s", True, {}),
        # The mock keeps only the newest ~5 MB of a partition: 24 partitions of 4 MB each.
        ("consume 1 KiB", ["--size", 1024, "--count", n(90000), "--partitions", 24,
                           "--acks", "1"] + common,
         "consume", "msgs_per_s", True, {}),
        ("consume 100 B", ["--size", 100, "--count", n(600000), "--partitions", 24,
                           "--acks", "1"] + common,
         "consume", "msgs_per_s", True, {}),
        ("consume 1 KiB, fetch.max.bytes=1 MiB", ["--size", 1024, "--count", n(90000),
                                                 "--partitions", 24, "--acks", "1"] + common,
         "consume", "msgs_per_s", True, small_fetch),
        ("consume 100 B, fetch.max.bytes=1 MiB", ["--size", 100, "--count", n(600000),
                                                 "--partitions", 24, "--acks", "1"] + common,
         "consume", "msgs_per_s", True, small_fetch),
        ("paced 20k msg/s 1 KiB, acks=all: p99", ["--size", 1024, "--count", n(200000),
                                                  "--partitions", 6, "--acks", "all",
                                                  "--rate", 20000, "--produce-only"] + common,
         "produce", "p99_ms", False, {}),
    ]
    brokers = {}  # one fresh broker per distinct settings, started when first needed
    rows = []
    try:
        for name, args, phase, metric, higher, settings in scenarios:
            key = tuple(sorted(settings.items()))
            if key not in brokers:
                brokers[key] = broker_process.Broker(
                    os.path.abspath(a.fjord), settings=dict(settings, **{"logging.level": "warn"}))
                brokers[key].start()
            fjord_target = ["--brokers", "127.0.0.1:%d" % brokers[key].port]
            results = {"fjord": [], "mock": []}
            for _ in range(a.reps):
                for label, target in (("fjord", fjord_target), ("mock", ["--mock"])):
                    results[label].append(run(a.load, target, args)[phase])
            med = {k: statistics.median(r[metric] for r in v) for k, v in results.items()}
            extra = {k: statistics.median(r["mb_per_s"] for r in v) for k, v in results.items()}
            ratio = med["fjord"] / med["mock"] if higher else med["mock"] / med["fjord"]
            rows.append((name, metric, med["fjord"], med["mock"], extra, ratio))
            print("%-40s %-11s fjord %12.1f  mock %12.1f  (MB/s %.1f vs %.1f)  ratio %.2f" %
                  (name, metric, med["fjord"], med["mock"], extra["fjord"], extra["mock"], ratio),
                  flush=True)
    finally:
        for broker in brokers.values():
            broker.stop()
            broker.cleanup()
    print("\nratio = Fjord / mock for throughput, mock p99 / Fjord p99 for latency "
          "(medians of %d runs; > 1.0 means Fjord is better)" % a.reps)


if __name__ == "__main__":
    main()
