"""`stream-app import` on a real broker, against the vendors' APIs served locally as their
references document them (tests/helpers/vendor_api.py cites them).

* **Once with the webhooks.** The same Aircall calls, Twilio calls and HubSpot deals arrive both
  by import and by signed webhook through the gateway: the first half of the calls imported
  first and then sent by webhook, the second half the other way round, the two imports
  overlapping; half the deals' webhooks before the import and half after. Every call and
  deal counts once: the KPIs equal the truth counted from the script (README "Call KPIs",
  "CRM KPIs", "HubSpot"), and nothing is dead-lettered.
* **Resumable.** An import stopped by an outage past its retries, and by HubSpot's daily
  limit, then run again, writes the same records as one uninterrupted run (a record sent
  again after the last checkpoint is the same record: counted once downstream), with progress
  lines a log can read.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.helpers.checks import check_call_totals, progress, settled
from tests.helpers.gateway import AIRCALL_TOKEN, Gateway, running_gateway
from tests.helpers.hubspot_script import AE, SDRS, deals
from tests.helpers.support import WorkerProc, cli, isolated_env, metric_sum, read_topic, wait_for
from tests.helpers.vendor_api import VendorApis, api_deals, rfc2822, serving

pytestmark = pytest.mark.kafka
MINUTE = 60_000
PEOPLE = f"""
people:
  - {{id: rep-ana, name: Ana, team: team-east, aircall: ["456"], twilio: ["tw-ana", "ana"]}}
  - {{id: rep-bo, name: Bo, team: team-west, aircall: ["789"], twilio: ["tw-bo", "bo"]}}
  - {{id: {SDRS["52550153"]}, name: Sam, team: hs-team, hubspot: ["52550153"]}}
  - {{id: {SDRS["52550154"]}, name: Sue, team: hs-team, hubspot: ["52550154"]}}
  - {{id: hs-ae, name: Al, team: field, hubspot: ["{AE}"]}}
"""


@dataclass
class Call:
    """One call, as its vendor's API lists it and as its webhooks tell it."""

    at: int
    api: list[dict[str, Any]]
    webhooks: list[tuple[str, str, bytes]]  # (vendor, path, body)


@dataclass
class Script:
    calls: list[Call] = field(default_factory=list)
    dials: Counter[str] = field(default_factory=Counter)
    connects: Counter[str] = field(default_factory=Counter)
    machines: Counter[str] = field(default_factory=Counter)
    talk: Counter[str] = field(default_factory=Counter)
    deals: list[dict[str, Any]] = field(default_factory=list)
    deal_webhooks: list[bytes] = field(default_factory=list)
    deal_links: list[bytes] = field(default_factory=list)
    crm: Counter[tuple[str, str]] = field(default_factory=Counter)


def aircall(sc: Script, n: int, start_ms: int) -> None:
    """An outbound Aircall call: answered and tagged `connected` or `voicemail`, or missed.
    Its webhooks carry the call as it was at each event (Aircall's webhook reference)."""
    s = start_ms // 1000
    outcome = ("human", "machine", "missed")[n % 3]
    user = 456 if n % 2 else 789
    rep = "rep-ana" if n % 2 else "rep-bo"
    answered = None if outcome == "missed" else s + 10
    ended = s + 25 if outcome == "missed" else s + 10 + 50 + n
    tags = {"human": [{"id": 1, "name": "connected"}], "machine": [{"id": 2, "name": "voicemail"}]}
    call = {
        "id": 81_000 + n,
        "direction": "outbound",
        "status": "done",
        "started_at": s,
        "answered_at": answered,
        "ended_at": ended,
        "duration": ended - s,
        "missed_call_reason": "no_available_agent" if outcome == "missed" else None,
        "raw_digits": "+33 1 23 45 67 89",
        "user": {"id": user, "name": "Agent", "email": "agent@example.com"},
        "contact": {"id": 300 + n},
        "teams": [{"id": 3, "name": "Team"}],
        "tags": tags.get(outcome, []),
    }
    hooks = [("call.created", {**call, "answered_at": None, "ended_at": None, "tags": []})]
    if answered is not None:
        hooks.append(("call.answered", {**call, "ended_at": None, "tags": []}))
    hooks.append(("call.ended", {**call, "tags": []}))
    if outcome != "missed":
        hooks.append(("call.tagged", call))
    bodies = [
        orjson.dumps(
            {
                "resource": "call",
                "event": e,
                "timestamp": ended + 5,
                "token": AIRCALL_TOKEN,
                "data": d,
            }
        )
        for e, d in hooks
    ]
    sc.calls.append(Call(start_ms, [call], [("aircall", "/webhooks/aircall", b) for b in bodies]))
    sc.dials[rep] += 1
    if outcome == "human":
        sc.connects[rep] += 1
        sc.talk[rep] += 50 + n
    elif outcome == "machine":
        sc.machines[rep] += 1


def twilio(sc: Script, n: int, start_ms: int) -> None:
    """A rep's softphone `<Dial>`: the inbound leg from `client:<identity>` and the child leg
    to the lead, answered by a person or a machine (AMD) or not at all. The child's status
    callbacks carry the `rep_id` the team's code put on the URL (`tw-ana`), the API only the
    Client identity (`ana`): the people directory lists both."""
    who = ("ana", "rep-ana") if n % 2 else ("bo", "rep-bo")
    parent, child = f"CA{n:032x}", f"CA{n + 5000:032x}"
    outcome = ("human", "machine_end_beep", "no-answer")[n % 3]
    talk = 30 + n
    answer = start_ms + 6_000
    end = start_ms + 20_000 if outcome == "no-answer" else answer + talk * 1000
    legs = [
        {
            "sid": parent,
            "parent_call_sid": None,
            "direction": "inbound",
            "from": f"client:{who[0]}",
            "to": "+14155550100",
            "status": "completed",
            "answered_by": None,
            "start_time": rfc2822(start_ms),
            "end_time": rfc2822(end + 1000),
            "duration": str((end + 1000 - start_ms) // 1000),
        },
        {
            "sid": child,
            "parent_call_sid": parent,
            "direction": "outbound-dial",
            "from": "+14155550100",
            "to": "+14155550199",
            "status": "no-answer" if outcome == "no-answer" else "completed",
            "answered_by": None if outcome == "no-answer" else outcome,
            "start_time": rfc2822(start_ms),
            "end_time": rfc2822(end),
            "duration": "0" if outcome == "no-answer" else str(talk),
        },
    ]
    query = urlencode({"rep_id": f"tw-{who[0]}", "team_id": "tw-team", "started_at": start_ms})
    path = f"/webhooks/twilio?{query}"

    def cb(status: str, at: int, **extra: str) -> bytes:
        form = {"CallSid": child, "CallStatus": status, "Direction": "outbound-dial"}
        return urlencode(
            {**form, "Timestamp": rfc2822(at), "From": "+14155550100", **extra}
        ).encode()

    hooks = [cb("initiated", start_ms), cb("ringing", start_ms + 2_000)]
    if outcome == "no-answer":
        hooks.append(cb("no-answer", end))
    else:
        hooks.append(cb("in-progress", answer, AnsweredBy=outcome))
        hooks.append(cb("completed", end, AnsweredBy=outcome, CallDuration=str(talk)))
    softphone = urlencode(
        {
            "CallSid": parent,
            "CallStatus": "completed",
            "Direction": "inbound",
            "From": f"client:{who[0]}",
            "Timestamp": rfc2822(end + 1000),
        }
    ).encode()
    webhooks = [("twilio", path, body) for body in [*hooks, softphone]]
    sc.calls.append(Call(start_ms, legs, webhooks))
    sc.dials[who[1]] += 1
    if outcome == "human":
        sc.connects[who[1]] += 1
        sc.talk[who[1]] += talk
    elif outcome == "machine_end_beep":
        sc.machines[who[1]] += 1


def script(now: int, deal_count: int = 8) -> Script:
    sc = Script()
    for n in range(24):
        start = now - 200 * MINUTE + n * 7 * MINUTE
        (aircall if n % 2 else twilio)(sc, n, start)
    d = deals(random.Random(5), now, count=deal_count, batches=10)
    sc.deal_webhooks, sc.deal_links = d.bodies, d.links
    sc.deals = api_deals(d)
    sc.crm = d.crm
    return sc


def apis_of(sc: Script) -> VendorApis:
    apis = VendorApis(hubspot_deals=sc.deals)
    for call in sc.calls:
        target = apis.aircall_calls if "id" in call.api[0] else apis.twilio_calls
        target.extend(call.api)
    return apis


def post_all(gw: Gateway, hooks: list[tuple[str, str, bytes]]) -> int:
    for vendor, path, body in hooks:
        assert gw.post(path, body, gw.signed(vendor, path, body)) == 200
    return len(hooks)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def test_calls_and_deals_by_import_and_by_webhook_count_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    now = (int(time.time() * 1000) // MINUTE) * MINUTE
    sc = script(now)
    people = tmp_path / "people.yml"
    people.write_text(PEOPLE)
    env = isolated_env(kafka_bootstrap, ISALES_PEOPLE_FILE=str(people))
    first, second = sc.calls[:12], sc.calls[12:]
    middle = second[0].at
    with serving(apis_of(sc)) as apis, running_gateway(env, tmp_path) as gw:
        env = {**gw.env, **apis.env()}
        names = ("normalise-aircall", "normalise-twilio", "normalise-hubspot")
        stages = ("hubspot-objects", "crm-attribution", "crm", "calls")
        workers = {n: WorkerProc(env, tmp_path, n, n).start() for n in (*names, *stages)}
        try:
            for w in workers.values():
                wait_for(w.ready, 180, f"{w.pipeline} ready")
            posted: Counter[str] = Counter()

            def post(hooks: list[tuple[str, str, bytes]]) -> None:
                for vendor, _, _ in hooks:
                    posted[vendor] += 1
                post_all(gw, hooks)

            # Half the deals' webhooks before the import, half (and every link) after.
            half = len(sc.deal_webhooks) // 2
            post([("hubspot", "/webhooks/hubspot", b) for b in sc.deal_webhooks[:half]])
            # The first half of the calls, and three of the second: imported, then webhooks.
            since, until = iso(now - 360 * MINUTE), iso(middle + 20 * MINUTE)
            vendors = ("--vendor", "aircall", "--vendor", "twilio", "--vendor", "hubspot")
            one = cli(env, "import", *vendors, "--since", since, "--until", until)
            assert one.returncode == 0, one.stderr[-3000:]
            post([h for call in first for h in call.webhooks])
            # The second half: webhooks, then an import overlapping the first one.
            post([h for call in second for h in call.webhooks])
            post([("hubspot", "/webhooks/hubspot", b) for b in sc.deal_webhooks[half:]])
            post([("hubspot", "/webhooks/hubspot", b) for b in sc.deal_links])
            two = cli(
                env,
                "import",
                *("--vendor", "aircall", "--vendor", "twilio"),
                *("--since", iso(middle - 20 * MINUTE), "--until", iso(now + MINUTE)),
            )
            assert two.returncode == 0, two.stderr[-3000:]
            for vendor in ("aircall", "twilio", "hubspot"):
                w = workers[f"normalise-{vendor}"]
                wait_for(lambda w=w, v=vendor: progress(w) >= posted[v], 300, f"{vendor} in")  # type: ignore[misc]
            for name in stages:
                wait_for(lambda w=workers[name]: settled(w), 300, f"{name} settled", every=0.2)  # type: ignore[misc]
            calls = workers["calls"].scrape()
            check_call_totals(calls, sc)
            assert metric_sum(calls, "isales_calls_dials_total") == len(sc.calls)
            crm = workers["crm"].scrape()
            for rep in SDRS.values():
                for kpi in ("handoffs", "accepted", "won", "lost"):
                    got_n = metric_sum(crm, f"isales_crm_{kpi}_total", rep=rep)
                    assert got_n == sc.crm[(rep, kpi)], (rep, kpi)
            assert metric_sum(crm, "isales_crm_handoffs_total", rep="hs-ae") == 0
            assert read_topic(kafka_bootstrap, env["ISALES_DLQ_TOPIC"]) == []
            # Nothing the APIs gave beyond what the adapters read reached a topic.
            for topic in (env["ISALES_CALLS_TOPIC"], env["ISALES_VENDOR_HUBSPOT_OBJECTS_TOPIC"]):
                for r in read_topic(kafka_bootstrap, topic):
                    assert b"+33" not in (r.value or b"") and b"@example.com" not in (
                        r.value or b""
                    )
        finally:
            for w in workers.values():
                w.stop()


def canonical(bootstrap: str, env: dict[str, str]) -> dict[str, set[tuple[bytes, bytes]]]:
    topics = ("ISALES_CALLS_TOPIC", "ISALES_VENDOR_HUBSPOT_OBJECTS_TOPIC", "ISALES_DLQ_TOPIC")
    return {
        name: {(r.key or b"", r.value or b"") for r in read_topic(bootstrap, env[name])}
        for name in topics
    }


def test_an_interrupted_import_resumes_to_the_same_records(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Stopped twice (Aircall down past the retries; HubSpot's daily limit), run again each
    time: the same records as one uninterrupted import of the same range elsewhere. The
    progress lines, captured as a log captures them, show real rates."""
    now = (int(time.time() * 1000) // MINUTE) * MINUTE
    sc = script(now, deal_count=60)  # two pages of deals
    people = tmp_path / "people.yml"
    people.write_text(PEOPLE)
    vendors = ("--vendor", "aircall", "--vendor", "twilio", "--vendor", "hubspot")
    span = ("--since", iso(now - 360 * MINUTE), "--until", iso(now + MINUTE))
    with serving(apis_of(sc)) as apis:
        # Twilio answers its first request with a 429 (Retry-After: 1 s) each run.
        apis.faults["twilio"] = {1: 429}
        settings = {
            **apis.env(),
            "ISALES_PEOPLE_FILE": str(people),
            "ISALES_IMPORT_WINDOW_HOURS": "1",
            "ISALES_IMPORT_RETRIES": "1",
            "ISALES_IMPORT_BACKOFF_MAX_SECONDS": "0.1",
        }
        whole = isolated_env(kafka_bootstrap, **settings)
        done = cli(whole, "import", *vendors, *span, "--progress-every", "0.3")
        assert done.returncode == 0, done.stderr[-3000:]
        rates = re.findall(r"([\d,]+) records/s", done.stderr)
        assert any(int(r.replace(",", "")) > 0 for r in rates), done.stderr[-2000:]
        assert re.search(r"calls up to \S+ \S+ \(\d+%\)", done.stderr)
        assert re.search(r"\d+:\d\d:\d\d left", done.stderr), done.stderr[-2000:]

        parts = isolated_env(kafka_bootstrap, **settings)
        apis.requests.clear()
        apis.faults["twilio"] = {1: 429}
        apis.down["aircall"] = 3  # from its third request on, past the retries
        stopped = cli(parts, "import", *vendors, *span)
        assert stopped.returncode == 1 and "Run the same command again" in stopped.stderr
        imports = Path(parts["ISALES_DATA_DIR"]) / "imports"
        assert [p.suffix for p in imports.iterdir()] == [".json"]
        del apis.down["aircall"]
        apis.requests.clear()
        apis.daily_limit_at = 2  # HubSpot: one page of deals, then the daily limit
        limited = cli(parts, "import", *vendors, *span)
        assert limited.returncode == 1 and "daily" in limited.stderr, limited.stderr[-2000:]
        assert "resuming from" in limited.stderr
        apis.daily_limit_at = None
        resumed = cli(parts, "import", *vendors, *span)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        again = cli(parts, "import", *vendors, *span)
        assert again.returncode == 0 and "already imported" in again.stderr
    want, got = canonical(kafka_bootstrap, whole), canonical(kafka_bootstrap, parts)
    assert got == want
    assert want["ISALES_CALLS_TOPIC"] and want["ISALES_VENDOR_HUBSPOT_OBJECTS_TOPIC"]
    assert not want["ISALES_DLQ_TOPIC"]


def test_history_behind_newer_calls_is_refused_with_the_reason(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A calls topic that already holds a call of now: importing from three days ago would put
    calls more than the dedupe horizon (25 h) behind it, which count nowhere (README, "How
    exactness works"); the import says so and writes nothing. From within the horizon, it runs."""
    now = int(time.time() * 1000)
    env = isolated_env(kafka_bootstrap)
    with serving(VendorApis()) as apis:
        env |= apis.env()
        live = {
            "event_id": "aircall:1:call.created",
            "occurred_at": now,
            "call_id": "aircall:1",
            "rep_id": "aircall-456",
            "team_id": "aircall-team-3",
            "direction": "outbound",
            "status": "initiated",
            "started_at": now,
        }
        first = cli(env, "topics")
        assert first.returncode == 0, first.stderr
        send(kafka_bootstrap, env["ISALES_CALLS_TOPIC"], b"aircall-456", orjson.dumps(live))
        old = cli(env, "import", "--vendor", "aircall", "--since", iso(now - 3 * 1440 * MINUTE))
        assert old.returncode == 2, old.stderr[-2000:]
        assert "refused" in old.stderr and "dedupe horizon (25 h)" in old.stderr
        assert apis.requests["aircall"] == 0
        recent = cli(env, "import", "--vendor", "aircall", "--since", iso(now - 600 * MINUTE))
        assert recent.returncode == 0, recent.stderr[-2000:]
    assert len(read_topic(kafka_bootstrap, env["ISALES_CALLS_TOPIC"])) == 1


def send(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(run())
