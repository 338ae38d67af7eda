"""`stream-app import`'s vendor side, without Kafka: each vendor's API, served locally as its
reference documents it (tests/helpers/vendor_api.py cites the sources), paged, rate limited and
failing once, becomes the canonical events the webhooks of the same facts give, with the ids
the webhook adapters document (README "Vendor events in"; adapters' docstrings):
`aircall:<call id>:<event>`, `twilio:<CallSid>:<status>`, and for HubSpot the CRM events a
deal's history implies. Expected values are written from those definitions and the scripted
facts, not read from the importer."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from stream_app.adapters.hubspot_objects import ObjectChange
from stream_app.importer import Raw, aircall, hubspot, twilio
from stream_app.importer.http import Api, DailyLimit, ImportStopped, retry_after_s
from stream_app.importer.run import Out, Translate, parse_time
from stream_app.registry import spec_for
from stream_app.settings import Settings
from tests.helpers.hubspot_script import OWNERS, PORTAL, SDRS, deals
from tests.helpers.vendor_api import (
    AIRCALL_ID,
    AIRCALL_TOKEN,
    HUBSPOT_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    VendorApis,
    api_deals,
    rfc2822,
    serving,
)

DAY = 86_400_000
T0 = 1_796_083_200_000  # 2026-12-01T00:00:00Z
PEOPLE = """
people:
  - {id: rep-ana, name: Ana, team: team-east, aircall: ["456"], twilio: ["tw-ana", "ana"]}
  - {id: rep-bo, name: Bo, team: team-west, aircall: ["789"], twilio: ["tw-bo", "bo"]}
"""


@pytest.fixture
def apis() -> Iterator[VendorApis]:
    with serving(VendorApis()) as served:
        yield served


def settings(tmp_path: Path) -> Settings:
    people = tmp_path / "people.yml"
    people.write_text(PEOPLE)
    return Settings(people_file=people, data_dir=tmp_path)


class Waits:
    """The injected sleep: what the client waited, without waiting."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def fetch(apis: VendorApis, vendor: str, call: Any, waits: Waits | None = None) -> Any:
    async def run() -> Any:
        auth = {
            "aircall": {"auth": aiohttp.BasicAuth(AIRCALL_ID, AIRCALL_TOKEN)},
            "twilio": {"auth": aiohttp.BasicAuth(TWILIO_SID, TWILIO_TOKEN)},
            "hubspot": {"headers": {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}},
        }[vendor]
        async with aiohttp.ClientSession(**auth) as session:  # type: ignore[arg-type]
            api = Api(
                vendor, apis.url, session, retries=2, backoff_max_s=0.01, sleep=waits or Waits()
            )
            return await call(api)

    return asyncio.run(run())


def canonical(s: Settings, raws: list[Raw]) -> list[dict[str, Any]]:
    return [orjson.loads(o.value) for o in Translate(s, lambda: T0 + 30 * DAY)(raws)]


# ---- Aircall -------------------------------------------------------------------------------


def aircall_call(n: int, start_s: int) -> dict[str, Any]:
    """A call as Aircall's "Retrieve a Call" documents it (phone numbers included: the import
    must not carry them anywhere)."""
    human = n % 3 == 0
    answered = n % 3 != 2
    return {
        "id": 7000 + n,
        "direct_link": f"https://api.aircall.io/v1/calls/{7000 + n}",
        "direction": "outbound",
        "status": "done",
        "missed_call_reason": None if answered else "no_available_agent",
        "started_at": start_s,
        "answered_at": start_s + 12 if answered else None,
        "ended_at": start_s + 12 + 100 + n if answered else start_s + 30,
        "duration": 112 + n if answered else 30,
        "voicemail": None,
        "raw_digits": "+33 1 23 45 67 89",
        "user": {"id": 456 if n % 2 else 789, "name": "Ana", "email": "ana@example.com"},
        "contact": {"id": 300 + n},
        "teams": [{"id": 3, "name": "East"}],
        "tags": ([{"id": 1, "name": "connected" if human else "voicemail"}] if answered else []),
    }


def test_aircall_calls_are_their_webhooks_paged_split_and_retried(
    apis: VendorApis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """120 calls over the window (three pages of 50 per query); a query capped at 40 listed
    (Aircall caps at 10,000: the same rule at a size a test can reach) is split until none
    is; a 429 waits until `X-AircallApi-Reset`; a 500 is retried."""
    s = settings(tmp_path)
    apis.aircall_calls = [aircall_call(n, T0 // 1000 + n * 600) for n in range(120)]
    apis.aircall_max_listed = 40
    monkeypatch.setattr(aircall, "MAX_LISTED", 40)
    apis.faults["aircall"] = {2: 429, 4: 500}
    waits = Waits()
    raws = fetch(apis, "aircall", lambda api: aircall.window(api, T0, T0 + DAY), waits)
    events = canonical(s, raws)
    ids = Counter(e["event_id"] for e in events)
    assert all(n == 1 for n in ids.values())
    for n, call in enumerate(apis.aircall_calls):
        cid = call["id"]
        assert f"aircall:{cid}:call.created" in ids
        answered = call["answered_at"] is not None
        assert (f"aircall:{cid}:call.answered" in ids) == answered
        assert f"aircall:{cid}:call.ended" in ids
        ended = next(e for e in events if e["event_id"] == f"aircall:{cid}:call.ended")
        rep = "rep-ana" if n % 2 else "rep-bo"
        assert (ended["rep_id"], ended["team_id"]) == (rep, "team-east" if n % 2 else "team-west")
        if answered:
            assert ended["status"] == "completed"
            assert ended["talk_seconds"] == 100 + n  # ended_at - answered_at
            assert ended["answered_by"] == ("human" if n % 3 == 0 else "machine")
        else:
            assert ended["status"] == "no_answer" and "answered_by" not in ended
    assert len(events) == 120 * 2 + 80  # created and ended for all, answered for 80
    assert waits.seconds and 0 < waits.seconds[0] <= 2.0  # until the reset, plus a second
    assert ("aircall", 500, apis.log[3][2]) == apis.log[3]
    every = b"".join(o for o in (r.body for r in raws))
    assert b"+33" in every  # what the API gave...
    out = Translate(s, lambda: T0)(raws)
    assert not any(b"+33" in o.value or b"example.com" in o.value for o in out)  # ...goes nowhere


def test_a_spent_rate_window_is_waited_out_before_the_next_request(apis: VendorApis) -> None:
    """Aircall's answers say what is left of the rate window (60 requests a minute; 3 here):
    the answer that spends it is followed by a wait until `X-AircallApi-Reset`, not by a
    request that would be answered 429."""
    apis.aircall_calls = [aircall_call(n, T0 // 1000 + n * 60) for n in range(200)]  # 4 pages
    apis.window["aircall"] = 3
    waits = Waits()
    calls = fetch(apis, "aircall", lambda api: aircall.calls(api, T0, T0 + DAY), waits)
    assert len(calls) == 200
    assert [status for _, status, _ in apis.log] == [200] * 4
    assert len(waits.seconds) == 1 and 0 < waits.seconds[0] <= 2.0  # after the third answer


# ---- Twilio --------------------------------------------------------------------------------


def twilio_legs(n: int, start_ms: int) -> list[dict[str, Any]]:
    """A softphone `<Dial>`: the rep's inbound leg from `client:<identity>` and the child leg
    to the lead (the Call resource as twilio-python's tests show it)."""
    parent, child = f"CA{n:032x}", f"CA{n + 1000:032x}"
    outcome = ("human", "machine_end_beep", "no-answer")[n % 3]
    talk = 40 + n
    end = start_ms + 8_000 + talk * 1000 if outcome != "no-answer" else start_ms + 25_000

    def leg(sid: str, **fields: Any) -> dict[str, Any]:
        return {
            "account_sid": TWILIO_SID,
            "annotation": None,
            "answered_by": None,
            "api_version": "2010-04-01",
            "caller_name": "",
            "date_created": rfc2822(start_ms),
            "date_updated": rfc2822(end),
            "forwarded_from": None,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": "",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "start_time": rfc2822(start_ms),
            "end_time": rfc2822(end),
            "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Calls/{sid}.json",
            **fields,
        }

    who = "ana" if n % 2 else "bo"
    return [
        leg(
            parent,
            direction="inbound",
            status="completed",
            duration=str((end - start_ms) // 1000),
            to="+14155550100",
            to_formatted="(415) 555-0100",
            **{"from": f"client:{who}", "from_formatted": f"client:{who}"},
        ),
        leg(
            child,
            direction="outbound-dial",
            parent_call_sid=parent,
            status="no-answer" if outcome == "no-answer" else "completed",
            answered_by=None if outcome == "no-answer" else outcome,
            duration="0" if outcome == "no-answer" else str(talk),
            to="+14155550199",
            to_formatted="(415) 555-0199",
            **{"from": "+14155550100", "from_formatted": "(415) 555-0100"},
        ),
    ]


def test_twilio_calls_are_their_status_callbacks_with_the_rep_of_the_softphone(
    apis: VendorApis, tmp_path: Path
) -> None:
    s = settings(tmp_path)
    legs = [twilio_legs(n, T0 + n * 120_000) for n in range(30)]
    apis.twilio_calls = [leg for pair in legs for leg in pair]
    apis.twilio_calls.remove(legs[5][0])  # a parent listed in another window: fetched by sid
    apis.twilio_calls.append({**legs[5][0], "start_time": rfc2822(T0 - DAY)})
    apis.faults["twilio"] = {1: 429, 2: 500}
    waits = Waits()

    async def window(api: Api) -> list[Raw]:
        return await twilio.window(api, TWILIO_SID, T0, T0 + DAY)

    events = canonical(s, fetch(apis, "twilio", window, waits))
    assert waits.seconds[0] == 1.0  # Retry-After
    by_id = {e["event_id"]: e for e in events}
    assert len(by_id) == len(events)
    for n, (_, child) in enumerate(legs):
        sid = child["sid"]
        rep = "rep-ana" if n % 2 else "rep-bo"
        initiated = by_id[f"twilio:{sid}:initiated"]
        assert (initiated["rep_id"], initiated["call_id"]) == (rep, f"twilio:{sid}")
        assert initiated["direction"] == "outbound"
        if n % 3 == 2:
            assert by_id[f"twilio:{sid}:no-answer"]["status"] == "no_answer"
            assert f"twilio:{sid}:in-progress" not in by_id
            continue
        done = by_id[f"twilio:{sid}:completed"]
        assert done["talk_seconds"] == 40 + n
        assert done["answered_by"] == ("human" if n % 3 == 0 else "machine")
        answered = by_id[f"twilio:{sid}:in-progress"]
        assert answered["occurred_at"] == T0 + n * 120_000 + 8_000  # end - duration
    parents = {pair[0]["sid"] for pair in legs}
    assert not any(e["call_id"].removeprefix("twilio:") in parents for e in events)


# ---- HubSpot -------------------------------------------------------------------------------


def scripted_deals(count: int) -> tuple[list[dict[str, Any]], Any]:
    script = deals(random.Random(11), T0 + 10 * 3_600_000, count=count, batches=min(15, count * 4))
    return api_deals(script), script


def crm_events(s: Settings, out: list[Out]) -> list[dict[str, Any]]:
    """What the HubSpot object stage emits for the records, in order (its merge and emit,
    as the stage applies them)."""
    owners = Settings(hubspot_owners=OWNERS, hubspot_discovery=s.hubspot_discovery)
    family = spec_for(owners, "hubspot-objects").family
    state: dict[str, Any] = {}
    emitted = []
    for o in out:
        change = ObjectChange.model_validate_json(o.value)
        key = o.key.decode()
        old, state[key] = state.get(key), family.merge(state.get(key), change)
        emitted += [orjson.loads(v) for _, _, v in family.emit(old, state[key], change)]
    return emitted


def test_hubspot_deals_give_the_crm_events_of_their_history(
    apis: VendorApis, tmp_path: Path
) -> None:
    """60 deals (two pages of 50), their history as the CRM API returns it; a 429 of the
    ten-second policy waits its interval. The CRM events implied are those the script counts:
    one handoff per deal for the SDR who owned it then, with its discovery statuses; the wins
    and losses; nothing for the AE who owns the deals later."""
    s = settings(tmp_path)
    apis.hubspot_deals, script = scripted_deals(60)
    apis.faults["hubspot"] = {2: 429}
    waits = Waits()

    async def every(api: Api) -> tuple[int, list[Raw], int]:
        portal = await hubspot.portal_id(api, None)
        raws, pages = [], 0
        async for page, _ in hubspot.deal_pages(api, list(s.hubspot_discovery.values()), None):
            pages += 1
            raws += [r for d in page for r in hubspot.webhooks(d, portal, T0, T0 + 30 * DAY)]
        return portal, raws, pages

    portal, raws, pages = fetch(apis, "hubspot", every, waits)
    assert (portal, pages) == (PORTAL, 2)
    assert waits.seconds == [10.0]  # X-HubSpot-RateLimit-Interval-Milliseconds
    out = sorted(Translate(s, lambda: T0 + 30 * DAY)(raws), key=lambda o: o.at)
    got: Counter[tuple[str, str]] = Counter()
    discovery: Counter[tuple[str, str, str]] = Counter()
    for e in crm_events(s, out):
        if e["type"] == "handoff":
            got[(e["rep_id"], "handoffs")] += 1
            for name, field in e["discovery"].items():
                discovery[(e["rep_id"], name, field["status"])] += 1
        elif e["type"] == "opportunity_accepted":
            got[("any", "accepted")] += 1
    want = Counter({k: v for k, v in script.crm.items() if k[1] == "handoffs"})
    assert +Counter({k: v for k, v in got.items() if k[1] == "handoffs"}) == +want
    assert got[("any", "accepted")] == sum(v for k, v in script.crm.items() if k[1] == "accepted")
    assert +discovery == +script.discovery
    assert ("hs-ae", "handoffs") not in got and set(SDRS.values()) == {r for r, _ in want}


def test_hubspot_deals_outside_the_range_are_left_out(apis: VendorApis) -> None:
    deal = scripted_deals(1)[0][0]
    first = min(h["timestamp"] for h in deal["propertiesWithHistory"]["dealstage"])
    assert hubspot.webhooks(deal, PORTAL, T0 + 20 * DAY, T0 + 30 * DAY) == []
    assert hubspot.webhooks(deal, PORTAL, T0, T0 + DAY), first


def test_the_daily_limit_stops_the_import(apis: VendorApis) -> None:
    apis.hubspot_deals = scripted_deals(3)[0]
    apis.daily_limit_at = 1

    async def one(api: Api) -> Any:
        return await api.get("/crm/v3/objects/deals")

    with pytest.raises(DailyLimit, match="daily"):
        fetch(apis, "hubspot", one)


def test_an_outage_past_the_retries_and_bad_credentials_stop_with_the_reason(
    apis: VendorApis,
) -> None:
    apis.down["aircall"] = 1

    async def one(api: Api) -> Any:
        return await api.get("/v1/calls")

    with pytest.raises(ImportStopped, match="failed 3 times"):
        fetch(apis, "aircall", one)

    async def wrong(api: Api) -> Any:
        async with aiohttp.ClientSession(auth=aiohttp.BasicAuth("x", "y")) as session:
            return await Api("twilio", apis.url, session, retries=0, backoff_max_s=0).get(
                f"/2010-04-01/Accounts/{TWILIO_SID}/Calls.json"
            )

    with pytest.raises(ImportStopped, match=r"401 \(check the credentials\)"):
        fetch(apis, "twilio", wrong)


def test_retry_after_as_each_vendor_says_it() -> None:
    now = 1_796_083_200.0
    assert retry_after_s({"Retry-After": "7"}, now) == 7.0
    assert retry_after_s({"Retry-After": "Tue, 01 Dec 2026 00:00:30 GMT"}, now) == 30.0
    assert retry_after_s({"X-AircallApi-Reset": str(int(now) + 20)}, now) == 21.0
    assert retry_after_s({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, now) == 10.0
    assert retry_after_s({}, now) is None


def test_since_and_until() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
    assert parse_time("90d", now) == datetime(2026, 9, 8, tzinfo=UTC)
    assert parse_time("2026-09-01", now) == datetime(2026, 9, 1, tzinfo=UTC)
    assert parse_time("2026-09-01T09:00:00+09:00", now) == datetime(2026, 9, 1, 0, tzinfo=UTC)


def test_a_call_the_adapter_cannot_map_is_dead_lettered_with_its_reason(tmp_path: Path) -> None:
    """README, "Bad input never stops the stream": a call the API lists without a direction
    goes to the DLQ with the adapter's reason and where it came from, and is counted."""
    s = settings(tmp_path)
    bad = {**aircall_call(1, T0 // 1000), "direction": None}
    translate = Translate(s, lambda: T0)
    out = translate(aircall.webhooks(bad))
    assert {o.topic for o in out} == {s.dlq_topic} and len(out) == 3  # created, answered, ended
    headers = dict(out[0].headers)
    assert headers["source.topic"] == b"import:aircall"
    assert headers["dlq.reason.class"] == b"missing_field"
    assert b"data.id and data.direction are required" in headers["dlq.reason"]
    assert out[0].key == b"import:aircall:7001:call.created"
    assert b"+33" not in out[0].value  # minimised as the gateway does
    assert translate.counts["dead-lettered"] == 3
