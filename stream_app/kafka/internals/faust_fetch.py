"""Records in, a fetch at a time: the source topic's records reach the service in the batches
Kafka returned them in, without a trip per record through Faust's Stream and Event machinery.

Faust stays the application: its consumer joins the group, pauses partitions while tables
recover, seeks on assignment and commits offsets; its conductor still delivers every other
topic (the tables' changelogs during recovery) one record at a time, as before. Only the
consumer's drain loop differs. Faust's loop awaits one callback per record inside
`wait_first` (four tasks and an `asyncio.wait` each) and the stream then builds an Event per
record: together ~200 µs a record, a ceiling of ~4k records/s whatever the worker does. Here
a fetch of the source topic goes, whole, onto a short queue; the service's task takes it,
handles it, and only then acknowledges its offsets, which Faust's commit (a producer flush,
then the commit) turns into committed offsets, as the stream's acknowledgements did.

A rebalance or shutdown waits for the batch being handled (`wait_empty`, as it waited for a
stream's unacknowledged events) and queued batches are dropped, not handled: the records are
fetched again from the committed offsets, and the state's own offsets say what was applied.

Written against faust-streaming 0.15's consumer internals, which pyproject pins exactly: every
one is listed, with what it is and why, in `stream_app.kafka.internals.MEMBERS`, and
tests/spine/test_internals.py checks each on the installed version.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka

QUEUED_BATCHES = 2
"""Fetched batches waiting for the service: one being handled plus one or two prefetched
keeps the fetcher ahead without holding much memory (a batch is at most max_poll_records)."""


@dataclass(frozen=True, slots=True)
class Batch:
    generation: int
    parts: Sequence[tuple[Any, Sequence[Any]]]
    """(TP, aiokafka ConsumerRecords in offset order) per partition of the fetch."""

    def records(self) -> list[Any]:
        return [record for _tp, records in self.parts for record in records]


class BatchConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with a drain loop that hands the batch topics' fetches on
    whole (`take`/`done`) and every other topic's records to the conductor as before."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_topics: frozenset[str] = frozenset(getattr(self.app, "batch_topics", ()))
        self._batches: asyncio.Queue[Batch] | None = None
        self._inflight = 0
        self._idle: asyncio.Event | None = None

    @property
    def batches(self) -> asyncio.Queue[Batch]:
        # Created on first use, inside the running loop.
        if self._batches is None:
            self._batches = asyncio.Queue(maxsize=QUEUED_BATCHES)
        return self._batches

    @property
    def idle(self) -> asyncio.Event:
        if self._idle is None:
            self._idle = asyncio.Event()
            self._idle.set()
        return self._idle

    # ---- the service's side --------------------------------------------------------------

    async def take(self) -> Batch:
        """The next batch to handle, filtered to partitions still assigned. Its handling is
        in flight until `done`, and a rebalance waits for it."""
        while True:
            batch = await self.batches.get()
            if (
                batch.generation != self.app.consumer_generation_id
                or not self.flow_active
                or not self.app.flow_control.is_active()
            ):
                continue  # fetched before a rebalance began: fetched again after it
            assigned = self.assignment()
            parts = [(tp, records) for tp, records in batch.parts if tp in assigned]
            if parts:
                # No await between the checks above and this: a rebalance sees it in flight.
                self._inflight += 1
                self.idle.clear()
                # What a stream's sensor records per event: without it Faust's livelock
                # check reports a lagging partition as "not processing" during a backfill.
                inbound = self.app.monitor.stream_inbound_time
                now = time.monotonic()
                for tp, _records in parts:
                    inbound[tp] = now
                return Batch(batch.generation, parts)

    async def done(self, batch: Batch, handled: bool) -> None:
        """End a batch's handling; if it was handled (its state is with the producer),
        acknowledge its offsets for the periodic commit."""
        try:
            if handled and batch.generation == self.app.consumer_generation_id:
                self._acknowledge(batch)
        finally:
            self._inflight -= 1
            if not self._inflight:
                self.idle.set()
        every = self._commit_every
        if handled and every is not None and self._n_acked >= every:
            self._n_acked = 0
            await self.commit()

    def _acknowledge(self, batch: Batch) -> None:
        assigned = self.assignment()
        for tp, records in batch.parts:
            if tp not in assigned:
                continue  # revoked meanwhile: its new owner resumes from the commit
            committed = self._committed_offset[tp]
            offsets = [r.offset for r in records if committed is None or r.offset >= committed]
            self._acked[tp].extend(offsets)
            self._acked_index[tp].update(offsets)
            self._n_acked += len(offsets)

    async def wait_empty(self) -> None:
        """As Faust's, and first the batch being handled: a rebalance must not hand its
        partitions on (nor the commit run) while their state is still being written."""
        while self._inflight and not self.should_stop:
            try:
                await asyncio.wait_for(self.idle.wait(), timeout=1.0)
            except TimeoutError:
                continue
        await super().wait_empty()

    # ---- the fetcher's side --------------------------------------------------------------

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - Faust's loop
        # The structure of Faust's own loop (stop flags, read offsets, gaps, commit_every),
        # with the batch topics' records collected instead of awaited one by one.
        callback = self.callback
        consumer_should_stop = cast(Any, self)._stopped.is_set  # mode Service._stopped
        fetcher_should_stop = fetcher._stopped.is_set
        acks_enabled_for = self.app.topics.acks_enabled_for
        batch_topics = self.batch_topics
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records, active = await self._wait_next_records(1.0)
                await self.sleep(0)
                if records is None or self.should_stop:
                    continue
                if not self.flow_active:
                    await self.perform_seek()  # as Faust's getmany does when flow stopped
                    continue
                generation = self.app.consumer_generation_id
                parts: list[tuple[Any, list[Any]]] = []
                for tp, tp_records in records.items():
                    if self.app.consumer_generation_id != generation or not self.flow_active:
                        break
                    if not (active is None or tp in active or tp in self._buffered_partitions):
                        continue
                    self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                    if tp.topic in batch_topics:
                        kept = await self._admit(tp, tp_records, acks_enabled_for(tp.topic))
                        if kept:
                            parts.append((tp, kept))
                    else:
                        await self._deliver_each(tp, tp_records, callback, acks_enabled_for)
                if parts:
                    await self.wait_first(
                        self.batches.put(Batch(generation, parts)), self.suspend_flow.wait()
                    )
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _admit(self, tp: Any, records: Sequence[Any], acks: bool) -> list[Any]:
        """Records at or past the read offset (older ones predate a seek), gaps noted so the
        commit can pass them, the read offset moved on."""
        r_offset = self._read_offset[tp]
        kept = []
        for record in records:
            offset = record.offset
            if r_offset is None or offset >= r_offset:
                if acks and r_offset and offset - r_offset > 1:
                    await self._add_gap(tp, r_offset + 1, offset)
                kept.append(record)
                r_offset = offset
        self._read_offset[tp] = r_offset
        return kept

    async def _deliver_each(
        self, tp: Any, records: Sequence[Any], callback: Any, acks_enabled_for: Any
    ) -> None:
        """Faust's path for every other topic: one message at a time to the conductor."""
        for record in records:
            offset = record.offset
            r_offset = self._read_offset[tp]
            if r_offset is None or offset >= r_offset:
                gap = offset - (r_offset or 0)
                if gap > 1 and r_offset and acks_enabled_for(record.topic):
                    await self._add_gap(tp, r_offset + 1, offset)
                message = self._to_message(tp, record)
                await self.wait_first(callback(message), self.suspend_flow.wait())
                self._read_offset[tp] = offset


class BatchTransport(faust_aiokafka.Transport):
    Consumer = BatchConsumer


class BatchApp(faust.App):
    """A Faust app whose consumer hands `batch_topics` over a fetch at a time."""

    batch_topics: frozenset[str] = frozenset()

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)
