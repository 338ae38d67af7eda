"""The vendors' REST APIs, served locally as their references document them, for the import
tests (the real ones cannot be reached from here). Shapes and behaviours, with their sources:

* **Aircall** `GET /v1/calls` (developer.aircall.io, "List all Calls"; Aircall help centre,
  "Pagination" and "Rate limiting"): Basic auth with the API ID and token; `from`/`to` filter
  by creation time (Unix seconds), `order`, `page` (from 1), `per_page` (at most 50); the body
  is `{"calls": [...], "meta": {"count", "total", "current_page", "per_page",
  "next_page_link", "previous_page_link"}}`; no query reaches past 10,000 items; a 429 carries
  `X-AircallApi-Limit`, `X-AircallApi-Remaining` and `X-AircallApi-Reset` (Unix time).
* **Twilio** `GET /2010-04-01/Accounts/{AccountSid}/Calls.json` (twilio.com/docs/voice/api/
  call-resource, "Read multiple Call resources"; the list body as in twilio-python's
  tests/integration/api/v2010/account/test_call.py, `test_read_full_response`): Basic auth
  with the Account SID and auth token; `StartTime>` / `StartTime<`, `PageSize` (at most
  1,000); `{"calls": [...], "next_page_uri", "page", "page_size", "first_page_uri",
  "previous_page_uri", "uri", "start", "end"}`, times RFC 2822; `GET .../Calls/{Sid}.json`.
* **HubSpot** `GET /crm/v3/objects/deals` (developers.hubspot.com, CRM API "Deals" and
  "Objects" guides; hubspot-api-python's `SimplePublicObjectWithAssociations` and
  `ValueWithTimestamp` models): Bearer token; `limit` (50 when `propertiesWithHistory` is
  asked for), `after`, `properties`, `propertiesWithHistory`, `associations`; `{"results":
  [{"id", "properties", "propertiesWithHistory": {name: [{"value", "timestamp",
  "sourceType", ...}]} (newest first), "createdAt", "updatedAt", "archived", "associations":
  {"contacts": {"results": [{"id", "type"}]}}}], "paging": {"next": {"after", "link"}}}`;
  `GET /account-info/v3/details` gives `portalId`; a 429 names its `policyName`
  (`TEN_SECONDLY_ROLLING`, `DAILY`) and carries `X-HubSpot-RateLimit-Interval-Milliseconds`.

Faults are scripted per vendor: `faults["aircall"] = {3: 429}` answers the third Aircall
request with a 429 (then serves it again), `{5: 500}` fails it once; `down[vendor] = n` fails
every request from the n-th on (an outage that outlasts the retries).
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from stream_app.kafka.local_broker import free_port
from tests.helpers.hubspot_script import Deals

AIRCALL_ID, AIRCALL_TOKEN = "aircall-api-id", "aircall-api-token"
TWILIO_SID, TWILIO_TOKEN = "AC" + "a" * 32, "twilio-auth-token"
HUBSPOT_TOKEN = "pat-na1-test"  # noqa: S105
AIRCALL_MAX_LISTED = 10_000


def rfc2822(ms: int) -> str:
    return format_datetime(datetime.fromtimestamp(ms / 1000, UTC))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@dataclass
class VendorApis:
    aircall_calls: list[dict[str, Any]] = field(default_factory=list)
    twilio_calls: list[dict[str, Any]] = field(default_factory=list)
    hubspot_deals: list[dict[str, Any]] = field(default_factory=list)
    portal: int = 62515
    aircall_max_listed: int = AIRCALL_MAX_LISTED
    faults: dict[str, dict[int, int]] = field(default_factory=dict)
    down: dict[str, int] = field(default_factory=dict)
    daily_limit_at: int | None = None
    window: dict[str, int] = field(default_factory=lambda: {"aircall": 60, "hubspot": 100})
    """Requests per rate window: every answer says how many are left in it (Aircall's
    `X-AircallApi-Remaining`, HubSpot's `X-HubSpot-RateLimit-Remaining`)."""
    """The HubSpot request number from which the daily limit is spent."""
    requests: Counter[str] = field(default_factory=Counter)
    log: list[tuple[str, int, str]] = field(default_factory=list)
    url: str = ""

    # ---- faults and auth ------------------------------------------------------------------

    def _fault(self, vendor: str, request: web.Request) -> web.Response | None:
        self.requests[vendor] += 1
        n = self.requests[vendor]
        status = self.faults.get(vendor, {}).pop(n, None)
        if vendor in self.down and n >= self.down[vendor]:
            status = 503
        if vendor == "hubspot" and self.daily_limit_at is not None and n >= self.daily_limit_at:
            body = {
                "status": "error",
                "message": "You have reached your daily limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": "b9d5e0d2-0000-0000-0000-000000000000",
                "policyName": "DAILY",
            }
            return self._answer(vendor, request, web.json_response(body, status=429))
        if status is None:
            return None
        if status == 429:
            return self._answer(vendor, request, self._rate_limited(vendor))
        return self._answer(vendor, request, web.Response(status=status, text="upstream error"))

    def _rate_limited(self, vendor: str) -> web.Response:
        if vendor == "aircall":
            reset = int(datetime.now(UTC).timestamp()) + 1
            headers = {
                "X-AircallApi-Limit": "60",
                "X-AircallApi-Remaining": "0",
                "X-AircallApi-Reset": str(reset),
            }
            return web.json_response({"error": "Too Many Requests"}, status=429, headers=headers)
        if vendor == "twilio":
            body = {"code": 20429, "message": "Too Many Requests", "status": 429}
            return web.json_response(body, status=429, headers={"Retry-After": "1"})
        body = {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "0a2d4ee4-0000-0000-0000-000000000000",
            "policyName": "TEN_SECONDLY_ROLLING",
        }
        headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
        return web.json_response(body, status=429, headers=headers)

    def _left(self, vendor: str) -> dict[str, str]:
        """The rate-limit headers of a 200: the window's size, what is left of it, and when
        the next one starts (Aircall) or how long a window is (HubSpot)."""
        size = self.window[vendor]
        left = str((size - self.requests[vendor] % size) % size)
        if vendor == "aircall":
            reset = str(int(datetime.now(UTC).timestamp()) + 1)
            return {
                "X-AircallApi-Limit": str(size),
                "X-AircallApi-Remaining": left,
                "X-AircallApi-Reset": reset,
            }
        return {
            "X-HubSpot-RateLimit-Max": str(size),
            "X-HubSpot-RateLimit-Remaining": left,
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }

    def _answer(self, vendor: str, request: web.Request, response: web.Response) -> web.Response:
        self.log.append((vendor, response.status, request.path_qs))
        return response

    @staticmethod
    def _basic(request: web.Request, user: str, password: str) -> bool:
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return request.headers.get("Authorization") == expected

    # ---- Aircall --------------------------------------------------------------------------

    async def aircall_calls_list(self, request: web.Request) -> web.Response:
        if not self._basic(request, AIRCALL_ID, AIRCALL_TOKEN):
            return self._answer("aircall", request, web.json_response({}, status=401))
        if (fault := self._fault("aircall", request)) is not None:
            return fault
        q = request.query
        lo, hi = int(q.get("from", 0)), int(q.get("to", 2**40))
        per_page, page = min(int(q.get("per_page", 20)), 50), int(q.get("page", 1))
        every = sorted(
            (c for c in self.aircall_calls if lo <= c["started_at"] <= hi),
            key=lambda c: (c["started_at"], c["id"]),
            reverse=q.get("order") == "desc",
        )
        match = every[: self.aircall_max_listed]  # pages past the limit are not served
        rows = match[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(match)
        base = f"{self.url}/v1/calls?"
        keep = {k: v for k, v in q.items() if k != "page"}
        meta = {
            "count": len(rows),
            "total": len(every),
            "current_page": page,
            "per_page": per_page,
            "next_page_link": base + urlencode({**keep, "page": page + 1}) if more else None,
            "previous_page_link": base + urlencode({**keep, "page": page - 1})
            if page > 1
            else None,
        }
        body = {"calls": rows, "meta": meta}
        return self._answer(
            "aircall", request, web.json_response(body, headers=self._left("aircall"))
        )

    # ---- Twilio ---------------------------------------------------------------------------

    async def twilio_calls_list(self, request: web.Request) -> web.Response:
        if not self._basic(request, TWILIO_SID, TWILIO_TOKEN):
            return self._answer("twilio", request, web.json_response({}, status=401))
        if (fault := self._fault("twilio", request)) is not None:
            return fault
        q = request.query
        after = datetime.fromisoformat(q["StartTime>"].replace("Z", "+00:00")).timestamp()
        before = datetime.fromisoformat(q["StartTime<"].replace("Z", "+00:00")).timestamp()
        size, page = min(int(q.get("PageSize", 50)), 1000), int(q.get("Page", 0))
        match = sorted(
            (
                c
                for c in self.twilio_calls
                if c["start_time"] and after * 1000 <= _rfc_ms(c["start_time"]) < before * 1000
            ),
            key=lambda c: -_rfc_ms(c["start_time"]),  # most recent first, as Twilio lists
        )
        rows = match[page * size : (page + 1) * size]
        path = f"/2010-04-01/Accounts/{TWILIO_SID}/Calls.json"

        def uri(p: int) -> str:
            return f"{path}?" + urlencode(
                {
                    "StartTime>": q["StartTime>"],
                    "StartTime<": q["StartTime<"],
                    "PageSize": size,
                    "Page": p,
                    "PageToken": f"PA{p}",
                }
            )

        body = {
            "calls": rows,
            "end": page * size + max(len(rows) - 1, 0),
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if (page + 1) * size < len(match) else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": uri(page - 1) if page else None,
            "start": page * size,
            "uri": uri(page),
        }
        return self._answer("twilio", request, web.json_response(body))

    async def twilio_call(self, request: web.Request) -> web.Response:
        if not self._basic(request, TWILIO_SID, TWILIO_TOKEN):
            return self._answer("twilio", request, web.json_response({}, status=401))
        if (fault := self._fault("twilio", request)) is not None:
            return fault
        sid = request.match_info["sid"]
        for call in self.twilio_calls:
            if call["sid"] == sid:
                return self._answer("twilio", request, web.json_response(call))
        body = {"code": 20404, "message": "not found", "status": 404}
        return self._answer("twilio", request, web.json_response(body, status=404))

    # ---- HubSpot --------------------------------------------------------------------------

    async def hubspot_deals_list(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {HUBSPOT_TOKEN}":
            return self._answer("hubspot", request, web.json_response({}, status=401))
        if (fault := self._fault("hubspot", request)) is not None:
            return fault
        q = request.query
        limit = min(int(q.get("limit", 10)), 50 if q.get("propertiesWithHistory") else 100)
        start = int(base64.b64decode(q["after"]).decode()) if q.get("after") else 0
        wanted = set(q.get("propertiesWithHistory", "").split(","))
        rows = []
        for deal in self.hubspot_deals[start : start + limit]:
            row = {k: v for k, v in deal.items() if k != "propertiesWithHistory"}
            row["propertiesWithHistory"] = {
                k: v for k, v in deal["propertiesWithHistory"].items() if k in wanted
            }
            if "contacts" not in q.get("associations", ""):
                row.pop("associations", None)
            rows.append(row)
        body: dict[str, Any] = {"results": rows}
        if start + limit < len(self.hubspot_deals):
            after = base64.b64encode(str(start + limit).encode()).decode()
            link = f"{self.url}/crm/v3/objects/deals?after={after}"
            body["paging"] = {"next": {"after": after, "link": link}}
        return self._answer(
            "hubspot", request, web.json_response(body, headers=self._left("hubspot"))
        )

    async def hubspot_account(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {HUBSPOT_TOKEN}":
            return self._answer("hubspot", request, web.json_response({}, status=401))
        body = {
            "portalId": self.portal,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": ["EUR"],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18000000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }
        return self._answer("hubspot", request, web.json_response(body))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/calls", self.aircall_calls_list)
        calls = "/2010-04-01/Accounts/{account}/Calls"
        app.router.add_get(calls + ".json", self.twilio_calls_list)
        app.router.add_get(calls + "/{sid}.json", self.twilio_call)
        app.router.add_get("/crm/v3/objects/deals", self.hubspot_deals_list)
        app.router.add_get("/account-info/v3/details", self.hubspot_account)
        return app

    def env(self) -> dict[str, str]:
        """The settings that point `stream-app import` at this server."""
        return {
            "ISALES_AIRCALL_API_URL": self.url,
            "ISALES_AIRCALL_API_ID": AIRCALL_ID,
            "ISALES_AIRCALL_API_TOKEN": AIRCALL_TOKEN,
            "ISALES_TWILIO_API_URL": self.url,
            "ISALES_TWILIO_ACCOUNT_SID": TWILIO_SID,
            "ISALES_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "ISALES_HUBSPOT_API_URL": self.url,
            "ISALES_HUBSPOT_ACCESS_TOKEN": HUBSPOT_TOKEN,
        }


def _rfc_ms(value: str) -> int:
    return int(parsedate_to_datetime(value).timestamp() * 1000)


@contextmanager
def serving(apis: VendorApis) -> Iterator[VendorApis]:
    """The APIs on a loopback port, in a thread of their own, for the test's duration."""
    loop = asyncio.new_event_loop()
    port = free_port()
    apis.url = f"http://127.0.0.1:{port}"
    runner = web.AppRunner(apis.app(), access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield apis
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def deal_from_webhooks(events: list[dict[str, Any]], deal_id: int) -> dict[str, Any]:
    """A deal as the CRM API returns it, from the webhook events HubSpot sent about it (the
    same facts: each property change is an entry of the property's history)."""
    history: dict[str, list[dict[str, Any]]] = {}
    contacts: list[dict[str, str]] = []
    created = None
    for e in events:
        if e.get("objectId") != deal_id and e.get("fromObjectId") != deal_id:
            continue
        kind = e["subscriptionType"]
        if kind == "deal.creation":
            created = e["occurredAt"]
        elif kind == "deal.propertyChange":
            history.setdefault(e["propertyName"], []).append(
                {
                    "value": e["propertyValue"],
                    "timestamp": iso(e["occurredAt"]),
                    "sourceType": "CRM_UI",
                    "sourceId": "userId:1",
                    "updatedByUserId": 1,
                }
            )
        elif kind == "deal.associationChange" and not e.get("associationRemoved"):
            contacts.append({"id": str(e["toObjectId"]), "type": "deal_to_contact"})
    for changes in history.values():
        changes.sort(key=lambda h: h["timestamp"], reverse=True)  # newest first
    assert created is not None
    newest = max(h["timestamp"] for changes in history.values() for h in changes)
    return {
        "id": str(deal_id),
        "properties": {k: v[0]["value"] for k, v in history.items()},
        "propertiesWithHistory": history,
        "createdAt": iso(created),
        "updatedAt": newest,
        "archived": False,
        "associations": {"contacts": {"results": contacts}},
    }


def api_deals(script: Deals) -> list[dict[str, Any]]:
    """The scripted deals as the CRM API lists them."""
    events = [e for body in script.bodies + script.links for e in orjson.loads(body)]
    ids = sorted({e["objectId"] for e in events if e["subscriptionType"] == "deal.creation"})
    return [deal_from_webhooks(events, i) for i in ids]
