"""Records in: each source record, in offset order, to one plan of the engine, its side
records sent, its state committed; a batch's state handed to the changelog, after the batch's
side records are acknowledged, before the batch is acknowledged.

`decide` is the synchronous, Kafka-free core (decode, then the engine's plan, and nothing can
escape it, so a poison record is a unit test, not a crash loop); `Ingest` is the async path
around it: offset sequencing against the state, seeks back, side records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.common import from_ms
from stream_app.kafka.publish import Held, Publisher
from stream_app.kafka.source import Source
from stream_app.settings import Settings
from stream_app.spine.clock import Clock
from stream_app.spine.decode import Accepted, Rejected, decode, internal_error
from stream_app.spine.engine import Engine, Plan
from stream_app.spine.sequence import OffsetSequencer

log = logging.getLogger(__name__)


@dataclass(slots=True)  # one per record: not frozen, whose __init__ is 3x slower
class Decided:
    plan: Plan
    rejected: Rejected | None = None
    """Set when the record goes to the dead-letter topic (plan.kind is "rejected")."""


def decide(
    engine: Engine[Any],
    settings: Settings,
    *,
    key: bytes | None,
    value: bytes | None,
    partition: int,
    offset: int,
    now_ms: int,
) -> Decided:
    """What one record does to state. A record our own code cannot handle is dead-lettered as
    `internal_error` instead of raising: raising would restart the agent, which seeks back to
    the same record, forever. `plan()` writes nothing, so giving up on it is clean."""
    s = settings
    result: Accepted[Any] | Rejected = decode(
        value,
        key,
        engine.family,
        # A family may take larger records than events (a vendor's batch of 1,000 events).
        max_bytes=getattr(engine.family, "max_payload_bytes", None) or s.max_payload_bytes,
        now_ms=now_ms,
        max_future_ms=int(s.max_future_skew_seconds * 1000),
        time_range_ms=s.time_range_ms,
    )
    if isinstance(result, Accepted):
        try:
            if result.parts is not None:
                return Decided(engine.plan_parts(result.parts, partition, offset))
            return Decided(engine.plan(result.event, partition, offset))
        except Exception as exc:
            result = internal_error(exc)
            log.error(
                "internal error on partition %d offset %d, record dead-lettered: %s",
                partition,
                offset,
                result.reason,
            )
    return Decided(engine.plan_reject(partition, offset, result.reason_class), result)


YIELD_EVERY = 256
"""Records applied between turns of the event loop within a batch (~25 ms of work)."""

IDLE_CHECK_MS = 2_000
"""A partition quiet this long has its consumer position checked against the state: a
commit past the state with nothing new behind it delivers no record to notice the gap by."""


class Drains(Protocol):
    def mark(self) -> int: ...

    def drain(self, upto: int | None = None) -> Awaitable[None]: ...


@dataclass(eq=False)
class Handoff:
    """A batch applied in memory whose state is not yet with the producer: its held sends
    (settling from the moment the batch ends) and where its writes end in the changelog's
    queue."""

    settled: asyncio.Task[None]
    mark: int


RESEND_PAUSE_S = 1.0
"""Before sending a batch's side records again (the broker is away); doubled each time, up to
RESEND_PAUSE_MAX_S (a refusal that lasts, an ACL, stalls the stage with a line a minute at
most, where it used to lose the records)."""
RESEND_PAUSE_MAX_S = 60.0


class Ingest:
    def __init__(
        self,
        engine: Engine[Any],
        settings: Settings,
        clock: Clock,
        source: Source,
        publisher: Publisher,
        changelog: Drains,
        owned: Callable[[], set[int]],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.source = source
        self.publisher = publisher
        self.changelog = changelog
        self.owned = owned
        self.sequencer = OffsetSequencer()
        self.unsettled: list[Handoff] = []
        """Batches applied whose state is not with the producer yet, oldest first."""

    async def batch(self, messages: list[Any]) -> Handoff:
        """Apply a batch to the in-memory state and send its side records; `hand_over` then
        gives its state to the producer. The next batch may be applied meanwhile: waiting for
        a batch's side records to be acknowledged (a produce round trip, queued behind the
        previous changelog request) was a quarter of a backlog's wall time."""
        # Per record, only what has to be awaited is: sends of side records and records a
        # family emits, and the first offset of a partition without state. The rest (the
        # sequence check, decode, plan, commit) is one synchronous step per record, so
        # between awaits the state is always whole.
        engine, settings, clock = self.engine, self.settings, self.clock
        now_ms = clock.now_ms()
        for n, msg in enumerate(messages, 1):
            if n % YIELD_EVERY == 0:
                # The loop's other work between records: a scrape waited for a whole batch
                # (up to ~150 ms at 2,000 records) before it was even read.
                await asyncio.sleep(0)
            partition = msg.partition
            expected = engine.next_offset(partition)
            if expected is None:
                expected = await self.source.beginning(partition, self.owned())
            if (
                msg.offset != expected or partition in self.sequencer.waiting_for
            ) and not await self._in_sequence(msg, expected):
                continue
            decided = decide(
                engine,
                settings,
                key=msg.key,
                value=msg.value,
                partition=partition,
                offset=msg.offset,
                now_ms=now_ms,
            )
            plan = decided.plan
            if plan.kind != "replayed" and (
                decided.rejected is not None or plan.emits or plan.late_specs
            ):
                await self._side_effects(msg, decided)
            engine.commit(plan)
        for role, key, value in engine.end_batch():
            self.publisher.emit(role, key, value)
        engine.flush()
        mark = self.changelog.mark()
        held = await self.publisher.take()
        handoff = Handoff(asyncio.ensure_future(self.settled(held)), mark)
        self.unsettled.append(handoff)
        return handoff

    async def hand_over(self, handoff: Handoff) -> None:
        """A batch's state to the producer once its side records are acknowledged. Batches
        are handed over in the order they were applied (a partition's changelog is a prefix
        of its writes); the caller acknowledges the batch after, so no offset commit can
        overtake its state."""
        try:
            await asyncio.shield(handoff.settled)
        finally:
            self._forget(handoff)
        await self.changelog.drain(upto=handoff.mark)

    async def settled(self, held: Held) -> None:
        """A batch's side records acknowledged: those that were not (the broker went away, a
        send timed out) are sent again, with the rest of the batch's, until all are. The
        batch is applied in memory, so read again its records would be skipped as done and
        their records lost; and no state after them may reach the changelog first (the
        hand-over and a drain of everything both wait for this)."""
        pause = RESEND_PAUSE_S
        while True:
            try:
                await self.publisher.settle(held)
                return
            except Exception as exc:
                failure = exc
            while True:  # sent again once the producer takes them
                log.warning(
                    "side records of a batch not acknowledged (%s): sending them again in %.0f s",
                    type(failure).__name__,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, RESEND_PAUSE_MAX_S)
                try:
                    held = await self.publisher.resend(held)
                    break
                except Exception as exc:
                    failure = exc

    async def settle_all(self) -> None:
        """Every applied batch's side records acknowledged (or failed): before a drain of
        everything, which would otherwise hand over state whose side records may be lost."""
        pending = list(self.unsettled)
        await asyncio.gather(*(asyncio.shield(h.settled) for h in pending), return_exceptions=True)
        for handoff in pending:
            self._forget(handoff)

    def _forget(self, handoff: Handoff) -> None:
        if handoff in self.unsettled:
            self.unsettled.remove(handoff)

    async def next_offset(self, partition: int) -> int:
        nxt = self.engine.next_offset(partition)
        if nxt is not None:
            return nxt
        return await self.source.beginning(partition, self.owned())

    async def catch_up_idle(self, owned: set[int]) -> None:
        for part in sorted(owned):
            if self.engine.quiet_ms(part) < IDLE_CHECK_MS:
                continue
            expected = await self.next_offset(part)
            position = await self.source.position(part)
            if position is not None and position > expected:
                self.sequencer.rewinds += 1
                self.engine.touch(part)
                await self.source.seek(part, expected, position)

    async def _in_sequence(self, msg: Any, expected: int) -> bool:
        action = self.sequencer.check(msg.partition, msg.offset, expected)
        if action == "rewind":
            await self.source.seek(msg.partition, expected, msg.offset)
            return False
        if action == "accept_hole":
            log.warning(
                "offset hole on %s[%d] at %d..%d accepted after repeated rewinds",
                msg.topic,
                msg.partition,
                expected,
                msg.offset - 1,
            )
        return action != "skip"

    async def _side_effects(self, msg: Any, decided: Decided) -> None:
        plan = decided.plan
        if decided.rejected is not None:
            meta = self._source_meta(msg)
            meta["dlq.reason.class"] = decided.rejected.reason_class
            meta["dlq.reason"] = decided.rejected.reason
            await self.publisher.side(self.settings.dlq_topic, msg.key, msg.value, meta)
            return
        # Downstream records are acknowledged before the state that remembers them reaches
        # the changelog (batch() settles them first): a crash in between re-sends them with
        # the same event ids, never loses them.
        for role, key, value in plan.emits:
            self.publisher.emit(role, key, value)
        if plan.late_specs:
            meta = self._source_meta(msg)
            meta["late.windows"] = ",".join(plan.late_specs)
            meta["late.reason"] = "expired" if plan.kind == "expired" else "window_closed"
            await self.publisher.side(self.settings.late_topic, msg.key, msg.value, meta)

    def _source_meta(self, msg: Any) -> dict[str, str]:
        return {
            "source.topic": str(msg.topic),
            "source.partition": str(msg.partition),
            "source.offset": str(msg.offset),
            "routed_at": from_ms(self.clock.now_ms()).isoformat(),
        }
