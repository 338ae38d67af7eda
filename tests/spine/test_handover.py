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

from stream_app.kafka.changelog_store import FaustTableStore
from stream_app.kafka.ingest import Handoff, Ingest


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


def test_a_failed_side_record_keeps_the_batch_from_being_handed_over() -> None:
    async def go() -> None:
        producer = RecordingProducer()
        store = memory_store(producer)
        ingest = Ingest.__new__(Ingest)
        ingest.changelog = store
        ingest.unsettled = []

        async def refused() -> None:
            raise RuntimeError("broker refused the DLQ copy")

        store.put("p/0", {"o": 5}, 0)
        handoff = Handoff(asyncio.ensure_future(refused()), store.mark())
        ingest.unsettled.append(handoff)
        try:
            await ingest.hand_over(handoff)
        except RuntimeError:
            pass
        else:
            raise AssertionError("hand-over went on without its side records")
        assert producer.sent == []  # not acknowledged either: the caller reads it again

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
