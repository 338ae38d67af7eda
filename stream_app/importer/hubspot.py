"""HubSpot deals from the CRM API (`GET /crm/v3/objects/deals`), as property-change webhooks.

* Deals are listed with the properties the CRM stages read, their history
  (`propertiesWithHistory`: every value with its `timestamp`; at most 50 deals a page when
  history is asked for) and their associated contacts, paged by `paging.next.after`.
* A deal is imported whole, every change up to `--until`, when one of its stage changes falls
  in the range: the handoff's rep and discovery fields are "as of" the handoff, which may be
  before the range. Its old changes count in their own (old) windows.
* Each history entry becomes the `deal.propertyChange` webhook HubSpot sent for it
  (`occurredAt` = the entry's timestamp), each associated contact a `deal.associationChange`
  at the deal's creation. HubSpot's webhook `eventId` is not in the API, so the import's
  property changes have ids of their own; the deal's state is keyed by the change's time and
  value, and the CRM events it implies (`<deal>:handoff`, `<deal>:won:<times>`) are named by the
  deal and those times, so a deal seen by import and by webhook gives the same CRM events.
* The portal id comes from `ISALES_HUBSPOT_PORTAL_ID`, else `GET /account-info/v3/details`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import orjson

from stream_app.adapters.hubspot_objects import AMOUNT, CURRENCY, OWNER, STAGE
from stream_app.importer import Raw
from stream_app.importer.http import Api

PAGE_LIMIT = 50
"""The most deals a page may hold when history is asked for (HubSpot's CRM API guide)."""


def _ms(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def properties(discovery: Sequence[str]) -> list[str]:
    return [STAGE, OWNER, AMOUNT, CURRENCY, *discovery]


def webhooks(deal: dict[str, Any], portal: int, since_ms: int, until_ms: int) -> list[Raw]:
    """The webhooks of one deal's history, or none if no stage change of it is in range."""
    deal_id = int(deal["id"])
    history: dict[str, list[dict[str, Any]]] = deal.get("propertiesWithHistory") or {}
    stages = [_ms(h.get("timestamp")) for h in history.get(STAGE, [])]
    if not any(at is not None and since_ms <= at < until_ms for at in stages):
        return []
    out: list[Raw] = []
    for name, changes in history.items():
        for change in changes:
            at = _ms(change.get("timestamp"))
            if at is None or at >= until_ms:
                continue
            event = {
                "subscriptionType": "deal.propertyChange",
                "portalId": portal,
                "objectId": deal_id,
                "propertyName": name,
                "propertyValue": change.get("value"),
                "occurredAt": at,
                "eventId": "import",
            }
            request = f"import:hubspot:{deal_id}:{name}:{at}"
            out.append(Raw("hubspot", request, orjson.dumps([event])))
    created = _ms(deal.get("createdAt")) or min((a for a in stages if a is not None), default=0)
    contacts = ((deal.get("associations") or {}).get("contacts") or {}).get("results") or []
    for contact in contacts:
        event = {
            "subscriptionType": "deal.associationChange",
            "portalId": portal,
            "associationType": "DEAL_TO_CONTACT",
            "fromObjectId": deal_id,
            "toObjectId": int(contact["id"]),
            "associationRemoved": False,
            "occurredAt": created,
            "eventId": "import",
        }
        request = f"import:hubspot:{deal_id}:contact:{contact['id']}"
        out.append(Raw("hubspot", request, orjson.dumps([event])))
    return out


async def portal_id(api: Api, configured: int | None) -> int:
    if configured is not None:
        return configured
    details = await api.get("/account-info/v3/details")
    return int(details["portalId"])


async def deal_pages(
    api: Api, discovery: Sequence[str], after: str | None
) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
    """Each page of deals with the cursor of the page after it (None after the last)."""
    names = ",".join(properties(discovery))
    while True:
        params = {
            "limit": str(PAGE_LIMIT),
            "properties": names,
            "propertiesWithHistory": names,
            "associations": "contacts",
            "archived": "false",
        }
        if after:
            params["after"] = after
        page = await api.get("/crm/v3/objects/deals", params)
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        yield list(page.get("results") or []), after
        if not after:
            return
