"""The engagement math against hand-computed values (README, "Relationship and reach"): decay,
the score's independence of order and repetition, bands, the fit index and the flag."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from stream_app.families.engagement.config import EngagementConfig, TargetFit, load
from stream_app.families.engagement.score import (
    Touch,
    band,
    decayed,
    engages_not_winning,
    fit_index,
    score,
)

DAY = 86_400_000
ROOT = Path(__file__).resolve().parents[3]
CONFIG = EngagementConfig()  # half-life 14 days; form_submit 10, pricing_page_view 5


@pytest.mark.parametrize(
    ("age_days", "expected"),
    [(0, 10.0), (14, 5.0), (28, 2.5), (42, 1.25), (7, 10 / math.sqrt(2))],
)
def test_decay_halves_every_half_life(age_days: float, expected: float) -> None:
    assert decayed(10.0, int(age_days * DAY), 14 * DAY) == pytest.approx(expected, rel=1e-12)


def test_score_at_hand_computed_points() -> None:
    t = 1_800_000_000_000
    touches = [
        Touch("a", t, "form_submit"),  # 10
        Touch("b", t - 14 * DAY, "pricing_page_view"),  # 5 halved once: 2.5
        Touch("c", t, "email_open_machine"),  # a machine: 0
        Touch("d", t + 1, "meeting_booked"),  # after the evaluation time: not yet
    ]
    assert score(touches, t, CONFIG) == pytest.approx(12.5, rel=1e-12)
    # Two weeks on, both halve: 5 + 1.25, and the meeting (25, 14 days minus 1 ms old) counts.
    later = score(touches, t + 14 * DAY, CONFIG)
    assert later == pytest.approx(5 + 1.25 + 25 * 2 ** (-(14 * DAY - 1) / (14 * DAY)), rel=1e-12)
    assert score([], t, CONFIG) == 0.0


def test_a_repeated_touch_counts_once() -> None:
    t = 1_800_000_000_000
    once = [Touch("a", t, "form_submit")]
    assert score(once * 3, t, CONFIG) == score(once, t, CONFIG) == 10.0


touch_types = st.sampled_from(sorted(CONFIG.weights))
touch_lists = st.lists(
    st.builds(
        Touch,
        event_id=st.text("abcdef", min_size=1, max_size=3),
        at_ms=st.integers(1_700_000_000_000, 1_800_000_000_000),
        type=touch_types,
    ),
    max_size=40,
    unique_by=lambda t: t.event_id,
)


@given(touch_lists, st.randoms(use_true_random=False), st.integers(0, 5))
def test_score_is_the_same_for_any_order_and_any_duplicates(
    touches: list[Touch], rnd: random.Random, copies: int
) -> None:
    at = 1_800_000_000_000
    shuffled = [*touches, *touches[:copies]]
    rnd.shuffle(shuffled)
    assert score(shuffled, at, CONFIG) == score(touches, at, CONFIG)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "cold"),
        (4.999, "cold"),
        (5.0, "warming"),
        (19.999, "warming"),
        (20.0, "warm"),
        (49.999, "warm"),
        (50.0, "hot"),
        (1e6, "hot"),
    ],
)
def test_bands_truth_table(value: float, expected: str) -> None:
    assert band(value, CONFIG.bands) == expected


@pytest.mark.parametrize(
    ("wins", "total_wins", "targeted", "total_targeted", "expected"),
    [
        (2, 10, 50, 100, 0.4),  # half the targets, a fifth of the wins
        (5, 10, 50, 100, 1.0),  # wins in proportion
        (6, 10, 20, 100, 3.0),  # a fifth of the targets, 60% of the wins
        (0, 10, 20, 100, 0.0),
        (0, 0, 20, 100, None),  # no wins anywhere yet
        (0, 10, 0, 100, None),  # never targeted
        (0, 10, 0, 0, None),
    ],
)
def test_fit_index_truth_table(
    wins: int, total_wins: int, targeted: int, total_targeted: int, expected: float | None
) -> None:
    got = fit_index(wins, total_wins, targeted, total_targeted)
    assert got == (None if expected is None else pytest.approx(expected))


RULE = TargetFit(win_rate_fraction=0.5, min_handoffs=20)


@pytest.mark.parametrize(
    ("seg_eng", "org_eng", "seg_wins", "seg_handoffs", "org_wins", "org_handoffs", "flag"),
    [
        (0.40, 0.30, 1, 40, 40, 200, True),  # engages better, wins 2.5% against 20%
        (0.30, 0.30, 3, 40, 40, 200, True),  # engages as well, 7.5% < 10%
        (0.30, 0.30, 4, 40, 40, 200, False),  # 10% is not below half of 20%
        (0.29, 0.30, 0, 40, 40, 200, False),  # engages less: a different problem
        (0.40, 0.30, 0, 19, 40, 200, False),  # too few handoffs to say
        (0.40, 0.30, 0, 20, 40, 200, True),  # exactly the minimum
        (0.40, 0.30, 0, 40, 0, 200, False),  # nothing wins anywhere
        (None, 0.30, 0, 40, 40, 200, False),  # no engagement measured
    ],
)
def test_engages_not_winning_truth_table(
    seg_eng: float | None,
    org_eng: float,
    seg_wins: int,
    seg_handoffs: int,
    org_wins: int,
    org_handoffs: int,
    flag: bool,
) -> None:
    got = engages_not_winning(
        segment_engagement=seg_eng,
        org_engagement=org_eng,
        segment_wins=seg_wins,
        segment_handoffs=seg_handoffs,
        org_wins=org_wins,
        org_handoffs=org_handoffs,
        rule=RULE,
    )
    assert got is flag


def test_the_shipped_file_is_valid_and_is_the_default() -> None:
    assert load(ROOT / "deploy" / "engagement.yml") == EngagementConfig()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"weights": {"carrier_pigeon": 3}}, "unknown touch types"),
        ({"weights": {"email_open_machine": 1}}, "must be 0"),
        ({"bands": {"warming": 30, "warm": 20, "hot": 50}}, "bands must rise"),
        ({"half_life_days": 0}, "greater than 0"),
        ({"halflife_days": 7}, "Extra inputs"),
    ],
)
def test_a_bad_file_is_refused_with_a_reason(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EngagementConfig.model_validate(raw)
