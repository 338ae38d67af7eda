"""HubSpot webhooks (a JSON array of up to 100 subscription events: the legacy `deal.*` and
`contact.*` subscription types, and the generic `object.*` ones for deals and contacts by
`objectTypeId`): split into one record per CRM object, keyed by the object.

HubSpot sends one property per event (`deal.propertyChange` with `propertyName`,
`propertyValue`), so no single webhook says "deal won for 1,200 EUR handed over by rep A": that
takes the deal's stage, amount, currency, owner and associated contact, which come in separate
events, in any order, across requests. This module is the stateless half: it checks each event
and routes it to its object on `vendor.hubspot.objects`; the stateful half
(`hubspot_objects`) keeps each deal's properties and emits the canonical CRM events.

* `event_id` = portal + subscription type + object + property + `occurredAt` + `eventId`:
  HubSpot documents `eventId` as not guaranteed unique, and a retry repeats all of these (only
  `attemptNumber` changes).
* `deal.associationChange` / `contact.associationChange` between a deal and a contact is routed
  to the deal (either direction), so the deal learns its lead.
* Property values are kept as HubSpot sends them (strings) except `amount`, checked here as a
  non-negative decimal so a bad amount is rejected with its reason instead of stalling a win.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from stream_app.adapters import Canonical, Ignored, Mapped, Rejected

OBJECTS = "hubspot_objects"  # emit role: the per-object topic
CHANGES = {"creation", "propertyChange", "associationChange", "deletion"}
OBJECT_TYPES = {"0-3": "deal", "0-1": "contact"}
"""HubSpot's object type ids of the generic `object.*` subscriptions (the CRM objects
reference): deals and contacts; companies (0-2), tickets (0-5) and the rest are ignored."""
DEAL_CONTACT = {"DEAL_TO_CONTACT": "deal", "CONTACT_TO_DEAL": "contact"}
MAX_VALUE = 500


def object_key(portal: int, kind: str, object_id: int) -> str:
    return f"hubspot:{portal}:{kind}:{object_id}"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _one(event: Any) -> Mapped:
    if not isinstance(event, dict):
        return Rejected("invalid_payload", "an array element is not an object")
    subscription = str(event.get("subscriptionType", ""))
    kind, _, change = subscription.partition(".")
    if kind == "object":
        # The developer platform's generic subscriptions name the object by its type id;
        # deals and contacts mean what their legacy subscriptions mean (the same event id, so
        # an app subscribed both ways counts a change once).
        kind = OBJECT_TYPES.get(str(event.get("objectTypeId", "")), "object")
    if kind not in ("deal", "contact") or change not in CHANGES:
        # Companies, tickets, conversations, privacy deletions, other object types: counted,
        # not dead letters.
        return Ignored("hubspot", subscription or "none")
    portal, object_id = _int(event.get("portalId")), _int(event.get("objectId"))
    occurred = _int(event.get("occurredAt"))
    if portal is None or (object_id is None and change != "associationChange"):
        return Rejected("missing_field", "portalId and objectId are required")
    if occurred is None or occurred < 100_000_000_000:
        return Rejected("invalid_timestamp", "occurredAt is not epoch milliseconds")
    record: dict[str, Any] = {"portal": portal, "object": kind, "change": change}
    name = ""
    if change == "propertyChange":
        name = str(event.get("propertyName") or "")
        value = event.get("propertyValue")
        if not name or (value is not None and not isinstance(value, str | int | float)):
            return Rejected("missing_field", "propertyChange without propertyName")
        text = "" if value is None else str(value)
        if name == "amount" and text:
            try:
                ok = Decimal(text).is_finite() and Decimal(text) >= 0
            except InvalidOperation:
                ok = False
            if not ok:
                return Rejected("invalid_amount", "amount is not a non-negative decimal")
        record |= {"property": name[:100], "value": text[:MAX_VALUE]}
    if change == "associationChange":
        direction = DEAL_CONTACT.get(str(event.get("associationType", "")))
        source, target = _int(event.get("fromObjectId")), _int(event.get("toObjectId"))
        if direction is None:  # deal to company, contact to company, ...
            return Ignored("hubspot", f"{kind}.associationChange")
        if source is None or target is None:
            return Rejected("missing_field", "associationChange needs fromObjectId, toObjectId")
        deal, contact = (source, target) if direction == "deal" else (target, source)
        record |= {
            "object": "deal",
            "contact_id": contact,
            "removed": bool(event.get("associationRemoved")),
        }
        object_id, name = deal, f"contact:{contact}"
    assert object_id is not None
    record |= {"object_id": object_id, "occurred_at": occurred}
    parts = (kind, change, object_id, name, occurred, event.get("eventId", ""))
    record["event_id"] = f"hubspot:{portal}:" + ":".join(map(str, parts))[:180]
    key = object_key(portal, record["object"], object_id)
    return Canonical(OBJECTS, key.encode(), record)


def adapt(payload: bytes) -> list[Mapped]:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return [Rejected("invalid_json", "the body is not JSON")]
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        return [Rejected("invalid_payload", "expected a JSON array of events")]
    return [_one(event) for event in body]
