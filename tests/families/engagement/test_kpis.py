"""Target fit per segment and the score's calibration, against numbers worked out by hand from
the README's formulas."""

from __future__ import annotations

import pytest

from stream_app.families.engagement.config import TargetFit
from stream_app.families.engagement.kpis import SegmentCounts, calibration, segment_fit

RULE = TargetFit(win_rate_fraction=0.5, min_handoffs=20)


def test_a_segment_that_engages_and_never_wins_is_flagged_a_healthy_one_is_not() -> None:
    # Org: 1,000 targeted, 300 engaged (30%), 200 handoffs, 40 won (20%).
    # smb: 500 targeted (50%), 200 engaged (40% >= 30%), 100 handoffs, 2 won (2% < 10%): flagged.
    # ent: 500 targeted (50%), 100 engaged (20%), 100 handoffs, 38 won (38%): not flagged.
    fits = segment_fit(
        {
            "smb": SegmentCounts(
                targeted=500, touched=450, engaged=200, handoffs=100, accepted=80, won=2
            ),
            "ent": SegmentCounts(
                targeted=500, touched=300, engaged=100, handoffs=100, accepted=90, won=38
            ),
        },
        RULE,
    )
    ent, smb = fits  # segment order
    assert (smb.segment, ent.segment) == ("smb", "ent")
    assert smb.engaged_share == pytest.approx(0.4)
    assert smb.win_rate == pytest.approx(0.02)
    assert smb.target_share == pytest.approx(0.5)
    assert smb.win_share == pytest.approx(2 / 40)
    assert smb.fit_index == pytest.approx((2 / 40) / 0.5)  # 0.1
    assert smb.engages_not_winning is True
    assert ent.fit_index == pytest.approx((38 / 40) / 0.5)  # 1.9
    assert ent.engages_not_winning is False


def test_too_few_handoffs_and_no_wins_anywhere_raise_nothing() -> None:
    few = segment_fit(
        {
            "smb": SegmentCounts(targeted=100, engaged=60, handoffs=19, won=0),
            "ent": SegmentCounts(targeted=100, engaged=10, handoffs=50, won=20),
        },
        RULE,
    )
    assert [f.engages_not_winning for f in few] == [False, False]
    none_won = segment_fit(
        {"smb": SegmentCounts(targeted=100, engaged=60, handoffs=40, won=0)}, RULE
    )
    assert none_won[0].engages_not_winning is False
    assert none_won[0].fit_index is None and none_won[0].win_share is None


def test_calibration_lists_every_band_cold_to_hot_with_rates() -> None:
    rows = calibration({"warm": (10, 8, 3), "cold": (4, 1, 0)})
    assert [r.band for r in rows] == ["cold", "warming", "warm", "hot"]
    cold, warming, warm, hot = rows
    assert (cold.handoffs, cold.acceptance_rate, cold.win_rate) == (4, 0.25, 0.0)
    assert (warming.handoffs, warming.acceptance_rate, warming.win_rate) == (0, None, None)
    assert warm.acceptance_rate == pytest.approx(0.8)
    assert warm.win_rate == pytest.approx(0.3)
    assert hot.handoffs == 0
