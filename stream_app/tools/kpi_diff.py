"""`stream-app diff-kpis`: the latest record per key of two KPI topics, compared."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from stream_app.kafka.internals import consumer_client

VOLATILE = ("emitted_at", "revision", "as_of")
"""Fields that say when a record was sent, not what it counts."""


@dataclass
class KpiDiff:
    only_left: list[str] = field(default_factory=list)
    only_right: list[str] = field(default_factory=list)
    changed: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not (self.only_left or self.only_right or self.changed)


def diff(
    left: Mapping[str, Mapping[str, Any]],
    right: Mapping[str, Mapping[str, Any]],
    ignore: Iterable[str] = VOLATILE,
) -> KpiDiff:
    """Keys on one side only, and per key the fields whose values differ."""
    skip = set(ignore)
    out = KpiDiff(
        only_left=sorted(left.keys() - right.keys()),
        only_right=sorted(right.keys() - left.keys()),
    )
    for key in sorted(left.keys() & right.keys()):
        a, b = left[key], right[key]
        fields = {
            name: (a.get(name), b.get(name))
            for name in sorted((a.keys() | b.keys()) - skip)
            if a.get(name) != b.get(name)
        }
        if fields:
            out.changed[key] = fields
    return out


def latest(options: dict[str, Any], topic: str) -> dict[str, dict[str, Any]]:
    """key -> newest value (by partition offset) of every record on the topic now."""

    async def run() -> dict[str, dict[str, Any]]:
        consumer = AIOKafkaConsumer(**options, enable_auto_commit=False)
        await consumer.start()
        try:
            parts = consumer.partitions_for_topic(topic) or set()
            if not parts:
                await consumer_client(consumer).force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            if not tps:
                raise SystemExit(f"stream-app: topic {topic} does not exist or has no partitions")
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            out: dict[str, dict[str, Any]] = {}
            remaining = {tp for tp in tps if ends[tp] > 0}
            for tp in tps:
                if tp in remaining and await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            while remaining:
                batch = await consumer.getmany(timeout_ms=1000)
                for tp, messages in batch.items():
                    for m in messages:
                        if m.offset < ends[tp] and m.key is not None:
                            if m.value is None:
                                out.pop(m.key.decode(), None)
                            else:
                                out[m.key.decode()] = orjson.loads(m.value)
                        if m.offset >= ends[tp] - 1:
                            remaining.discard(tp)
            return out
        finally:
            await consumer.stop()

    return asyncio.run(run())


def report(result: KpiDiff, left: str, right: str, limit: int = 20) -> str:
    if result.same:
        return f"{left} and {right}: the same latest records"
    lines = [
        f"{len(result.only_left)} keys only in {left}, {len(result.only_right)} only in "
        f"{right}, {len(result.changed)} with different values"
    ]
    lines += [f"  only in {left}: {key}" for key in result.only_left[:limit]]
    lines += [f"  only in {right}: {key}" for key in result.only_right[:limit]]
    for key, fields in list(result.changed.items())[:limit]:
        changes = ", ".join(f"{name}: {a!r} -> {b!r}" for name, (a, b) in fields.items())
        lines.append(f"  {key}: {changes}")
    return "\n".join(lines)
