"""HubSpot webhooks (subscription types and fields from HubSpot's Webhooks API docs; payloads
written here): the stateless split into per-object records, then the per-deal state and the
canonical CRM events it implies, by hand (README, "HubSpot")."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import orjson
import pytest

from schemas.crm import CrmEvent
from stream_app.adapters import Canonical, Ignored, Rejected
from stream_app.adapters.hubspot import adapt
from stream_app.adapters.hubspot_objects import HubSpotObjectsFamily, ObjectChange, Owner
from stream_app.adapters.settings import HUBSPOT_OPEN_STAGES

PORTAL = 62515
T = 1_796_000_000_000  # epoch ms
SDR, AE = "52550153", "61114422"  # HubSpot owner ids: 8 digits, never labels


def hs(
    kind: str, object_id: int | None = 981, at: int = T, event_id: int = 1, **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventId": event_id,
        "subscriptionId": 2233,
        "portalId": PORTAL,
        "appId": 1160452,
        "occurredAt": at,
        "subscriptionType": kind,
        "attemptNumber": 0,
        "changeSource": "CRM_UI",
    }
    if object_id is not None:
        event["objectId"] = object_id
    return event | extra


def prop(
    name: str, value: str, at: int = T, event_id: int = 1, object_id: int = 981
) -> dict[str, Any]:
    return hs(
        "deal.propertyChange",
        object_id=object_id,
        at=at,
        event_id=event_id,
        propertyName=name,
        propertyValue=value,
    )


def split(events: list[dict[str, Any]]) -> list[Canonical]:
    out = adapt(orjson.dumps(events))
    assert all(isinstance(m, Canonical) for m in out), out
    return [m for m in out if isinstance(m, Canonical)]


# ---- the stateless split ----------------------------------------------------------------


def test_a_property_change_is_routed_to_its_deal_with_a_retry_stable_id() -> None:
    (first,) = split([prop("dealstage", "closedwon", event_id=77)])
    retry = prop("dealstage", "closedwon", event_id=77) | {"attemptNumber": 3}
    (again,) = split([retry])
    assert first.role == "hubspot_objects"
    assert first.key == f"hubspot:{PORTAL}:deal:981".encode()
    assert first.event == {
        "portal": PORTAL,
        "object": "deal",
        "change": "propertyChange",
        "property": "dealstage",
        "value": "closedwon",
        "object_id": 981,
        "occurred_at": T,
        "event_id": f"hubspot:{PORTAL}:deal:propertyChange:981:dealstage:{T}:77",
    }
    assert again.event == first.event  # only attemptNumber changed
    ObjectChange.model_validate(first.event)


def test_an_association_reaches_the_deal_from_either_side() -> None:
    deal_side = hs(
        "deal.associationChange",
        object_id=None,
        associationType="DEAL_TO_CONTACT",
        fromObjectId=981,
        toObjectId=51,
        associationRemoved=False,
    )
    contact_side = hs(
        "contact.associationChange",
        object_id=None,
        event_id=2,
        associationType="CONTACT_TO_DEAL",
        fromObjectId=51,
        toObjectId=981,
        associationRemoved=False,
    )
    a, b = split([deal_side, contact_side])
    assert a.key == b.key == f"hubspot:{PORTAL}:deal:981".encode()
    assert (a.event["contact_id"], b.event["contact_id"]) == (51, 51)
    assert a.event["event_id"] != b.event["event_id"]


def test_a_batch_mixes_objects_and_skips_what_is_not_counted() -> None:
    batch = [
        hs("contact.creation", object_id=51),
        hs("company.creation", object_id=7),  # not a deal or contact
        hs(
            "deal.associationChange",
            object_id=None,
            associationType="DEAL_TO_COMPANY",
            fromObjectId=981,
            toObjectId=7,
        ),
        prop("amount", "1200", event_id=3),
    ]
    mapped = adapt(orjson.dumps(batch))
    keys = [m.key for m in mapped if isinstance(m, Canonical)]
    assert keys == [f"hubspot:{PORTAL}:contact:51".encode(), f"hubspot:{PORTAL}:deal:981".encode()]
    assert [m for m in mapped if isinstance(m, Ignored)] == [
        Ignored("hubspot", "company.creation"),
        Ignored("hubspot", "deal.associationChange"),
    ]


def generic(kind: str, type_id: str, **extra: Any) -> dict[str, Any]:
    """A generic subscription event of HubSpot's developer platform (webhooks API,
    "object.propertyChange": the object named by `objectTypeId`, "0-3" deals, "0-1" contacts)."""
    event = hs(f"object.{kind}", **extra)
    event["objectTypeId"] = type_id
    return event


def test_generic_object_subscriptions_count_as_the_legacy_ones() -> None:
    legacy = prop("dealstage", "closedwon", event_id=77)
    (new,) = split(
        [
            generic(
                "propertyChange",
                "0-3",
                event_id=77,
                propertyName="dealstage",
                propertyValue="closedwon",
            )
        ]
    )
    (old,) = split([legacy])
    # The same change, the same record and id: an app subscribed both ways counts it once.
    assert new.key == old.key and new.event == old.event
    (contact,) = split([generic("creation", "0-1", object_id=51)])
    assert contact.key == f"hubspot:{PORTAL}:contact:51".encode()
    assert adapt(
        orjson.dumps([generic("propertyChange", "0-2", propertyName="name", propertyValue="Acme")])
    ) == [Ignored("hubspot", "object.propertyChange")]


@pytest.mark.parametrize(
    ("body", "reason_class"),
    [
        (b"not json", "invalid_json"),
        (b'"a string"', "invalid_payload"),
        (orjson.dumps([42]), "invalid_payload"),
        (orjson.dumps([hs("deal.creation") | {"portalId": None}]), "missing_field"),
        (orjson.dumps([hs("deal.creation", at=1_796_000_000)]), "invalid_timestamp"),  # seconds
        (orjson.dumps([prop("amount", "twelve")]), "invalid_amount"),
        (orjson.dumps([prop("amount", "-5")]), "invalid_amount"),
        (orjson.dumps([hs("deal.propertyChange")]), "missing_field"),  # no propertyName
    ],
)
def test_bad_events_are_rejected_with_a_reason(body: bytes, reason_class: str) -> None:
    (mapped,) = adapt(body)
    assert isinstance(mapped, Rejected)
    assert mapped.reason_class == reason_class


def test_string_typed_ids_and_times_are_read() -> None:
    (m,) = split([hs("deal.creation") | {"objectId": "981", "occurredAt": str(T)}])
    assert (m.event["object_id"], m.event["occurred_at"]) == (981, T)


# ---- the per-deal state -----------------------------------------------------------------

FAMILY = HubSpotObjectsFamily(
    owners={SDR: Owner(rep="rep-ana", team="team-east"), AE: Owner(rep="ae-bo", team="field")},
    handoff_stages=HUBSPOT_OPEN_STAGES,
    accepted_stages=("qualifiedtobuy",),
    won_stages=("closedwon",),
    lost_stages=("closedlost",),
    discovery={"budget": "isales_budget", "need": "isales_need", "timeline": "isales_timeline"},
    currency="EUR",
)
MIN = 60_000
OPP = f"hubspot-{PORTAL}-deal-981"


def association(at: int, event_id: int, contact: int = 51, removed: bool = False) -> dict[str, Any]:
    return hs(
        "deal.associationChange",
        object_id=None,
        at=at,
        event_id=event_id,
        associationType="DEAL_TO_CONTACT",
        fromObjectId=981,
        toObjectId=contact,
        associationRemoved=removed,
    )


def deal_life() -> list[dict[str, Any]]:
    """An SDR creates the deal (owner, stage, discovery), hands it to an AE a minute later; it
    is accepted, priced, repriced and won."""
    return [
        hs("deal.creation", at=T, event_id=1),
        prop("hubspot_owner_id", SDR, at=T, event_id=2),
        prop("dealstage", "appointmentscheduled", at=T, event_id=3),
        prop("isales_budget", "50k", at=T - MIN, event_id=4),
        prop("isales_need", "unknown", at=T - MIN, event_id=5),
        association(T + 1, 6),
        prop("hubspot_owner_id", AE, at=T + MIN, event_id=7),
        prop("isales_timeline", "Q3", at=T + 2 * MIN, event_id=8),  # after the handoff
        prop("dealstage", "qualifiedtobuy", at=T + 3 * MIN, event_id=9),
        prop("amount", "1000", at=T + 4 * MIN, event_id=10),
        prop("amount", "1200.505", at=T + 5 * MIN, event_id=11),
        prop("dealstage", "closedwon", at=T + 6 * MIN, event_id=12),
    ]


HANDOFF = {
    "event_id": f"{OPP}:handoff",
    "occurred_at": T,
    "type": "handoff",
    "opportunity_id": OPP,
    "lead_id": f"hubspot-{PORTAL}-contact-51",
    "rep_id": "rep-ana",  # the SDR, not the AE who owns the deal later
    "team_id": "team-east",
    "discovery": {
        "budget": {"status": "answered"},
        "need": {"status": "asked_unknown"},
        "timeline": {"status": "not_asked"},  # filled in after the handoff
    },
}
ACCEPTED = {
    "event_id": f"{OPP}:accepted",
    "occurred_at": T + 3 * MIN,
    "type": "opportunity_accepted",
    "opportunity_id": OPP,
}
WON = {
    "type": "deal_won",
    "opportunity_id": OPP,
    "occurred_at": T + 6 * MIN,
    "close_at": T + 6 * MIN,
    "amount": "1200.50",  # the newest amount, to the cent, half to even
    "currency": "EUR",  # the portal's: the deal has no deal_currency_code
}


def run(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spine's order of work for one entity, without Kafka: dedupe by event id, merge,
    emit what the change implies."""
    state: dict[str, Any] | None = None
    seen: set[str] = set()
    sent: list[dict[str, Any]] = []
    for routed in split(list(events)):
        change = ObjectChange.model_validate(routed.event)
        if change.event_id in seen:
            continue
        seen.add(change.event_id)
        new = FAMILY.merge(state, change)
        for role, key, value in FAMILY.emit(state, new, change):
            record = orjson.loads(value)
            assert role == "crm"
            assert key == CrmEvent.model_validate(record).key.encode()
            sent.append(record)
        state = new
    return sent


def effective(sent: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the CRM stages keep (README, "CRM KPIs"): the one handoff and the first decision
    by id, the newest outcome by (time, event id)."""
    kept: dict[str, dict[str, Any]] = {}
    for r in sent:
        slot = {"handoff": "handoff", "opportunity_accepted": "accepted"}.get(r["type"], "out")
        if slot != "out":
            kept.setdefault(slot, r)
        elif "out" not in kept or (r["occurred_at"], r["event_id"]) > (
            kept["out"]["occurred_at"],
            kept["out"]["event_id"],
        ):
            kept["out"] = r
    return kept


def without_id(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "event_id"}


def test_a_deal_life_in_order_gives_handoff_acceptance_and_the_win() -> None:
    kept = effective(run(deal_life()))
    assert kept["handoff"] == HANDOFF
    assert kept["accepted"] == ACCEPTED
    assert without_id(kept["out"]) == WON


def test_any_order_with_retries_gives_the_same_decision_and_outcome() -> None:
    rng = random.Random(14)
    for _ in range(200):
        events = deal_life() + rng.sample(deal_life(), 4)  # vendor retries
        rng.shuffle(events)
        kept = effective(run(events))
        assert kept["accepted"] == ACCEPTED
        assert without_id(kept["out"]) == WON


def test_the_handoff_is_exact_whatever_came_before_the_fact_that_completes_it() -> None:
    # The contact arrives last (HubSpot sends associations on their own subscription): every
    # order of everything else gives the same handoff.
    rng = random.Random(15)
    life = deal_life()
    contact = life.pop(5)
    for _ in range(100):
        rng.shuffle(life)
        assert effective(run([*life, contact]))["handoff"] == HANDOFF


def test_a_reassignment_seen_first_does_not_take_the_credit() -> None:
    life = deal_life()
    ae_first = [
        life[6],
        life[2],
        life[5],
        life[3],
        life[4],
        life[1],
    ]  # AE, stage, contact, ..., SDR
    sent = run(ae_first)
    (handoff,) = [r for r in sent if r["type"] == "handoff"]
    assert handoff == HANDOFF


def test_a_win_waits_for_its_amount_and_a_reopened_deal_lost_later_is_lost() -> None:
    base = [prop("dealstage", "closedwon", at=T, event_id=1)]
    assert run(base) == []  # no amount yet: held
    sent = run([*base, prop("amount", "300", at=T + MIN, event_id=2)])
    assert [without_id(r) for r in sent] == [
        {
            "type": "deal_won",
            "opportunity_id": OPP,
            "occurred_at": T,
            "close_at": T,
            "amount": "300.00",
            "currency": "EUR",
        }
    ]
    reopened = [
        *base,
        prop("amount", "300", at=T + MIN, event_id=2),
        prop("deal_currency_code", "jpy", at=T, event_id=3),
        prop("dealstage", "contractsent", at=T + 2 * MIN, event_id=4),
        prop("dealstage", "closedlost", at=T + 3 * MIN, event_id=5),
    ]
    for order in (reopened, reopened[::-1]):
        out = effective(run(order))["out"]
        assert without_id(out) == {
            "type": "deal_lost",
            "opportunity_id": OPP,
            "occurred_at": T + 3 * MIN,
            "close_at": T + 3 * MIN,
        }


def test_no_handoff_without_an_owner_at_the_time_or_a_contact() -> None:
    stage = prop("dealstage", "appointmentscheduled", at=T, event_id=1)
    later_owner = prop("hubspot_owner_id", SDR, at=T + 1, event_id=2)
    assert run([stage, later_owner, association(T, 3)]) == []  # owner set after the entry
    assert run([stage, prop("hubspot_owner_id", SDR, at=T, event_id=2)]) == []  # no contact
    # Linked then unlinked; the unlink arrives first: the newer fact stands.
    removed = [association(T + 5, 4, removed=True), association(T, 3)]
    assert run([stage, prop("hubspot_owner_id", SDR, at=T, event_id=2), *removed]) == []
    grace = HubSpotObjectsFamily(
        owners={},
        handoff_stages=HUBSPOT_OPEN_STAGES,
        accepted_stages=(),
        won_stages=(),
        lost_stages=(),
        discovery={},
        currency="EUR",
        owner_grace_ms=5_000,
    )
    state = None
    sent = []
    for raw in (stage, later_owner, association(T, 3)):
        change = ObjectChange.model_validate(split([raw])[0].event)
        new = grace.merge(state, change)
        sent += [orjson.loads(v) for _, _, v in grace.emit(state, new, change)]
        state = new
    assert [(r["type"], r["rep_id"], r["team_id"]) for r in sent] == [
        ("handoff", "hubspot-unmapped", "hubspot-team-none")  # an owner not mapped: no id
    ]


def test_contact_creation_and_owner_changes_are_lead_events() -> None:
    created = hs("contact.creation", object_id=51, at=T, event_id=1)
    owner = hs(
        "contact.propertyChange",
        object_id=51,
        at=T + MIN,
        event_id=2,
        propertyName="hubspot_owner_id",
        propertyValue=SDR,
    )
    other = hs(
        "contact.propertyChange",
        object_id=51,
        at=T + MIN,
        event_id=3,
        propertyName="firstname",
        propertyValue="Ana",
    )
    lead = f"hubspot-{PORTAL}-contact-51"
    sent = run([created, owner, other, created])
    assert sent == [
        {"event_id": f"{lead}:created", "type": "lead_created", "occurred_at": T, "lead_id": lead},
        {
            "event_id": f"hubspot:{PORTAL}:contact:propertyChange:51:hubspot_owner_id:{T + MIN}:2",
            "type": "lead_assigned",
            "rep_id": "rep-ana",
            "team_id": "team-east",
            "occurred_at": T + MIN,
            "lead_id": lead,
        },
    ]
    assert "Ana" not in orjson.dumps(sent).decode()


def test_a_currency_that_comes_after_the_win_corrects_it_in_any_order() -> None:
    life = [
        prop("dealstage", "closedwon", at=T, event_id=1),
        prop("amount", "300", at=T - MIN, event_id=2),
        prop("deal_currency_code", "JPY", at=T - 2 * MIN, event_id=3),
    ]
    rng = random.Random(16)
    for _ in range(20):
        rng.shuffle(life)
        out = effective(run(life))["out"]
        assert (out["amount"], out["currency"]) == ("300.00", "JPY")


def test_an_owner_change_to_an_owner_nobody_maps_is_counted_unmapped() -> None:
    """docs/vendors/index.md, "People directory": an identity not listed is counted in
    `isales_vendor_unmapped_events_total{vendor}`. For HubSpot the identity is the owner id of
    an owner change (deal or contact); its handoffs land under `hubspot-unmapped`."""

    def change(raw: dict[str, Any]) -> ObjectChange:
        return ObjectChange.model_validate(split([raw])[0].event)

    stranger = "99999999"
    assert FAMILY.tally(change(prop("hubspot_owner_id", stranger))) == {"unmapped|hubspot": 1}
    contact = hs(
        "contact.propertyChange", 51, propertyName="hubspot_owner_id", propertyValue=stranger
    )
    assert FAMILY.tally(change(contact)) == {"unmapped|hubspot": 1}
    assert FAMILY.tally(change(prop("hubspot_owner_id", SDR))) is None
    assert FAMILY.tally(change(prop("hubspot_owner_id", ""))) is None  # owner removed
    assert FAMILY.tally(change(prop("dealstage", "closedwon"))) is None
