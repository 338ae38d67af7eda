"""`stream-app erase` against the live system (docs/operations/personal-data.md, "Erasing a
person"), on a real broker with the six stages a lead passes through (calls, e-mail, CRM
attribution, web, engagement, reach): a lead with calls, e-mails, web events and a handoff is
erased while they run. Its kpi.engagement key is a tombstone, its state entries are tombstones
on every changelog and stay gone after a SIGKILL and restart of every stage, its later events
count nowhere, a replay of the engagement stage does not bring it back, and the touchpoint,
handoff and segment totals the team already had are unchanged."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest

from stream_app.demo.traffic import Produced, produce
from stream_app.kafka.topics import ensure_topics
from stream_app.spine.erasure import lead_hash
from tests.helpers.checks import progress, settled
from tests.helpers.scenarios import engagement_env, settings_for
from tests.helpers.support import (
    Samples,
    WorkerProc,
    cli,
    metric_sum,
    read_topic,
    wait_for,
)
from tests.truth.engagement import DAY, message_key, scenario

pytestmark = pytest.mark.kafka

STAGES = ("calls", "email", "crm-attribution", "web", "engagement", "reach")
SOURCE_OF = {"calls": "calls", "email": "email", "crm": "crm-attribution", "web": "web"}
KEPT = (
    "isales_reach_touchpoints_total",
    "isales_reach_handoffs_total",
    "isales_reach_segment_leads",
    "isales_reach_segment_handoffs_total",
)
"""Counts the team already had: an erasure removes the person, not them (leads per band now,
the engaged leads and the score summaries are about leads held now, and do change)."""


def _kept(samples: Samples) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    stage_counts = {"targeted", "touched"}
    out = {name: dict(samples.get(name, {})) for name in KEPT}
    out["isales_reach_segment_leads"] = {
        k: v
        for k, v in out["isales_reach_segment_leads"].items()
        if dict(k)["stage"] in stage_counts
    }
    return out


def _latest(bootstrap: str, topic: str) -> dict[bytes, bytes | None]:
    """The newest value per key, a tombstone as None."""
    out: dict[bytes, bytes | None] = {}
    for record in sorted(read_topic(bootstrap, topic), key=lambda r: (r.partition, r.offset)):
        assert record.key is not None
        out[record.key] = record.value
    return out


def _changelog_keys(bootstrap: str, topic: str, lead: str) -> dict[str, bytes | None]:
    """The newest record of every changelog key naming `lead`."""
    out: dict[str, bytes | None] = {}
    for record in read_topic(bootstrap, topic):
        key = orjson.loads(record.key or b'""')
        if isinstance(key, str) and lead in key.split("/"):
            out[key] = record.value
    return out


def test_erase_a_lead_while_the_stages_run(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = engagement_env(kafka_bootstrap, tmp_path)
    s = settings_for(env)
    asyncio.run(ensure_topics(s))
    sc = scenario(5, 12, int(time.time() * 1000) - 20 * DAY)
    handed = {str(e["lead_id"]) for e in sc.events["crm"] if e["type"] == "handoff"}
    called = {str(e.get("lead_id")) for e in sc.events["calls"]}
    mailed = {str(e.get("lead_id")) for e in sc.events["email"]}
    browsed = {str(e.get("lead_id")) for e in sc.events["web"]}
    lead = sorted(handed & called & mailed & browsed)[0]
    other = sorted((called | browsed) - {lead, "None"})[0]
    counts = {}
    topics = {
        "calls": s.calls_topic,
        "email": s.email_topic,
        "crm": s.crm_topic,
        "web": s.web_topic,
    }
    for source, events in sc.events.items():
        records = [Produced(message_key(source, e), orjson.dumps(e), "event") for e in events]
        asyncio.run(produce({"bootstrap_servers": kafka_bootstrap}, topics[source], records))
        counts[SOURCE_OF[source]] = len(records)
    logs = tmp_path / "logs"
    logs.mkdir()
    workers = {n: WorkerProc(env, logs, f"{n}-a", n, worker_id=f"{n}-w").start() for n in STAGES}
    try:
        for w in workers.values():
            wait_for(w.ready, 120, f"{w.pipeline} ready")
        for name, n in counts.items():
            wait_for(lambda w=workers[name], n=n: progress(w) == n, 300, f"{name} consumed")  # type: ignore[misc]
        for name in ("engagement", "reach"):
            wait_for(lambda w=workers[name]: settled(w), 300, f"{name} settled", every=0.2)  # type: ignore[misc]
        before = _kept(workers["reach"].scrape())
        assert sum(before["isales_reach_touchpoints_total"].values()) > 20
        kpi = _latest(kafka_bootstrap, s.kpi_engagement_topic)
        assert kpi.get(lead.encode()) is not None  # the lead is there to erase

        erased = cli(env, "erase", "--lead", lead, "--timeout", "90", timeout=180)
        assert erased.returncode == 0, erased.stdout[-2000:] + erased.stderr[-2000:]
        assert lead not in erased.stdout + erased.stderr  # the hash, never the id
        assert f"{s.calls_topic}: gone by" in erased.stdout  # what only retention removes
        kpi = _latest(kafka_bootstrap, s.kpi_engagement_topic)
        assert kpi[lead.encode()] is None and kpi[other.encode()] is not None
        engagement_changelog = f"{s.app_id}-engagement-engagement-state-changelog"
        reach_changelog = f"{s.app_id}-reach-reach-state-changelog"

        def tombstoned() -> bool:
            keys = _changelog_keys(kafka_bootstrap, engagement_changelog, lead)
            keys |= _changelog_keys(kafka_bootstrap, reach_changelog, lead)
            return bool(keys) and all(v is None for v in keys.values())

        wait_for(tombstoned, 60, "the lead's state entries tombstoned on the changelogs")
        audit = [
            orjson.loads(r.value or b"{}")
            for r in read_topic(kafka_bootstrap, s.erasure_audit_topic)
        ]
        mine = [a for a in audit if a["lead_hash"] == lead_hash(lead)]
        assert [a["kind"] for a in mine].count("erased") == 1
        assert {a["stage"] for a in mine if a["kind"] == "stage"} >= {
            "web",
            "engagement",
            "reach",
            "crm-attribution",
        }
        assert all(lead not in orjson.dumps(a).decode() for a in audit)
        assert _kept(workers["reach"].scrape()) == before

        # Every stage SIGKILLed and restarted with its local state: the lead stays gone, and
        # a later event of it counts nowhere while another lead's does.
        for name in STAGES:
            workers[name].kill()
        workers = {
            n: WorkerProc(env, logs, f"{n}-b", n, worker_id=f"{n}-w").start() for n in STAGES
        }
        for w in workers.values():
            wait_for(w.ready, 120, f"{w.pipeline} ready again")
        now = int(time.time() * 1000)
        later = [
            {
                "event_id": f"late-{who}",
                "occurred_at": now,
                "type": "page_view",
                "lead_id": who,
                "channel": "web",
            }
            for who in (lead, other)
        ]
        records = [Produced(str(e["lead_id"]).encode(), orjson.dumps(e), "event") for e in later]
        asyncio.run(produce({"bootstrap_servers": kafka_bootstrap}, s.web_topic, records))
        web = workers["web"]
        wait_for(lambda: progress(web) == counts["web"] + 2, 120, "the later events")
        assert metric_sum(web.scrape(), "isales_erased_events_total") == 1
        for name in ("engagement", "reach"):
            wait_for(lambda w=workers[name]: settled(w), 300, f"{name} settled", every=0.2)  # type: ignore[misc]
        kpi = _latest(kafka_bootstrap, s.kpi_engagement_topic)
        assert kpi[lead.encode()] is None
        assert orjson.loads(kpi[other.encode()] or b"{}")["last_touch_at"] is not None
        assert tombstoned()
        assert metric_sum(workers["engagement"].scrape(), "isales_erased_leads") == 1
    finally:
        for w in workers.values():
            w.stop()

    # A replay of the engagement stage under a new app id does not bring the lead back.
    replayed = cli(
        env,
        *("replay", "--pipeline", "engagement", "--topic-suffix", ".replay", "--timeout", "300"),
        timeout=400,
    )
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    again = _latest(kafka_bootstrap, s.kpi_engagement_topic + ".replay")
    assert lead.encode() not in again and other.encode() in again
