"""Benchmark (not a test): `stream-app gateway` under load with the broker stopped mid-run.

    .venv/bin/python -m bench.gateway --requests 20000 --clients 50 --outage 20 --repeat 3

Each run starts its own local broker and a gateway, then `--clients` concurrent clients post
`--requests` signed webhooks (Twilio, Aircall, SendGrid and HubSpot in turn, each with a unique
vendor id), signed as each vendor signs. A third of the way in, the broker is stopped for
`--outage` seconds and started again. A client that gets a 5xx or no answer retries the same
request after a pause, as a vendor does. Then the vendor topics are read back and checked:

* every request answered 2xx is on its topic, found by its unique vendor id (the gateway keeps only
  the fields the adapters read, so the body is not the one sent; ids are kept) (lost = 0);
* every request that was answered 5xx at some point was retried until 2xx and is there at least
  once; duplicates (a 503 whose record Kafka did take after the gateway stopped waiting) are
  counted, and after dedupe by the vendor id each request is there once.

Reported: requests/s over the whole run and outside the outage, latency p50/p99 of answers
outside the outage, 5xx answers, retries, duplicates; medians over `--repeat` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from stream_app.kafka.local_broker import LocalKafka
from stream_app.kafka.topics import ensure_topics
from tests.helpers.gateway import AIRCALL_TOKEN, Gateway, running_gateway
from tests.helpers.scenarios import settings_for
from tests.helpers.support import isolated_env, metric_sum, parse_metrics, read_topic

VENDORS = ("twilio", "aircall", "sendgrid", "hubspot")


UID = re.compile(r"load\d{7}")
"""Each request's own vendor id (its call, event or object id), on the topic whatever the
gateway kept of its body."""


@dataclass(frozen=True)
class Hook:
    n: int
    vendor: str
    path: str
    body: bytes


def hook(n: int) -> Hook:
    vendor = VENDORS[n % len(VENDORS)]
    uid = f"load{n:07d}"
    now_s = int(time.time())
    if vendor == "twilio":
        query = urlencode({"rep_id": "rep-load", "team_id": "team-load", "started_at": "1"})
        form = {
            "CallSid": f"CA{uid}",
            "CallStatus": "ringing",
            "Direction": "outbound-api",
            "Timestamp": "Wed, 02 Dec 2026 10:00:00 +0000",
        }
        return Hook(n, vendor, f"/webhooks/twilio?{query}", urlencode(form).encode())
    if vendor == "aircall":
        data = {"id": uid, "direction": "outbound", "started_at": now_s, "user": {"id": 1}}
        body = {"resource": "call", "event": "call.created", "token": AIRCALL_TOKEN, "data": data}
        return Hook(n, vendor, "/webhooks/aircall", orjson.dumps(body))
    if vendor == "sendgrid":
        events = [
            {"event": "delivered", "sg_event_id": f"{uid}-{k}", "sg_message_id": uid}
            for k in range(5)
        ]
        return Hook(n, vendor, "/webhooks/sendgrid", orjson.dumps(events))
    change = {
        "eventId": n,
        "portalId": 1,
        "objectId": n,
        "occurredAt": now_s * 1000,
        "subscriptionType": "deal.propertyChange",
        "propertyName": "amount",
        "propertyValue": uid,
    }
    return Hook(n, vendor, "/webhooks/hubspot", orjson.dumps([change]))


@dataclass
class Tally:
    answered: dict[int, int] = field(default_factory=dict)  # request -> final 2xx status
    saw_5xx: set[int] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds)
    retries: int = 0
    outage: tuple[float, float] = (0.0, 0.0)


async def client(
    gw: Gateway, session: aiohttp.ClientSession, queue: asyncio.Queue[Hook], tally: Tally
) -> None:
    while True:
        try:
            h = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        while True:
            headers = gw.signed(h.vendor, h.path, h.body)  # signed at each send, as vendors do
            started = time.monotonic()
            try:
                async with session.post(gw.url + h.path, data=h.body, headers=headers) as r:
                    status = r.status
                    await r.read()
            except (aiohttp.ClientError, TimeoutError):
                status = 0  # no answer: the vendor retries too
            tally.latencies.append((started, time.monotonic() - started))
            tally.statuses[status] += 1
            if 200 <= status < 300:
                tally.answered[h.n] = status
                break
            if 400 <= status < 500:
                break  # refused (a signature the gateway should have taken): reported, not retried
            if status >= 500 or status == 0:
                tally.saw_5xx.add(h.n)
            tally.retries += 1
            await asyncio.sleep(0.5)


def outage(broker: LocalKafka, seconds: float, start_after: float, tally: Tally) -> None:
    time.sleep(start_after)
    began = time.monotonic()
    broker.stop()
    time.sleep(seconds)
    broker.start()
    tally.outage = (began, time.monotonic())


async def load(gw: Gateway, hooks: list[Hook], clients: int, tally: Tally) -> float:
    queue: asyncio.Queue[Hook] = asyncio.Queue()
    for h in hooks:
        queue.put_nowait(h)
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=clients)
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(client(gw, session, queue, tally) for _ in range(clients)))
    return time.monotonic() - started


def check(gw: Gateway, hooks: list[Hook], tally: Tally) -> dict[str, int]:
    s = settings_for(gw.env)
    bodies: Counter[tuple[str, str, str]] = Counter()
    for vendor in VENDORS:
        for record in read_topic(s.kafka_bootstrap_servers, getattr(s, f"vendor_{vendor}_topic")):
            envelope = orjson.loads(record.value or b"")
            for uid in set(UID.findall(envelope["body"])):
                bodies[(vendor, envelope["query"], uid)] += 1
    lost = duplicated = 0
    for h in hooks:
        query = h.path.partition("?")[2]
        copies = bodies[(h.vendor, query, f"load{h.n:07d}")]
        if h.n in tally.answered and copies == 0:
            lost += 1
        duplicated += max(copies - 1, 0)
    return {
        "lost": lost,
        "unanswered": len(hooks) - len(tally.answered),
        "on_topics": sum(bodies.values()),
        "duplicates": duplicated,
    }


def one_run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    broker = LocalKafka(tmp / "kafka")
    bootstrap = broker.start(fresh=True)
    try:
        env = isolated_env(bootstrap, ISALES_GATEWAY_PRODUCE_TIMEOUT_SECONDS=str(args.timeout))
        asyncio.run(ensure_topics(settings_for(env)))
        with running_gateway(env, tmp) as gw:
            hooks = [hook(n) for n in range(args.requests)]
            warm = [hook(args.requests + n) for n in range(8)]
            asyncio.run(load(gw, warm, 4, Tally()))  # topics created, producer connected
            tally = Tally()
            stopper = threading.Thread(
                target=outage, args=(broker, args.outage, args.outage_after, tally), daemon=True
            )
            stopper.start()
            elapsed = asyncio.run(load(gw, hooks, args.clients, tally))
            stopper.join()
            result = check(gw, hooks, tally)
            samples = parse_metrics(gw.metrics())
            result["producer_replacements"] = int(
                metric_sum(samples, "isales_gateway_producer_replacements_total")
            )
    finally:
        broker.stop()
    lo, hi = tally.outage
    calm = sorted(d for at, d in tally.latencies if not lo - 1 <= at <= hi + args.timeout)
    calm = calm or sorted(d for _, d in tally.latencies)  # a tiny run: all of it near the outage
    outside = sum(1 for at, _ in tally.latencies if not lo - 1 <= at <= hi + args.timeout)
    calm_time = elapsed - (hi - lo + args.timeout + 1)
    return {
        **result,
        "requests": args.requests,
        "elapsed_s": round(elapsed, 1),
        "outage_s": round(hi - lo, 1),
        "rps_overall": round(args.requests / elapsed),
        "rps_outside_outage": round(outside / calm_time) if calm_time > 0 else 0,
        "p50_ms": round(calm[len(calm) // 2] * 1000, 1),
        "p99_ms": round(calm[int(len(calm) * 0.99)] * 1000, 1),
        "answers_5xx": sum(n for status, n in tally.statuses.items() if status >= 500),
        "no_answer": tally.statuses[0],
        "requests_retried": len(tally.saw_5xx),
        "retries": tally.retries,
        "other_status": sum(
            n for status, n in tally.statuses.items() if 0 < status < 500 and status >= 300
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--outage", type=float, default=20.0, help="broker stopped, seconds")
    parser.add_argument("--outage-after", type=float, default=8.0, help="seconds into the load")
    parser.add_argument("--timeout", type=float, default=5.0, help="gateway produce timeout")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for run in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="isales-gw-bench-") as tmp:
            row = one_run(args, Path(tmp))
        rows.append(row)
        print(orjson.dumps({"run": run, **row}).decode(), flush=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(
        f"median of {len(rows)}: {med['requests']:,.0f} requests from {args.clients} clients in "
        f"{med['elapsed_s']} s ({med['rps_overall']:,.0f}/s overall, "
        f"{med['rps_outside_outage']:,.0f}/s outside a {med['outage_s']} s broker outage); "
        f"p50 {med['p50_ms']} ms, p99 {med['p99_ms']} ms outside it; "
        f"{med['answers_5xx']:,.0f} 5xx and {med['no_answer']:,.0f} unanswered attempts, "
        f"{med['requests_retried']:,.0f} requests retried; lost {med['lost']:.0f}, "
        f"duplicates on the topics {med['duplicates']:,.0f} (once each after dedupe)"
    )
    bad = any(r["lost"] or r["unanswered"] or r["other_status"] for r in rows)
    if bad:
        print("FAILED: a request answered 2xx is missing, or one was never answered 2xx")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
