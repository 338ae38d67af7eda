"""Benchmark aid (not a test): where a worker's CPU goes under the throughput workload.

    .venv/bin/python -m bench.profile --calls 20000                 # calls worker
    .venv/bin/python -m bench.profile --pipeline email
    .venv/bin/python -m bench.profile --pipeline crm-attribution --calls 10000   # CRM stage 1
    .venv/bin/python -m bench.profile --pipeline engagement          # touches of bench.throughput
    .venv/bin/python -m bench.profile --pipeline reach               # the credits they make

py-spy comes with the `bench` extra: `.venv/bin/pip install -e '.[bench]'`.

Produces the same seeded scenario as `bench.throughput`, starts one worker, samples it with
py-spy (`--gil`: only the thread holding the interpreter, which on a CPU-bound worker is the
work) until it has counted every record, and prints the share of samples per stage. A sample
is charged to the innermost frame of this project's code on its stack (decode, engine, state
write-back, publishing, metrics, ingest glue); a sample with none is charged to the innermost
library frame it recognises (Faust's stream and conductor machinery, Faust's consumer loop,
aiokafka's fetcher, aiokafka's producer, the event loop). The raw collapsed stacks are kept
beside the table for a flame graph (`--keep`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.throughput import touch_records
from stream_app.demo.traffic import Produced, produce
from stream_app.families.calls.demo import ScenarioConfig, scenario
from stream_app.families.crm.demo import CrmScenarioConfig, crm_scenario
from stream_app.families.email.demo import EmailScenarioConfig, email_scenario
from stream_app.families.engagement.touches import REACH
from stream_app.kafka.ingest import decide
from stream_app.kafka.local_broker import LocalKafka
from stream_app.kafka.topics import ensure_topics
from stream_app.registry import spec_for
from stream_app.settings import Settings
from stream_app.spine.clock import SystemClock
from stream_app.spine.engine import Engine
from stream_app.spine.family_protocol import Emit
from stream_app.spine.parts import pack
from stream_app.spine.store import DictStore
from tests.helpers.checks import processed
from tests.helpers.scenarios import settings_for
from tests.helpers.support import WorkerProc, isolated_env, wait_for

# (stage, path fragments): our own code first, matched from the innermost frame outwards.
OWN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("decode (JSON + validation)", ("stream_app/spine/decode.py", "schemas/")),
    (
        "engine (dedupe, merge, windows, facts)",
        (
            "stream_app/spine/engine.py",
            "stream_app/spine/family_protocol.py",
            "/family.py",
            "stream_app/spine/windows.py",
            "stream_app/spine/business_time.py",
            "stream_app/spine/sequence.py",
        ),
    ),
    (
        "state write-back + changelog sends",
        ("stream_app/kafka/changelog_store.py", "stream_app/spine/store.py"),
    ),
    (
        "side records + KPI records",
        ("stream_app/kafka/publish.py", "stream_app/spine/dead_letter.py", "/records.py"),
    ),
    ("metrics (scrapes)", ("stream_app/spine/collector.py", "/metrics.py", "prometheus_client/")),
    (
        "ingest + batch glue",
        (
            "stream_app/kafka/ingest.py",
            "stream_app/service.py",
            "stream_app/kafka/internals/faust_fetch.py",
            "stream_app/kafka/source.py",
        ),
    ),
)
LIBRARY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("aiokafka producer", ("aiokafka/producer/",)),
    ("aiokafka fetch + record parsing", ("aiokafka/consumer/", "aiokafka/record/")),
    (
        "Faust stream/channel/conductor",
        (
            "faust/streams.py",
            "faust/channels.py",
            "faust/topics.py",
            "faust/transport/conductor.py",
            "faust/agents/",
            "faust/events.py",
        ),
    ),
    (
        "Faust consumer loop + mode",
        ("faust/transport/consumer.py", "faust/transport/drivers/", "mode/"),
    ),
    ("Faust other", ("faust/",)),
    ("aiokafka other", ("aiokafka/",)),
    ("event loop", ("asyncio/", "uvloop", "selectors.py")),
)


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, parts in OWN:
            if any(p in frame for p in parts):
                return stage
    for frame in reversed(frames):
        for stage, parts in LIBRARY:
            if any(p in frame for p in parts):
                return stage
    return "other"


def breakdown(collapsed: str) -> Counter[str]:
    """Samples per stage from py-spy's collapsed output ("frame;frame;... count" lines)."""
    out: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        out[stage_of(stack.split(";"))] += int(count)
    return out


def credits(touches: list[Produced]) -> list[Produced]:
    """The records the engagement stage sends the reach stage for `touches`, at the worker's
    batch size (its family and engine, in memory), a group's credits of a batch as one record
    (`pack`, as the worker's publisher sends them): the reach stage's own input."""
    s = Settings()
    spec = spec_for(s, "engagement")
    engine: Engine[Any] = Engine(
        spec.family,
        DictStore(),
        SystemClock(),
        specs=s.window_specs,
        tz=s.business_timezone,
        grace_ms=s.grace_ms,
        window_retention_ms=int(s.window_retention_hours * 3_600_000),
        dedupe_retention_ms=int(spec.dedupe_hours * 3_600_000),
    )
    now = engine.clock.now_ms()
    out: list[Produced] = []
    batch: list[Emit] = []
    for offset, record in enumerate(touches):
        plan = decide(
            engine, s, key=record.key, value=record.value, partition=0, offset=offset, now_ms=now
        ).plan
        engine.commit(plan)
        batch += plan.emits
        if offset % s.batch_max_events == s.batch_max_events - 1:
            out += _packed(batch + engine.end_batch())
            engine.flush()
            batch = []
    return out + _packed(batch + engine.end_batch())


def _packed(sent: list[Emit]) -> list[Produced]:
    by_key: dict[bytes, list[bytes]] = {}
    for role, key, value in sent:
        if role == REACH:
            by_key.setdefault(key, []).append(value)
    return [
        Produced(key, value, "credit") for key, values in by_key.items() for value in pack(values)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument(
        "--pipeline",
        choices=["calls", "email", "crm-attribution", "engagement", "reach"],
        default="calls",
    )
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--keep", type=Path, help="write the collapsed stacks here")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="isales-profile-"))
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None
    if not bootstrap:
        broker = LocalKafka(tmp / "kafka")
        bootstrap = broker.start()
    try:
        env = isolated_env(bootstrap, ISALES_IDLE_TIMEOUT_SECONDS="30")
        s = settings_for(env)
        asyncio.run(ensure_topics(s))
        if args.pipeline == "email":
            records = email_scenario(EmailScenarioConfig(seed=100))
            topic = s.email_topic
        elif args.pipeline == "crm-attribution":
            # --calls handoffs (~5 records each), so the sample is not start-up.
            records = crm_scenario(CrmScenarioConfig(seed=100, handoffs=args.calls))
            topic = s.crm_topic
        elif args.pipeline == "engagement":
            records = touch_records(args.calls, seed=100)
            topic = s.touches_topic
        elif args.pipeline == "reach":
            records = credits(touch_records(args.calls, seed=100))
            topic = s.reach_topic
        else:
            records = scenario(ScenarioConfig(seed=100, calls=args.calls, malformed=20))
            topic = s.calls_topic
        asyncio.run(produce({"bootstrap_servers": bootstrap}, topic, records))
        # Started idle on an empty topic would profile the wait; let it find the backlog.
        worker = WorkerProc(env, tmp, f"profile-{uuid.uuid4().hex[:6]}", args.pipeline).start()
        assert worker.proc is not None
        wait_for(worker.ready, 120, "worker ready")
        out = tmp / "stacks.txt"
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--gil",
                "--nonblocking",
                "--format",
                "raw",
                "--rate",
                str(args.rate),
                "--pid",
                str(worker.proc.pid),
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started, first = time.perf_counter(), processed(worker.scrape())
        while processed(worker.scrape()) < len(records):
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        counted = len(records) - first
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
        worker.stop()
        collapsed = out.read_text()
        if args.keep:
            args.keep.write_text(collapsed)
        counts = breakdown(collapsed)
        total = sum(counts.values()) or 1
        print(
            f"{args.pipeline}: {counted:,} records in {elapsed:.1f} s under py-spy "
            f"({counted / elapsed:,.0f}/s, slowed by sampling); {total:,} GIL samples"
        )
        print("| stage | share | µs of GIL per record |\n| --- | ---: | ---: |")
        for stage, n in counts.most_common():
            print(f"| {stage} | {n / total:.1%} | {n / args.rate / counted * 1e6:.0f} |")
    finally:
        if broker is not None:
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
