"""A batch's hand-over: its state reaches the changelog producer only after its side records
are acknowledged, only up to its own mark, and in the order written, while the next batch may
already be applied (no Kafka: a recording producer stands in for aiokafka's)."""

from __future__ import annotations

import asyncio
import copy
import gc
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from stream_app.kafka import ingest as ingest_module
from stream_app.kafka.changelog_store import FaustTableStore
from stream_app.kafka.ingest import Handoff, Ingest
from stream_app.kafka.produce import Record
from stream_app.kafka.publish import Held
from stream_app.spine.dead_letter import SideRecord


@dataclass
class RecordBatch:
    records: list[tuple[bytes, bytes | None]] = field(default_factory=list)

    def append(self, *, key: bytes, value: bytes | None, timestamp: None) -> object:
        self.records.append((key, value))
        return object()


class RecordingProducer:
    """aiokafka's batch API as the store uses it; `gate` holds the first send until released."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, list[tuple[str, Any]]]] = []
        self.gate: asyncio.Event | None = None

    def create_batch(self) -> RecordBatch:
        return RecordBatch()

    async def send_batch(self, batch: RecordBatch, topic: str, *, partition: int) -> Any:
        gate, self.gate = self.gate, None
        if gate is not None:
            await gate.wait()
        decoded = [(orjson.loads(k), v and orjson.loads(v)) for k, v in batch.records]
        self.sent.append((partition, decoded))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class Stub:
    """The attribute paths FaustTableStore reaches through Faust's app and table."""

    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


def memory_store(producer: RecordingProducer) -> FaustTableStore:
    app = Stub(producer=Stub(_ensure_producer=lambda: producer))
    table = Stub(data={}, changelog_topic=Stub(get_topic_name=lambda: "changelog"))
    return FaustTableStore(app, table, persistent=False)


def sent_keys(producer: RecordingProducer) -> list[tuple[str, Any]]:
    return [record for _partition, records in producer.sent for record in records]


def test_a_drain_up_to_a_mark_hands_over_only_the_writes_before_it() -> None:
    async def go() -> None:
        producer = RecordingProducer()
        store = memory_store(producer)
        store.put("w/a", {"n": 1}, 0)
        store.put("p/0", {"o": 10}, 0)
        mark = store.mark()
        store.put("w/a", {"n": 2}, 0)  # the next batch, applied before the first is handed over
        store.put("p/0", {"o": 20}, 0)
        await store.drain(upto=mark)
        assert sent_keys(producer) == [("w/a", {"n": 1}), ("p/0", {"o": 10})]
        assert store.get("w/a") == {"n": 2}  # reads see the newest write all along
        assert store.get("p/0") == {"o": 20}
        await store.drain()
        assert sent_keys(producer)[2:] == [("w/a", {"n": 2}), ("p/0", {"o": 20})]
        await store.drain(upto=mark)  # an old mark hands over nothing more
        assert len(sent_keys(producer)) == 4

    asyncio.run(go())


def test_concurrent_drains_reach_the_producer_in_the_order_written() -> None:
    async def go() -> None:
        producer = RecordingProducer()
        gate = producer.gate = asyncio.Event()
        store = memory_store(producer)
        store.put("p/0", {"o": 1}, 0)
        store.put("p/1", {"o": 1}, 1)
        first = asyncio.ensure_future(store.drain(upto=store.mark()))
        await asyncio.sleep(0)  # the first drain now waits inside its send for partition 0
        store.put("p/1", {"o": 2}, 1)
        second = asyncio.ensure_future(store.drain())
        for _ in range(5):
            await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(first, second)
        partition_1 = [records for partition, records in producer.sent if partition == 1]
        assert partition_1 == [[("p/1", {"o": 1})], [("p/1", {"o": 2})]]

    asyncio.run(go())


class RefusingOnce(RecordingProducer):
    """The broker away: the first send to partition 1 is not taken (aiokafka's
    KafkaTimeoutError waiting for room in its queue)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = False

    async def send_batch(self, batch: RecordBatch, topic: str, *, partition: int) -> Any:
        if partition == 1 and not self.refused:
            self.refused = True
            raise TimeoutError("KafkaTimeoutError")
        return await super().send_batch(batch, topic, partition=partition)


def test_writes_the_producer_did_not_take_go_first_in_the_next_drain() -> None:
    """Dropped, they would be missing from the changelog while later writes landed: a
    restart would read a state that never was."""

    async def go() -> None:
        producer = RefusingOnce()
        store = memory_store(producer)
        store.put("p/0", {"o": 1}, 0)
        store.put("w/b", {"n": 1}, 1)
        store.put("p/1", {"o": 1}, 1)
        mark = store.mark()
        try:
            await store.drain(upto=mark)
        except TimeoutError:
            pass
        else:
            raise AssertionError("the refusal was not raised")
        store.put("p/1", {"o": 2}, 1)  # the next batch
        assert store.mark() == mark + 1
        await store.drain()
        partition_1 = [records for partition, records in producer.sent if partition == 1]
        assert partition_1 == [[("w/b", {"n": 1}), ("p/1", {"o": 1}), ("p/1", {"o": 2})]]
        assert [r for p, r in producer.sent if p == 0] == [[("p/0", {"o": 1})]]

    asyncio.run(go())


def test_a_batch_is_handed_over_only_after_its_side_records_are_acknowledged() -> None:
    async def go() -> None:
        producer = RecordingProducer()
        store = memory_store(producer)
        ingest = Ingest.__new__(Ingest)  # hand-over needs only the changelog and its queue
        ingest.changelog = store
        ingest.unsettled = []
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def side_records_acknowledged() -> None:
            await acked

        store.put("p/0", {"o": 5}, 0)
        handoff = Handoff(asyncio.ensure_future(side_records_acknowledged()), store.mark())
        ingest.unsettled.append(handoff)
        handing = asyncio.ensure_future(ingest.hand_over(handoff))
        for _ in range(5):
            await asyncio.sleep(0)
        assert producer.sent == [] and not handing.done()
        acked.set_result(None)
        await handing
        assert sent_keys(producer) == [("p/0", {"o": 5})]
        assert ingest.unsettled == []

    asyncio.run(go())


def test_a_side_record_not_acknowledged_is_sent_again_before_the_state_is_handed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch is applied in memory before its side records are acknowledged: read again, its
    records would be skipped as done, and their DLQ copies and downstream records lost while
    the counters stay exact (seen: 2 dead letters missing after the broker was SIGKILLed). So
    the batch's records are sent again until they are acknowledged, and only then is its
    state handed over, by the hand-over or by a drain of everything."""
    monkeypatch.setattr(ingest_module, "RESEND_PAUSE_S", 0.0)

    async def go() -> None:
        producer = RecordingProducer()
        store = memory_store(producer)
        ingest = Ingest.__new__(Ingest)
        ingest.changelog = store
        ingest.unsettled = []
        sent: list[tuple[str, Record, SideRecord | None]] = [
            ("isales.dlq", (b"rep-01", b"{bad", None), None)
        ]
        attempts: list[list[Any]] = []
        state_before_resend: list[Any] = []

        class Publisher:
            """The broker refuses the first send and one resend, then takes the records."""

            async def resend(self, held: Held) -> Held:
                attempts.append(list(held.sent))
                state_before_resend.extend(producer.sent)
                return Held([], [], held.sent)

            async def settle(self, held: Held) -> None:
                if held.sent and len(attempts) < 2:
                    raise RuntimeError("KafkaTimeoutError")

        ingest.publisher = Publisher()  # type: ignore[assignment]
        store.put("p/0", {"o": 5}, 0)
        first = Handoff(asyncio.ensure_future(ingest.settled(Held([], [], sent))), store.mark())
        store.put("p/0", {"o": 9}, 0)  # the next batch, its records acknowledged at once
        second = Handoff(asyncio.ensure_future(ingest.settled(Held())), store.mark())
        ingest.unsettled += [first, second]
        await ingest.settle_all()  # the timer's, before it drains everything
        assert attempts == [sent, sent]  # sent again after each refusal
        await ingest.hand_over(first)
        assert state_before_resend == []  # no state went ahead of them
        assert sent_keys(producer) == [("p/0", {"o": 5})]
        assert ingest.unsettled == []

    asyncio.run(go())


CALL_ENTITY: dict[str, Any] = {
    "o": 2144,
    "p": 0,
    "s": {
        "tag": [1772438433509, "call-100-000000-4"],
        "team": "team-a",
        "dir": "outbound",
        "start": 1772438400000,
        "ab": ["machine", [1, 1772438433509, "call-100-000000-4"], 1772438415403],
        "at": 1772438415403,
        "ended": 1772438433509,
    },
    "seen": [f"call-100-000000-{n}" for n in range(1, 5)],
    "last": 1772438433509,
    "et": 1772438400000,
    "effs": [[0, []], [688, []], [1568, []], [2144, []]],
}


class DiscardingProducer(RecordingProducer):
    async def send_batch(self, batch: RecordBatch, topic: str, *, partition: int) -> Any:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def call_entity(n: int) -> dict[str, Any]:
    value = copy.deepcopy(CALL_ENTITY)
    value["s"]["tag"][1] = f"call-{n}"
    return value


def test_handed_over_entities_read_back_whole_and_stay_small_in_memory() -> None:
    """Entities are most of a worker's memory (one per call): once with the changelog they
    are kept as its bytes, and every read gives the value as written, a copy of its own."""
    entities = 5_000

    async def fill(store: FaustTableStore) -> None:
        for n in range(entities):
            store.put(f"e/rep-01/call-{n}", call_entity(n), n % 4)
        await store.drain()

    store = memory_store(DiscardingProducer())
    gc.collect()
    tracemalloc.start()
    try:
        asyncio.run(fill(store))
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # As Python dicts and lists a call entity takes ~2.5 KB; as its bytes ~0.5 KB.
    assert kept / entities < 1_000, f"{kept / entities:.0f} bytes an entity"
    for n in (0, 1234, entities - 1):
        assert store.get(f"e/rep-01/call-{n}") == call_entity(n)
    read = store.get("e/rep-01/call-7")
    assert read is not None
    read["o"] = -1
    assert store.get("e/rep-01/call-7") == call_entity(7)
    assert dict(store.items())["e/rep-01/call-9"] == call_entity(9)
