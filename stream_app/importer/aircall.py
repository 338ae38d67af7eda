"""Aircall calls from the Public API's calls list (`GET /v1/calls`), as its webhooks.

* The list is filtered by creation time (`from`, `to`: Unix seconds), paged with `page` and
  `per_page` (at most 50), ordered `asc`; `meta.next_page_link` is the next page. A query never
  reaches past 10,000 calls (Aircall's help centre, "Pagination"), so a window holding more is
  split in two until each part holds fewer.
* A call object is the `data` of Aircall's `call.*` webhooks, so each call becomes the webhooks
  that say what it shows: `call.created` (always), `call.answered` (if it has `answered_at`),
  `call.ended` (if it has `ended_at`). Their `event_id`s are the adapter's, `aircall:<call id>:
  <event>`, so a webhook of the same call is a duplicate. The tags are on the call: an ended
  call's tags (`connected`, `voicemail`) say who answered, as on `call.ended`; the tag events
  themselves (`call.tagged`, whose id carries the time Aircall sent it) are not re-created.
"""

from __future__ import annotations

from typing import Any

import orjson

from stream_app.importer import Raw
from stream_app.importer.http import Api

PER_PAGE = 50
MAX_LISTED = 10_000


def webhooks(call: dict[str, Any]) -> list[Raw]:
    """The webhooks Aircall sends for a call in the state the API lists it in."""
    events = ["call.created"]
    if call.get("answered_at"):
        events.append("call.answered")
    if call.get("ended_at"):
        events.append("call.ended")
    out = []
    for event in events:
        body = {
            "resource": "call",
            "event": event,
            "timestamp": call.get("started_at"),
            "data": call,
        }
        out.append(Raw("aircall", f"import:aircall:{call.get('id')}:{event}", orjson.dumps(body)))
    return out


async def calls(api: Api, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """Every call created in [start, end), splitting the window while it lists more than
    Aircall serves for one query."""
    params = {
        "from": str(start_ms // 1000),
        "to": str(max(end_ms // 1000 - 1, start_ms // 1000)),
        "order": "asc",
        "per_page": str(PER_PAGE),
    }
    page = await api.get("/v1/calls", params)
    total = int(page.get("meta", {}).get("total") or 0)
    if total > MAX_LISTED and end_ms - start_ms > 2_000:
        middle = start_ms + (end_ms - start_ms) // 2 // 1000 * 1000
        return await calls(api, start_ms, middle) + await calls(api, middle, end_ms)
    found = list(page.get("calls") or [])
    while link := (page.get("meta") or {}).get("next_page_link"):
        page = await api.get(link)
        found += page.get("calls") or []
    return found


async def window(api: Api, start_ms: int, end_ms: int) -> list[Raw]:
    return [raw for call in await calls(api, start_ms, end_ms) for raw in webhooks(call)]
