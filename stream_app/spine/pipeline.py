"""What a pipeline is: one source topic, one family, one process (`worker --pipeline NAME`).

A family package describes each of its pipelines with a `PipelineSpec`; the service builds
whatever the spec names and has no branch on a pipeline's name. Each pipeline has its own
consumer group and changelog, so it scales and fails on its own; the spine (engine, offsets,
dedupe, windows, DLQ) is the same for all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client.registry import Collector

from stream_app.spine.clock import Clock
from stream_app.spine.family_protocol import Family

if TYPE_CHECKING:
    from stream_app.settings import Settings
    from stream_app.spine.engine import Engine
    from stream_app.spine.labels import LabelGuard
    from stream_app.spine.store import Value

Out = tuple[str, bytes, bytes]
"""(output role, key, value): a KPI record for the topic the pipeline gives that role."""


@dataclass(frozen=True, slots=True)
class Output:
    """An output topic. KPI topics are compacted (`compact,delete`), so the newest record per
    key stands; internal topics (a repartition) keep every record for the retention."""

    topic: str
    compacted: bool = True
    shared: bool = False
    """A canonical source topic other producers write too (the normalisers' outputs): created
    with the broker's defaults, like any source, never with an internal topic's retention."""
    bundled: bool = False
    """An internal topic whose reader takes parts (`stream_app.spine.parts`): a batch's
    records of one key go as one record."""


@dataclass(frozen=True)
class Context:
    """What the service hands a pipeline's parts: read access to state and a way out."""

    settings: Settings
    engine: Engine[Any]
    clock: Clock
    guard: LabelGuard
    prefix: str
    source: str
    owned: Callable[[], set[int]]
    highwater: Callable[[int], int | None]
    produce: Callable[[str, bytes, bytes | None], Awaitable[Awaitable[Any]]]
    """(topic, key, value; None: a tombstone) -> the producer's future, once the record is
    with the producer."""
    outputs: Mapping[str, Output]


class Extra(Protocol):
    """A pipeline's own work beside the spine's (calls: targets and pacing)."""

    def collectors(self) -> Sequence[Collector]: ...

    def start(self) -> None:
        """Once the event loop runs (signal handlers and the like)."""
        ...

    async def tick(self) -> None:
        """From the worker's timer, after the windows' work, under the state lock."""
        ...


def _no_records(value: Value, final: bool, now_ms: int) -> list[Out]:
    return []


def _no_totals_records(value: Value, now_ms: int) -> list[Out]:
    return []


def _no_extras(ctx: Context) -> list[Extra]:
    return []


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    """The `--pipeline` name."""
    app_id: str
    """Consumer group and changelog prefix."""
    source: str
    port: int
    outputs: Mapping[str, Output]
    """Output topics by role (the roles a family's emits and record builders use)."""
    family: Family[Any]
    dedupe_hours: float
    collector: Callable[[Context], Collector]
    window_records: Callable[[Value, bool, int], list[Out]] = _no_records
    """(window, final, now ms) -> records for it; sent as windows change and when final."""
    totals_records: Callable[[Value, int], list[Out]] = _no_totals_records
    """(a group's totals, now ms) -> records built from totals (cohorts, A/B), sent when the
    totals change; same keys each time, so a re-send after a crash overwrites."""
    extras: Callable[[Context], list[Extra]] = _no_extras
    grace_seconds: float | None = None
    """The pipeline's own grace (CRM decisions come days late); None: ISALES_GRACE_SECONDS."""
    windows: tuple[str, ...] | None = None
    """The pipeline's own window sizes; None: ISALES_WINDOWS."""

    @property
    def table(self) -> str:
        """The state table's name; Faust names its changelog `<app_id>-<table>-changelog`."""
        return f"{self.name}-state"

    @property
    def internal_topics(self) -> tuple[str, str]:
        """The topics Faust creates for the pipeline's app id: the state changelog and the
        (empty) leader-election topic."""
        return f"{self.app_id}-{self.table}-changelog", f"{self.app_id}-__assignor-__leader"
