"""Demo traffic: the record type every family's generator yields, and the producers that send
it (a fixed list in order, or a live stream at its own pace)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from stream_app.spine.clock import Clock, SystemClock


@dataclass(frozen=True, slots=True)
class Produced:
    """One record to produce, with what the generator meant by it (for tests and reports)."""

    key: bytes | None
    value: bytes
    kind: str  # "event", "duplicate" or "malformed"
    reason_class: str | None = None
    delay_ms: int = 0
    topic: str | None = None
    """Another topic than the stream's own (live demo: CRM events that follow connects)."""


def roster(reps: int, teams: int) -> list[tuple[str, str]]:
    names = [f"team-{chr(ord('a') + i)}" for i in range(teams)]
    return [(f"rep-{i + 1:02d}", names[i % teams]) for i in range(reps)]


class Record(Protocol):
    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...


async def produce(
    bootstrap_options: dict[str, Any], topic: str, records: Sequence[Record]
) -> list[tuple[int, int]]:
    """Produce records in order; returns the (partition, offset) each landed at."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(**bootstrap_options, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=r.key, value=r.value) for r in records]
        placed = [await f for f in futures]
        return [(m.partition, m.offset) for m in placed]
    finally:
        await producer.stop()


async def produce_live(
    bootstrap_options: dict[str, Any],
    topics: Mapping[str | None, str],
    records: Iterable[tuple[int, Produced]],
    duration_s: float | None = None,
    clock: Clock | None = None,
) -> int:
    """Send each (send-at ms, record) when its time comes; `topics` maps a record's `topic`
    tag (None: the stream's own) to a topic name. Returns how many were sent."""
    from aiokafka import AIOKafkaProducer

    clock = clock or SystemClock()
    producer = AIOKafkaProducer(**bootstrap_options, acks="all", linger_ms=20)
    await producer.start()
    sent = 0
    started = clock.now_ms()
    try:
        for send_at, record in records:
            wait = (send_at - clock.now_ms()) / 1000
            if wait > 0:
                await asyncio.sleep(wait)
            target = topics.get(record.topic)
            if target:
                await producer.send(target, key=record.key, value=record.value)
                sent += 1
            if duration_s is not None and clock.now_ms() - started > duration_s * 1000:
                break
    finally:
        await producer.stop()
    return sent
