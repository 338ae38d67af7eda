"""The engagement math, pure (README, "Relationship and reach"): a lead's score from its touch
history at an evaluation time, its band, a segment's fit index and the `engages_not_winning`
flag. No Kafka, no clock: the same touches and the same time give the same numbers, however the
touches arrived."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from stream_app.families.engagement.config import Bands, EngagementConfig, TargetFit

Band = Literal["cold", "warming", "warm", "hot"]
BANDS: tuple[Band, ...] = ("cold", "warming", "warm", "hot")


@dataclass(slots=True)  # one or two per tapped event: a frozen __init__ is 3x slower
class Touch:
    event_id: str
    at_ms: int
    type: str


def decayed(weight: float, age_ms: int, half_life_ms: float) -> float:
    """A touch's worth after `age_ms`: halved every half-life."""
    return weight * math.pow(2.0, -age_ms / half_life_ms)


def score(touches: Iterable[Touch], at_ms: int, config: EngagementConfig) -> float:
    """Sum over the lead's distinct touches (by event id) that happened at or before `at_ms` of
    weight(type) x 2^(-(at - touch time) / half-life). math.fsum rounds the exact sum once, so
    the result does not depend on the order the touches are summed in."""
    distinct = distinct_touches(touches)
    half_life = config.half_life_ms
    return math.fsum(
        decayed(config.weight(t.type), at_ms - t.at_ms, half_life)
        for t in distinct.values()
        if t.at_ms <= at_ms
    )


def distinct_touches(touches: Iterable[Touch]) -> dict[str, Touch]:
    """One touch per id: the earliest (then the least type) when sources disagree, e.g. two open
    events of one message, so the result depends only on the set of touches seen."""
    distinct: dict[str, Touch] = {}
    for touch in touches:
        seen = distinct.get(touch.event_id)
        if seen is None or (touch.at_ms, touch.type) < (seen.at_ms, seen.type):
            distinct[touch.event_id] = touch
    return distinct


def band(value: float, bands: Bands) -> Band:
    """cold below `warming`; each threshold belongs to the band it opens."""
    if value >= bands.hot:
        return "hot"
    if value >= bands.warm:
        return "warm"
    if value >= bands.warming:
        return "warming"
    return "cold"


def fit_index(
    segment_wins: int, total_wins: int, segment_targeted: int, total_targeted: int
) -> float | None:
    """The segment's share of wins over its share of targeted leads: 1 wins in proportion, below
    1 under-delivers. None while either share is undefined (no wins or no targets at all, or the
    segment was never targeted)."""
    if total_wins <= 0 or total_targeted <= 0 or segment_targeted <= 0:
        return None
    return (segment_wins / total_wins) / (segment_targeted / total_targeted)


def rate(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else numerator / denominator


def engages_not_winning(
    *,
    segment_engagement: float | None,
    org_engagement: float | None,
    segment_wins: int,
    segment_handoffs: int,
    org_wins: int,
    org_handoffs: int,
    rule: TargetFit,
) -> bool:
    """A segment that engages at least as well as the org while its win rate stays below
    `win_rate_fraction` of the org's, over at least `min_handoffs` handoffs of its own."""
    if segment_handoffs < rule.min_handoffs or segment_engagement is None:
        return False
    if org_engagement is None or segment_engagement < org_engagement:
        return False
    org_rate = rate(org_wins, org_handoffs)
    if org_rate is None or org_rate == 0:
        return False  # nothing wins anywhere: the target is not what tells segments apart
    segment_rate = segment_wins / segment_handoffs
    return segment_rate < rule.win_rate_fraction * org_rate
