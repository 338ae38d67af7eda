"""The reach stage: the engagement stage's credits (`isales.reach`, keyed by `rep:<id>` or
`seg:<segment>`) counted per rep and per segment in event-time windows and totals.

Each credited thing (a touch, a handoff, a lead's status, a count of ad impressions) is an
entity whose state is its newest version; its facts are retracted and re-added as versions
arrive, so the counts equal those of the newest credits whatever the order. A group's credits
of an engagement batch come as one record (`stream_app.spine.parts`), each credit counted as an
event of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from schemas.touch import ReachKind, ReachRecord
from stream_app.families.engagement.lead import touch_kind
from stream_app.spine.family_protocol import DerivedSpec, Emit, Facts, MetricSpec, State, fact_key
from stream_app.spine.parts import PARTS_MAX_PAYLOAD

LEAD_FACTS = ("lead_targeted", "lead_touched", "lead_handoffs", "lead_accepted", "lead_won")
"""Per segment, over the lead statuses: totals only (a lead's status is not an event in time)."""
DECIDED = ("accepted", "rejected", "won", "lost")
_TOUCH, _HANDOFF = ReachKind.touch.value, ReachKind.handoff.value
_IMPRESSIONS = ReachKind.impressions.value
"""Read once: on Python 3.11 a member read from its enum class is a Python-level call."""
_DEFAULTS = {
    name: field.get_default(call_default_factory=True)
    for name, field in ReachRecord.model_fields.items()
}


class ReachFamily:
    name: str = "reach"
    erasable: bool = True
    """Keyed by lead: reads the erasure list (stream-app erase)."""
    key_field: str = "group"
    model: type[ReachRecord] = ReachRecord
    metrics: tuple[MetricSpec, ...] = ()
    derived: tuple[DerivedSpec, ...] = ()
    takes_parts: bool = True
    """The engagement stage sends a group's credits of a batch as one record."""
    max_payload_bytes: int = PARTS_MAX_PAYLOAD

    def partition_key(self, event: ReachRecord) -> str:
        return event.group

    def group(self, event: ReachRecord) -> str:
        return event.group

    def event_id(self, event: ReachRecord) -> str:
        return f"{event.id}@{event.v}"

    def entity(self, event: ReachRecord) -> str:
        return event.id

    def occurred_ms(self, event: ReachRecord) -> int:
        return event.occurred_at

    def entity_time(self, event: ReachRecord) -> int:
        return event.occurred_at

    def check_time(self, event: ReachRecord) -> list[int]:
        return [event.occurred_at]

    def merge(self, state: State | None, event: ReachRecord) -> State:
        """The newest version stands; equal versions are one state of the lead, so equal."""
        # The record's fields that differ from their defaults, as plain JSON values: what
        # model_dump(mode="json", exclude_defaults=True) gives, without its cost per credit.
        new = {k: value for k, value in event.__dict__.items() if value != _DEFAULTS[k]}
        new["at"] = new.pop("occurred_at")
        new["kind"] = event.kind.value
        if state is None or _order(new) > _order(state):
            return new
        return state

    def facts(self, state: State) -> Facts:
        if state.get("moved"):
            return {}
        at, kind = state["at"], state["kind"]
        if kind == _TOUCH:
            return {fact_key("touches", state["channel"], touch_kind(state["touch_type"])): (at, 1)}
        if kind == _HANDOFF:
            b = state["band"]
            out: Facts = {fact_key("handoffs", b): (at, 1)}
            for decision in DECIDED:
                if state.get(decision):
                    out[fact_key(decision, b)] = (at, 1)
            return out
        if kind == _IMPRESSIONS:
            return {fact_key("impressions", state["campaign_id"]): (at, state["count"])}
        out = {"lead_targeted": (at, 1)}
        for fact, value in (
            ("lead_touched", 1 if state.get("touched") else 0),
            ("lead_handoffs", state.get("handoffs", 0)),
            ("lead_accepted", state.get("accepted_n", 0)),
            ("lead_won", state.get("won_n", 0)),
        ):
            if value:
                out[fact] = (at, value)
        for channel, n in state.get("touches", {}).items():
            out[fact_key("lead_touches", channel)] = (at, n)
        return out

    def labels(self, state: State) -> Mapping[str, str]:
        team = state.get("team_id")
        return {"team": team} if team else {}

    def windowed(self, fact: str) -> bool:
        return not fact.startswith("lead_")

    def emit(self, old: State | None, new: State, event: ReachRecord) -> list[Emit]:
        return []


def _order(state: Mapping[str, Any]) -> tuple[int, bytes]:
    return state["v"], orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
