"""`stream-app up` as a new user runs it, ops stack included, on a broker and state folder of the
test's own: through the real Prometheus HTTP API every worker target is up and the shipped rules
are loaded; a rep far behind pace (forced by a targets file of 100,000 dials a day, open around
the clock) reaches Alertmanager's API as a firing alert; the board page, loaded in headless
Chromium, shows the same CRM and e-mail numbers as the workers' /metrics and the firing alert,
with no script errors (screenshot: test-artifacts/board.png); SIGINT stops every child process.

The alert's `for: 1h` is the one thing changed: the test's copy of the shipped rules sets it to
0s, so the alert fires within an evaluation instead of an hour."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from stream_app.cli import UP_PIPELINES
from stream_app.kafka.local_broker import free_port
from stream_app.ops.stack import RULES
from stream_app.tools.metrics_reference import exposed_by
from tests.helpers.browser import cells, charts, console_errors, html_data, render, screenshot
from tests.helpers.support import (
    PORT_SETTINGS,
    ROOT,
    alive,
    descendants,
    metric_sum,
    parse_metrics,
    wait_for,
)

pytestmark = pytest.mark.kafka
ALERT = "IsalesRepFarBehindPace"


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def test_up_brings_workers_prometheus_rules_and_a_firing_alert(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shipped = 0
    for path in RULES.glob("*.yml"):
        doc = yaml.safe_load(path.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                shipped += 1
                if rule.get("alert") == ALERT:
                    rule["for"] = "0s"
        (rules / path.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    targets = tmp_path / "targets.yml"
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    targets.write_text(
        yaml.safe_dump(
            {
                "calendar": {"workdays": days, "hours": {"start": "00:00", "end": "24:00"}},
                "defaults": {"dials_per_day": 100_000},
            }
        )
    )
    prom, am, board_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "ISALES_KAFKA_HOME": str(tmp_path / "kafka"),
        "ISALES_DATA_DIR": str(tmp_path / "state"),
        "ISALES_TARGETS_FILE": str(targets),
        **{var: str(free_port()) for var in PORT_SETTINGS.values()},
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    log = (tmp_path / "up.log").open("wb")
    command = [sys.executable, "-m", "stream_app", "up", "--rate", "20"]
    command += ["--prometheus-port", str(prom), "--alertmanager-port", str(am)]
    command += ["--alert-rules", str(rules), "--kafka-port", str(free_port())]
    command += ["--board-port", str(board_port)]
    up = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    children: set[int] = set()

    def read_log() -> str:
        return (tmp_path / "up.log").read_text(errors="replace")

    try:
        prometheus = f"http://127.0.0.1:{prom}"
        alertmanager = f"http://127.0.0.1:{am}"

        def targets_up() -> bool:
            assert up.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            children.update(descendants(up.pid))
            try:
                active = get(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]
            except OSError:
                return False
            health = {t["labels"]["pipeline"]: t["health"] for t in active}
            return health == {name: "up" for name in UP_PIPELINES}

        wait_for(targets_up, 300, "every worker target up in Prometheus", every=1.0)
        groups = get(f"{prometheus}/api/v1/rules")["data"]["groups"]
        assert sum(len(g["rules"]) for g in groups) == shipped

        def firing() -> bool:
            children.update(descendants(up.pid))
            alerts = get(f"{alertmanager}/api/v2/alerts")
            return any(
                a["labels"]["alertname"] == ALERT and a["status"]["state"] == "active"
                for a in alerts
            )

        wait_for(firing, 240, f"{ALERT} firing in Alertmanager", every=2.0)
        # Its runbook link points at the board's own /docs (the external label `up` sets), and
        # the board serves that page with the alert's anchor (docs built by bootstrap/test.sh).
        runbooks = {
            a["annotations"]["runbook_url"]
            for a in get(f"{alertmanager}/api/v2/alerts")
            if a["labels"]["alertname"] == ALERT
        }
        page = f"http://127.0.0.1:{board_port}/docs/operations/runbook/{ALERT}.html"
        assert runbooks == {f"{page}#{ALERT.lower()}"}
        with urllib.request.urlopen(page, timeout=10) as response:
            assert f'id="{ALERT.lower()}"' in response.read().decode()
        printed = (tmp_path / "up.log").read_text()
        assert f"Prometheus:   {prometheus}" in printed
        assert f"Alertmanager: {alertmanager}" in printed

        def all_ready() -> bool:
            return bool(re.search(r"all 7 pipelines ready \d+ s after start", read_log()))

        wait_for(all_ready, 120, "the status table says every pipeline is ready")
        printed = read_log()
        assert "starting" in printed and "ready" in printed  # the table, printed as it changed
        assert "[INFO]" not in printed, "framework INFO lines reached the console"
        board = f"http://127.0.0.1:{board_port}/"
        assert f"Board:   {board}" in printed
        check_board(env, prometheus, board, tmp_path)
        for pipeline, variable in PORT_SETTINGS.items():
            check_catalog(pipeline, env[variable])
    finally:
        children.update(descendants(up.pid))
        up.send_signal(signal.SIGINT)
        try:
            up.wait(120)
        finally:
            log.close()
    assert up.returncode == 0
    broker_pid = (tmp_path / "kafka").glob("*.pid")
    left = sorted(p for p in children if alive(p))
    assert not left, f"still running after Ctrl-C: {left}; broker pid files {list(broker_pid)}"
    assert not re.search(r"Traceback", read_log())
    demo_log = (tmp_path / "state" / "logs" / "demo.log").read_text()
    assert "NotLeaderForPartition" not in demo_log  # it waits for topic leaders first


def check_catalog(pipeline: str, port: str) -> None:
    """A live worker shows exactly its pipeline's catalogued series: names, types, help and
    labels (the docs' metrics page is made from the same catalog)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        live = {
            (f.name + "_total" if f.type == "counter" else f.name): f
            for f in text_string_to_metric_families(r.read().decode())
        }
    catalog = {series.name: series for series in exposed_by(pipeline)}
    assert set(live) == set(catalog), (pipeline, set(live) ^ set(catalog))
    for name, family in live.items():
        series = catalog[name]
        assert (family.type, family.documentation) == (series.kind, series.help), name
        labels = {k for sample in family.samples for k in sample.labels} - {"le"}
        assert labels <= set(series.labels), (name, labels)


def scrape(port: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return parse_metrics(r.read().decode())


def check_board(env: dict[str, str], prometheus: str, board: str, tmp_path: Path) -> None:
    """The page's numbers against Prometheus, once the seeded CRM, e-mail and relationship
    scenarios are in and scraped (they are one-shot: they then stay). Each truth is PromQL
    written here from the documented definition (docs/operations/board.md), evaluated at the
    instant the page says its figures are from, in English and in Japanese; the charts drawn;
    no script error; nothing wider than the window at 1024 px."""
    crm_port, email_port = env["ISALES_CRM_METRICS_PORT"], env["ISALES_EMAIL_METRICS_PORT"]

    def figures() -> tuple[float, float, dict[tuple[str, str], float]]:
        crm, email = scrape(crm_port), scrape(email_port)
        delivered = {
            (dict(labels)["campaign"], dict(labels)["value"]): value
            for labels, value in email.get("isales_email_cohort_delivered", {}).items()
            if dict(labels).get("dimension") == "variant"
        }
        return (
            metric_sum(crm, "isales_crm_handoffs_total"),
            metric_sum(crm, "isales_crm_won_total"),
            delivered,
        )

    def vector(promql: str, at: str | None = None) -> dict[str, float]:
        """The query's result: its label values joined by "/" in label-name order (as the
        page's data-key: campaign/variant), or "" -> value."""
        params = {"query": promql, **({"time": at} if at else {})}
        result = get(f"{prometheus}/api/v1/query?{urllib.parse.urlencode(params)}")
        return {
            "/".join(v for _, v in sorted(r["metric"].items())): float(r["value"][1])
            for r in result["data"]["result"]
        }

    seen: list[tuple[float, float, dict[tuple[str, str], float]]] = []

    def settled() -> bool:
        now = figures()
        same = bool(seen) and seen[-1] == now
        seen.append(now)
        handoffs, won, delivered = now
        return (
            same
            and handoffs > 0
            and bool(delivered)
            and vector("sum(isales_crm_handoffs_total)").get("") == handoffs
            and vector("sum(isales_crm_won_total)").get("") == won
            and bool(vector("sum by (segment) (isales_reach_segment_fit_index)"))
            and bool(vector("sum by (band) (isales_reach_leads_by_band) > 0"))
        )

    wait_for(settled, 300, "seeded CRM, e-mail and reach KPIs settled and scraped", every=6.0)
    for lang in ("en", "ja"):
        dom, stderr = render(f"{board}?lang={lang}", profile=tmp_path / "chromium")
        assert page_matches_prometheus(dom, vector) >= 12, lang
        assert re.search(r'<html[^>]*lang="' + lang, dom), lang
        if lang == "ja":  # the seed's words
            for word in (
                "架電数",
                "接続率",
                "商談化率",
                "受注率",
                "質問したが回答なし",
                "質問していない",
            ):
                assert word in dom, word
        drawn = charts(dom)
        assert drawn.get("hourly", 0) >= 3, drawn  # the pace line and the legend at least
        for chart in ("funnel", "trend", "quality", "bands"):
            assert drawn.get(chart, 0) > 0, (chart, drawn)
        assert ALERT in cells(dom).alerts
        assert cells(dom).ids.get("errors", "") == "" and not console_errors(stderr), stderr[-2000:]
        narrow, _ = render(f"{board}?lang={lang}", profile=tmp_path / "chromium", width=1024)
        assert html_data(narrow, "overflow") == "0", (lang, html_data(narrow, "overflow"))
    # A team's view: only its reps, and its rates from its own counts.
    dom, _ = render(f"{board}?lang=en&team=team-a", profile=tmp_path / "chromium")
    page, when = cells(dom), re.search(r'data-as-of="([0-9.]+)"', dom)
    assert when
    team_reps = vector('sum by (rep) (isales_crm_handoffs_total{team="team-a"})', when.group(1))
    shown_reps = {key for kpi, key in page.cells if kpi == "crm_handoffs"}
    assert shown_reps == set(team_reps), (shown_reps, team_reps)
    accepted = vector('sum(isales_crm_accepted_total{team="team-a"})', when.group(1))[""]
    conversion = 100 * accepted / sum(team_reps.values())
    assert abs(shown(page, "crm_conversion_total") - conversion) <= 0.05 + 1e-9
    artifacts = ROOT / "test-artifacts"
    chromium_profile = tmp_path / "chromium"
    screenshot(f"{board}?lang=en", artifacts / "board.png", chromium_profile, height=2400)
    screenshot(f"{board}?lang=ja", artifacts / "board-ja.png", chromium_profile, height=2400)
    screenshot(f"{board}?lang=en", artifacts / "board-1024.png", chromium_profile, 1024, 2400)


def shown(page: Any, kpi: str, key: str = "") -> float:
    """A rendered figure as a number: digits, the decimal point and sign kept (1,234.5 / 12.3%
    / €1,234.50 / ￥519,000 in either language)."""
    text = page.cells[(kpi, key)]
    return float(re.sub(r"[^0-9.\-]", "", text))


def page_matches_prometheus(dom: str, vector: Callable[[str, str | None], dict[str, float]]) -> int:
    """Every figure checked here equals its documented PromQL at the page's instant; returns
    how many were checked."""
    page = cells(dom)
    at = re.search(r'data-as-of="([0-9.]+)"', dom)
    assert at, "the page says when its figures are from"
    when = at.group(1)

    def q(promql: str) -> dict[str, float]:
        return vector(promql, when)

    checked = 0

    def same(kpi: str, key: str, want: float, places: int) -> None:
        nonlocal checked
        got = shown(page, kpi, key)
        assert abs(got - want) <= 0.5 * 10**-places + 1e-9, (kpi, key, got, want)
        checked += 1

    # Activity: the calendar day's calls per rep (docs/kpis/calls.md), connect rate = connects
    # / dials, talk time in minutes.
    dials = q("sum by (rep) (isales_calls_today_dials)")
    connects = q("sum by (rep) (isales_calls_today_connects)")
    talk = q("sum by (rep) (isales_calls_today_talk_seconds)")
    rep = max((r for r in dials if dials[r] > 0), key=lambda r: (connects.get(r, 0), r))
    same("dials_today", rep, dials[rep], 0)
    same("connect_rate_today", rep, 100 * connects.get(rep, 0) / dials[rep], 1)
    if talk.get(rep, 0) >= 6:
        same("talk_minutes_today", rep, talk[rep] / 60, 1)
    all_dials = sum(dials.values())
    same("connect_rate_today_total", "", 100 * sum(connects.values()) / all_dials, 1)
    # Handoffs (docs/kpis/crm.md): 商談化率 = accepted / handoffs; ① and ② apart.
    handoffs = q("sum(isales_crm_handoffs_total)")[""]
    same("crm_handoffs_total", "", handoffs, 0)
    same("crm_conversion_total", "", 100 * q("sum(isales_crm_accepted_total)")[""] / handoffs, 1)
    unanswered = 'sum(isales_crm_discovery_fields_total{status=~"asked_declined|asked_unknown"})'
    same("crm_fields_asked_unanswered_total", "", q(unanswered)[""], 0)
    not_asked = 'sum(isales_crm_discovery_fields_total{status="not_asked"})'
    same("crm_fields_not_asked_total", "", q(not_asked)[""], 0)
    # Outcomes: 受注率 = won / (won + lost); won amount per currency.
    won, lost = q("sum(isales_crm_won_total)")[""], q("sum(isales_crm_lost_total)")[""]
    same("crm_won_total", "", won, 0)
    same("crm_win_rate_total", "", 100 * won / (won + lost), 1)
    for currency, amount in q("sum by (currency) (isales_crm_won_amount_total)").items():
        got = shown(page, "crm_won_amount_total", currency)
        assert abs(got - amount) < 0.01, (currency, got, amount)
        checked += 1
    # E-mail: open rate = human opens / delivered, per campaign and variant.
    delivered = 'sum by (campaign, value) (isales_email_cohort_delivered{dimension="variant"})'
    opens = 'sum by (campaign, value) (isales_email_cohort_human_opens{dimension="variant"})'
    human = q(opens)
    for key, n in sorted(q(f"{delivered} > 0").items())[:3]:
        same("email_delivered", key, n, 0)
        same("email_open_rate", key, 100 * human.get(key, 0) / n, 1)
    # Relationship (docs/kpis/engagement.md): leads per band now; a segment's fit index.
    for band, n in q("sum by (band) (isales_reach_leads_by_band)").items():
        same("band_leads", band, n, 0)
    fit = q("max by (segment) (isales_reach_segment_fit_index)")
    segment = sorted(fit)[0]
    same("segment_fit_index", segment, fit[segment], 2)
    # The trend: 商談化率 of each week's handoffs.
    weeks = q("sum by (week) (isales_crm_cohort_week_handoffs) > 0")
    accepted = q("sum by (week) (isales_crm_cohort_week_accepted)")
    for week, n in weeks.items():
        same("trend_conversion", week, 100 * accepted.get(week, 0) / n, 1)
    # Health: late records that are history, apart from live ones.
    history = 'sum by (pipeline) (isales_late_history_events_total{job="isales-kpi"})'
    for pipeline, n in q(history).items():
        same("late_history", pipeline, n, 0)
    return checked
