"""Everything the worker sends besides the changelog: copies of source records to the DLQ and
late topics, records a family emits downstream, and KPI records of windows and totals.

Sends go straight to Faust's producer (Faust's `topic.send` costs ~1.4 ms a record, which held
the state lock, and scrapes, for seconds when a backlog finalised). What must be acknowledged
before a batch's state is written is held; `take()` collects a batch's share and `settle()`
awaits it: a crash in between re-sends (same keys, same event ids), never loses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from faust.exceptions import ProducerSendError

from stream_app.kafka.produce import Record, send_keyed
from stream_app.spine.dead_letter import SideRecord, metadata_only, side_record
from stream_app.spine.engine import Engine
from stream_app.spine.parts import pack
from stream_app.spine.pipeline import Output, PipelineSpec
from stream_app.spine.store import Value

log = logging.getLogger(__name__)

_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)


Send = Callable[..., Awaitable[Awaitable[Any]]]
"""Faust's `producer.send(topic, key, value, partition=, timestamp=, headers=)`."""

Producer = Callable[[], Any]
"""aiokafka's producer under Faust's, for sends a record batch at a time."""

BATCHED_SIDE_BYTES = 16_384
"""Side copies up to this size are sent with the batch's other records; a larger one (a DLQ
copy may be ~1 MB) through `producer.send`, which checks it against the request limit, and a
refusal is caught per record."""

SEND_CHUNK = 1024
"""KPI records built before they are handed to the producer: after a backlog nearly every
window closes or changes at once, and building them all first held them twice (as records
and in the producer's batches; +45 MB peak in the CRM stage)."""


@dataclass
class Held:
    """One batch's sends that must be acknowledged before its state reaches the changelog."""

    emits: list[Awaitable[Any]] = field(default_factory=list)
    side: list[tuple[str, SideRecord, Awaitable[Any]]] = field(default_factory=list)
    sent: list[tuple[str, Record, SideRecord | None]] = field(default_factory=list)
    """What was sent with the batch's other records, kept to send again (`resend`)."""
    unsent: Exception | None = None
    """Why the producer did not take them at all (`settle` raises it, so they are resent)."""


class Publisher:
    def __init__(
        self,
        send: Send,
        producer: Producer,
        spec: PipelineSpec,
        engine: Engine[Any],
        max_side_bytes: int,
    ) -> None:
        self.send = send
        self.producer = producer
        self.spec = spec
        self.engine = engine
        self.max_side_bytes = max_side_bytes
        self.outputs: Mapping[str, Output] = spec.outputs
        self._queued: list[tuple[str, Record, SideRecord | None]] = []
        """Emits (tagged None) and small side copies of the batch being applied, sent at
        `take()`."""
        self._side: list[tuple[str, SideRecord, Awaitable[Any]]] = []
        self._bundles: dict[tuple[str, bytes], list[bytes]] = {}
        """A bundled output's values of the batch being applied, by (topic, key)."""

    async def produce(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Any = None
    ) -> Awaitable[Any]:
        """Hand one record to the producer; returns its acknowledgement to await."""
        fut: Awaitable[Any] = await self.send(
            topic, key, value, partition=None, timestamp=None, headers=headers
        )
        return fut

    def emit(self, role: str, key: bytes, value: bytes) -> None:
        """A record the family hands downstream; acknowledged before the batch's state. To a
        bundled output, the batch's records of one key go as one (`take`)."""
        output = self.outputs[role]
        if output.bundled:
            self._bundles.setdefault((output.topic, key), []).append(value)
            return
        self._queued.append((output.topic, (key, value, None), None))

    async def side(
        self, topic: str, key: bytes | None, value: bytes | None, meta: dict[str, str]
    ) -> None:
        """A copy of a source record to the DLQ or late topic, cut to fit if it must be."""
        record = side_record(key, value, meta, self.max_side_bytes)
        if _small(record):
            self._queued.append((topic, (record.key, record.value, record.headers), record))
            return
        try:
            fut = await self._alone(topic, record)
        except Exception as exc:
            # The record is applied in memory once this returns: a refusal now (the broker
            # away) is settled as a failed send, and the batch's records are sent again.
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            fut = failed
        self._side.append((topic, record, fut))

    async def _alone(self, topic: str, record: SideRecord) -> Awaitable[Any]:
        """A large side copy sent on its own, checked against the request limit: refused as
        too large, its metadata only."""
        try:
            return await self.produce(topic, record.key, record.value, record.headers)
        except ProducerSendError as exc:
            if not isinstance(exc.__cause__, _TOO_LARGE):
                raise
            bare = metadata_only(record)
            return await self.produce(topic, bare.key, bare.value, bare.headers)

    async def take(self) -> Held:
        """Send what was queued since the last call; returns the batch's share of
        acknowledgements, settled on its own."""
        bundles, self._bundles = self._bundles, {}
        for (topic, key), values in bundles.items():
            self._queued += [(topic, (key, value, None), None) for value in pack(values)]
        queued, self._queued = self._queued, []
        held = Held([], self._side, queued)
        self._side = []
        if not queued:
            return held
        try:
            sent = await send_keyed(self.producer(), queued)
        except Exception as exc:
            # The batch is applied in memory: its records must be resent, not dropped.
            held.unsent = exc
            return held
        for fut, (topic, _, copy) in sent:
            if copy is None:
                held.emits.append(fut)
            else:
                held.side.append((topic, copy, fut))
        return held

    async def resend(self, held: Held) -> Held:
        """Every record of a batch whose sends were not all acknowledged, sent again: its
        state is applied in memory, so its records are never read again to re-send them.
        Downstream absorbs the copies (the same keys and event ids; a dead letter is found
        by its source partition and offset)."""
        alone = [(topic, record) for topic, record, _ in held.side if not _small(record)]
        out = Held([], [], held.sent)
        for topic, record in alone:
            out.side.append((topic, record, await self._alone(topic, record)))
        for fut, (topic, _, copy) in await send_keyed(self.producer(), held.sent):
            if copy is None:
                out.emits.append(fut)
            else:
                out.side.append((topic, copy, fut))
        return out

    async def settle(self, held: Held) -> None:
        """Await a batch's held sends: before its state goes to the changelog."""
        if held.unsent is not None:
            raise held.unsent
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
        outputs = self.outputs
        queued = [(outputs[role].topic, (key, value, None), None) for role, key, value in records]
        return [fut for fut, _ in await send_keyed(self.producer(), queued)]

    async def final_windows(self, due: list[tuple[str, Value]], now_ms: int) -> None:
        """Final records of windows that closed, then mark them final. Marked only after the
        records are acknowledged, so a crash in between re-sends them (same key: it
        overwrites) instead of losing them."""
        pending, records = [], []
        for _key, value in due:
            records += self.spec.window_records(value, True, now_ms)
            if len(records) >= SEND_CHUNK:
                pending += await self._send(records)
                records = []
        pending += await self._send(records)
        for fut in pending:
            await fut
        for key, value in due:
            self.engine.mark_final(key, value)

    async def changed(self, owned: set[int], now_ms: int) -> None:
        """Updates of windows and totals that changed since the last call."""
        spec, records = self.spec, []
        dirty = [(v, False) for _k, v in self.engine.take_dirty()]
        dirty += [(t, True) for _k, t in self.engine.take_dirty_totals()]
        for value, is_totals in dirty:
            if value["p"] not in owned:
                continue
            if is_totals:
                records += spec.totals_records(value, now_ms)
            else:
                records += spec.window_records(value, False, now_ms)
            if len(records) >= SEND_CHUNK:
                await self._send(records)
                records = []
        await self._send(records)


def _small(record: SideRecord) -> bool:
    """Sent with the batch's other records (else on its own, checked against the limit)."""
    return len(record.key or b"") + len(record.value or b"") <= BATCHED_SIDE_BYTES
