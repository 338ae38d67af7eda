"""What the spine needs to know about a KPI family (calls now; CRM and email later)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

E = TypeVar("E", bound=BaseModel)

State = dict[str, Any]
Facts = dict[str, tuple[int, int]]
Emit = tuple[str, bytes, bytes]
"""(topic role, key, value): a record a family hands downstream when an event is applied."""
"""metric name -> (bucketing timestamp in ms, integer value). A fact is what an entity adds."""


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
        """The entity owner KPIs are kept for (a rep)."""
        ...

    def event_id(self, event: E) -> str:
        """The dedupe key."""
        ...

    def entity(self, event: E) -> str:
        """The thing whose lifecycle events are merged (a call)."""
        ...

    def occurred_ms(self, event: E) -> int: ...

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


def derive(counts: Mapping[str, int], spec: DerivedSpec) -> float | None:
    denominator = counts.get(spec.denominator, 0)
    if denominator == 0:
        return None
    return counts.get(spec.numerator, 0) / denominator / spec.divisor
