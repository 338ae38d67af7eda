"""Target fit and the score's calibration as pure KPI math over counts (README, "Relationship and
reach"): what `kpi.segments` and the calibration table will publish, testable without Kafka."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stream_app.families.engagement.config import TargetFit
from stream_app.families.engagement.score import (
    BANDS,
    Band,
    engages_not_winning,
    fit_index,
    rate,
)


@dataclass(frozen=True, slots=True)
class SegmentCounts:
    """Leads of one segment: targeted (every lead the stream has seen), touched (at least one
    response: the lead answered, opened, clicked, visited, booked; outreach and machine touches
    are not), engaged (band warm or hot now), and their handoffs, and of those the ones whose
    newest decision is accepted and whose newest outcome is won."""

    targeted: int = 0
    touched: int = 0
    engaged: int = 0
    handoffs: int = 0
    accepted: int = 0
    won: int = 0

    def __add__(self, other: SegmentCounts) -> SegmentCounts:
        return SegmentCounts(
            self.targeted + other.targeted,
            self.touched + other.touched,
            self.engaged + other.engaged,
            self.handoffs + other.handoffs,
            self.accepted + other.accepted,
            self.won + other.won,
        )


@dataclass(frozen=True, slots=True)
class SegmentFit:
    segment: str
    counts: SegmentCounts
    engaged_share: float | None
    """engaged / targeted: the engagement the flag compares with the org's."""
    win_rate: float | None
    """won / handoffs."""
    target_share: float | None
    win_share: float | None
    fit_index: float | None
    engages_not_winning: bool


def segment_fit(by_segment: Mapping[str, SegmentCounts], rule: TargetFit) -> list[SegmentFit]:
    """Per segment, its shares of targets and wins against the org (the sum of all segments),
    the fit index and the flag, in segment order."""
    org = sum(by_segment.values(), SegmentCounts())
    org_engaged = rate(org.engaged, org.targeted)
    out = []
    for segment in sorted(by_segment):
        c = by_segment[segment]
        engaged = rate(c.engaged, c.targeted)
        out.append(
            SegmentFit(
                segment=segment,
                counts=c,
                engaged_share=engaged,
                win_rate=rate(c.won, c.handoffs),
                target_share=rate(c.targeted, org.targeted),
                win_share=rate(c.won, org.won),
                fit_index=fit_index(c.won, org.won, c.targeted, org.targeted),
                engages_not_winning=engages_not_winning(
                    segment_engagement=engaged,
                    org_engagement=org_engaged,
                    segment_wins=c.won,
                    segment_handoffs=c.handoffs,
                    org_wins=org.won,
                    org_handoffs=org.handoffs,
                    rule=rule,
                ),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class BandOutcome:
    band: Band
    handoffs: int
    accepted: int
    won: int
    acceptance_rate: float | None
    win_rate: float | None


def calibration(handoffs: Mapping[Band, tuple[int, int, int]]) -> list[BandOutcome]:
    """Per band at handoff: (handoffs, accepted, won) and their rates, every band listed (zeros
    too), cold to hot: if the score means anything, win rate rises with the band."""
    out = []
    for band in BANDS:
        n, accepted, won = handoffs.get(band, (0, 0, 0))
        out.append(BandOutcome(band, n, accepted, won, rate(accepted, n), rate(won, n)))
    return out
