"""Vendor webhooks through a real broker: envelopes on vendor.twilio, vendor.aircall and
vendor.sendgrid (retried, reordered, a SendGrid batch of 1,000 events, some bad callbacks), the
three normaliser workers, then the calls and e-mail workers. The KPIs equal a truth counted
from the scripted facts (README, "Call KPIs" and "Email KPIs"), and every bad callback is on
the DLQ. (The signed gateway in front of this is not built yet: issue 14.)"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from stream_app.demo import Produced, produce
from stream_app.topics import ensure_topics
from tests.helpers.checks import progress, settled
from tests.helpers.scenarios import settings_for
from tests.helpers.support import (
    Samples,
    WorkerProc,
    isolated_env,
    metric_sum,
    wait_for,
)

pytestmark = pytest.mark.kafka


def rfc2822(ms: int) -> str:
    return format_datetime(datetime.fromtimestamp(ms / 1000, UTC))


@dataclass
class Script:
    records: dict[str, list[Produced]] = field(
        default_factory=lambda: {"twilio": [], "aircall": [], "sendgrid": []}
    )
    dials: Counter[str] = field(default_factory=Counter)
    connects: Counter[str] = field(default_factory=Counter)
    machines: Counter[str] = field(default_factory=Counter)
    talk: Counter[str] = field(default_factory=Counter)
    delivered: Counter[str] = field(default_factory=Counter)  # variant -> messages
    human_opened: Counter[str] = field(default_factory=Counter)
    bad: int = 0

    def send(self, vendor: str, body: str, query: str = "", copies: int = 1) -> None:
        for _ in range(copies):  # a vendor's retry is a new request with the same body
            rid = uuid.uuid4().hex
            value = orjson.dumps(
                {
                    "request_id": rid,
                    "vendor": vendor,
                    "received_at": int(time.time() * 1000),
                    "query": query,
                    "body": body,
                }
            )
            self.records[vendor].append(Produced(rid.encode(), value, "event"))


def script(seed: int) -> Script:
    rng = random.Random(seed)
    sc = Script()
    now = int(time.time() * 1000)
    # Twilio: 3 reps, 40 calls; AMD says human, machine, or the call is not answered.
    for n in range(40):
        rep, sid = f"tw-rep-{n % 3}", f"CA{n:04d}"
        start = now - 3_600_000 + n * 30_000
        query = urlencode({"rep_id": rep, "team_id": "tw-team", "started_at": str(start)})
        outcome = rng.choice(["human", "machine", "no-answer"])
        sc.dials[rep] += 1

        def cb(status: str, at: int, query: str = query, sid: str = sid, **extra: str) -> None:
            form = {"CallSid": sid, "CallStatus": status, "Direction": "outbound-api"}
            form |= {"Timestamp": rfc2822(at), "From": "+15550000000", **extra}
            sc.send("twilio", urlencode(form), query, copies=rng.choice([1, 1, 2]))

        cb("initiated", start)
        cb("ringing", start + 2_000)
        if outcome == "no-answer":
            cb("no-answer", start + 25_000)
            continue
        answered_by = "human" if outcome == "human" else "machine_end_beep"
        cb("in-progress", start + 8_000, AnsweredBy=answered_by)
        talk = rng.randint(20, 400)
        cb("completed", start + 8_000 + talk * 1000, AnsweredBy=answered_by, CallDuration=str(talk))
        if outcome == "human":
            sc.connects[rep] += 1
            sc.talk[rep] += talk
        else:
            sc.machines[rep] += 1
    # A callback without the rep on its URL, and one that is not form data: the DLQ.
    sc.send(
        "twilio",
        urlencode(
            {
                "CallSid": "CAbad",
                "CallStatus": "ringing",
                "Direction": "outbound-api",
                "Timestamp": rfc2822(now),
            }
        ),
        "team_id=x",
    )
    sc.bad += 1
    # Aircall: 20 outbound calls of one agent, tagged connected or voicemail after the call.
    for n in range(20):
        s = (now - 3_000_000) // 1000 + n * 60
        rep = "aircall-456"
        human = n % 2 == 0
        data: dict[str, Any] = {
            "id": 9000 + n,
            "direction": "outbound",
            "started_at": s,
            "answered_at": s + 10,
            "ended_at": s + 70,
            "user": {"id": 456},
            "teams": [{"id": 3}],
            "raw_digits": "+33 1 00 00 00 00",
        }
        for event, extra in (
            ("call.created", {"answered_at": None, "ended_at": None}),
            ("call.answered", {"ended_at": None}),
            ("call.ended", {}),
            ("call.tagged", {"tags": [{"name": "connected" if human else "voicemail"}]}),
        ):
            body = {"resource": "call", "event": event, "timestamp": s + 80, "data": data | extra}
            sc.send("aircall", orjson.dumps(body).decode(), copies=rng.choice([1, 2]))
        sc.dials[rep] += 1
        if human:
            sc.connects[rep] += 1
            sc.talk[rep] += 60
        else:
            sc.machines[rep] += 1
    sc.send("aircall", '{"resource": "call", "event": "call.created", "data": {"id": 1}}')
    sc.bad += 1
    # SendGrid: 400 messages of campaign "sg" (variants A and B), delivered, opened by a person
    # or a privacy proxy, some clicked; batched, one batch of 1,000 events, batches retried.
    events: list[dict[str, Any]] = []
    sent = (now - 7_200_000) // 1000
    for n in range(400):
        variant = "AB"[n % 2]
        args = {"campaign_id": "sg", "variant": variant, "subject_id": "s1", "segment": "smb"}
        args |= {"lead_id": f"lead-{n}", "sent_at": str(sent)}
        msg = f"sgm{n}.filter0001"

        def ev(
            kind: str, at: int, msg: str = msg, args: dict[str, Any] = args, **extra: Any
        ) -> None:
            events.append(
                {
                    "event": kind,
                    "timestamp": at,
                    "sg_event_id": f"{msg}-{kind}-{at}",
                    "sg_message_id": msg,
                    "email": f"x{len(events)}@example.com",
                    **args,
                    **extra,
                }
            )

        ev("processed", sent)
        ev("delivered", sent + 5)
        sc.delivered[variant] += 1
        roll = rng.random()
        if roll < 0.4:
            ev("open", sent + 600, sg_machine_open=False)
            ev("open", sent + 900, sg_machine_open=False)  # a second open of the same message
            sc.human_opened[variant] += 1
        elif roll < 0.7:
            ev("open", sent + 30, sg_machine_open=True)
    rng.shuffle(events)
    cut = [events[:1000]] + [events[i : i + 97] for i in range(1000, len(events), 97)]
    for batch in cut:
        sc.send("sendgrid", orjson.dumps(batch).decode(), copies=rng.choice([1, 1, 2]))
    for vendor in sc.records:
        rng.shuffle(sc.records[vendor])
    return sc


@dataclass
class Run:
    script: Script
    calls: Samples
    email: Samples
    dead: int


@pytest.fixture(scope="module")
def run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    logs = tmp_path_factory.mktemp("vendors")
    env = isolated_env(kafka_bootstrap, ISALES_EMAIL_CAMPAIGN_IDLE_HOURS="720")
    s = settings_for(env)
    asyncio.run(ensure_topics(s))
    sc = script(7)
    topics = {
        "twilio": s.vendor_twilio_topic,
        "aircall": s.vendor_aircall_topic,
        "sendgrid": s.vendor_sendgrid_topic,
    }
    for vendor, records in sc.records.items():
        asyncio.run(produce({"bootstrap_servers": kafka_bootstrap}, topics[vendor], records))
    names = ("normalise-twilio", "normalise-aircall", "normalise-sendgrid", "calls", "email")
    workers = {n: WorkerProc(env, logs, n, n).start() for n in names}
    try:
        for w in workers.values():
            wait_for(w.ready, 120, f"{w.pipeline} ready")
        for vendor in topics:
            w, total = workers[f"normalise-{vendor}"], len(sc.records[vendor])
            wait_for(lambda w=w, t=total: progress(w) == t, 300, f"{vendor} normalised")  # type: ignore[misc]
        for name in ("calls", "email"):
            wait_for(lambda w=workers[name]: settled(w), 300, f"{name} settled", every=0.2)  # type: ignore[misc]
        dead = sum(
            int(metric_sum(workers[f"normalise-{v}"].scrape(), "isales_dead_letter_events_total"))
            for v in topics
        )
        yield Run(sc, workers["calls"].scrape(), workers["email"].scrape(), dead)
    finally:
        for w in workers.values():
            w.stop()


def test_call_kpis_equal_the_scripted_calls(run: Run) -> None:
    sc = run.script
    for rep in sc.dials:
        got = {
            name: metric_sum(run.calls, f"isales_calls_{name}_total", rep=rep)
            for name in ("dials", "connects", "machine_answers", "talk_seconds")
        }
        want = {
            "dials": sc.dials[rep],
            "connects": sc.connects[rep],
            "machine_answers": sc.machines[rep],
            "talk_seconds": sc.talk[rep],
        }
        assert got == want, rep


def test_email_kpis_equal_the_scripted_messages(run: Run) -> None:
    sc = run.script
    for variant in "AB":

        def cohort(kpi: str, v: str = variant) -> float:
            return metric_sum(
                run.email, f"isales_email_cohort_{kpi}", campaign="sg", dimension="variant", value=v
            )

        assert cohort("delivered") == sc.delivered[variant]
        assert cohort("human_opens") == sc.human_opened[variant]


def test_bad_callbacks_are_dead_lettered(run: Run) -> None:
    assert run.dead == run.script.bad
