"""Everything the worker sends besides the changelog: copies of source records to the DLQ and
late topics, records a family emits downstream, and KPI records of windows and totals.

Sends go straight to Faust's producer (Faust's `topic.send` costs ~1.4 ms a record, which held
the state lock, and scrapes, for seconds when a backlog finalised). What must be acknowledged
before a batch's state is written is held; `take()` collects a batch's share and `settle()`
awaits it: a crash in between re-sends (same keys, same event ids), never loses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from faust.exceptions import ProducerSendError

from stream_app.dead_letter import SideRecord, metadata_only, side_record
from stream_app.engine import Engine
from stream_app.pipeline import Output, PipelineSpec
from stream_app.store import Value

log = logging.getLogger(__name__)

_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)


Send = Callable[..., Awaitable[Awaitable[Any]]]
"""Faust's `producer.send(topic, key, value, partition=, timestamp=, headers=)`."""


@dataclass
class Held:
    """One batch's sends that must be acknowledged before its state reaches the changelog."""

    emits: list[Awaitable[Any]] = field(default_factory=list)
    side: list[tuple[str, SideRecord, Awaitable[Any]]] = field(default_factory=list)


class Publisher:
    def __init__(
        self, send: Send, spec: PipelineSpec, engine: Engine[Any], max_side_bytes: int
    ) -> None:
        self.send = send
        self.spec = spec
        self.engine = engine
        self.max_side_bytes = max_side_bytes
        self.outputs: Mapping[str, Output] = spec.outputs
        self._held: list[Awaitable[Any]] = []
        self._side: list[tuple[str, SideRecord, Awaitable[Any]]] = []

    async def produce(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Any = None
    ) -> Awaitable[Any]:
        """Hand one record to the producer; returns its acknowledgement to await."""
        fut: Awaitable[Any] = await self.send(
            topic, key, value, partition=None, timestamp=None, headers=headers
        )
        return fut

    async def emit(self, role: str, key: bytes, value: bytes) -> None:
        """A record the family hands downstream; acknowledged before the batch's state."""
        self._held.append(await self.produce(self.outputs[role].topic, key, value))

    async def side(
        self, topic: str, key: bytes | None, value: bytes | None, meta: dict[str, str]
    ) -> None:
        """A copy of a source record to the DLQ or late topic, cut to fit if it must be."""
        record = side_record(key, value, meta, self.max_side_bytes)
        try:
            fut = await self.produce(topic, record.key, record.value, record.headers)
        except ProducerSendError as exc:
            if not isinstance(exc.__cause__, _TOO_LARGE):
                raise
            bare = metadata_only(record)
            fut = await self.produce(topic, bare.key, bare.value, bare.headers)
        self._side.append((topic, record, fut))

    def take(self) -> Held:
        """What was sent since the last call: a batch's share, settled on its own."""
        held = Held(self._held, self._side)
        self._held, self._side = [], []
        return held

    async def settle(self, held: Held) -> None:
        """Await a batch's held sends: before its state goes to the changelog."""
        for fut in held.emits:
            await fut
        for topic, record, fut in held.side:
            try:
                await fut
            except _TOO_LARGE:
                # The topic takes less than ISALES_DLQ_MAX_RECORD_BYTES (its max.message.bytes
                # was set lower): keep provenance and reason rather than stall on the record.
                log.warning(
                    "%s refused a %d-byte copy as too large; sent its metadata only",
                    topic,
                    len(record.value or b"") + len(record.key or b""),
                )
                bare = metadata_only(record)
                await (await self.produce(topic, bare.key, bare.value, bare.headers))

    # ---- KPI records ---------------------------------------------------------------------

    async def _send(self, records: list[tuple[str, bytes, bytes]]) -> list[Awaitable[Any]]:
        return [
            await self.produce(self.outputs[role].topic, key, value) for role, key, value in records
        ]

    async def final_windows(self, due: list[tuple[str, Value]], now_ms: int) -> None:
        """Final records of windows that closed, then mark them final. Marked only after the
        records are acknowledged, so a crash in between re-sends them (same key: it
        overwrites) instead of losing them."""
        pending = []
        for _key, value in due:
            pending += await self._send(self.spec.window_records(value, True, now_ms))
        for fut in pending:
            await fut
        for key, value in due:
            self.engine.mark_final(key, value)

    async def changed(self, owned: set[int], now_ms: int) -> None:
        """Updates of windows and totals that changed since the last call."""
        for _key, value in self.engine.take_dirty():
            if value["p"] in owned:
                await self._send(self.spec.window_records(value, False, now_ms))
        for _key, totals in self.engine.take_dirty_totals():
            if totals["p"] in owned:
                await self._send(self.spec.totals_records(totals, now_ms))
