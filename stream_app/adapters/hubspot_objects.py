"""HubSpot's stateful half: each deal's and contact's changes (`vendor.hubspot.objects`, keyed
by object) folded into its state, and the canonical CRM events that state implies sent to
`crm.events` (README, "HubSpot").

A deal's state is a set of tagged facts (`[occurredAt, event_id, ...]`): the history of its
stage, owner and discovery properties, its associated contacts and the newest value of every
other property. The merge is
a union (or newest-wins by tag), so it is order-free and idempotent; what is emitted is a pure
function of the state, compared before and after each change:

* **handoff** (`<deal>:handoff`, once): the deal's earliest entry into a handoff stage, sent
  once an owner as of that moment (the newest owner change at or before it, plus
  `ISALES_HUBSPOT_OWNER_GRACE_SECONDS`) and a contact are known. The handing-over rep is that
  owner, not whoever owns the deal later (field sales); the discovery fields are the deal's
  properties as of the same moment. Sent once: a change at or before that moment that arrives
  after the handoff was sent does not correct it (README, "HubSpot": what is exact).
* **accepted** (`<deal>:accepted`, once): the first entry into an accepted stage.
* **won / lost**: the newest change into a won or lost stage. A won deal is sent once its
  amount is known, and again whenever a newer amount or currency comes; each id carries the
  stage change's time and the amount's and currency's, so the CRM stage's "newest outcome
  stands" keeps the newest stage with the newest amount and currency, whatever the order.
* **lead_created** / **lead_assigned**: a contact's creation and owner changes, one to one.

HubSpot owner ids (8-9 digit numbers) are not label values: the people directory
(`ISALES_PEOPLE_FILE`) maps each owner to a rep and team, `unmapped-hubspot` when it does not list
them; without a directory, `ISALES_HUBSPOT_OWNERS` does, `hubspot-unmapped` (never the id).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from schemas.common import EventId, Timestamp, to_ms
from stream_app.adapters.people import DirectoryFile
from stream_app.spine.family_protocol import DerivedSpec, Emit, Facts, MetricSpec, State, newer

UNMAPPED_REP = "hubspot-unmapped"
UNMAPPED_TEAM = "hubspot-team-none"
CRM = "crm"  # emit role: the canonical CRM topic
OWNER = "hubspot_owner_id"
STAGE = "dealstage"
AMOUNT = "amount"
CURRENCY = "deal_currency_code"
_STATUS = {
    "": "not_asked",
    "unknown": "asked_unknown",
    "asked_unknown": "asked_unknown",
    "declined": "asked_declined",
    "asked_declined": "asked_declined",
    "n/a": "not_applicable",
    "not_applicable": "not_applicable",
}
_CENT = Decimal("0.01")
HISTORY_CAP = 64
"""Changes kept per stage, owner or discovery property of a deal (the newest): a bound on the
state of a deal edited without end."""


class ObjectChange(BaseModel):
    """One HubSpot subscription event, as `hubspot.adapt` routes it to its object."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="HubSpotObjectChange")

    event_id: EventId
    portal: int
    object: Literal["deal", "contact"]
    object_id: int
    change: Literal["creation", "propertyChange", "associationChange", "deletion"]
    occurred_at: Timestamp
    property: str | None = None
    value: str | None = None
    contact_id: int | None = None
    removed: bool = False


class Owner(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rep: str
    team: str


def discovery_status(value: str | None) -> str:
    """A discovery property's value as a field status: empty or missing is not asked, the
    documented markers are asked-but-unanswered or not applicable, anything else answered."""
    if value is None:
        return "not_asked"
    return _STATUS.get(value.strip().lower(), "answered")


class HubSpotObjectsFamily:
    name: str = "hubspot"
    key_field: str = "hubspot:<portal>:<deal|contact>:<id>"
    model: type[ObjectChange] = ObjectChange
    metrics: tuple[MetricSpec, ...] = ()
    derived: tuple[DerivedSpec, ...] = ()

    def __init__(
        self,
        owners: Mapping[str, Owner],
        handoff_stages: tuple[str, ...],
        accepted_stages: tuple[str, ...],
        won_stages: tuple[str, ...],
        lost_stages: tuple[str, ...],
        discovery: Mapping[str, str],
        currency: str,
        owner_grace_ms: int = 0,
        people: DirectoryFile | None = None,
    ) -> None:
        self.owners = dict(owners)
        self.people = people
        self.handoff_stages = frozenset(handoff_stages)
        self.accepted_stages = frozenset(accepted_stages)
        self.won_stages = frozenset(won_stages)
        self.lost_stages = frozenset(lost_stages)
        self.discovery = dict(discovery)
        self.currency = currency
        self.owner_grace_ms = owner_grace_ms
        self.history = frozenset({STAGE, OWNER, *self.discovery.values()})

    # ---- keys -----------------------------------------------------------------------------

    def _key(self, e: ObjectChange) -> str:
        return f"hubspot:{e.portal}:{e.object}:{e.object_id}"

    def partition_key(self, event: ObjectChange) -> str:
        return self._key(event)

    def group(self, event: ObjectChange) -> str:
        return self._key(event)

    def event_id(self, event: ObjectChange) -> str:
        return event.event_id

    def entity(self, event: ObjectChange) -> str:
        return self._key(event)

    def occurred_ms(self, event: ObjectChange) -> int:
        return to_ms(event.occurred_at)

    def entity_time(self, event: ObjectChange) -> int:
        return to_ms(event.occurred_at)

    def check_time(self, event: ObjectChange) -> list[int]:
        return [to_ms(event.occurred_at)]

    # ---- state ----------------------------------------------------------------------------

    def merge(self, state: State | None, event: ObjectChange) -> State:
        new: State = {k: v for k, v in (state or {}).items()}
        new["portal"], new["id"] = event.portal, event.object_id
        if event.object == "contact":
            return new
        at, eid = to_ms(event.occurred_at), event.event_id
        if event.change == "associationChange" and event.contact_id is not None:
            contacts = dict(new.get("ct", {}))
            tag = [at, eid, event.removed]
            if newer(tag, contacts.get(str(event.contact_id))):
                contacts[str(event.contact_id)] = tag
            new["ct"] = contacts
        elif event.change == "propertyChange" and event.property is not None:
            value = event.value or ""
            if event.property in self.history:
                # Every change is kept (a handful per deal): "as of" questions need history.
                history = dict(new.get("h", {}))
                changes = {(t[0], t[1]): t for t in history.get(event.property, [])}
                changes[(at, eid)] = [at, eid, value]
                history[event.property] = sorted(changes.values())[-HISTORY_CAP:]
                new["h"] = history
            else:
                props = dict(new.get("p", {}))
                tag = [at, eid, value]
                if newer(tag, props.get(event.property)):
                    props[event.property] = tag
                new["p"] = props
        return new

    def facts(self, state: State) -> Facts:
        return {}

    def labels(self, state: State) -> Mapping[str, str]:
        return {}

    def windowed(self, fact: str) -> bool:
        return False

    def tally(self, event: ObjectChange) -> dict[str, int] | None:
        """An owner change (deal or contact) to an owner the people directory, or without it
        ISALES_HUBSPOT_OWNERS, does not list: counted as unmapped
        (`isales_vendor_unmapped_events_total{vendor="hubspot"}`), so the gap shows before a
        handoff lands under the unmapped rep."""
        if event.change != "propertyChange" or event.property != OWNER or not event.value:
            return None
        if self.people is not None:
            mapped = self.people.get().who("hubspot", event.value).mapped
        else:
            mapped = event.value in self.owners
        return None if mapped else {"unmapped|hubspot": 1}

    # ---- what the state implies -----------------------------------------------------------

    def _owner(self, owner_id: str) -> Owner:
        if self.people is not None:
            # The people directory (ISALES_PEOPLE_FILE) replaces ISALES_HUBSPOT_OWNERS.
            who = self.people.get().who("hubspot", owner_id)
            return Owner(rep=who.rep, team=who.team)
        return self.owners.get(owner_id) or Owner(rep=UNMAPPED_REP, team=UNMAPPED_TEAM)

    def _as_of(self, state: State, prop: str, at: int) -> str | None:
        """The property's value as of `at`: its newest change at or before it."""
        before = [t for t in state.get("h", {}).get(prop, []) if t[0] <= at]
        return str(before[-1][2]) if before else None

    def _contact(self, state: State) -> str | None:
        linked = sorted((t[0], t[1], cid) for cid, t in state.get("ct", {}).items() if not t[2])
        return linked[0][2] if linked else None

    def _first(self, state: State, stages: frozenset[str]) -> list[Any] | None:
        entries = [t for t in state.get("h", {}).get(STAGE, []) if t[2] in stages]
        return entries[0] if entries else None

    def implied(self, state: State | None) -> dict[str, dict[str, Any]]:
        """The canonical CRM events this deal's state implies, by slot (handoff, accepted,
        outcome): what is new in a slot after a change is what gets sent."""
        stages = state.get("h", {}).get(STAGE) if state else None
        if not state or not stages:
            return {}
        portal, deal = state["portal"], state["id"]
        opp = f"hubspot-{portal}-deal-{deal}"
        out: dict[str, dict[str, Any]] = {}
        entry = self._first(state, self.handoff_stages)
        as_of = entry[0] + self.owner_grace_ms if entry else 0
        owner = self._as_of(state, OWNER, as_of) if entry else None
        contact = self._contact(state)
        if entry is not None and owner and contact is not None:
            who = self._owner(owner)
            out["handoff"] = {
                "event_id": f"{opp}:handoff",
                "occurred_at": entry[0],
                "type": "handoff",
                "opportunity_id": opp,
                "lead_id": f"hubspot-{portal}-contact-{contact}",
                "rep_id": who.rep,
                "team_id": who.team,
                "discovery": {
                    name: {"status": discovery_status(self._as_of(state, prop, as_of))}
                    for name, prop in self.discovery.items()
                },
            }
        accepted = self._first(state, self.accepted_stages)
        if accepted is not None:
            out["accepted"] = {
                "event_id": f"{opp}:accepted",
                "occurred_at": accepted[0],
                "type": "opportunity_accepted",
                "opportunity_id": opp,
            }
        closes = [t for t in stages if t[2] in self.won_stages | self.lost_stages]
        if closes:
            at, _, stage = closes[-1]
            if stage in self.lost_stages:
                out["outcome"] = {
                    "event_id": f"{opp}:lost:{at}",
                    "occurred_at": at,
                    "type": "deal_lost",
                    "opportunity_id": opp,
                    "close_at": at,
                }
            elif (amount := state.get("p", {}).get(AMOUNT)) and amount[2]:
                code = state.get("p", {}).get(CURRENCY, [0, "", ""])
                currency = code[2] or self.currency
                value = Decimal(amount[2]).quantize(_CENT, rounding=ROUND_HALF_EVEN)
                out["outcome"] = {
                    # The times of the amount and the currency it was sent with, zero-padded: a
                    # later send knows at least as much as an earlier one, and its id sorts
                    # after it, so the CRM stage's newest outcome is the best informed.
                    "event_id": f"{opp}:won:{at}:{amount[0]:015d}:{code[0]:015d}",
                    "occurred_at": at,
                    "type": "deal_won",
                    "opportunity_id": opp,
                    "close_at": at,
                    "amount": str(value),
                    "currency": currency.upper(),
                }
        return out

    def emit(self, old: State | None, new: State, event: ObjectChange) -> list[Emit]:
        if event.object == "contact":
            return self._contact_events(event)
        before, after = self.implied(old), self.implied(new)
        return [
            (CRM, record["opportunity_id"].encode(), orjson.dumps(record))
            for slot, record in after.items()
            if before.get(slot, {}).get("event_id") != record["event_id"]
        ]

    def _contact_events(self, e: ObjectChange) -> list[Emit]:
        lead = f"hubspot-{e.portal}-contact-{e.object_id}"
        at = to_ms(e.occurred_at)
        record: dict[str, Any]
        if e.change == "creation":
            record = {"event_id": f"{lead}:created", "type": "lead_created"}
        elif e.change == "propertyChange" and e.property == OWNER and e.value:
            record = {
                "event_id": e.event_id,
                "type": "lead_assigned",
                "rep_id": self._owner(e.value).rep,
                "team_id": self._owner(e.value).team,
            }
        else:
            return []
        record |= {"occurred_at": at, "lead_id": lead}
        return [(CRM, lead.encode(), orjson.dumps(record))]
