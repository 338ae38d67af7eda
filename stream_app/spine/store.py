"""The spine's storage: a key-value store per source partition, the write-back buffer that
flushes it in replay order, the keys, and the shapes of what is stored.

Values are JSON objects (they live in a Faust table and its changelog); the `TypedDict`s below
name their fields, with the same JSON keys the changelogs have always had.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, NotRequired, Protocol, TypedDict

Value = dict[str, Any]
"""A stored JSON object, as the store hands it out."""


class PartitionValue(TypedDict):
    """`p/<partition>`: the one record of a source partition written by every record."""

    o: int
    """Source offset last applied (-1 before the first)."""
    p: int
    wm: int | None
    """Watermark: newest event time applied, ms."""
    applied: int
    dup: int
    late: int
    late_w: dict[str, int]
    dlq: dict[str, int]
    last_ms: int | None
    lag: NotRequired[int | None]
    """Wall clock minus event time when the newest event arrived (see Engine.live)."""
    exp: NotRequired[int]
    """Events refused as past the dedupe horizon (their entity time, by the watermark)."""


class WindowValue(TypedDict):
    """`w/<group>/<size>/<start>`: the counts of one group in one event-time window."""

    o: int
    p: int
    g: str
    spec: str
    start: int
    end: int
    c: dict[str, int]
    final: bool
    rev: int
    team: NotRequired[str]


class TotalsValue(TypedDict):
    """`t/<group>`: everything a group ever counted (the `*_total` counters)."""

    o: int
    p: int
    g: str
    c: dict[str, int]
    first: NotRequired[int]
    """Event time of the event that created the group; fixed (label admission ranks by it)."""
    last: NotRequired[int]
    team: NotRequired[str]


class EntityValue(TypedDict):
    """`e/<group>/<entity>`: one entity (a call, a message, an opportunity)."""

    o: int
    p: int
    s: dict[str, Any]
    """The family's merged state."""
    seen: list[str]
    last: int
    et: NotRequired[int]
    """Newest entity time of its events (a call's start): the horizon is measured from it."""
    effs: list[list[Any]]
    """[offset, late window sizes] of the entity's recent events ([offset, late, part] for a
    part of a record of parts): finishes a replay."""


def partition_key(partition: int) -> str:
    return f"p/{partition}"


def entity_key(group: str, entity: str) -> str:
    return f"e/{group}/{entity}"


def window_key(group: str, spec: str, start_ms: int) -> str:
    return f"w/{group}/{spec}/{start_ms}"


def totals_key(group: str) -> str:
    return f"t/{group}"


def new_partition_state(partition: int) -> Value:
    return {
        "o": -1,
        "p": partition,
        "wm": None,
        "applied": 0,
        "dup": 0,
        "late": 0,
        "late_w": {},
        "dlq": {},
        "last_ms": None,
    }


class StateStore(Protocol):
    def get(self, key: str) -> Value | None: ...

    def put(self, key: str, value: Value, partition: int) -> None: ...

    def delete(self, key: str, partition: int) -> None: ...

    def items(self, prefix: str = "") -> Iterable[tuple[str, Value]]:
        """Every key (starting with `prefix`) and its value: keys are chosen before values
        are decoded (an entity may be kept as its bytes)."""
        ...

    def keys(self, prefix: str = "") -> list[str]:
        """Every key starting with `prefix`, no value decoded."""
        ...


_FLUSH_RANK = {"w": 0, "t": 0, "e": 1, "p": 2}

MAX_PENDING = 5_000
"""Buffered keys before a flush mid-batch: bounds memory on a huge batch; any flush point is
safe, because each flush is itself in replay order."""


class WriteBack:
    """Buffers writes and flushes each key once, in the order replay depends on.

    One changelog write per touched key per flush, instead of several per event, is most of
    the worker's throughput; the order (windows and totals, entities, partition records) is
    what keeps a crash in the middle of a flush exact."""

    def __init__(self, durable: StateStore, max_pending: int = MAX_PENDING) -> None:
        self.durable = durable
        self.max_pending = max_pending
        self.pending: dict[str, tuple[Value | None, int]] = {}

    def get(self, key: str) -> Value | None:
        entry = self.pending.get(key)
        if entry is not None:
            return entry[0]
        return self.durable.get(key)

    def put(self, key: str, value: Value, partition: int) -> None:
        self.pending[key] = (value, partition)

    def unflushed(self, key: str) -> Value | None:
        """The value put since the last flush, which only this buffer holds: safe to change
        in place until the flush hands it on."""
        entry = self.pending.get(key)
        return None if entry is None else entry[0]

    def delete(self, key: str, partition: int) -> None:
        self.pending[key] = (None, partition)

    def items(self, prefix: str = "") -> Iterable[tuple[str, Value]]:
        self.flush()
        return self.durable.items(prefix)

    def keys(self, prefix: str = "") -> list[str]:
        self.flush()
        return self.durable.keys(prefix)

    def flush(self) -> int:
        pending, self.pending = self.pending, {}
        for key in sorted(pending, key=lambda k: _FLUSH_RANK[k[0]]):
            value, partition = pending[key]
            if value is None:
                self.durable.delete(key, partition)
            else:
                self.durable.put(key, value, partition)
        return len(pending)

    def maybe_flush(self) -> None:
        if len(self.pending) >= self.max_pending:
            self.flush()


class DictStore:
    """The store for unit tests; also records writes so tests can simulate a crash mid-event."""

    def __init__(self) -> None:
        self.data: dict[str, Value] = {}
        self.log: list[tuple[str, Value | None, int]] = []

    def get(self, key: str) -> Value | None:
        return self.data.get(key)

    def put(self, key: str, value: Value, partition: int) -> None:
        self.data[key] = value
        # A copy, as a changelog record is: a value changed after it was put must not
        # change what a replay of the log sees.
        self.log.append((key, copy.deepcopy(value), partition))

    def delete(self, key: str, partition: int) -> None:
        self.data.pop(key, None)
        self.log.append((key, None, partition))

    def items(self, prefix: str = "") -> Iterable[tuple[str, Value]]:
        return [(k, v) for k, v in self.data.items() if k.startswith(prefix)]

    def keys(self, prefix: str = "") -> list[str]:
        return [k for k in self.data if k.startswith(prefix)]
