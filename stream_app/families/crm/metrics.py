"""Prometheus exposition of the CRM pipeline (stage 2), read from state at scrape time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

from schemas.crm import UNATTRIBUTED
from stream_app.families.crm.family import TTC_BUCKETS
from stream_app.families.crm.kpis import (
    COUNTED,
    STATUSES,
    cohort_weeks,
    rates,
    split,
    totals_of,
)
from stream_app.spine.collector import StateCollector, group_first, rank_into
from stream_app.spine.labels import Candidates

HELP = {
    "handoffs": "Leads handed to field sales (opportunities created), by handoff time.",
    "accepted": "Handoffs field sales accepted, by decision time.",
    "rejected": "Handoffs field sales rejected, by decision time.",
    "won": "Deals won, credited to the inside-sales rep who handed over, by close time.",
    "lost": "Deals lost, credited to the inside-sales rep who handed over, by close time.",
}

COHORT_HELP = {
    "handoffs": "how many.",
    "accepted": "how many field sales accepted so far (newest decision).",
    "rejected": "how many field sales rejected so far (newest decision).",
    "won": "how many are won so far (newest outcome).",
    "lost": "how many are lost so far (newest outcome).",
}


class CrmCollector(StateCollector):
    def label_candidates(self, parts: set[int]) -> Candidates:
        ranks: Candidates = {"rep": {}, "team": {}, "segment": {}, "currency": {}, "field": {}}
        for _, totals in self.engine.all_totals(parts):
            first = group_first(totals)
            figures = split(totals["c"])
            for currency in figures["unattributed_amount"]:
                rank_into(ranks["currency"], currency, first)
            if totals["g"] == UNATTRIBUTED:
                continue
            rank_into(ranks["rep"], totals["g"], first)
            rank_into(ranks["team"], totals.get("team", ""), first)
            for label, figure in (
                ("segment", "by_segment"),
                ("currency", "amounts"),
                ("field", "discovery"),
            ):
                for value in figures[figure]:
                    rank_into(ranks[label], value, first)
        return ranks

    def family_series(self, parts: set[int]) -> Iterator[Any]:
        yield from self._crm_totals(parts)
        yield from self._crm_windows(parts)

    def _crm_totals(self, parts: set[int]) -> Iterator[Any]:
        p = self.prefix
        counted = {
            name: CounterMetricFamily(
                f"{p}_{name}", f"{text} All time.", labels=["rep", "team", "segment"]
            )
            for name, text in HELP.items()
        }
        amount = CounterMetricFamily(
            f"{p}_won_amount",
            "Won amount (currency units), by close time.",
            labels=["rep", "team", "currency"],
        )
        disc = CounterMetricFamily(
            f"{p}_discovery_fields",
            "Discovery fields on handoffs by status: answered, asked_declined (asked, would not "
            "say), asked_unknown (asked, did not know), not_asked, not_applicable.",
            labels=["rep", "team", "field", "status"],
        )
        plain = {
            name: CounterMetricFamily(f"{p}_{name}", text, labels=["rep", "team"])
            for name, text in (
                ("complete_handoffs", "Handoffs with every required field answered (or n/a)."),
                ("discovery_answered_fields", "Answered discovery fields on handoffs."),
                ("discovery_applicable_fields", "Discovery fields not marked not_applicable."),
            )
        }
        source = {
            "complete_handoffs": "complete_handoffs",
            "discovery_answered_fields": "fields_answered",
            "discovery_applicable_fields": "fields_applicable",
        }
        hist = HistogramMetricFamily(
            f"{p}_handoff_to_close_seconds",
            "Time from handoff to close of decided deals (won or lost).",
            labels=["rep", "team"],
        )
        pending = GaugeMetricFamily(
            f"{p}_unattributed_outcomes",
            "Won/lost deals whose handoff has not been seen (held for attribution).",
            labels=["outcome"],
        )
        pending_amount = GaugeMetricFamily(
            f"{p}_unattributed_won_amount",
            "Won amount of deals whose handoff has not been seen (currency units).",
            labels=["currency"],
        )
        # The last four weeks' handoff cohorts (business time zone's calendar, by the clock),
        # for the boards' trend of handoff conversion and win rate.
        now = datetime.fromtimestamp(self.clock.now_ms() / 1000, tz=UTC)
        today = now.astimezone(ZoneInfo(self.engine.tz)).date()
        weekly = {
            name: GaugeMetricFamily(
                f"{p}_cohort_week_{name}",
                f"Of the handoffs made in the week starting `week` (Monday, business time "
                f"zone; the last four weeks): {COHORT_HELP[name]}",
                labels=["rep", "team", "week"],
            )
            for name in COUNTED
        }
        unattributed: dict[str, int] = {"won": 0, "lost": 0}
        unattributed_amount: dict[str, int] = defaultdict(int)
        for _, totals in self.engine.all_totals(parts):
            figures = split(totals["c"])
            if totals["g"] == UNATTRIBUTED:
                for outcome, n in figures["unattributed"].items():
                    unattributed[outcome] = unattributed.get(outcome, 0) + n
                for cur, cents in figures["unattributed_amount"].items():
                    unattributed_amount[cur] += cents
                continue
            rep, team = self._labels(totals)
            for week, counts in cohort_weeks(figures["cohorts"], today).items():
                for name in COUNTED:
                    weekly[name].add_metric([rep, team, week], counts[name])
            for seg, counts in sorted(figures["by_segment"].items()):
                seg_l = self.guard("segment", seg)
                for name in COUNTED:
                    counted[name].add_metric([rep, team, seg_l], counts.get(name, 0))
            for cur, cents in sorted(figures["amounts"].items()):
                amount.add_metric([rep, team, self.guard("currency", cur)], cents / 100)
            for field, statuses in sorted(figures["discovery"].items()):
                field_l = self.guard("field", field)
                for status in STATUSES:
                    disc.add_metric([rep, team, field_l, status], statuses.get(status, 0))
            for name, fact in source.items():
                plain[name].add_metric([rep, team], figures["plain"].get(fact, 0))
            ttc, cumulative, buckets = figures["ttc"], 0, []
            for bound in TTC_BUCKETS:
                cumulative += ttc.get(str(bound), 0)
                buckets.append((str(float(bound)), cumulative))
            cumulative += ttc.get("+Inf", 0)
            buckets.append(("+Inf", cumulative))
            hist.add_metric(
                [rep, team], buckets, sum_value=figures["plain"].get("ttc_sum_ms", 0) / 1000
            )
        for outcome, n in sorted(unattributed.items()):
            pending.add_metric([outcome], n)
        for cur, cents in sorted(unattributed_amount.items()):
            pending_amount.add_metric([self.guard("currency", cur)], cents / 100)
        yield from counted.values()
        yield from (amount, disc, *plain.values(), hist, pending, pending_amount)
        yield from weekly.values()

    def _crm_windows(self, parts: set[int]) -> Iterator[Any]:
        rows = self.rep_window_rows(parts, skip=lambda value: value["g"] == UNATTRIBUTED)
        labels = ["rep", "team", "window", "position"]
        gauges = {
            name: GaugeMetricFamily(
                f"{self.prefix}_window_{name}", f"{text} In the event-time window.", labels=labels
            )
            for name, text in HELP.items()
        }
        derived = {
            "handoff_conversion": "Accepted / handoffs in the window.",
            "win_rate": "Won / (won + lost) in the window.",
            "discovery_completeness": "Answered / applicable discovery fields in the window.",
        }
        rate_gauges = {
            name: GaugeMetricFamily(
                f"{self.prefix}_window_{name}", f"{text} Absent while 0/0.", labels=labels
            )
            for name, text in derived.items()
        }
        for key, counts in sorted(rows.items()):
            figures = split(counts)
            total = totals_of(figures["by_segment"])
            for name in COUNTED:
                gauges[name].add_metric(list(key), total[name])
            for name, value in rates(total, figures["plain"]).items():
                if value is not None:
                    rate_gauges[name].add_metric(list(key), value)
        yield from gauges.values()
        yield from rate_gauges.values()
