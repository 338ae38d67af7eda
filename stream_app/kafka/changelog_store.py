"""The engine's StateStore over a Faust table: the changelog written in order, and (with the
RocksDB store) a local copy that restarts read instead of the whole changelog.

Faust's own write path (`send_changelog` -> `send_soon`) is not used: its buffer flush returns
after a 0.1 s wait even with records still queued, so an offset commit could overtake the state
it covers and a `kill -9` then lost events (seen here: 23 of 17,135).

The local RocksDB copy is only ever a prefix of the changelog: a write reaches it after the
broker acknowledged its changelog record (collected as acknowledgements arrive, written a batch
at a time), together with the changelog offset it came from (Faust's "persisted offset"), so a
restart replays only the changelog records after that offset (Faust's recovery does it) and can
never hold a write the changelog lacks. Reads are served from memory: the engine reads several
keys per event, and a RocksDB read plus JSON decoding per key
would cost more than the restart saves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from functools import partial
from typing import Any, cast

import orjson
from rocksdict import WriteBatch

from stream_app.kafka.internals import aiokafka_producer, rocksdb_for_partition
from stream_app.kafka.produce import send_batches
from stream_app.spine.store import Value

log = logging.getLogger(__name__)

OFFSET_KEY = b"__faust\x00offset__"
"""Where Faust's RocksDB store keeps a partition's persisted changelog offset."""


def _compact(key: str) -> bool:
    # Entities (one per call, message or opportunity) are most of the state and are read
    # only by the record that changes them (and by the sweep): in memory they stay as their
    # changelog bytes, ~0.4 KB each against ~2 KB as Python dicts and lists. Windows and
    # totals, which every scrape reads, stay decoded.
    return key.startswith("e/")


def _kept(key: str, value: Value, raw: bytes | None) -> Value | bytes:
    return raw if raw is not None and _compact(key) else value


def _value(stored: Value | bytes) -> Value:
    return cast(Value, orjson.loads(stored)) if type(stored) is bytes else cast(Value, stored)


class FaustTableStore:
    def __init__(self, app: Any, table: Any, *, persistent: bool) -> None:
        self.app = app
        self.table = table
        self.persistent = persistent
        # memory:// keeps the table's own dict (Faust's recovery fills it from the changelog);
        # rocksdb:// keeps a dict loaded from the local databases after recovery.
        self.data: dict[str, Value | bytes] = {} if persistent else table.data
        self.pending: dict[str, Value | None] = {}
        """Written but not yet handed to the changelog (persistent: not yet acknowledged)."""
        self.outbox: list[tuple[str, Value | None, int]] = []
        self.drained = 0
        self._draining = asyncio.Lock()
        """Drains run one at a time: a batch's hand-over and the timer's both send, and a
        partition's records must reach the producer in the order written."""
        """Writes ever handed to the changelog; `mark()` counts from the same origin."""
        self.loaded: set[int] = set()
        self.acked: dict[int, list[tuple[bytes, bytes | None, int]]] = {}
        """Changelog records the broker acknowledged, not yet in the local copy."""

    def get(self, key: str) -> Value | None:
        if key in self.pending:
            return self.pending[key]
        value = self.data.get(key)
        return None if value is None else _value(value)

    def put(self, key: str, value: Value, partition: int) -> None:
        self.pending[key] = value
        self.outbox.append((key, value, partition))

    def delete(self, key: str, partition: int) -> None:
        self.pending[key] = None
        self.outbox.append((key, None, partition))

    def items(self, prefix: str = "") -> list[tuple[str, Value]]:
        merged = {**self.data, **self.pending}
        return [(k, _value(v)) for k, v in merged.items() if v is not None and k.startswith(prefix)]

    def keys(self, prefix: str = "") -> list[str]:
        merged = {**self.data, **self.pending}
        return [k for k, v in merged.items() if v is not None and k.startswith(prefix)]

    def mark(self) -> int:
        """The position after every write so far: `drain(upto=mark)` hands over exactly
        those, whatever is written after."""
        return self.drained + len(self.outbox)

    async def drain(self, upto: int | None = None) -> None:
        """Hand pending writes (all, or those before the mark `upto`) to the changelog
        producer, in order: per partition, as record batches queued whole
        (`kafka.produce`); a partition's batches are sent in the order queued, so the
        per-partition order replay relies on holds. The local copy is written once the
        broker acknowledges a batch, so ingest never waits for it."""
        async with self._draining:
            await self._drain(upto)

    async def _drain(self, upto: int | None) -> None:
        self.write_local()
        cut = len(self.outbox) if upto is None else max(0, upto - self.drained)
        outbox, self.outbox = self.outbox[:cut], self.outbox[cut:]
        self.drained += len(outbox)
        if not outbox:
            return
        by_partition: dict[int, list[tuple[bytes, bytes | None, None]]] = {}
        for key, value, partition in outbox:
            # Bytes as Faust's json codec writes them, and a real tombstone (None) on delete,
            # which Faust's serializer would turn into b"null".
            # orjson hands back its 4 KiB working buffer whatever the record's size (traced
            # here: 4,097 bytes for a 392-byte entity): a right-sized copy is what is kept,
            # in memory and until the local copy is written.
            raw_value = None if value is None else memoryview(orjson.dumps(value)).tobytes()
            by_partition.setdefault(partition, []).append((orjson.dumps(key), raw_value, None))
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = _kept(key, value, raw_value)
            if self.pending.get(key, value) is value:
                self.pending.pop(key, None)
        topic = self.table.changelog_topic.get_topic_name()
        producer = aiokafka_producer(self.app.producer)
        handed: set[int] = set()
        try:
            for partition, records in by_partition.items():
                for fut, first, end in await send_batches(producer, topic, partition, records):
                    if self.persistent:
                        done = partial(self._acknowledged, records[first:end], partition)
                        fut.add_done_callback(done)
                handed.add(partition)
        except BaseException:
            # The producer did not take them (a long broker outage): back to the front of
            # the queue, so the next drain sends them before anything written after them.
            # Dropped, the changelog would lack them while later writes landed, and a
            # restart would read a state that never was. A partition partly queued sends
            # some of its writes twice, in order: the same values, harmless to a replay.
            again = [write for write in outbox if write[2] not in handed]
            self.outbox[:0] = again
            self.drained -= len(again)
            raise

    def _acknowledged(
        self, records: list[tuple[bytes, bytes | None, None]], partition: int, fut: Any
    ) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return  # not in the changelog: the local copy must not have it either
        base = fut.result().offset
        acked = self.acked.setdefault(partition, [])
        # A batch's records have consecutive offsets from its base offset.
        acked.extend((k, v, base + i) for i, (k, v, _) in enumerate(records))

    def write_local(self) -> None:
        """Write what the broker acknowledged to the local copy: per partition one RocksDB
        write batch, in acknowledgement (= changelog) order, ending with the changelog
        offset of its last record. A crash before it only leaves the copy further behind the
        changelog (recovery reads more of the tail), never ahead of it."""
        acked, self.acked = self.acked, {}
        for partition, writes in acked.items():
            batch = WriteBatch(raw_mode=True)
            for raw_key, raw_value, _offset in writes:
                if raw_value is None:
                    batch.delete(raw_key)
                else:
                    batch.put(raw_key, raw_value)
            batch.put(OFFSET_KEY, str(int(writes[-1][2])).encode())
            self._db(partition).write(batch)

    # ---- the local copy ------------------------------------------------------------------

    def _db(self, partition: int) -> Any:
        return rocksdb_for_partition(self.table.data, partition)

    def load(self, partitions: set[int]) -> None:
        """After recovery and on every assignment change: the in-memory view holds exactly
        the owned partitions' keys, read from their local databases."""
        if not self.persistent:
            return
        for partition in self.loaded - partitions:
            for key in [k for k, v in self.data.items() if _value(v).get("p") == partition]:
                del self.data[key]
        self.loaded &= partitions
        self.ensure_loaded(partitions)

    def ensure_loaded(self, partitions: set[int]) -> None:
        """Read the local databases of partitions not in memory yet."""
        if not self.persistent:
            return
        for partition in sorted(partitions - self.loaded):
            count = 0
            for raw_key, raw_value in self._raw_items(partition):
                if raw_key == OFFSET_KEY or raw_value is None:
                    continue
                key = orjson.loads(raw_key)
                self.data[key] = raw_value if _compact(key) else orjson.loads(raw_value)
                count += 1
            log.info("partition %d: %d keys loaded from the local store", partition, count)
            self.loaded.add(partition)

    def _raw_items(self, partition: int) -> Iterable[tuple[bytes, bytes | None]]:
        db = self._db(partition)
        it = db.iter()
        it.seek_to_first()
        while it.valid():
            yield it.key(), it.value()
            it.next()
