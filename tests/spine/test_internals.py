"""The private members of faust, mode and aiokafka the service relies on, checked on the installed
versions (stream_app/kafka/internals: the one door). An upgrade that renames, retypes or stops
updating one of them fails here, loudly, instead of making the worker miscount. No broker: the
objects are built against an address nobody listens on and never started.

What each check relies on is in the library sources named in MEMBERS' comments; the probes were
written against faust-streaming 0.15.3, mode-streaming 0.7.1 and aiokafka 0.14.0."""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import aiokafka
import faust
import mode
import pytest
import rocksdict
from aiokafka.client import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata
from aiokafka.producer.message_accumulator import MessageAccumulator
from aiokafka.protocol.metadata import MetadataResponse_v0
from aiokafka.structs import ConsumerRecord, TopicPartition
from faust.stores.rocksdb import Store as RocksStore
from faust.transport import consumer as faust_consumer
from faust.types import TP
from faust.types.tuples import Message

from stream_app.kafka import internals
from stream_app.kafka.internals import MEMBERS, Member
from stream_app.kafka.internals.faust_fetch import Batch, BatchApp, BatchConsumer
from stream_app.kafka.internals.faust_fetch import BatchTransport as _BatchTransport
from tests.helpers.support import ROOT

DOOR = ROOT / "stream_app" / "kafka" / "internals"


def owner_of(member: Member) -> Any:
    module, _, name = member.owner.rpartition(".")
    return getattr(importlib.import_module(module), name)


def new_app(store: str = "memory://", app: type[faust.App] = faust.App) -> Any:
    """An app never started; Any: the checks read members Faust's types do not declare."""
    return app(
        f"internals-{id(store)}",
        broker="kafka://127.0.0.1:1",
        datadir=tempfile.mkdtemp(prefix="isales-internals-"),
        store=store,
        autodiscover=False,
        web_enabled=False,
    )


async def instance_of(member: Member) -> Any:
    """An object of the member's owner as the service meets it (never started)."""
    cls = owner_of(member)
    if issubclass(cls, faust_consumer.Consumer):
        return new_app().consumer
    if cls is aiokafka.AIOKafkaProducer:
        return aiokafka.AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
    if cls is aiokafka.AIOKafkaConsumer:
        return aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
    if cls is mode.Service:
        return mode.Service()
    raise AssertionError(f"no way to build a {member.owner} for {member.name}")


def problems(member: Member) -> list[str]:
    """What is wrong with one member on the installed versions; [] when it is as relied on."""
    try:
        owner = owner_of(member)
    except (ImportError, AttributeError) as exc:
        return [f"{member.owner}: {exc}"]
    if member.kind == "attribute":
        obj = asyncio.run(instance_of(member))
        if not hasattr(obj, member.name):
            return [f"{member.owner}.{member.name}: no such attribute on a new instance"]
        return []
    found = inspect.getattr_static(owner, member.name, None)
    if found is None:
        return [f"{member.owner}.{member.name}: gone"]
    function = getattr(owner, member.name)
    wrong = []
    if (member.kind == "coroutine") != inspect.iscoroutinefunction(function):
        wrong.append(f"{member.owner}.{member.name}: no longer a {member.kind}")
    if member.signature is not None and str(inspect.signature(function)) != member.signature:
        wrong.append(
            f"{member.owner}.{member.name}: signature {inspect.signature(function)}, "
            f"relied on {member.signature}"
        )
    return wrong


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: f"{m.owner.split('.')[-1]}.{m.name}")
def test_each_member_is_there_as_relied_on(member: Member) -> None:
    assert problems(member) == []


def test_the_check_fails_on_a_renamed_member(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an upgrade that renames a member does to the check: it fails, naming it."""
    gap = next(m for m in MEMBERS if m.name == "_add_gap")
    monkeypatch.delattr(faust_consumer.Consumer, "_add_gap")
    monkeypatch.setattr(faust_consumer.Consumer, "_add_offset_gap", lambda *a: None, raising=False)
    assert problems(gap) == ["faust.transport.consumer.Consumer._add_gap: gone"]


def test_the_check_fails_on_a_changed_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    wait = next(m for m in MEMBERS if m.name == "_wait_on_metadata")

    async def changed(self: Any, topic: str, deadline: float) -> None: ...

    monkeypatch.setattr(AIOKafkaClient, "_wait_on_metadata", changed)
    assert len(problems(wait)) == 1 and "signature" in problems(wait)[0]


def test_the_check_fails_on_a_vanished_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    acked = next(m for m in MEMBERS if m.name == "_n_acked")
    monkeypatch.delattr(faust_consumer.Consumer, "_n_acked")  # a class-level default today
    assert problems(acked) == [
        "faust.transport.consumer.Consumer._n_acked: no such attribute on a new instance"
    ]


# ---- the door is the only place ------------------------------------------------------------

OURS = {
    # BatchConsumer's own state and helpers (checked not to collide with Faust's names below).
    "_batches",
    "_inflight",
    "_idle",
    "_acknowledge",
    "_admit",
    "_deliver_each",
}


def private_names_used(path: Path) -> set[str]:
    """Names of `x._name` reads in a file (`__dunder__` excluded)."""
    return {
        node.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
    }


def test_every_private_reach_in_the_door_is_catalogued() -> None:
    catalogued = {m.name for m in MEMBERS}
    used: set[str] = set()
    overridden: set[str] = set()
    for path in DOOR.glob("*.py"):
        names = private_names_used(path)
        assert names - catalogued - OURS == set(), f"{path.name}: add to MEMBERS"
        used |= names
        overridden |= {
            node.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
    # Every catalogued member is read or overridden in the door: the list is not stale.
    assert catalogued - used - overridden == set()


def test_our_names_do_not_shadow_fausts() -> None:
    for name in OURS:
        assert not hasattr(faust_consumer.Consumer, name), name
        assert not hasattr(new_app().consumer, name) or name in vars(BatchConsumer), name


def test_no_private_reach_outside_the_door() -> None:
    """ruff's SLF001 says so too; this also catches a `getattr(x, "_name")` it cannot see."""
    for path in (ROOT / "stream_app").rglob("*.py"):
        if DOOR in path.parents:
            continue
        text = path.read_text()
        for member in MEMBERS:
            assert f'"{member.name}"' not in text and f"'{member.name}'" not in text, (path, member)


# ---- behaviour: the library still updates what the fork relies on --------------------------


def test_ack_bookkeeping_is_what_our_acknowledge_writes() -> None:
    async def go() -> None:
        app = new_app()
        consumer = app.consumer
        tp = TP("src", 0)
        app.topics._acking_topics.add("src")
        for offset in (0, 1, 2):
            message = Message("src", 0, offset, 0.0, 0, [], b"k", b"v", None, tp=tp)
            assert consumer.ack(message) is True
        # Faust's own ack() writes the three members _acknowledge writes by hand ...
        assert consumer._acked[tp] == [0, 1, 2]
        assert consumer._acked_index[tp] == {0, 1, 2}
        assert consumer._n_acked == 3
        # ... and the commit's arithmetic reads them: the next offset to commit.
        assert consumer._filter_committable_offsets([tp]) == {tp: 3}

    asyncio.run(go())


def test_batch_consumer_acknowledges_as_faust_would() -> None:
    async def go() -> None:
        app = new_app(app=BatchApp)
        consumer = app.consumer
        assert isinstance(app.transport, _BatchTransport)
        assert isinstance(consumer, BatchConsumer)
        tp = TP("src", 1)
        consumer._committed_offset[tp] = 5
        consumer.assignment = lambda: {tp}  # type: ignore[method-assign]
        records = [_record("src", 1, offset) for offset in (4, 5, 6, 7)]
        consumer._acknowledge(Batch(app.consumer_generation_id, [(tp, records)]))
        assert consumer._acked[tp] == [5, 6, 7] and consumer._n_acked == 3
        assert consumer._filter_committable_offsets([tp]) == {tp: 8}

    asyncio.run(go())


def test_a_gap_lets_the_commit_pass_offsets_never_delivered() -> None:
    async def go() -> None:
        consumer = new_app().consumer
        tp = TP("src", 2)
        await consumer._add_gap(tp, 11, 14)
        consumer._acked[tp].extend([10, 15])
        consumer._acked_index[tp].update([10, 15])
        assert consumer._new_offset(tp) == 16

    asyncio.run(go())


def test_seeks_write_the_read_and_committed_offsets() -> None:
    async def go() -> None:
        consumer = new_app().consumer
        tp = TP("src", 0)
        assert consumer._read_offset[TP("src", 9)] is None

        async def committed() -> dict[TP, int]:
            return {tp: 42}

        consumer.seek_to_committed = committed
        await consumer.perform_seek()
        assert consumer._read_offset[tp] == 42 and consumer._committed_offset[tp] == 42

    asyncio.run(go())


def test_the_fetch_loop_hooks_are_where_the_fork_expects_them() -> None:
    fetcher = inspect.getsource(faust_consumer.Fetcher._fetcher.fun)
    assert "await consumer._drain_messages(self)" in fetcher
    # The fork is Faust's drain loop with getmany's body inlined: both still have its shape.
    loop = inspect.getsource(faust_consumer.Consumer._drain_messages)
    loop += inspect.getsource(faust_consumer.Consumer.getmany)
    for shape in (
        "cast(Service, self)._stopped.is_set",
        "cast(Service, fetcher)._stopped.is_set",
        "await self._wait_next_records(",
        "await self._add_gap(tp, r_offset + 1, offset)",
        "self._n_acked >= commit_every",
        "self._buffered_partitions",
        "to_message = self._to_message",
        "except self.consumer_stopped_errors",
    ):
        assert shape in loop, shape
    assert "self._new_transport()" in inspect.getsource(vars(faust.App)["transport"].fget)


def test_next_records_and_messages() -> None:
    async def go() -> None:
        app = new_app()
        consumer = app.consumer
        tp = TP("src", 0)
        fetched = {tp: [_record("src", 0, 3)]}

        async def getmany(active_partitions: Any, **_: Any) -> Any:
            return fetched

        consumer._getmany = getmany
        consumer._active_partitions = {tp}
        records, active = await consumer._wait_next_records(0.01)
        assert records is fetched and active == {tp}
        message = consumer._to_message(tp, fetched[tp][0])
        assert (message.offset, message.key, message.value, message.tp) == (3, b"k", b"v", tp)
        assert consumer._buffered_partitions == set()
        assert consumer._commit_every == app.conf.broker_commit_every

    asyncio.run(go())


def test_stopping_a_service_sets_stopped() -> None:
    async def go() -> None:
        service = mode.Service()
        assert not service._stopped.is_set()
        await service.stop()
        assert service._stopped.is_set()

    asyncio.run(go())


def test_the_shutdown_hook_runs_on_sigterm() -> None:
    async def go() -> None:
        seen: list[signal.Signals] = []

        class Told(internals.SignalledWorker):
            def on_shutdown_signal(self, signal: signal.Signals) -> None:
                seen.append(signal)

        worker = Told(new_app(), quiet=True, loglevel="WARNING")
        worker._on_sigterm()
        assert seen == [signal.SIGTERM]
        cast(Any, worker)._signal_stop_future.cancel()

    asyncio.run(go())


@contextmanager
def started_without_a_broker() -> Iterator[None]:
    async def start(self: Any) -> None:
        return None

    original = aiokafka.AIOKafkaProducer.start
    aiokafka.AIOKafkaProducer.start = start
    try:
        yield
    finally:
        aiokafka.AIOKafkaProducer.start = original


def test_fausts_producer_hands_over_aiokafkas() -> None:
    async def go() -> None:
        app = new_app()
        with started_without_a_broker():
            await app.producer.on_start()
        producer = internals.aiokafka_producer(app.producer)
        assert isinstance(producer, aiokafka.AIOKafkaProducer)
        assert internals.request_timeout_s(producer) == app.conf.producer_request_timeout

    asyncio.run(go())


def test_the_accumulator_takes_what_send_gives_it() -> None:
    async def go() -> None:
        producer = aiokafka.AIOKafkaProducer(
            bootstrap_servers="127.0.0.1:1", request_timeout_ms=12_345
        )
        try:
            assert isinstance(internals.accumulator(producer), MessageAccumulator)
            assert internals.request_timeout_s(producer) == 12.345
            assert isinstance(producer.client.cluster, ClusterMetadata)
            _with_topic(producer.client.cluster)
            await internals.wait_on_metadata(producer, "t")
            assert producer.client.cluster.available_partitions_for_topic("t") == {0, 1}
            seen: list[tuple[Any, Any]] = []
            open_batches = internals.accumulator(producer)
            original = open_batches.add_message

            async def spy(*args: Any, **kwargs: Any) -> Any:
                seen.append((args, kwargs))
                return await original(*args, **kwargs)

            open_batches.add_message = spy
            await producer.send("t", b"v", key=b"k", partition=1, headers=[("h", b"1")])
            ((args, kwargs),) = seen
            # send()'s call is the one produce.send_keyed makes.
            assert args == (TopicPartition("t", 1), b"k", b"v", 12.345)
            assert kwargs == {"timestamp_ms": None, "headers": [("h", b"1")]}
        finally:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

    asyncio.run(go())


def test_a_consumer_client_refreshes_metadata() -> None:
    async def go() -> None:
        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
        client = internals.consumer_client(consumer)
        assert isinstance(client, AIOKafkaClient)
        _with_topic(client.cluster)
        assert consumer.partitions_for_topic("t") == {0, 1, 2}
        refresh = client.force_metadata_update()
        assert inspect.isawaitable(refresh)
        cast(Any, refresh).cancel()

    asyncio.run(go())


def test_the_rocksdb_store_hands_out_its_partition_database() -> None:
    async def go() -> None:
        app = new_app(store="rocksdb://")
        table = app.Table("t", default=None, partitions=1)
        assert isinstance(table.data, RocksStore)
        db = internals.rocksdb_for_partition(table.data, 0)
        assert isinstance(db, rocksdict.Rdict)
        batch = rocksdict.WriteBatch(raw_mode=True)
        batch.put(RocksStore.offset_key, b"41")
        db.write(batch)
        # The offset the changelog store writes beside a batch is the one Faust resumes from.
        tp = TP(table.changelog_topic.get_topic_name(), 0)
        assert table.data.persisted_offset(tp) == 41
        assert internals.rocksdb_for_partition(table.data, 0) is db

    asyncio.run(go())


def _record(topic: str, partition: int, offset: int) -> Any:
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=1_000,
        timestamp_type=0,
        key=b"k",
        value=b"v",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
        headers=(),
    )


def _with_topic(cluster: ClusterMetadata) -> None:
    """Metadata for topic "t": partitions 0 and 1 led by broker 0, partition 2 leaderless."""
    cluster.update_metadata(
        MetadataResponse_v0(
            brokers=[(0, "127.0.0.1", 1)],
            topics=[
                (0, "t", [(0, p, leader, [0], [0]) for p, leader in ((0, 0), (1, 0), (2, -1))])
            ],
        )
    )
