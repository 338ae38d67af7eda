"""Call facts: what a call adds, and that merging is free of order and repetition."""

from __future__ import annotations

import itertools
from typing import Any

from stream_app.families.calls.family import CallsFamily
from tests.helpers.factories import T0, connected_call, event

FAMILY = CallsFamily(short_call_seconds=30)


def fold(events: list) -> dict:  # type: ignore[type-arg]
    state = None
    for e in events:
        state = FAMILY.merge(state, e)
    assert state is not None
    return state


def test_human_connect_adds_dial_connect_and_talk_each_at_its_own_time() -> None:
    events = connected_call(talk_ms=95_000)
    facts = FAMILY.facts(fold(events))
    assert facts == {
        "dials": (T0, 1),
        "connects": (T0 + 5_000, 1),
        "talk_ms": (T0 + 100_000, 95_000),
    }


def test_short_connect_is_counted_apart() -> None:
    facts = FAMILY.facts(fold(connected_call(talk_ms=29_999)))
    assert facts["short_calls"] == (T0 + 34_999, 1)
    assert "short_calls" not in FAMILY.facts(fold(connected_call(talk_ms=30_000)))


def test_voicemail_is_a_machine_answer_not_a_connect_and_pads_no_talk_time() -> None:
    facts = FAMILY.facts(fold(connected_call(answered_by="machine", talk_ms=40_000)))
    assert facts == {"dials": (T0, 1), "machine_answers": (T0 + 5_000, 1)}


def test_unanswered_and_inbound_calls() -> None:
    no_answer = fold([event(1), event(2, status="no_answer", occurred_at=T0 + 30_000)])
    assert FAMILY.facts(no_answer) == {"dials": (T0, 1)}
    inbound = fold([event(1, direction="inbound")])
    assert FAMILY.facts(inbound) == {"inbound_calls": (T0, 1)}


def test_talk_time_from_vendor_field_wins_over_timestamps_of_the_same_event() -> None:
    events = connected_call(talk_ms=60_000)
    last = events[-1].model_copy(update={"talk_seconds": 42.5})
    assert FAMILY.facts(fold([*events[:-1], last]))["talk_ms"][1] == 42_500


def test_a_definite_verdict_beats_a_later_unknown() -> None:
    events = connected_call()
    later_unknown = event(9, status="completed", occurred_at=T0 + 999_000, answered_by="unknown")
    assert "connects" in FAMILY.facts(fold([*events, later_unknown]))


def test_merge_is_order_free_and_idempotent() -> None:
    events = connected_call(talk_ms=12_000)
    expected = fold(events)
    for order in itertools.permutations(events):
        assert fold(list(order)) == expected
    assert fold(events + events[1:3]) == expected


def _answered_then_ended(**completed: Any) -> list:  # type: ignore[type-arg]
    answered, ended = T0 + 5_000, T0 + 65_000
    return [
        event(1, occurred_at=T0, started_at=T0),
        event(
            2,
            status="answered",
            occurred_at=answered,
            started_at=T0,
            answered_by="unknown",
            answered_at=answered,
        ),
        event(3, status="completed", occurred_at=ended, started_at=T0, **completed),
    ]


def test_talk_time_comes_from_the_call_not_from_one_event() -> None:
    """README: each field takes its newest value from any event; talk is `talk_seconds`, else
    `ended_at - answered_at`. Here answered_at is only on the answer and ended_at only on
    the hang-up: 60 s of talk, bucketed by ended_at."""
    events = _answered_then_ended(answered_by="human", ended_at=T0 + 65_000)
    for order in itertools.permutations(events):
        facts = FAMILY.facts(fold(list(order)))
        assert facts["talk_ms"] == (T0 + 65_000, 60_000)
        assert facts["connects"] == (T0 + 5_000, 1)


def test_talk_seconds_wins_over_the_timestamps_and_without_ended_at_buckets_at_its_event() -> None:
    with_both = _answered_then_ended(answered_by="human", ended_at=T0 + 65_000, talk_seconds=42.5)
    assert FAMILY.facts(fold(with_both))["talk_ms"] == (T0 + 65_000, 42_500)
    seconds_only = _answered_then_ended(answered_by="human", talk_seconds=20)
    facts = FAMILY.facts(fold(seconds_only))
    assert facts["talk_ms"] == (T0 + 65_000, 20_000)  # the hang-up event's own time
    assert facts["short_calls"] == (T0 + 65_000, 1)


def test_a_verdict_before_the_answer_time_still_buckets_the_connect_at_answered_at() -> None:
    answered = T0 + 5_000
    early = [
        event(1, occurred_at=T0, started_at=T0, answered_by="human"),  # AMD verdict first
        event(2, status="answered", occurred_at=answered, started_at=T0, answered_at=answered),
    ]
    for order in itertools.permutations(early):
        assert FAMILY.facts(fold(list(order)))["connects"] == (answered, 1)
