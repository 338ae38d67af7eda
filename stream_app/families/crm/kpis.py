"""CRM KPI math from a rep's counts (totals or one window): the figures and rates (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from schemas.crm import FieldStatus
from stream_app.spine.family_protocol import Fact
from stream_app.spine.records import ratio

COUNTED = ("handoffs", "accepted", "rejected", "won", "lost")
STATUSES = tuple(status.value for status in FieldStatus)
"""Discovery statuses in the schema's order; never merged (README, "Handoff quality")."""


def split(counts: Mapping[str, int]) -> dict[str, Any]:
    """Facts of a rep (totals or one window) as nested figures."""
    by_segment: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTED, 0))
    amounts: dict[str, int] = defaultdict(int)
    discovery: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    cohorts: dict[str, dict[str, Any]] = {}
    ttc: dict[str, int] = {}
    unattributed: dict[str, int] = {}
    unattributed_amount: dict[str, int] = {}
    plain: dict[str, int] = {}
    for key, n in counts.items():
        fact = Fact.parse(key)
        head, parts = fact.metric, fact.parts
        if head in COUNTED:
            by_segment[parts[0]][head] += n
        elif head == "won_amount":
            amounts[parts[0]] += n
        elif head == "disc":
            discovery[parts[0]][parts[1]] += n
        elif head == "cohort":
            day, what = parts[0], parts[1]
            cohort = cohorts.setdefault(day, {**dict.fromkeys(COUNTED, 0), "won_amount_cents": {}})
            if what == "won_amount":
                cohort["won_amount_cents"][parts[2]] = n
            else:
                cohort[what] += n
        elif head == "ttc_le":
            ttc[parts[0]] = n
        elif head == "unattributed":
            unattributed[parts[0]] = n
        elif head == "unattributed_amount":
            unattributed_amount[parts[0]] = n
        else:
            plain[key] = n
    return {
        "by_segment": dict(by_segment),
        "amounts": dict(amounts),
        "discovery": dict(discovery),
        "cohorts": cohorts,
        "ttc": ttc,
        "unattributed": unattributed,
        "unattributed_amount": unattributed_amount,
        "plain": plain,
    }


def totals_of(by_segment: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    out = dict.fromkeys(COUNTED, 0)
    for counts in by_segment.values():
        for name in COUNTED:
            out[name] += counts.get(name, 0)
    return out


def rates(c: Mapping[str, int], plain: Mapping[str, int]) -> dict[str, float | None]:
    return {
        "handoff_conversion": ratio(c.get("accepted", 0), c.get("handoffs", 0)),
        "win_rate": ratio(c.get("won", 0), c.get("won", 0) + c.get("lost", 0)),
        "discovery_completeness": ratio(
            plain.get("fields_answered", 0), plain.get("fields_applicable", 0)
        ),
    }


TREND_WEEKS = 4


def cohort_weeks(
    cohorts: Mapping[str, Mapping[str, Any]], today: date, weeks: int = TREND_WEEKS
) -> dict[str, dict[str, int]]:
    """The handoff cohorts of the last `weeks` weeks (Monday to Sunday, the one holding `today`
    last), keyed by the Monday's date: of the handoffs made that week, how many are accepted,
    rejected, won and lost so far (each opportunity's newest decision and outcome). Every week
    is listed, zeros too, so a trend has no gaps."""
    monday = today - timedelta(days=today.weekday())
    starts = [monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    out = {start.isoformat(): dict.fromkeys(COUNTED, 0) for start in starts}
    first, end = starts[0], monday + timedelta(days=7)
    for day, counts in cohorts.items():
        when = date.fromisoformat(day)
        if not first <= when < end:
            continue
        week = out[(when - timedelta(days=when.weekday())).isoformat()]
        for name in COUNTED:
            week[name] += counts.get(name, 0)
    return out
