"""Bytewax peer: the calls topic, JSON, a 60 s tumbling event-time window per message key (rep)
folding a count and a talk-seconds sum (Rust runtime, a Python fold per event), emitted when
the window closes. One worker.

    BENCH_BOOTSTRAP=... BENCH_TOPIC=... BENCH_PROGRESS=... \
        python -m bytewax.run bench.peers.bytewax_calls:flow
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import bytewax.operators as op
import orjson
from bytewax.connectors.kafka import operators as kop
from bytewax.dataflow import Dataflow
from bytewax.operators.windowing import EventClock, TumblingWindower, fold_window
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from bench.peers.common import Progress, event_ms, talk

progress = Progress(os.environ.get("BENCH_PROGRESS", "/dev/null"))


def parse(msg: Any) -> tuple[str, dict[str, Any]] | None:
    progress.add()
    try:
        value = orjson.loads(msg.value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or not value.get("event_id") or msg.key is None:
        return None
    return msg.key.decode("utf-8", "replace"), value


def fold(acc: list[float], value: dict[str, Any]) -> list[float]:
    acc[0] += 1
    acc[1] += talk(value)
    return acc


class _Discard(StatelessSinkPartition[Any]):  # type: ignore[misc]
    def write_batch(self, items: list[Any]) -> None:
        pass


class Discard(DynamicSink[Any]):  # type: ignore[misc]
    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Discard:
        return _Discard()


flow = Dataflow("bench_calls")
source = kop.input(
    "in",
    flow,
    brokers=[os.environ.get("BENCH_BOOTSTRAP", "127.0.0.1:9092")],
    topics=[os.environ.get("BENCH_TOPIC", "calls")],
)
keyed = op.filter_map("parse", source.oks, parse)
clock = EventClock(
    lambda value: datetime.fromtimestamp(event_ms(value) / 1000, UTC),
    # The worker's default grace (ISALES_GRACE_SECONDS=300): the same lateness accepted.
    wait_for_system_duration=timedelta(seconds=300),
)
windower = TumblingWindower(length=timedelta(seconds=60), align_to=datetime(2020, 1, 1, tzinfo=UTC))
windows = fold_window("window", keyed, clock, windower, lambda: [0.0, 0.0], fold, lambda a, b: a)
op.output("out", windows.down, Discard())
