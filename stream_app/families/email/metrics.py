"""Prometheus exposition of the email pipeline, read from state at scrape time.

Campaigns with no event for `idle_ms` of event time (their partition's watermark moved on that
far) leave the metrics; their records stay on the KPI topics. Labels: campaign, variant, segment
and team go through the label guard (capped, overflow folded into `other`); weekday and hour
are bounded already.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from stream_app.families.email.family import METRICS
from stream_app.families.email.kpis import WINDOW_COUNTS, ab, by_dimension, rates
from stream_app.spine.collector import Labels, StateCollector, group_first, rank_into, window_rows
from stream_app.spine.labels import Candidates
from stream_app.spine.store import Value

GUARDED = {"variant": "variant", "segment": "segment", "team": "team"}
RATE_HELP = {
    "open_rate": "Unique human opens / delivered.",
    "adjusted_open_rate": "Unique human opens / (delivered - messages with only machine opens).",
    "click_rate": "Unique clicks / delivered.",
    "click_to_open_rate": "Unique clicks / unique human opens.",
    "bounce_rate": "(Hard + soft bounced messages) / sent.",
}


class EmailCollector(StateCollector):
    def __init__(self, *args: Any, alpha: float, min_n: int, idle_ms: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alpha = alpha
        self.min_n = min_n
        self.idle_ms = idle_ms

    def label_candidates(self, parts: set[int]) -> Candidates:
        ranks: Candidates = {"campaign": {}, "variant": {}, "segment": {}, "team": {}}
        for campaign, totals in self._live(parts).items():
            first = group_first(totals)
            rank_into(ranks["campaign"], campaign, first)
            for dimension, value in by_dimension(totals["c"]):
                label = GUARDED.get(dimension)
                if label is not None:
                    rank_into(ranks[label], value, first)
        return ranks

    def family_series(self, parts: set[int]) -> Iterator[Any]:
        live = self._live(parts)
        yield from self._cohorts(live)
        yield from self._ab(live)
        yield from self._activity(parts, live)

    def _live(self, parts: set[int]) -> dict[str, Value]:
        """Campaigns with an event within `idle_ms` of their partition's watermark: measured
        in event time, so a backfilled campaign shows like a live one."""
        wms = {part: self.engine.watermark(part) for part in parts}
        live = {}
        for _, value in self.engine.all_totals(parts):
            wm = wms.get(value["p"])
            if wm is None or wm - value.get("last", wm) <= self.idle_ms:
                live[value["g"]] = value
        return live

    def _value_label(self, dimension: str, value: str) -> str:
        guarded = GUARDED.get(dimension)
        return value if guarded is None else self.guard(guarded, value)

    def _cohorts(self, live: dict[str, Value]) -> Iterator[Any]:
        rows: dict[tuple[str, str, str], dict[str, int]] = {}
        for campaign, totals in live.items():
            c_label = self.guard("campaign", campaign)
            for (dimension, value), counts in by_dimension(totals["c"]).items():
                key = (c_label, dimension, self._value_label(dimension, value))
                bucket = rows.setdefault(key, defaultdict(int))
                for name, n in counts.items():
                    bucket[name] += n
        labels = ["campaign", "dimension", "value"]
        for metric in METRICS:
            gauge = GaugeMetricFamily(
                f"{self.prefix}_cohort_{metric.name}",
                f"{metric.help} Send cohort: every message of the campaign ever seen, by "
                "dimension (variant, segment, send_weekday, send_hour, team).",
                labels=labels,
            )
            for key, counts in sorted(rows.items()):
                gauge.add_metric(list(key), counts.get(metric.fact, 0))
            yield gauge
        for name, text in RATE_HELP.items():
            gauge = GaugeMetricFamily(
                f"{self.prefix}_cohort_{name}",
                f"{text} Send cohort; absent while the denominator is 0.",
                labels=labels,
            )
            for key, counts in sorted(rows.items()):
                rate = rates(counts)[name]
                if rate is not None:
                    gauge.add_metric(list(key), rate)
            yield gauge

    def _ab(self, live: dict[str, Value]) -> Iterator[Any]:
        labels = ["campaign", "kpi", "variant"]
        z = GaugeMetricFamily(
            f"{self.prefix}_ab_z_score",
            "Two-proportion z statistic of the variant against the campaign's best other variant.",
            labels=labels,
        )
        p = GaugeMetricFamily(
            f"{self.prefix}_ab_p_value",
            "Two-sided p-value of that z-test (not corrected for repeated looks).",
            labels=labels,
        )
        leader = GaugeMetricFamily(
            f"{self.prefix}_ab_leader",
            "1 for the variant that leads at p < alpha with enough deliveries on both sides.",
            labels=labels,
        )
        for campaign, totals in sorted(live.items()):
            c_label = self.guard("campaign", campaign)
            for kpi, comparison in sorted(
                ab(totals["c"], alpha=self.alpha, min_n=self.min_n).items()
            ):
                for result in comparison.results:
                    key = [c_label, kpi, self.guard("variant", result.variant)]
                    if result.z is not None and result.p_value is not None:
                        z.add_metric(key, result.z)
                        p.add_metric(key, result.p_value)
                    leader.add_metric(key, 1 if comparison.leader == result.variant else 0)
        yield from (z, p, leader)

    def _activity(self, parts: set[int], live: dict[str, Value]) -> Iterator[Any]:
        """Current and previous event-time windows per campaign and variant."""

        def variants(value: Value) -> Iterator[tuple[Labels, dict[str, int]]]:
            if value["g"] not in live:  # a quiet campaign has left /metrics
                return
            campaign = self.guard("campaign", value["g"])
            for (dimension, variant), counts in by_dimension(value["c"]).items():
                if dimension == "variant":
                    yield (campaign, self.guard("variant", variant)), counts

        # Every live variant shows 0 in a quiet window.
        rows = window_rows(
            self.engine,
            parts,
            zero=lambda totals: [labels for labels, _ in variants(totals)],
            rows=variants,
        )
        labels = ["campaign", "variant", "window", "position"]
        for metric in WINDOW_COUNTS:
            gauge = GaugeMetricFamily(
                f"{self.prefix}_window_{metric}",
                f"Messages whose first {metric.replace('_', ' ')} happened in the event-time "
                "window (activity, not the send cohort).",
                labels=labels,
            )
            for key, counts in sorted(rows.items()):
                gauge.add_metric(list(key), counts.get(metric, 0))
            yield gauge
