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
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from stream_app.cli import UP_PIPELINES
from stream_app.kafka.local_broker import free_port
from stream_app.ops.stack import RULES
from stream_app.tools.metrics_reference import exposed_by
from tests.helpers.browser import cells, console_errors, render, screenshot
from tests.helpers.support import ROOT, metric_sum, parse_metrics, wait_for

pytestmark = pytest.mark.kafka
PORTS = {
    "calls": "ISALES_METRICS_PORT",
    "email": "ISALES_EMAIL_METRICS_PORT",
    "crm-attribution": "ISALES_CRM_ATTRIBUTION_METRICS_PORT",
    "crm": "ISALES_CRM_METRICS_PORT",
    "web": "ISALES_WEB_METRICS_PORT",
    "engagement": "ISALES_ENGAGEMENT_METRICS_PORT",
    "reach": "ISALES_REACH_METRICS_PORT",
}
ALERT = "IsalesRepFarBehindPace"


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


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
        **{var: str(free_port()) for var in PORTS.values()},
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
        for pipeline, variable in PORTS.items():
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
    """The page's numbers against the workers' own /metrics, once the seeded CRM and e-mail
    scenarios are in and Prometheus has scraped them (they are one-shot: they then stay)."""
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

    def in_prometheus(promql: str) -> float:
        query = urllib.parse.urlencode({"query": promql})
        result = get(f"{prometheus}/api/v1/query?{query}")["data"]["result"]
        return float(result[0]["value"][1]) if result else -1.0

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
            and in_prometheus("sum(isales_crm_handoffs_total)") == handoffs
            and in_prometheus("sum(isales_crm_won_total)") == won
        )

    wait_for(settled, 300, "seeded CRM and e-mail KPIs settled and scraped", every=6.0)
    handoffs, won, delivered = seen[-1]
    dom, stderr = render(board, profile=tmp_path / "chromium")
    page = cells(dom)

    def shown(kpi: str, key: str = "") -> float:
        return float(page.cells[(kpi, key)].replace(",", ""))

    assert shown("crm_handoffs_total") == handoffs
    assert shown("crm_won_total") == won
    for (campaign, variant), n in delivered.items():
        assert shown("email_delivered", f"{campaign}/{variant}") == n, (campaign, variant)
    assert ALERT in page.alerts
    assert page.ids.get("errors", "") == "" and not console_errors(stderr), stderr[-2000:]
    screenshot(board, ROOT / "test-artifacts" / "board.png", profile=tmp_path / "chromium")
