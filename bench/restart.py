"""Benchmark (not a test): time from a SIGKILL to ready, and to the first exact scrape, at
several state sizes, for the RocksDB store (with a stable ISALES_WORKER_ID: the local copy and
static group membership) beside the in-memory store (the whole changelog replayed).

    .venv/bin/python -m bench.restart --calls 5000 50000 200000 --stores rocksdb memory

Each size: a seeded scenario of N calls (~3.4 events each) is produced and counted by one calls
worker; the worker is SIGKILLed once it is idle and a new process with the same replica id
starts; the clock runs from the kill to /readyz 200 and to the first scrape whose counters equal
the ground truth. Uses KAFKA_BOOTSTRAP_SERVERS if set, else a local broker.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson

from stream_app.families.calls.demo import ScenarioConfig
from stream_app.kafka.local_broker import LocalKafka
from tests.helpers.checks import check_counters, progress
from tests.helpers.scenarios import produce_scenario
from tests.helpers.support import WorkerProc, isolated_env, parse_metrics, wait_for


def exact(worker: WorkerProc, truth: object) -> bool:
    try:
        check_counters(parse_metrics(worker.get("/metrics")[1]), truth)  # type: ignore[arg-type]
    except (AssertionError, OSError):
        return False
    return True


def one(bootstrap: str, calls: int, store: str, logs: Path) -> dict[str, object]:
    env = isolated_env(
        bootstrap,
        ISALES_STORE=store,
        ISALES_SESSION_TIMEOUT_SECONDS="30",  # the shipped default: what a join costs
        ISALES_IDLE_TIMEOUT_SECONDS="30",
    )
    run = produce_scenario(
        env, ScenarioConfig(seed=5, calls=calls, reps=50, teams=5, days=5, malformed=0)
    )
    total = len(run.records)
    first = WorkerProc(env, logs, f"{store}-{calls}-a", worker_id="replica-0").start()
    try:
        wait_for(first.ready, 180, "worker ready")
        started = time.monotonic()
        wait_for(lambda: progress(first) == total, 3600, f"{total} records", every=1)
        built_s = time.monotonic() - started
        time.sleep(3)  # the last changelog acknowledgements reach the local copy
    finally:
        first.kill()
    killed = time.monotonic()
    second = WorkerProc(env, logs, f"{store}-{calls}-b", worker_id="replica-0").start()
    try:
        wait_for(second.ready, 1800, "ready again", every=0.1)
        ready_s = time.monotonic() - killed
        wait_for(lambda: exact(second, run.truth), 1800, "exact again", every=0.1)
        exact_s = time.monotonic() - killed
    finally:
        second.stop()
    return {
        "store": store,
        "calls": calls,
        "events": total,
        "build_s": round(built_s, 1),
        "ready_s": round(ready_s, 1),
        "exact_s": round(exact_s, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, nargs="+", default=[5_000, 50_000, 200_000])
    parser.add_argument("--stores", nargs="+", default=["rocksdb", "memory"])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="isales-restart-"))
    broker = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        broker = LocalKafka(tmp / "kafka")
        bootstrap = broker.start()
    try:
        for calls in args.calls:
            for store in args.stores:
                print(orjson.dumps(one(bootstrap, calls, store, tmp)).decode(), flush=True)
    finally:
        if broker is not None:
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
