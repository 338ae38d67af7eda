"""Benchmark (not a test): worker events/s and produce-to-metric latency, beside a raw aiokafka
consume-and-decode baseline run in the same invocation.

    .venv/bin/python -m bench.throughput --calls 20000 --repeat 3

Uses KAFKA_BOOTSTRAP_SERVERS if set, else starts the project's local broker in a temp folder.
Machines here have 2 noisy cores: read the medians and the ratio, not single runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.common import from_ms
from stream_app.clock import SystemClock
from stream_app.decode import Accepted, decode
from stream_app.demo import ScenarioConfig, produce, scenario
from stream_app.families.calls import CallsFamily
from stream_app.kafka_local import LocalKafka
from stream_app.settings import Settings
from stream_app.topics import ensure_topics
from tests.checks import processed
from tests.support import WorkerProc, isolated_env, metric_sum, wait_for


async def baseline(bootstrap: str, topic: str, total: int) -> float:
    """Raw aiokafka: consume every record and validate it with the same decode()."""
    family = CallsFamily(30)
    clock = SystemClock()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    await consumer.start()
    seen = ok = 0
    started = None
    try:
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            if started is None and batch:
                started = time.perf_counter()
            for messages in batch.values():
                for m in messages:
                    seen += 1
                    result = decode(
                        m.value,
                        m.key,
                        family,
                        max_bytes=65_536,
                        now_ms=clock.now_ms(),
                        max_future_ms=300_000,
                    )
                    ok += isinstance(result, Accepted)
    finally:
        await consumer.stop()
    assert started is not None
    return total / (time.perf_counter() - started)


def bare_faust_rate(bootstrap: str, topic: str, total: int, tmp: Path) -> float:
    """Records/s of a Faust agent that does nothing but count them."""
    progress = tmp / f"bare-{uuid.uuid4().hex[:6]}"
    progress.write_text("0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bare_faust", bootstrap, topic, str(progress)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = None
        n, now = 0, time.perf_counter()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and n < total:
            n = int(progress.read_text() or 0)
            now = time.perf_counter()
            if first is None and n > 0:
                first = (now, n)
            time.sleep(0.1)
        assert first is not None
        return (n - first[1]) / (now - first[0])
    finally:
        proc.terminate()
        proc.wait(30)


def worker_rate(env: dict[str, str], total: int, logs: Path) -> tuple[float, WorkerProc]:
    worker = WorkerProc(env, logs, f"bench-{uuid.uuid4().hex[:6]}").start()
    wait_for(worker.ready, 120, "worker ready")
    first = None
    while True:
        n = processed(worker.scrape())
        now = time.perf_counter()
        if first is None and n > 0:
            first = (now, n)
        if n >= total:
            break
        time.sleep(0.5)  # scrapes cost the worker CPU; keep them rare
    assert first is not None
    return (total - first[1]) / (now - first[0]), worker


async def latency(env: dict[str, str], worker: WorkerProc, samples: int) -> list[float]:
    """Produce one live dial, stamped now, and time until /metrics shows it."""
    producer = AIOKafkaProducer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    await producer.start()
    out = []
    try:
        for n in range(samples):
            rep = "rep-latency"
            before = metric_sum(worker.scrape(), "isales_calls_dials_total", rep=rep)
            now_ms = SystemClock().now_ms()
            event = {
                "event_id": f"lat-{uuid.uuid4().hex}",
                "occurred_at": now_ms,
                "call_id": f"lat-{n}-{now_ms}",
                "rep_id": rep,
                "team_id": "team-x",
                "direction": "outbound",
                "status": "initiated",
                "started_at": from_ms(now_ms).isoformat(),
            }
            t0 = time.perf_counter()
            await producer.send_and_wait(
                env["ISALES_CALLS_TOPIC"], orjson.dumps(event), key=rep.encode()
            )
            while metric_sum(worker.scrape(), "isales_calls_dials_total", rep=rep) <= before:  # noqa: ASYNC110 - polling a scrape
                await asyncio.sleep(0.005)
            out.append(time.perf_counter() - t0)
            await asyncio.sleep(0.2)
    finally:
        await producer.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=20)
    args = parser.parse_args()

    broker = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    tmp = Path(tempfile.mkdtemp(prefix="isales-bench-"))
    if not bootstrap:
        broker = LocalKafka(tmp / "kafka")
        bootstrap = broker.start()
    rows: list[dict[str, Any]] = []
    try:
        for run in range(args.repeat):
            env = isolated_env(bootstrap, ISALES_IDLE_TIMEOUT_SECONDS="30")
            s = Settings.model_validate(
                {
                    k.removeprefix("ISALES_").lower(): v
                    for k, v in env.items()
                    if k.startswith("ISALES_")
                }
                | {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
            )
            asyncio.run(ensure_topics(s))
            records = scenario(ScenarioConfig(seed=100 + run, calls=args.calls, malformed=20))
            asyncio.run(produce({"bootstrap_servers": bootstrap}, s.calls_topic, records))
            total = len(records)
            base = asyncio.run(baseline(bootstrap, s.calls_topic, total))
            bare = bare_faust_rate(bootstrap, s.calls_topic, total, tmp)
            rate, worker = worker_rate(env, total, tmp)
            try:
                lat = asyncio.run(latency(env, worker, args.latency_samples))
            finally:
                worker.stop()
            row = {
                "run": run,
                "records": total,
                "baseline_eps": base,
                "bare_faust_eps": bare,
                "worker_eps": rate,
                "ratio": rate / base,
                "latency_p50_ms": statistics.median(lat) * 1000,
                "latency_max_ms": max(lat) * 1000,
            }
            rows.append(row)
            print(orjson.dumps(row).decode(), flush=True)
    finally:
        if broker is not None:
            broker.stop()
    keys = ("baseline_eps", "bare_faust_eps", "worker_eps", "ratio", "latency_p50_ms")
    med = {k: statistics.median(r[k] for r in rows) for k in keys}
    print(
        f"median of {len(rows)} runs: aiokafka consume+decode {med['baseline_eps']:,.0f} "
        f"events/s, bare Faust agent {med['bare_faust_eps']:,.0f}, worker "
        f"{med['worker_eps']:,.0f} (worker/baseline {med['ratio']:.3f}), "
        f"produce-to-metric p50 {med['latency_p50_ms']:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
