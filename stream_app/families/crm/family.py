"""CRM stage 2: handoff and outcome KPIs per inside-sales rep, from attributed records.

`CrmFamily` (source `isales.crm.attributed`, keyed by rep): one entity per opportunity under
its rep, merged order-free; facts are handoffs, decisions, outcomes (bucketed by close time),
discovery quality, cohorts by handoff day and time to close.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.common import to_ms
from schemas.crm import AttributedEvent, AttributedKind, FieldStatus
from stream_app.spine.family_protocol import (
    DerivedSpec,
    Emit,
    Fact,
    Facts,
    MetricSpec,
    State,
    fact_key,
    newer,
)
from stream_app.spine.parts import PARTS_MAX_PAYLOAD

# Time from handoff to close, in seconds: 1 day .. 90 days.
TTC_BUCKETS = (86_400, 3 * 86_400, 7 * 86_400, 14 * 86_400, 30 * 86_400, 60 * 86_400, 90 * 86_400)

WINDOWED = frozenset(
    {
        "handoffs",
        "accepted",
        "rejected",
        "won",
        "lost",
        "won_amount",
        "disc",
        "fields_answered",
        "fields_applicable",
        "complete_handoffs",
    }
)


def ttc_bucket(seconds: float) -> str:
    for bound in TTC_BUCKETS:
        if seconds <= bound:
            return str(bound)
    return "+Inf"


class CrmFamily:
    """Stage 2: KPIs per inside-sales rep from attributed records."""

    name: str = "crm"
    key_field: str = "rep_id"
    model: type[AttributedEvent] = AttributedEvent
    metrics: tuple[MetricSpec, ...] = ()
    derived: tuple[DerivedSpec, ...] = ()
    takes_parts: bool = True
    """Attribution sends a rep's records of a batch as one (`stream_app.spine.parts`)."""
    max_payload_bytes: int = PARTS_MAX_PAYLOAD

    def __init__(self, tz: str, required_fields: tuple[str, ...]) -> None:
        self.tz = ZoneInfo(tz)
        self.required = required_fields

    def partition_key(self, event: AttributedEvent) -> str:
        return event.rep_id

    def group(self, event: AttributedEvent) -> str:
        return event.rep_id

    def event_id(self, event: AttributedEvent) -> str:
        return event.event_id

    def entity(self, event: AttributedEvent) -> str:
        return event.opportunity_id

    def occurred_ms(self, event: AttributedEvent) -> int:
        return to_ms(event.occurred_at)

    def entity_time(self, event: AttributedEvent) -> int:
        return to_ms(event.occurred_at)

    def check_time(self, event: AttributedEvent) -> list[int]:
        return [to_ms(event.occurred_at)]

    def merge(self, state: State | None, event: AttributedEvent) -> State:
        """Order-free: the handoff is the one record of its kind; the newest decision and the
        newest outcome (by time, then event id) stand; held outcomes are withdrawn by claims."""
        new: State = dict(state) if state else {}
        at = to_ms(event.occurred_at)
        tag = [at, event.event_id]
        kind = event.kind
        if kind is AttributedKind.handoff:
            new["h"] = {
                "at": at,
                "team": event.team_id,
                "seg": event.segment,
                "fields": {k: v.value for k, v in event.fields.items()},
            }
            new["team"] = event.team_id
        elif kind in (AttributedKind.accepted, AttributedKind.rejected):
            if newer(tag, new.get("dec", {}).get("tag")):
                new["dec"] = {"tag": tag, "kind": kind.value}
        elif kind in (AttributedKind.won, AttributedKind.lost):
            if newer(tag, new.get("out", {}).get("tag")):
                new["out"] = {
                    "tag": tag,
                    "kind": kind.value,
                    "cents": event.amount_cents,
                    "cur": event.currency,
                }
        elif kind is AttributedKind.unattributed:
            held = dict(new.get("u", {}))
            held[event.event_id] = {
                "at": at,
                "kind": event.outcome.value if event.outcome else "won",
                "cents": event.amount_cents,
                "cur": event.currency,
            }
            new["u"] = held
        elif kind is AttributedKind.claimed and event.claims:
            new["claimed"] = sorted({*new.get("claimed", []), event.claims})
        return new

    def _day(self, ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(self.tz).date().isoformat()

    def facts(self, state: State) -> Facts:
        facts: Facts = {}
        if "u" in state:
            claimed = set(state.get("claimed", []))
            for eid, held in state["u"].items():
                if eid in claimed:
                    continue
                name = fact_key("unattributed", held["kind"])
                prev = facts.get(name)
                facts[name] = (
                    min(held["at"], prev[0]) if prev else held["at"],
                    (prev[1] if prev else 0) + 1,
                )
                if held["cents"] is not None and held["kind"] == "won":
                    amount = fact_key("unattributed_amount", held["cur"])
                    before = facts.get(amount, (held["at"], 0))
                    facts[amount] = (before[0], before[1] + held["cents"])
        handoff = state.get("h")
        if handoff is None:
            return facts
        at, seg = handoff["at"], handoff["seg"]
        day = self._day(at)
        facts[fact_key("handoffs", seg)] = (at, 1)
        facts[fact_key("cohort", day, "handoffs")] = (at, 1)
        fields = handoff["fields"]
        for name, status in fields.items():
            facts[fact_key("disc", name, status)] = (at, 1)
        answered = sum(1 for s in fields.values() if s == FieldStatus.answered.value)
        applicable = sum(1 for s in fields.values() if s != FieldStatus.not_applicable.value)
        facts["fields_answered"] = (at, answered)
        facts["fields_applicable"] = (at, applicable)
        complete = all(
            fields.get(name) in (FieldStatus.answered.value, FieldStatus.not_applicable.value)
            for name in self.required
        )
        if complete:
            facts["complete_handoffs"] = (at, 1)
        decision = state.get("dec")
        if decision is not None:
            facts[fact_key(decision["kind"], seg)] = (decision["tag"][0], 1)
            facts[fact_key("cohort", day, decision["kind"])] = (at, 1)
        outcome = state.get("out")
        if outcome is not None:
            closed = outcome["tag"][0]
            facts[fact_key(outcome["kind"], seg)] = (closed, 1)
            facts[fact_key("cohort", day, outcome["kind"])] = (at, 1)
            if outcome["kind"] == "won" and outcome["cents"] is not None:
                facts[fact_key("won_amount", outcome["cur"])] = (closed, outcome["cents"])
                facts[fact_key("cohort", day, "won_amount", outcome["cur"])] = (
                    at,
                    outcome["cents"],
                )
            elapsed_ms = max(closed - at, 0)
            facts[fact_key("ttc_le", ttc_bucket(elapsed_ms / 1000))] = (closed, 1)
            facts["ttc_sum_ms"] = (closed, elapsed_ms)
            facts["ttc_count"] = (closed, 1)
        return facts

    def labels(self, state: State) -> Mapping[str, Any]:
        return {"team": state.get("team", "")}

    def windowed(self, fact: str) -> bool:
        return Fact.parse(fact).metric in WINDOWED

    def emit(self, old: State | None, new: State, event: Any) -> list[Emit]:
        return []
