"""What the spine needs to know about a KPI family: the Protocol a family implements, the
names of what it counts (`Fact`), and how a counted fact shows as a metric."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

E = TypeVar("E", bound=BaseModel)

State = dict[str, Any]
Facts = dict[str, tuple[int, int]]
"""Fact key (`Fact.key`) -> (bucketing timestamp in ms, integer value): what an entity adds."""
Emit = tuple[str, bytes, bytes]
"""(topic role, key, value): a record a family hands downstream when an event is applied."""

FACT_SEP = "|"


@dataclass(frozen=True, slots=True)
class Fact:
    """The name of a counted fact: what is counted and what it is counted under, e.g.
    `Fact("human_opens", ("variant", "B"))` or `Fact("won", ("saas:smb",))`.

    Window and totals counts are JSON objects, so a fact is stored under one string key,
    `metric|part|...` (parts are ids, which never hold a `|`). `key` and `parse` are the only
    places that string is built or read."""

    metric: str
    parts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return FACT_SEP.join((self.metric, *self.parts)) if self.parts else self.metric

    @classmethod
    def parse(cls, key: str) -> Fact:
        metric, *parts = key.split(FACT_SEP)
        return cls(metric, tuple(parts))


def newer(candidate: list[Any], current: list[Any] | None) -> bool:
    """Whether tag `[occurred_ms, event_id]` comes after `current`: the total order that
    makes "the newest event wins" merges independent of arrival order."""
    return current is None or (candidate[0], candidate[1]) > (current[0], current[1])


def fact_key(metric: str, *parts: str) -> str:
    """`Fact(metric, parts).key` without building the object, for the per-event path."""
    return FACT_SEP.join((metric, *parts)) if parts else metric


@dataclass(slots=True)
class Delta:
    """One fact's change to its bucket's counts. Not frozen: several are built per event,
    and a frozen dataclass's __init__ costs three times a plain one's (600 vs 190 ns)."""

    metric: str
    ts_ms: int
    value: int


def fact_deltas(old: Facts, new: Facts) -> list[Delta]:
    """Retract what an entity contributed before, add what it contributes now: for every fact
    key that changed, in key order, the old (timestamp, -value) then the new."""
    if not old:  # a new entity (most of a stream's events): every fact is an addition
        return [Delta(metric, *new[metric]) for metric in sorted(new)]
    deltas: list[Delta] = []
    # Most of an entity's facts are the same after an event: only the changed are sorted.
    changed = [m for m, after in new.items() if old.get(m) != after]
    changed += [m for m in old if m not in new]
    for metric in sorted(changed):
        before, after = old.get(metric), new.get(metric)
        if before is not None:
            deltas.append(Delta(metric, before[0], -before[1]))
        if after is not None:
            deltas.append(Delta(metric, after[0], after[1]))
    return deltas


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A counted fact as it appears in Prometheus and on the KPI topic."""

    fact: str
    name: str
    help: str
    bucketed_by: str
    divisor: int = 1
    """Stored integers are divided by this on the way out (talk time is kept in ms)."""


@dataclass(frozen=True, slots=True)
class DerivedSpec:
    """A rate or mean computed from two counts, never averaged."""

    name: str
    help: str
    numerator: str
    denominator: str
    divisor: int = 1


class Family(Protocol[E]):
    name: str
    key_field: str
    """What the message key must equal, as a reason names it (`rep_id`)."""
    model: type[E]
    metrics: tuple[MetricSpec, ...]
    derived: tuple[DerivedSpec, ...]

    def partition_key(self, event: E) -> str:
        """The Kafka message key the producer must use: it keeps an entity on one partition."""
        ...

    def group(self, event: E) -> str:
        """The entity owner KPIs are kept for (a rep). A function of the partition key: every
        key an event touches (`e/<group>/...`, `t/<group>`, windows) must live on the event's
        own partition, or a write from another partition passes for an applied offset."""
        ...

    def event_id(self, event: E) -> str:
        """The dedupe key."""
        ...

    def entity(self, event: E) -> str:
        """The thing whose lifecycle events are merged (a call)."""
        ...

    def occurred_ms(self, event: E) -> int: ...

    def entity_time(self, event: E) -> int:
        """A time that is the same on every event of its entity where the family has one (a
        call's `started_at`, a message's `sent_at`), else the event's own time. The dedupe
        horizon is measured from it: an event whose entity time is `dedupe_retention` behind
        the watermark counts nowhere, however late it comes."""
        ...

    def check_time(self, event: E) -> list[int]:
        """Every timestamp on the event, for the future-skew check."""
        ...

    def merge(self, state: State | None, event: E) -> State:
        """Fold an event into the entity state. Commutative, associative and idempotent."""
        ...

    def facts(self, state: State) -> Facts: ...

    def labels(self, state: State) -> Mapping[str, str]:
        """Bounded label values of the entity's group (the rep's team)."""
        ...

    def windowed(self, fact: str) -> bool:
        """Whether the fact is counted in event-time windows as well as in the totals."""
        ...

    def emit(self, old: State | None, new: State, event: E) -> list[Emit]:
        """Records to send downstream for this event (a repartition). Sent and acknowledged
        before the event's state is written, so a replay after a crash re-sends at worst, with
        the same event ids, which the downstream dedupe absorbs."""
        ...


class FamilyDeltas(Protocol):
    """Optional, beside Family: `fact_deltas(facts(old) if old else {}, facts(new))` computed
    from the two states without building either fact set. Must equal it exactly (order
    included); a family's tests check it against the facts."""

    def state_deltas(self, old: State | None, new: State) -> list[Delta]: ...


class FamilyBatch(Protocol):
    """Optional, beside Family: records derived once per batch from the entities the batch
    changed, instead of once per event (a lead's KPI record and its reach view walk every
    touch of the lead). Taken at the end of every batch, before its state is written, and
    sent with the batch's other records, so they too are acknowledged before the state that
    remembers them reaches the changelog; each must describe the entity's state at the end of
    the batch, so where the batches fell changes only how many are sent."""

    def end_batch(self) -> list[Emit]: ...


class FamilyParts(Protocol):
    """Optional, beside Family: a family whose source is written by another of our stages
    through a bundled output (`stream_app.spine.parts`: a batch's records of one key as one
    record) says so with `takes_parts`; the decoder then checks each part as a record and
    `Engine.plan_parts` counts each as an event of its own."""

    takes_parts: bool
    max_payload_bytes: int
    """PARTS_MAX_PAYLOAD: a record of parts is larger than one event."""


class FamilyTally(Protocol):
    """Optional, beside Family: counts of the family's own kept in the partition's state with
    its offset (so a replay, a restart or a SIGKILL counts them exactly once, as `applied`),
    shown by the collector as `isales_vendor_ignored_events_total` (`vendor|type` names)."""

    def tally(self, event: Any) -> Mapping[str, int] | None: ...


def derive(counts: Mapping[str, int], spec: DerivedSpec) -> float | None:
    denominator = counts.get(spec.denominator, 0)
    if denominator == 0:
        return None
    return counts.get(spec.numerator, 0) / denominator / spec.divisor
