"""Call-activity KPIs: dials, connects, machine answers, talk time, short calls.

Each fact of a call is bucketed by the moment it happened, so live numbers never wait for a
call to end: a dial by `started_at`, a connect or machine answer by `answered_at`, talk time
and short calls by `ended_at` (README, "Call KPIs").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.common import to_ms
from schemas.telephony import AnsweredBy, CallEvent, Direction
from stream_app.spine.family_protocol import DerivedSpec, Emit, Facts, MetricSpec, State, newer

Tag = list[Any]  # [occurred_ms, event_id]: the total order that makes merging order-free

# On Python 3.11 an enum member read from its class and a member's `.value` are Python-level
# descriptor calls (~200-330 ns each, several an event); the plain strings compare the same,
# and str() of a StrEnum member is its value.
_INBOUND = Direction.inbound.value
_HUMAN = AnsweredBy.human.value
_MACHINE = AnsweredBy.machine.value
_UNKNOWN = AnsweredBy.unknown


def _tag(event: CallEvent) -> Tag:
    return [to_ms(event.occurred_at), event.event_id]


class CallsFamily:
    name: str = "calls"
    key_field: str = "rep_id"
    model: type[CallEvent] = CallEvent
    metrics: tuple[MetricSpec, ...] = (
        MetricSpec("dials", "dials", "Outbound call attempts, whatever the outcome.", "started_at"),
        MetricSpec("connects", "connects", "Outbound calls answered by a person.", "answered_at"),
        MetricSpec(
            "machine_answers",
            "machine_answers",
            "Outbound calls answered by a machine or voicemail; not connects.",
            "answered_at",
        ),
        MetricSpec(
            "talk_ms",
            "talk_seconds",
            "Seconds from answer to hang-up on connects.",
            "ended_at",
            divisor=1000,
        ),
        MetricSpec(
            "short_calls",
            "short_calls",
            "Connects whose talk time is under the short-call threshold.",
            "ended_at",
        ),
        MetricSpec("inbound_calls", "inbound_calls", "Inbound calls taken.", "started_at"),
    )
    derived: tuple[DerivedSpec, ...] = (
        DerivedSpec("connect_rate", "Connects / dials in the window.", "connects", "dials"),
        DerivedSpec(
            "avg_talk_seconds",
            "Talk seconds / connects in the window.",
            "talk_ms",
            "connects",
            divisor=1000,
        ),
    )

    def __init__(self, short_call_seconds: float) -> None:
        self.short_call_ms = round(short_call_seconds * 1000)

    def partition_key(self, event: CallEvent) -> str:
        return event.rep_id

    def group(self, event: CallEvent) -> str:
        return event.rep_id

    def event_id(self, event: CallEvent) -> str:
        return event.event_id

    def entity(self, event: CallEvent) -> str:
        return event.call_id

    def occurred_ms(self, event: CallEvent) -> int:
        return to_ms(event.occurred_at)

    def entity_time(self, event: CallEvent) -> int:
        return to_ms(event.started_at)

    def check_time(self, event: CallEvent) -> list[int]:
        stamps = [event.occurred_at, event.started_at, event.answered_at, event.ended_at]
        return [to_ms(s) for s in stamps if s is not None]

    def merge(self, state: State | None, event: CallEvent) -> State:
        """Each field keeps the value of the newest event (by occurred_at, then event_id) that
        carries it; a definite human/machine verdict outranks `unknown`. The result depends only
        on the set of events seen, never on their order or repetition."""
        new: State = dict(state) if state else {}
        tag = _tag(event)
        if newer(tag, new.get("tag")):
            new.update(
                tag=tag,
                team=event.team_id,
                dir=str(event.direction),
                start=to_ms(event.started_at),
            )
        if event.answered_by is not None:
            definite = int(event.answered_by is not _UNKNOWN)
            rank = [definite, *tag]
            current = new.get("ab")
            if current is None or (rank[0], rank[1], rank[2]) > tuple(current[1]):
                answered_ms = to_ms(event.answered_at) if event.answered_at else tag[0]
                new["ab"] = [str(event.answered_by), rank, answered_ms]
        if event.answered_at is not None and newer(tag, new.get("at_tag")):
            new["at"] = to_ms(event.answered_at)
            new["at_tag"] = tag
        # Talk time is the call's, not one event's: a vendor may put answered_at on the
        # answer and ended_at on the hang-up. Each field is kept on its own; talk() combines.
        if event.ended_at is not None and newer(tag, new.get("ended_tag")):
            new["ended"] = to_ms(event.ended_at)
            new["ended_tag"] = tag
        if event.talk_seconds is not None and newer(tag, new.get("ts_tag")):
            new["ts"] = round(event.talk_seconds * 1000)
            new["ts_tag"] = tag
        return new

    @staticmethod
    def talk(state: State) -> tuple[int, int] | None:
        """(bucketing ms, talk ms) of a call: its `talk_seconds`, else `ended_at - answered_at`
        (README, "Call KPIs"), each the newest value any event carried; bucketed by `ended_at`
        (the `talk_seconds` event's own time when no event carried one)."""
        ended = state.get("ended")
        if "ts" in state:
            return (state["ts_tag"][0] if ended is None else ended), state["ts"]
        if ended is not None and "at" in state:
            return ended, max(ended - state["at"], 0)
        if "talk" in state:  # a call merged before talk time was combined across events
            return state["end"], state["talk"]
        return None

    def facts(self, state: State) -> Facts:
        facts: Facts = {}
        if "start" not in state:
            return facts
        if state["dir"] == _INBOUND:
            facts["inbound_calls"] = (state["start"], 1)
            return facts
        facts["dials"] = (state["start"], 1)
        answered = state.get("ab")
        if answered is None:
            return facts
        verdict, _rank, verdict_ms = answered
        answered_ms = state.get("at", verdict_ms)
        if verdict == _MACHINE:
            facts["machine_answers"] = (answered_ms, 1)
        elif verdict == _HUMAN:
            facts["connects"] = (answered_ms, 1)
            talk = self.talk(state)
            if talk is not None:
                ended_ms, talk_ms = talk
                facts["talk_ms"] = (ended_ms, talk_ms)
                if talk_ms < self.short_call_ms:
                    facts["short_calls"] = (ended_ms, 1)
        return facts

    def labels(self, state: State) -> Mapping[str, str]:
        return {"team": state["team"]}

    def emit(self, old: State | None, new: State, event: Any) -> list[Emit]:
        return []

    def windowed(self, fact: str) -> bool:
        return True
