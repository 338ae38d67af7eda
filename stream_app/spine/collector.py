"""Prometheus exposition read from table state at scrape time.

A worker exports only the partitions it owns right now, so `sum()` over workers is exact and
series of a partition that moved away vanish with it. Nothing here is incremented on the hot
path: the counters are the table's own totals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Self, cast

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from stream_app.spine.clock import Clock
from stream_app.spine.engine import Engine
from stream_app.spine.family_protocol import derive
from stream_app.spine.labels import OTHER, Candidates, LabelGuard
from stream_app.spine.store import Value
from stream_app.spine.windows import previous_window, window_for

if TYPE_CHECKING:
    from stream_app.spine.pipeline import Context

DLQ_REASONS = (
    "empty",
    "oversize",
    "invalid_json",
    "wrong_type",
    "missing_field",
    "unknown_enum",
    "invalid_value",
    "inconsistent_timestamps",
    "personal_data",
    "future_timestamp",
    "key_mismatch",
    "internal_error",
)


_WANTED: ContextVar[frozenset[str] | None] = ContextVar("wanted_series", default=None)
"""The series a scrape asks for (`?name[]=`), None for all: set by `Only` while it collects."""

_SAMPLE_SUFFIXES = ("", "_total", "_created", "_count", "_sum", "_bucket", "_info")


def wanted(*families: str) -> bool:
    """Whether the scrape being collected asks for a sample of any of these metric families.
    A collector skips building what nobody asked for: under load a filtered scrape that
    built every family first still took ~25 ms of the worker's event loop."""
    names = _WANTED.get()
    return names is None or any(f + s in names for f in families for s in _SAMPLE_SUFFIXES)


def wanted_under(prefix: str) -> bool:
    """Whether the scrape asks for any series named `prefix_...`."""
    names = _WANTED.get()
    return names is None or any(name.startswith(prefix + "_") for name in names)


PIPELINE_SERIES = (
    "events_applied",
    "duplicate_events",
    "late_events",
    "late_history_events",
    "expired_events",
    "erased_events",
    "erased_leads",
    "late_window_updates",
    "dead_letter_events",
    "consumer_lag_messages",
    "next_offset",
    "watermark_timestamp_seconds",
    "event_time_delay_seconds",
    "vendor_ignored_events",
    "vendor_unmapped_events",
)
"""Every pipeline's own series (`StateCollector._pipeline`), after the pipeline prefix."""


def rank_into(ranks: dict[str, int], value: str, first_ms: int) -> None:
    """Keep the earliest time a label value was seen."""
    known = ranks.get(value)
    if known is None or first_ms < known:
        ranks[value] = first_ms


def group_first(value: Value) -> int:
    return int(value.get("first", 0))


def shown_windows(engine: Engine[Any], parts: set[int]) -> dict[tuple[int, str, int], str]:
    """(partition, window size, start) -> "current" | "previous", as of each partition's
    watermark: the windows the gauges show, in event time, not wall-clock time."""
    wanted: dict[tuple[int, str, int], str] = {}
    for part in parts:
        wm = engine.watermark(part)
        if wm is None:
            continue
        for spec in engine.specs:
            current = window_for(wm, spec, engine.tz)
            previous = previous_window(current, spec, engine.tz)
            wanted[(part, spec.name, current.start_ms)] = "current"
            wanted[(part, spec.name, previous.start_ms)] = "previous"
    return wanted


Labels = tuple[str, ...]


def window_rows(
    engine: Engine[Any],
    parts: set[int],
    *,
    zero: Callable[[Value], Iterable[Labels]],
    rows: Callable[[Value], Iterable[tuple[Labels, Mapping[str, int]]]],
) -> dict[Labels, dict[str, int]]:
    """(labels..., window, position) -> counts summed over the shown windows (current and
    previous, as of each partition's watermark). `zero(totals)` names the label sets every
    known group shows in every window, so a quiet rep shows 0, not "No data"; `rows(window)`
    says which label sets a window's counts go to."""
    wanted = shown_windows(engine, parts)
    by_partition: dict[int, list[tuple[str, int, str]]] = defaultdict(list)
    for (part, spec_name, start), position in wanted.items():
        by_partition[part].append((spec_name, start, position))
    out: dict[Labels, dict[str, int]] = {}
    # The shown windows looked up by key from each group's totals: walking every window
    # kept for retention (thousands) made a scrape cost tens of ms on the worker's loop.
    for _, totals in engine.all_totals(parts):
        shown = by_partition.get(totals["p"], ())
        for labels in zero(totals):
            for spec_name, _start, position in shown:
                out.setdefault((*labels, spec_name, position), {})
        for spec_name, start, position in shown:
            window = engine.window(totals["g"], spec_name, start)
            if window is None:
                continue
            for labels, counts in rows(cast(Value, window)):
                bucket = out.setdefault((*labels, spec_name, position), {})
                for fact, amount in counts.items():
                    bucket[fact] = bucket.get(fact, 0) + amount
    return out


class StateCollector(Collector):
    def __init__(
        self,
        engine: Engine[Any],
        *,
        prefix: str,
        source_topic: str,
        owned: Callable[[], set[int]],
        highwater: Callable[[int], int | None],
        guard: LabelGuard,
        clock: Clock,
    ) -> None:
        self.engine = engine
        self.family = engine.family
        self.prefix = f"{prefix}_{engine.family.name}"
        self.pipeline_prefix = prefix
        self.source = source_topic
        self.owned = owned
        self.highwater = highwater
        self.guard = guard
        self.clock = clock
        guard.candidates = lambda: self.label_candidates(self.owned())

    @classmethod
    def of(cls, ctx: Context, **extra: Any) -> Self:
        """The collector of a pipeline, from what the service hands it."""
        return cls(
            ctx.engine,
            prefix=ctx.prefix,
            source_topic=ctx.source,
            owned=ctx.owned,
            highwater=ctx.highwater,
            guard=ctx.guard,
            clock=ctx.clock,
            **extra,
        )

    def label_candidates(self, parts: set[int]) -> Candidates:
        """Every rep and team the exported series could carry, ranked by first sight."""
        if not self.family.metrics:
            return {}
        reps: dict[str, int] = {}
        teams: dict[str, int] = {}
        for _, value in self.engine.all_totals(parts):
            first = group_first(value)
            rank_into(reps, value["g"], first)
            rank_into(teams, value.get("team", ""), first)
        return {"rep": reps, "team": teams}

    def describe(self) -> Iterable[Any]:
        return []  # collected lazily; names depend on the family

    def _labels(self, value: Value) -> tuple[str, str]:
        return self.guard("rep", value["g"]), self.guard("team", value.get("team", ""))

    def rep_window_rows(
        self, parts: set[int], skip: Callable[[Value], bool] = lambda value: False
    ) -> dict[Labels, dict[str, int]]:
        """(rep, team, window, position) -> counts, for groups that are reps."""
        return window_rows(
            self.engine,
            parts,
            zero=lambda totals: [] if skip(totals) else [self._labels(totals)],
            rows=lambda window: [] if skip(window) else [(self._labels(window), window["c"])],
        )

    def collect(self) -> Iterator[Any]:
        parts = self.owned()
        if wanted_under(self.prefix):
            yield from self.family_series(parts)
        p = self.pipeline_prefix
        if wanted(*(f"{p}_{name}" for name in PIPELINE_SERIES)):
            yield from self._pipeline(parts)
        if wanted(f"{p}_label_overflow"):
            yield self.guard.collect(p)

    def family_series(self, parts: set[int]) -> Iterator[Any]:
        """The family's own series, all named `<prefix>_<family>_...`; families with more
        than counters per rep override this."""
        if not self.family.metrics:
            return
        if wanted(*(f"{self.prefix}_{metric.name}" for metric in self.family.metrics)):
            yield from self._totals(parts)
        if wanted_under(f"{self.prefix}_window"):
            yield from self._windows(parts)

    def _totals(self, parts: set[int]) -> Iterator[Any]:
        sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for _, value in self.engine.all_totals(parts):
            bucket = sums[self._labels(value)]
            for fact, amount in value["c"].items():
                bucket[fact] += amount
        for metric in self.family.metrics:
            family = CounterMetricFamily(
                f"{self.prefix}_{metric.name}",
                f"{metric.help} All time, every event accepted (late ones too).",
                labels=["rep", "team"],
            )
            for (rep, team), counts in sorted(sums.items()):
                family.add_metric([rep, team], counts.get(metric.fact, 0) / metric.divisor)
            yield family

    def _windows(self, parts: set[int]) -> Iterator[Any]:
        """Current and previous windows as of each partition's watermark (event time)."""
        rows = self.rep_window_rows(parts)
        labels = ["rep", "team", "window", "position"]
        for metric in self.family.metrics:
            gauge = GaugeMetricFamily(
                f"{self.prefix}_window_{metric.name}",
                f"{metric.help} In the event-time window (bucketed by {metric.bucketed_by}).",
                labels=labels,
            )
            for key, counts in sorted(rows.items()):
                gauge.add_metric(list(key), counts.get(metric.fact, 0) / metric.divisor)
            yield gauge
        for derived in self.family.derived:
            gauge = GaugeMetricFamily(
                f"{self.prefix}_window_{derived.name}",
                f"{derived.help} Absent while the denominator is 0.",
                labels=labels,
            )
            for key, counts in sorted(rows.items()):
                rate = derive(counts, derived)
                if rate is not None:
                    gauge.add_metric(list(key), rate)
            yield gauge

    def _pipeline(self, parts: set[int]) -> Iterator[Any]:
        p = self.pipeline_prefix
        src = self.source
        applied = CounterMetricFamily(
            f"{p}_events_applied", "Events merged into state.", labels=["source"]
        )
        dup = CounterMetricFamily(
            f"{p}_duplicate_events", "Events ignored as already applied.", labels=["source"]
        )
        late = CounterMetricFamily(
            f"{p}_late_events",
            "Events that changed a window already closed; sent to the late topic.",
            labels=["source"],
        )
        late_h = CounterMetricFamily(
            f"{p}_late_history_events",
            "Of the late events, those a day or more behind their partition's newest event: "
            "history arriving (a backfill, seeded or replayed past), not live events that "
            "missed their window's grace.",
            labels=["source"],
        )
        expired = CounterMetricFamily(
            f"{p}_expired_events",
            "Events refused as past the dedupe horizon (entity time too far behind the "
            "watermark): counted nowhere, sent to the late topic.",
            labels=["source"],
        )
        erased = CounterMetricFamily(
            f"{p}_erased_events",
            "Events of leads erased on request (stream-app erase), counted nowhere.",
            labels=["source"],
        )
        erased_leads = GaugeMetricFamily(
            f"{p}_erased_leads",
            "Leads on the erasure list this worker applies (stream-app erase).",
            labels=["source"],
        )
        late_w = CounterMetricFamily(
            f"{p}_late_window_updates",
            "Window updates refused because the window had closed, by window size.",
            labels=["source", "window"],
        )
        dlq = CounterMetricFamily(
            f"{p}_dead_letter_events",
            "Records sent to the dead-letter topic, by reason class.",
            labels=["source", "reason"],
        )
        lag = GaugeMetricFamily(
            f"{p}_consumer_lag_messages",
            "Records on the partition not yet processed (end offset - next offset).",
            labels=["topic", "partition"],
        )
        next_g = GaugeMetricFamily(
            f"{p}_next_offset",
            "The next source offset the partition's state has not applied (replay progress).",
            labels=["topic", "partition"],
        )
        wm_g = GaugeMetricFamily(
            f"{p}_watermark_timestamp_seconds",
            "Newest event time processed on the partition (Unix seconds).",
            labels=["topic", "partition"],
        )
        delay = GaugeMetricFamily(
            f"{p}_event_time_delay_seconds",
            "Wall clock minus the partition's watermark: how far processing trails events.",
            labels=["topic", "partition"],
        )
        totals: dict[str, int] = defaultdict(int)
        late_by: dict[str, int] = {s.name: 0 for s in self.engine.specs}
        dlq_by: dict[str, int] = dict.fromkeys(DLQ_REASONS, 0)
        tally: dict[str, int] = {}
        now = self.clock.now_ms()
        for part in sorted(parts):
            pst = self.engine.partition_state(part)
            offset = -1 if pst is None else pst["o"]
            hw = self.highwater(part)
            if hw is not None:
                lag.add_metric([src, str(part)], max(hw - offset - 1, 0))
            next_g.add_metric([src, str(part)], offset + 1)
            if pst is None:
                continue
            totals["applied"] += pst["applied"]
            totals["dup"] += pst["dup"]
            totals["late"] += pst["late"]
            totals["late_h"] += cast(int, pst.get("late_h", 0))
            totals["expired"] += pst.get("exp", 0)
            totals["erased"] += cast(int, pst.get("er", 0))
            for name, n in pst["late_w"].items():
                late_by[name] = late_by.get(name, 0) + n
            for reason, n in pst["dlq"].items():
                dlq_by[reason] = dlq_by.get(reason, 0) + n
            for name, n in cast(Mapping[str, int], pst.get("tally") or {}).items():
                tally[name] = tally.get(name, 0) + n
            if pst["wm"] is not None:
                wm_g.add_metric([src, str(part)], pst["wm"] / 1000)
                delay.add_metric([src, str(part)], max(now - pst["wm"], 0) / 1000)
        applied.add_metric([src], totals["applied"])
        dup.add_metric([src], totals["dup"])
        late.add_metric([src], totals["late"])
        late_h.add_metric([src], totals["late_h"])
        expired.add_metric([src], totals["expired"])
        erased.add_metric([src], totals["erased"])
        erased_leads.add_metric([src], len(self.engine.erased))
        for name, n in sorted(late_by.items()):
            late_w.add_metric([src, name], n)
        for reason, n in sorted(dlq_by.items()):
            dlq.add_metric([src, reason], n)
        ignored = CounterMetricFamily(
            f"{p}_vendor_ignored_events",
            "Vendor events that carry nothing for the KPIs (or of a type the vendor added "
            "since): counted here, never dead-lettered. At most 100 types per vendor, by name; "
            "the rest as `other`.",
            labels=["vendor", "type"],
        )
        unmapped = CounterMetricFamily(
            f"{p}_vendor_unmapped_events",
            "Vendor events whose person the people directory (ISALES_PEOPLE_FILE) does not "
            "list: counted under the rep `unmapped-<vendor>`, never the vendor's own id.",
            labels=["vendor"],
        )
        ignored_tally = {
            name.removeprefix("ignored|"): n
            for name, n in tally.items()
            if name.startswith("ignored|")
        }
        for (vendor, kind), n in sorted(capped_types(ignored_tally).items()):
            ignored.add_metric([vendor, kind], n)
        for name, n in sorted(tally.items()):
            if name.startswith("unmapped|"):
                unmapped.add_metric([name.removeprefix("unmapped|")], n)
        yield from (
            applied,
            dup,
            late,
            late_h,
            expired,
            erased,
            erased_leads,
            late_w,
            dlq,
            lag,
            next_g,
            wm_g,
            delay,
            ignored,
            unmapped,
        )


MAX_TYPES_PER_VENDOR = 100


def capped_types(tally: Mapping[str, int]) -> dict[tuple[str, str], int]:
    """`vendor|type` counts as (vendor, type) labels, at most MAX_TYPES_PER_VENDOR types per
    vendor (the first by name; the same state always shows the same ones), the rest summed as
    `other`."""
    by_vendor: dict[str, dict[str, int]] = defaultdict(dict)
    for name, n in tally.items():
        vendor, _, kind = name.partition("|")
        by_vendor[vendor][kind] = n
    out: dict[tuple[str, str], int] = {}
    for vendor, kinds in by_vendor.items():
        for i, kind in enumerate(sorted(kinds)):
            label = kind if i < MAX_TYPES_PER_VENDOR else OTHER
            out[(vendor, label)] = out.get((vendor, label), 0) + kinds[kind]
    return out


class SequencerCollector(Collector):
    """How often the worker had to seek back over records its fetcher skipped."""

    def __init__(self, sequencer: Any, prefix: str, source_topic: str) -> None:
        self.sequencer = sequencer
        self.prefix = prefix
        self.source = source_topic

    def collect(self) -> Iterator[Any]:
        rewinds = CounterMetricFamily(
            f"{self.prefix}_offset_rewinds",
            "Seeks back to the state's next offset after records were skipped upstream.",
            labels=["source"],
        )
        rewinds.add_metric([self.source], self.sequencer.rewinds)
        holes = CounterMetricFamily(
            f"{self.prefix}_offset_holes",
            "Offset gaps accepted as real holes after repeated rewinds.",
            labels=["source"],
        )
        holes.add_metric([self.source], self.sequencer.holes)
        yield rewinds
        yield holes


class RebalanceCollector(Collector):
    """Consumer-group rebalances this worker went through (each one pauses every partition)."""

    def __init__(self, count: Callable[[], int], prefix: str) -> None:
        self.count = count
        self.prefix = prefix

    def collect(self) -> Iterator[Any]:
        family = CounterMetricFamily(
            f"{self.prefix}_rebalances", "Partition assignments received by this worker."
        )
        family.add_metric([], self.count())
        yield family


class Only(Collector):
    """The samples of a registry whose names are asked for (`/metrics?name[]=...`, the
    convention of prometheus_client's own handlers). The collectors here name their metrics
    only when collected, so the samples are filtered after collection; while it runs,
    `wanted()` tells the collectors which families they may skip building."""

    def __init__(self, registry: Collector, names: set[str]) -> None:
        self.registry = registry
        self.names = names

    def collect(self) -> Iterator[Metric]:
        token = _WANTED.set(frozenset(self.names))
        try:
            for metric in self.registry.collect():
                samples = [sample for sample in metric.samples if sample.name in self.names]
                if samples:
                    kept = Metric(metric.name, metric.documentation, metric.type, metric.unit)
                    kept.samples = samples
                    yield kept
        finally:
            _WANTED.reset(token)
