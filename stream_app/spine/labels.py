"""Bounded labels: every label value on /metrics comes from a capped set, admitted by the
state, so a label can never grow without bound (and never carries personal data: the values
are checked ids, see `decode`). Apart from `collector` so a pipeline's spec can name the guard
without importing the collectors."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.core import CounterMetricFamily

OTHER = "other"


Candidates = dict[str, dict[str, int]]
"""label -> {value: rank}: every value a label could show now, with the event time it was
first seen (lower ranks are admitted first)."""


class LabelGuard:
    """Caps how many distinct values a label may take; the rest are folded into `other`.

    Admission is a function of the state, recomputed at every scrape: the `cap` values first
    seen (by the event time that created them, then by name) keep their own series. The same
    state admits the same values, so a restart, a rebalance or a replay keeps every admitted
    rep's series; a first-come set held in memory reshuffled on every restart. Past the cap the
    fix is to raise it (ISALES_LABEL_CAP_*), which `..._label_overflow_total` tells you to do."""

    def __init__(self, caps: dict[str, int]) -> None:
        self.caps = caps
        self.candidates: Callable[[], Candidates] = dict
        self.admitted: dict[str, set[str]] = {}
        self.folded: dict[str, int] = dict.fromkeys(caps, 0)
        self.unranked: dict[str, set[str]] = {}
        self._fresh = False

    def new_scrape(self) -> None:
        """Call before each scrape: admission follows the state as it is now."""
        self._fresh = False

    def _admit(self) -> None:
        self._fresh = True
        self.admitted = {}
        for label, ranks in self.candidates().items():
            order = sorted(ranks, key=lambda value: (ranks[value], value))
            cap = self.caps[label]
            self.admitted[label] = set(order[:cap])
            self.folded[label] = max(len(order) - cap, 0)

    def __call__(self, label: str, value: str) -> str:
        if not self._fresh:
            self._admit()
        admitted = self.admitted.get(label)
        if admitted is not None:
            return value if value in admitted else OTHER
        # A label no candidate list announced (a collector's omission): first come, held in
        # memory, still capped, so it can never grow without bound.
        seen = self.unranked.setdefault(label, set())
        if value in seen or len(seen) < self.caps[label]:
            seen.add(value)
            return value
        return OTHER

    def collect(self, prefix: str) -> CounterMetricFamily:
        family = CounterMetricFamily(
            f"{prefix}_label_overflow",
            "Distinct label values folded into 'other' because the label's cap was reached.",
            labels=["label"],
        )
        for label in sorted(self.caps):
            family.add_metric([label], self.folded.get(label, 0))
        return family
