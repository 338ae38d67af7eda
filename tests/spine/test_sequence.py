"""Offset sequencing: gaps are rewound, stale records skipped, real holes accepted."""

from __future__ import annotations

from stream_app.spine.sequence import MAX_REWINDS, REWIND_PATIENCE, OffsetSequencer


def test_in_order_and_replayed_records_are_processed() -> None:
    seq = OffsetSequencer()
    assert seq.check(0, 10, expected=10) == "process"
    assert seq.check(0, 3, expected=11) == "process", "a replay; the engine skips it"
    assert seq.rewinds == 0


def test_a_gap_rewinds_then_skips_stale_records_until_the_expected_one() -> None:
    seq = OffsetSequencer()
    assert seq.check(0, 15, expected=11) == "rewind"
    assert seq.check(0, 16, expected=11) == "skip"
    assert seq.check(1, 7, expected=7) == "process", "other partitions are unaffected"
    assert seq.check(0, 11, expected=11) == "process"
    assert seq.check(0, 12, expected=12) == "process"
    assert seq.rewinds == 1


def test_a_real_hole_is_accepted_after_repeated_rewinds() -> None:
    seq = OffsetSequencer()
    actions = []
    for _ in range(MAX_REWINDS * REWIND_PATIENCE + 1):
        action = seq.check(0, 20, expected=11)
        if action != "skip":
            actions.append(action)
    assert actions == ["rewind"] * MAX_REWINDS + ["accept_hole"]
    assert seq.holes == 1 and seq.rewinds == MAX_REWINDS
