"""HubSpot's two stages under SIGKILL: 150 scripted deals' webhooks (batched, retried) through
`normalise-hubspot` and the stateful `hubspot-objects`, each killed and restarted mid-stream,
then both CRM stages. The CRM KPIs equal the truth counted from the script (README, "HubSpot"):
a replay after a kill re-sends CRM events with the same ids, which count once."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from pathlib import Path

import orjson
import pytest

from stream_app.demo.traffic import Produced, produce
from stream_app.kafka.topics import ensure_topics
from tests.helpers.checks import progress, settled
from tests.helpers.hubspot_script import OWNERS, SDRS, deals
from tests.helpers.scenarios import settings_for
from tests.helpers.support import WorkerProc, isolated_env, metric_sum, wait_for

pytestmark = pytest.mark.kafka


def envelopes(bodies: list[bytes]) -> list[Produced]:
    out = []
    for body in bodies:
        rid = uuid.uuid4().hex
        value = {
            "request_id": rid,
            "vendor": "hubspot",
            "received_at": int(time.time() * 1000),
            "query": "",
            "body": body.decode(),
        }
        out.append(Produced(rid.encode(), orjson.dumps(value), "event"))
    return out


def test_hubspot_stages_killed_mid_stream_still_give_exact_crm_kpis(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = isolated_env(kafka_bootstrap, ISALES_HUBSPOT_OWNERS=orjson.dumps(OWNERS).decode())
    s = settings_for({k: v for k, v in env.items() if k != "ISALES_HUBSPOT_OWNERS"})
    asyncio.run(ensure_topics(s))
    rng = random.Random(1414)
    script = deals(rng, int(time.time() * 1000), count=150, batches=500)
    first = envelopes(script.bodies + script.bad)
    options = {"bootstrap_servers": kafka_bootstrap}
    asyncio.run(produce(options, s.vendor_hubspot_topic, first))

    def start(name: str, n: int) -> WorkerProc:
        w = WorkerProc(env, tmp_path, f"{name}-{n}", name, worker_id=name).start()
        wait_for(w.ready, 120, f"{name} ready")
        return w

    normaliser, objects = start("normalise-hubspot", 0), start("hubspot-objects", 0)
    kills = 0
    try:
        wait_for(
            lambda: progress(normaliser) >= len(first) // 3, 120, "a third normalised", every=0.05
        )
        normaliser.kill()
        normaliser = start("normalise-hubspot", 1)
        for n, target in enumerate((400, 1200)):
            wait_for(
                lambda t=target, w=objects: progress(w) >= t,  # type: ignore[misc]
                180,
                f"{target} changes",
                every=0.05,
            )
            objects.kill()
            kills += 1
            objects = start("hubspot-objects", n + 1)
        wait_for(lambda: progress(normaliser) == len(first), 180, "first phase normalised")
        wait_for(lambda: settled(objects), 180, "deals settled")
        phase_one = progress(objects)
        # The associations complete each handoff (README, "HubSpot": what is exact).
        asyncio.run(produce(options, s.vendor_hubspot_topic, envelopes(script.links)))
        total = len(first) + len(script.links)
        wait_for(lambda: progress(objects) >= phase_one + 40, 180, "links applied", every=0.05)
        objects.kill()
        kills += 1
        objects = start("hubspot-objects", 9)
        wait_for(lambda: progress(normaliser) == total, 180, "all normalised")
        wait_for(lambda: settled(objects), 180, "deals settled again")
        assert kills == 3
        crm = [start(name, 0) for name in ("crm-attribution", "crm")]
        try:
            for w in crm:
                wait_for(lambda w=w: settled(w), 300, f"{w.pipeline} settled", every=0.2)  # type: ignore[misc]
            samples = crm[1].scrape()
        finally:
            for w in crm:
                w.stop()
    finally:
        normaliser.stop()
        objects.stop()
    for rep in SDRS.values():
        for kpi in ("handoffs", "accepted", "won", "lost"):
            got = metric_sum(samples, f"isales_crm_{kpi}_total", rep=rep)
            assert got == script.crm[(rep, kpi)], (rep, kpi)
        for cur in ("EUR", "USD"):
            got = metric_sum(samples, "isales_crm_won_amount_total", rep=rep, currency=cur)
            assert abs(got - script.won_amount[(rep, cur)] / 100) < 1e-6, (rep, cur)
        for (r, fld, status), n in script.discovery.items():
            if r == rep:
                got = metric_sum(
                    samples, "isales_crm_discovery_fields_total", rep=rep, field=fld, status=status
                )
                assert got == n, (rep, fld, status)
    assert sum(script.crm.values()) > 300
