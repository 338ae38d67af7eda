"""Benchmark (not a test): a hostile flood against the same count of good records.

    .venv/bin/python -m bench.faults --hostile 100000 --repeat 3

Each run produces N hostile records (every kind of the fault suite, a few ~1 MB) mixed into a
small call scenario, drains them through one calls worker, and reports DLQ records against
bad records sent, drain time, the worker's peak RSS and the slowest scrape during the drain;
then the same for N good call events alone. The ratio of the two drain times is the figure:
what bad input costs against good. Uses KAFKA_BOOTSTRAP_SERVERS if set, else a local broker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson

from stream_app.demo.traffic import Produced
from stream_app.families.calls.demo import ScenarioConfig, scenario
from stream_app.kafka.local_broker import LocalKafka
from stream_app.kafka.topics import ensure_topics
from tests.helpers.checks import progress
from tests.helpers.hostile import Bad, mix
from tests.helpers.scenarios import produce_records, settings_for
from tests.helpers.support import WorkerProc, isolated_env, metric_sum, read_topic, wait_for


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def drain(bootstrap: str, records: list[Produced | Bad], tmp: Path) -> dict[str, Any]:
    env = isolated_env(bootstrap, ISALES_IDLE_TIMEOUT_SECONDS="30")
    s = settings_for(env)
    asyncio.run(ensure_topics(s))
    asyncio.run(produce_records(bootstrap, s.calls_topic, records))
    worker = WorkerProc(env, tmp, f"faults-{uuid.uuid4().hex[:6]}").start()
    slowest = [0.0]
    done = threading.Event()

    def scrape_loop() -> None:
        while not done.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(worker.url + "/metrics", timeout=30) as r:  # noqa: S310
                    r.read()
                slowest[0] = max(slowest[0], time.monotonic() - started)
            except OSError:
                pass
            time.sleep(1.0)

    try:
        wait_for(worker.ready, 120, "worker ready")
        first = None
        scraper = threading.Thread(target=scrape_loop, daemon=True)
        scraper.start()
        while True:
            n = progress(worker)
            now = time.perf_counter()
            if first is None and n > 0:
                first = (now, n)
            if n >= len(records):
                break
            time.sleep(0.5)
        done.set()
        assert first is not None
        samples = worker.scrape()
        assert worker.proc is not None
        return {
            "records": len(records),
            "drain_s": (now - first[0]) * len(records) / max(len(records) - first[1], 1),
            "dlq_counted": metric_sum(samples, "isales_dead_letter_events_total"),
            "dlq_on_topic": len(read_topic(bootstrap, s.dlq_topic)),
            "peak_rss_mb": peak_rss_mb(worker.proc.pid),
            "slowest_scrape_s": slowest[0],
        }
    finally:
        done.set()
        worker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hostile", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="isales-faults-"))
    broker = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        broker = LocalKafka(tmp / "kafka")
        bootstrap = broker.start()
    rows = []
    try:
        for run in range(args.repeat):
            small = scenario(ScenarioConfig(seed=300 + run, calls=300, malformed=0))
            hostile = mix(random.Random(run), small, args.hostile)
            bad_sent = sum(isinstance(r, Bad) for r in hostile)
            h = drain(bootstrap, hostile, tmp)
            calls = max(args.hostile // 3, 1)
            events = scenario(ScenarioConfig(seed=400 + run, calls=calls, malformed=0))
            good: list[Produced | Bad] = [*events[: args.hostile]]
            g = drain(bootstrap, good, tmp)
            row = {
                "run": run,
                "bad_sent": bad_sent,
                "dlq_on_topic": h["dlq_on_topic"],
                "dlq_counted": h["dlq_counted"],
                "hostile_drain_s": h["drain_s"],
                "good_drain_s": g["drain_s"],
                "good_records": g["records"],
                "hostile_over_good": h["drain_s"] / g["drain_s"],
                "peak_rss_mb": h["peak_rss_mb"],
                "good_peak_rss_mb": g["peak_rss_mb"],
                "slowest_scrape_s": max(h["slowest_scrape_s"], g["slowest_scrape_s"]),
            }
            rows.append(row)
            print(orjson.dumps(row).decode(), flush=True)
    finally:
        if broker is not None:
            broker.stop()
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "run"}
    print(
        f"median of {len(rows)}: {med['bad_sent']:,.0f} hostile records sent, "
        f"{med['dlq_on_topic']:,.0f} on the DLQ; drained in {med['hostile_drain_s']:.1f} s vs "
        f"{med['good_drain_s']:.1f} s for {med['good_records']:,.0f} good "
        f"({med['hostile_over_good']:.2f}x); peak RSS {med['peak_rss_mb']:.0f} MB "
        f"(good: {med['good_peak_rss_mb']:.0f} MB); slowest scrape {med['slowest_scrape_s']:.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
