"""Benchmark (not a test): the per-record cost of decode and the engine, without Kafka.

    .venv/bin/python -m bench.hot_path --calls 20000 --repeat 5
    .venv/bin/python -m bench.hot_path --pipeline email --repeat 5
    .venv/bin/python -m bench.hot_path --pipeline engagement --batch 2000   # touches
    .venv/bin/python -m bench.hot_path --pipeline reach --batch 2000        # their credits
    .venv/bin/python -m bench.hot_path --pipeline reach --batch 2000 --single

The seeded calls (or e-mail) scenario of `bench.throughput`, as bytes, through `decide()`
(decode, then the engine's plan) and `Engine.commit`, one partition, a flush (the write-back
handing its keys to the store) every `--batch` records, into an in-memory store. The engine
is built from the pipeline's own spec, as the service builds it, and the cycle collector runs
at the worker's thresholds (at the defaults its full passes grow with the state: ~2% of the
instructions at 4,000 calls, ~28% of the wall time over three passes of 20,000 calls under
py-spy). Prints µs per record for decode alone and for the whole path, median of the repeats:
the ceiling the worker's Kafka and Faust glue is measured against. `engagement`: the touches of
`bench.throughput --pipeline engagement`, the batch's records derived at each flush as the worker
does; `reach`: the records those send (one per group per batch; `--single`: each credit as a
record of its own, as before bundles), in µs per credit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import orjson

from bench.profile import credits
from bench.throughput import touch_records
from stream_app.demo.traffic import Produced
from stream_app.families.calls.demo import ScenarioConfig, scenario
from stream_app.families.email.demo import EmailScenarioConfig, email_scenario
from stream_app.kafka.ingest import decide
from stream_app.ops.runtime import tune_gc
from stream_app.registry import spec_for
from stream_app.settings import Settings
from stream_app.spine.clock import SystemClock
from stream_app.spine.decode import decode
from stream_app.spine.engine import Engine
from stream_app.spine.store import DictStore
from stream_app.spine.windows import parse_windows


class NullLogStore(DictStore):
    """DictStore without its write log (a test aid that would grow without bound here)."""

    def put(self, key: str, value: Any, partition: int) -> None:
        self.data[key] = value

    def delete(self, key: str, partition: int) -> None:
        self.data.pop(key, None)


def run(
    records: list[Any], s: Settings, batch: int, pipeline: str, events: int | None = None
) -> tuple[float, float]:
    """(decode, decode + engine) in µs per event; `events`: how many the records carry
    (a reach record carries a batch's credits of one group), else one each."""
    events = events or len(records)
    clock = SystemClock()
    # The pipeline's own family and engine settings, as the service builds them.
    spec = spec_for(s, pipeline)
    family = spec.family
    engine: Engine[Any] = Engine(
        family,
        NullLogStore(),
        clock,
        specs=s.window_specs if spec.windows is None else parse_windows(spec.windows),
        tz=s.business_timezone,
        grace_ms=s.grace_ms if spec.grace_seconds is None else int(spec.grace_seconds * 1000),
        window_retention_ms=int(s.window_retention_hours * 3_600_000),
        dedupe_retention_ms=int(spec.dedupe_hours * 3_600_000),
    )
    now = clock.now_ms()
    t0 = time.perf_counter()
    for r in records:
        decode(
            r.value,
            r.key,
            family,
            max_bytes=getattr(family, "max_payload_bytes", None) or s.max_payload_bytes,
            now_ms=now,
            max_future_ms=int(s.max_future_skew_seconds * 1000),
            time_range_ms=s.time_range_ms,
        )
    decode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for offset, r in enumerate(records):
        decided = decide(
            engine, s, key=r.key, value=r.value, partition=0, offset=offset, now_ms=now
        )
        engine.commit(decided.plan)
        if offset % batch == batch - 1:
            engine.end_batch()
            engine.flush()
    engine.end_batch()
    engine.flush()
    total_s = time.perf_counter() - t0
    return decode_s / events * 1e6, total_s / events * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--pipeline", choices=["calls", "email", "engagement", "reach"], default="calls"
    )
    parser.add_argument("--single", action="store_true", help="reach: one credit per record")
    args = parser.parse_args()
    tune_gc()  # the collector's thresholds of `stream-app worker`
    s = Settings()
    unit = "record"
    if args.pipeline == "email":
        records = email_scenario(EmailScenarioConfig(seed=100))
    elif args.pipeline in ("engagement", "reach"):
        records = touch_records(args.calls, seed=1)
        if args.pipeline == "reach":
            records, unit = reach_records(records, args.single), "credit"
    else:
        records = scenario(ScenarioConfig(seed=100, calls=args.calls, malformed=20))
    events = len(records)
    if args.pipeline == "reach":
        events = sum(len(_parts(r)) for r in records)
    runs = [run(records, s, args.batch, args.pipeline, events) for _ in range(args.repeat)]
    dec = statistics.median(r[0] for r in runs)
    tot = statistics.median(r[1] for r in runs)
    print(
        f"{len(records):,} records ({events:,} {unit}s), median of {len(runs)}: decode "
        f"{dec:.1f} µs/{unit}, decode + engine {tot:.1f} µs/{unit} "
        f"({1e6 / tot:,.0f} {unit}s/s on one core)"
    )
    return 0


def reach_records(touches: list[Produced], single: bool) -> list[Produced]:
    """The engagement stage's records on isales.reach for `touches` (a group's credits of a
    batch of the worker's size as one record); `single`: each credit a record of its own."""
    records = credits(touches)
    if not single:
        return records
    return [Produced(r.key, orjson.dumps(part), "credit") for r in records for part in _parts(r)]


def _parts(record: Produced) -> list[Any]:
    body = orjson.loads(record.value)
    parts: list[Any] = body.get("parts", [body])
    return parts


if __name__ == "__main__":
    sys.exit(main())
