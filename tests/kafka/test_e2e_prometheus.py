"""End to end with real parts: Apache Kafka, the worker, a seeded scenario of today's calls, and
Debian's Prometheus scraping the worker with the shipped rules (test-sized `for:`).

Proves: every dashboard query returns data through Prometheus's HTTP API; the team behind pace
gets the volume alert and the team on pace does not; pacing equals the ground truth on /metrics
and on kpi.pacing; the targets file reloads on change and on SIGHUP, and a broken file leaves
the old targets in force, logged and counted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from stream_app.demo.traffic import Produced, produce
from stream_app.families.calls.demo import ScenarioConfig
from stream_app.families.crm.demo import CrmScenarioConfig, crm_scenario, past_only
from stream_app.families.email.demo import Arm, EmailScenarioConfig, email_scenario
from stream_app.tools.dashboards import expand, panel_queries
from tests.helpers.checks import processed, settled
from tests.helpers.prometheus_proc import PrometheusProc, fast_rules
from tests.helpers.scenarios import ScenarioRun, produce_scenario
from tests.helpers.support import (
    WorkerProc,
    isolated_env,
    latest_by_key,
    metric_sum,
    read_topic,
    wait_for,
)
from tests.truth.calls import bounds

pytestmark = pytest.mark.kafka

BEHIND, ON_PACE = "team-a", "team-b"
ALERT = "IsalesTeamCallVolumeBehindPace"


def evening_zone(now: datetime) -> str:
    """A fixed-offset zone where it is evening now, so all of today's 09:00-18:00 scenario
    calls are in the past and none of them falls on another local day."""
    for offset in range(-12, 15):
        if 19 <= (now.hour + offset) % 24 <= 21:
            return f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-9 is UTC+9
    raise AssertionError("unreachable: every hour has an evening zone")


def targets_yaml(behind_dials: int, on_pace_dials: int = 10) -> str:
    # Business hours all day, every day: the test may run at any hour. team-a's target is
    # unreachable, team-b's is already met.
    return f"""
calendar:
  workdays: [mon, tue, wed, thu, fri, sat, sun]
  hours: {{start: "00:00", end: "24:00"}}
teams:
  {BEHIND}:
    defaults:
      {{dials_per_day: {behind_dials}, connects_per_day: 100000, talk_minutes_per_day: 100000}}
  {ON_PACE}:
    defaults: {{dials_per_day: {on_pace_dials}, connects_per_day: 1, talk_minutes_per_day: 1}}
"""


def todays_deals(now_ms: int, history: list[Produced]) -> list[Produced]:
    """Per team: a handoff accepted and won, and one lost, minutes ago. The rep and segment
    already have counters, so Prometheus sees them go up (a new series' first value is lost to
    increase(), as on any Prometheus counter)."""
    out: list[Produced] = []
    handoffs = [orjson.loads(r.value) for r in history if r.kind == "event"]
    handoffs = [h for h in handoffs if h["type"] == "handoff"]
    for team in ("team-a", "team-b"):
        h = next(h for h in handoffs if h["team_id"] == team)
        for case, outcome in (("won", "deal_won"), ("lost", "deal_lost")):
            opp = f"opp-now-{team}-{case}"
            steps: list[tuple[str, dict[str, Any]]] = [
                (
                    "handoff",
                    {k: h[k] for k in ("lead_id", "rep_id", "team_id", "segment", "discovery")},
                ),
                ("opportunity_accepted", {}),
                (outcome, {"amount": "100.00", "currency": "EUR"} if case == "won" else {}),
            ]
            for k, (kind, extra) in enumerate(steps):
                at = now_ms - 120_000 + k * 10_000
                body = {
                    "event_id": f"{opp}-{k}",
                    "occurred_at": at,
                    "type": kind,
                    "opportunity_id": opp,
                    **extra,
                }
                if kind == outcome:
                    body["close_at"] = at
                out.append(Produced(opp.encode(), orjson.dumps(body), "event"))
    return out


def todays_touches(now_ms: int, source: str) -> list[Produced]:
    """A few leads touched in the last minutes: a delivery and an open each (e-mail), or a
    visit each (web)."""
    out = []
    for n in range(6):
        lead, rep, at = f"lead-e2e-{n}", f"rep-{n % 3 + 1:02d}", now_ms - 60_000 * (n + 1)
        if source == "web":
            body: dict[str, Any] = {
                "event_id": f"e2e-web-{n}",
                "occurred_at": at,
                "type": "pricing_page_view",
                "lead_id": lead,
                "channel": "web",
                "segment": "smb",
                "owner_rep_id": rep,
            }
            out.append(Produced(lead.encode(), orjson.dumps(body), "event"))
            continue
        for kind, offset in (("delivered", 0), ("open", 30_000)):
            body = {
                "event_id": f"e2e-msg-{n}-{kind}",
                "occurred_at": at + offset,
                "type": kind,
                "message_id": f"e2e-msg-{n}",
                "campaign_id": "e2e",
                "variant": "A",
                "subject_id": "s1",
                "segment": "smb",
                "lead_id": lead,
                "owner_rep_id": rep,
                "sent_at": at,
            }
            out.append(Produced(b"e2e", orjson.dumps(body), "event"))
    return out


@dataclass
class E2E:
    env: dict[str, str]
    tz: str
    targets: Path
    produced: ScenarioRun
    worker: WorkerProc
    prom: PrometheusProc
    today_start_ms: int


@pytest.fixture(scope="module")
def e2e(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    work = tmp_path_factory.mktemp("e2e")
    now = datetime.now(UTC)
    tz = evening_zone(now)
    targets = work / "targets.yml"
    targets.write_text(targets_yaml(1_000_000))
    env = isolated_env(
        kafka_bootstrap,
        ISALES_BUSINESS_TIMEZONE=tz,
        ISALES_TARGETS_FILE=str(targets),
        ISALES_TARGETS_CHECK_INTERVAL_SECONDS="0.5",
        ISALES_PACING_PUBLISH_INTERVAL_SECONDS="1",
        # The e2e email campaign is days old: keep it on /metrics.
        ISALES_EMAIL_CAMPAIGN_IDLE_HOURS="720",
    )
    today = now.astimezone(ZoneInfo(tz)).date().isoformat()
    cfg = ScenarioConfig(seed=31, calls=900, reps=6, teams=2, start_date=today, tz=tz, malformed=16)
    produced = produce_scenario(env, cfg)
    # The email pipeline too (its own process), so the email board has data: sends of the
    # last days, all in the past.
    start = (now.astimezone(ZoneInfo(tz)).date() - timedelta(days=3)).isoformat()
    small: dict[str, tuple[Arm, ...]] = {
        "e2e": (Arm("A", 0.2, 0.02, 600), Arm("B", 0.3, 0.04, 600))
    }
    emails = email_scenario(EmailScenarioConfig(campaigns=small, start_date=start, tz=tz))
    # And touches of today, so the reach board's "today" panels have data: deliveries and
    # human opens (e-mail), visits (web), of a few leads.
    now_ms = int(now.timestamp() * 1000)
    emails += todays_touches(now_ms, "email")
    web = todays_touches(now_ms, "web")
    asyncio.run(produce({"bootstrap_servers": kafka_bootstrap}, env["ISALES_WEB_TOPIC"], web))
    asyncio.run(produce({"bootstrap_servers": kafka_bootstrap}, env["ISALES_EMAIL_TOPIC"], emails))
    # And CRM: four weeks of handoffs and outcomes, cut at now.
    local_today = now.astimezone(ZoneInfo(tz)).date()
    crm_start = local_today - timedelta(days=local_today.weekday() + 28)
    crm_cfg = CrmScenarioConfig(handoffs=400, start_date=crm_start.isoformat(), tz=tz)
    crm_records = past_only(crm_scenario(crm_cfg), now_ms)
    asyncio.run(
        produce({"bootstrap_servers": kafka_bootstrap}, env["ISALES_CRM_TOPIC"], crm_records)
    )
    worker = WorkerProc(env, work, "worker").start()
    email_worker = WorkerProc(env, work, "email-worker", "email").start()
    attribution = WorkerProc(env, work, "crm-attribution", "crm-attribution").start()
    crm_worker = WorkerProc(env, work, "crm-worker", "crm").start()
    web_worker = WorkerProc(env, work, "web-worker", "web").start()
    engagement = WorkerProc(env, work, "engagement-worker", "engagement").start()
    reach = WorkerProc(env, work, "reach-worker", "reach").start()
    workers = [worker, email_worker, attribution, crm_worker, web_worker, engagement, reach]
    prom: PrometheusProc | None = None
    try:
        for w in workers:
            wait_for(w.ready, 90, f"{w.pipeline} worker ready")
        wait_for(lambda: processed(attribution.scrape()) == len(crm_records), 180, "CRM attributed")
        total = len(produced.records)
        wait_for(lambda: processed(worker.scrape()) == total, 180, f"{total} records processed")
        wait_for(
            lambda: processed(email_worker.scrape()) == len(emails), 180, "email records processed"
        )
        rules = work / "rules"
        rules.mkdir()
        scrape = [f"127.0.0.1:{w.port}" for w in workers]
        prom = PrometheusProc(work, scrape, fast_rules(rules)).start()
        # Today's deals, made while Prometheus watches: "today" windows and 7-day increases
        # of the CRM counters then have data, as on a live floor.
        crm_up = f'count_over_time(up{{instance="127.0.0.1:{crm_worker.port}"}}[10m])'

        def scraped(times: int) -> bool:
            result = prom.query(crm_up) if prom else []
            return bool(result) and float(result[0]["value"][1]) >= times

        wait_for(lambda: scraped(2), 60, "Prometheus scraping the CRM worker")
        fresh = todays_deals(now_ms, crm_records)
        asyncio.run(produce({"bootstrap_servers": kafka_bootstrap}, env["ISALES_CRM_TOPIC"], fresh))
        wait_for(
            lambda: processed(attribution.scrape()) == len(crm_records) + len(fresh),
            60,
            "today's CRM events attributed",
        )
        wait_for(lambda: settled(crm_worker), 60, "today's CRM events counted", every=0.2)
        wait_for(lambda: processed(web_worker.scrape()) == len(web), 60, "web events processed")
        wait_for(lambda: settled(engagement), 60, "touches folded into leads", every=0.2)
        wait_for(lambda: settled(reach), 60, "credits counted", every=0.2)
        before = float(prom.query(crm_up)[0]["value"][1])
        wait_for(lambda: scraped(int(before) + 2), 60, "Prometheus saw the new counts")
        today_start = bounds(int(time.time() * 1000), "1d", tz)[0]
        yield E2E(env, tz, targets, produced, worker, prom, today_start)
    finally:
        if prom is not None:
            prom.stop()
        for w in reversed(workers):
            w.stop()


def _dials_today(run: E2E, rep: str) -> int:
    return run.produced.truth.windows.get((rep, "1d", run.today_start_ms), {}).get("dials", 0)


def test_pacing_on_metrics_and_topic_equals_truth(e2e: E2E) -> None:
    truth = e2e.produced.truth
    samples = e2e.worker.scrape()
    assert metric_sum(samples, "isales_business_open") == 1
    checked = 0
    for rep, team in sorted(truth.team_of.items()):
        want = _dials_today(e2e, rep)
        got = metric_sum(samples, "isales_pacing_actual", rep=rep, kpi="dials")
        assert got == want, (rep, got, want)
        target = metric_sum(samples, "isales_pacing_target", rep=rep, kpi="dials")
        assert target == (1_000_000 if team == BEHIND else 10)
        checked += 1
    assert checked == 6 and sum(_dials_today(e2e, r) for r in truth.team_of) > 300

    def topic_caught_up() -> bool:
        latest = latest_by_key(read_topic(e2e.env["KAFKA_BOOTSTRAP_SERVERS"], topic))
        records = [v for v in latest.values() if v["metric"] == "dials"]
        return len(records) == 6 and all(
            v["actual"] == _dials_today(e2e, v["rep_id"]) for v in records
        )

    topic = e2e.env["ISALES_KPI_PACING_TOPIC"]
    wait_for(topic_caught_up, 30, "kpi.pacing records equal to today's dials", every=1)


def test_every_dashboard_query_returns_data(e2e: E2E) -> None:
    queries = panel_queries()
    assert len(queries) >= 15
    # rate() needs two samples inside its range: give Prometheus a few scrapes.
    wait_for(
        lambda: bool(e2e.prom.query("rate(isales_events_applied_total[1m])")),
        30,
        "two scrapes",
    )
    empty = []
    for uid, title, expr in queries:
        if not e2e.prom.query(expand(expr, interval="30s")):
            empty.append((uid, title, expr))
    assert not empty, f"panels whose query returns nothing: {empty}"


def _volume_alerts(prom: PrometheusProc) -> dict[str, str]:
    return {
        a["labels"].get("team", ""): a["state"]
        for a in prom.alerts()
        if a["labels"]["alertname"] == ALERT
    }


def test_team_behind_pace_alerts_and_team_on_pace_does_not(e2e: E2E) -> None:
    wait_for(
        lambda: _volume_alerts(e2e.prom).get(BEHIND) == "firing",
        60,
        f"{ALERT} firing for {BEHIND}",
        every=1,
    )
    # Several more evaluations: the team on pace never even goes pending.
    for _ in range(6):
        assert ON_PACE not in _volume_alerts(e2e.prom)
        time.sleep(1)
    broken = [r for r in e2e.prom.rule_health() if r[1] not in ("ok", "unknown")]
    assert not broken, f"rules failing to evaluate: {broken}"


def _team_target(worker: WorkerProc) -> float:
    return metric_sum(worker.scrape(), "isales_pacing_target", team=BEHIND, kpi="dials")


def test_targets_reload_on_change_sighup_and_refuse_a_broken_file(e2e: E2E) -> None:
    reps = sum(1 for team in e2e.produced.truth.team_of.values() if team == BEHIND)
    worker, path = e2e.worker, e2e.targets
    assert _team_target(worker) == 1_000_000 * reps

    # 1. A change is picked up within seconds (the file is polled).
    path.write_text(targets_yaml(20))
    changed = time.monotonic()
    wait_for(lambda: _team_target(worker) == 20 * reps, 10, "new targets in force")
    assert time.monotonic() - changed < 5

    # 2. SIGHUP reloads even when polling can't tell: same size, same mtime.
    before = path.stat()
    path.write_text(targets_yaml(30))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    time.sleep(2)
    assert _team_target(worker) == 20 * reps, "polling must not have seen the change"
    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: _team_target(worker) == 30 * reps, 10, "SIGHUP reload")

    # 3. A broken file: refused, logged and counted; the previous targets stay in force.
    errors = metric_sum(worker.scrape(), "isales_targets_reloads_total", result="error")
    path.write_text(targets_yaml(40).replace("teams:", "teams: [") + "\n")
    wait_for(
        lambda: (
            metric_sum(worker.scrape(), "isales_targets_reloads_total", result="error")
            == errors + 1
        ),
        10,
        "the broken file counted",
    )
    assert _team_target(worker) == 30 * reps
    assert "targets file" in worker.log_tail(200) and "rejected" in worker.log_tail(200)
    assert worker.alive()
