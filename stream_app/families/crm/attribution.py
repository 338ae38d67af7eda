"""CRM stage 1: attribution. Joins every CRM event to the inside-sales rep who handed the
opportunity over, and repartitions it by rep.

`AttributionFamily` (source `crm.events`, keyed by opportunity) remembers each opportunity's
handoff (rep, team, segment, discovery) for the attribution horizon and holds decisions and
outcomes that arrive before it. It counts nothing itself; it *emits* every event, joined to the
handoff's rep, to `isales.crm.attributed` keyed by rep, with the original event id and time. An
outcome without a handoff goes to the `_unattributed` key until its handoff shows up, then a
`claimed` record withdraws it there.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from schemas.common import from_ms, to_ms
from schemas.crm import (
    OUTCOMES,
    UNATTRIBUTED,
    AttributedKind,
    CrmEvent,
    CrmEventType,
)
from stream_app.spine.family_protocol import DerivedSpec, Emit, Facts, MetricSpec, State

HELD_CAP = 32
"""Decisions and outcomes held per opportunity before its handoff: a bound on state for an
opportunity whose handoff never comes (each is still emitted as unattributed)."""
ATTRIBUTED = "attributed"  # emit topic roles, resolved to topic names by the service
OUTCOMES_TOPIC = "outcomes"

_DECISION = {
    CrmEventType.opportunity_accepted: AttributedKind.accepted,
    CrmEventType.opportunity_rejected: AttributedKind.rejected,
    CrmEventType.deal_won: AttributedKind.won,
    CrmEventType.deal_lost: AttributedKind.lost,
}


def segment_label(event: CrmEvent, attributes: tuple[str, ...]) -> str:
    seg = event.segment
    if seg is None:
        return "unknown"
    parts = [getattr(seg, name) or "unknown" for name in attributes]
    return ":".join(parts) if parts else "all"


def _cents(amount: Decimal | None) -> int | None:
    return None if amount is None else int((amount * 100).to_integral_value())


def _record(
    event_id: str,
    at_ms: int,
    kind: AttributedKind,
    handoff: Mapping[str, Any],
    opportunity: str,
    **extra: Any,
) -> bytes:
    body = {
        "event_id": event_id,
        "occurred_at": at_ms,
        "kind": kind.value,
        "opportunity_id": opportunity,
        "rep_id": handoff.get("rep", UNATTRIBUTED),
        "team_id": handoff.get("team", ""),
        "segment": handoff.get("seg", ""),
        "handoff_at": handoff.get("at"),
        "fields": handoff.get("fields", {}),
        **extra,
    }
    return orjson.dumps(body)


class AttributionFamily:
    name: str = "crm_attribution"
    erasable: bool = True
    """Keyed by lead: reads the erasure list (stream-app erase)."""
    key_field: str = "opportunity_id (lead_id for lead events)"
    model: type[CrmEvent] = CrmEvent
    metrics: tuple[MetricSpec, ...] = ()
    derived: tuple[DerivedSpec, ...] = ()

    def __init__(self, segment_by: tuple[str, ...]) -> None:
        self.segment_by = segment_by

    def partition_key(self, event: CrmEvent) -> str:
        return event.key

    def group(self, event: CrmEvent) -> str:
        return event.key

    def event_id(self, event: CrmEvent) -> str:
        return event.event_id

    def entity(self, event: CrmEvent) -> str:
        return event.key

    def occurred_ms(self, event: CrmEvent) -> int:
        return to_ms(event.occurred_at)

    def entity_time(self, event: CrmEvent) -> int:
        return to_ms(event.occurred_at)

    def check_time(self, event: CrmEvent) -> list[int]:
        stamps = [event.occurred_at, event.close_at]
        return [to_ms(s) for s in stamps if s is not None]

    def merge(self, state: State | None, event: CrmEvent) -> State:
        """The first handoff to arrive defines the attribution (the log order is fixed, so a
        replay decides the same); decisions and outcomes are kept until one is attributed."""
        new: State = dict(state) if state else {}
        at = to_ms(event.occurred_at)
        if event.type is CrmEventType.handoff and "h" not in new:
            fields = {name: f.status.value for name, f in (event.discovery or {}).items()}
            new["h"] = {
                "eid": event.event_id,
                "at": at,
                "lead": event.lead_id,
                "rep": event.rep_id,
                "team": event.team_id,
                "seg": segment_label(event, self.segment_by),
                "fields": fields,
            }
        elif event.type in _DECISION:
            # Bounded: an opportunity has a handful of decisions and outcomes, not hundreds.
            held = list(new.get("held", []))
            held.append(self._decision(event))
            new["held"] = held[-HELD_CAP:]
        elif event.type is CrmEventType.lead_created:
            new["lead"] = 1
        return new

    @staticmethod
    def _decision(event: CrmEvent) -> dict[str, Any]:
        kind = _DECISION[event.type]
        at = to_ms(event.close_at) if event.close_at and event.type in OUTCOMES else None
        return {
            "eid": event.event_id,
            "kind": kind.value,
            "at": at if at is not None else to_ms(event.occurred_at),
            "cents": _cents(event.amount),
            "cur": event.currency,
        }

    def facts(self, state: State) -> Facts:
        return {}

    def labels(self, state: State) -> Mapping[str, Any]:
        return {}

    def windowed(self, fact: str) -> bool:
        return False

    def emit(self, old: State | None, new: State, event: CrmEvent) -> list[Emit]:
        opportunity = event.opportunity_id
        if opportunity is None:
            return []
        handoff = new.get("h")
        before = (old or {}).get("h")
        out: list[Emit] = []
        if handoff is not None and before is None:
            rep = handoff["rep"]
            out.append(
                (
                    ATTRIBUTED,
                    rep.encode(),
                    _record(
                        handoff["eid"], handoff["at"], AttributedKind.handoff, handoff, opportunity
                    ),
                )
            )
            for held in (old or {}).get("held", []):
                out.extend(self._attributed(held, handoff, opportunity))
                if held["kind"] in (AttributedKind.won.value, AttributedKind.lost.value):
                    out.extend(self._claim(held, handoff, opportunity))
            return out
        if event.type not in _DECISION:
            return out
        held = new["held"][-1]
        if handoff is not None:
            return self._attributed(held, handoff, opportunity)
        if event.type in OUTCOMES:
            out.append(
                (
                    ATTRIBUTED,
                    UNATTRIBUTED.encode(),
                    _record(
                        held["eid"],
                        held["at"],
                        AttributedKind.unattributed,
                        {},
                        opportunity,
                        amount_cents=held["cents"],
                        currency=held["cur"],
                        outcome=held["kind"],
                    ),
                )
            )
            out.append(self._outcome_record(held, opportunity, None))
        return out

    def _attributed(
        self, held: Mapping[str, Any], handoff: Mapping[str, Any], opportunity: str
    ) -> list[Emit]:
        kind = AttributedKind(held["kind"])
        body = _record(
            held["eid"],
            held["at"],
            kind,
            handoff,
            opportunity,
            amount_cents=held["cents"],
            currency=held["cur"],
        )
        return [(ATTRIBUTED, handoff["rep"].encode(), body)]

    def _claim(
        self, held: Mapping[str, Any], handoff: Mapping[str, Any], opportunity: str
    ) -> list[Emit]:
        """Withdraw a held outcome from `_unattributed`, and say so on the outcomes topic."""
        claim = _record(
            f"claim:{held['eid']}",
            held["at"],
            AttributedKind.claimed,
            {},
            opportunity,
            claims=held["eid"],
        )
        return [
            (ATTRIBUTED, UNATTRIBUTED.encode(), claim),
            self._outcome_record(held, opportunity, handoff),
        ]

    @staticmethod
    def _outcome_record(
        held: Mapping[str, Any], opportunity: str, handoff: Mapping[str, Any] | None
    ) -> Emit:
        """An outcome's attribution status on the outcomes KPI topic (one key per outcome)."""
        key = orjson.dumps(
            {"kpi": "crm_attribution", "event_id": held["eid"]}, option=orjson.OPT_SORT_KEYS
        )
        body = {
            "schema_version": 1,
            "kpi": "crm_attribution",
            "event_id": held["eid"],
            "opportunity_id": opportunity,
            "outcome": held["kind"],
            "close_at": from_ms(held["at"]).isoformat(),
            "amount_cents": held["cents"],
            "currency": held["cur"],
            "status": "attributed" if handoff else "unattributed",
            "rep_id": handoff["rep"] if handoff else None,
            "team_id": handoff["team"] if handoff else None,
        }
        return (OUTCOMES_TOPIC, key, orjson.dumps(body))
