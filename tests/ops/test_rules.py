"""The Prometheus rules (deploy/prometheus/rules): promtool accepts them, their promtool unit
tests (deploy/prometheus/tests) pass, and every alert carries what on-call needs and is tested
both firing and quiet. promtool is required: without it these tests fail, they never skip."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream_app.ops.stack import prometheus_config

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
TESTS_DIR = ROOT / "deploy" / "prometheus" / "tests"
RULE_FILES = (RULES_DIR / "isales-recording.yml", RULES_DIR / "isales-alerts.yml")
# The files written with the rules, plus any added since: a missing one fails, a new one runs.
TEST_FILES = sorted(
    {TESTS_DIR / n for n in ("pacing.yml", "quality.yml", "pipeline.yml", "recording.yml")}
    | set(TESTS_DIR.glob("*.yml"))
)

ALERTS = {
    "IsalesTeamCallVolumeBehindPace",
    "IsalesRepFarBehindPace",
    "IsalesConnectRateBelowFloor",
    "IsalesWorkerDown",
    "IsalesNoEventsDuringBusinessHours",
    "IsalesConsumerLagGrowing",
    "IsalesDeadLetterSpike",
    "IsalesLateEventSpike",
    "IsalesSegmentEngagesNotWinning",
}
# Volume and quality alerts stay quiet outside business hours (DOMAIN.md); a dead worker must not.
GATED = {
    "IsalesTeamCallVolumeBehindPace",
    "IsalesRepFarBehindPace",
    "IsalesConnectRateBelowFloor",
    "IsalesNoEventsDuringBusinessHours",
}
GATE = "and on () (max(isales_business_open) == 1)"
SEVERITIES = {"critical", "warning", "info"}
RECORD_NAME = re.compile(r"^(team|org):isales_[a-z0-9_]+(:[a-z0-9_]+)?$")


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not on PATH: run scripts/bootstrap.sh (it installs Debian's "
            "'prometheus' package, which provides promtool)",
            pytrace=False,
        )
    return path


def _run(*args: str | Path) -> None:
    done = subprocess.run(
        [_promtool(), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, (
        f"promtool {' '.join(map(str, args))} exited {done.returncode}\n"
        f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )


def _load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path}: not a YAML mapping"
    return loaded


def _groups(path: Path) -> list[dict[str, Any]]:
    groups = _load(path)["groups"]
    assert isinstance(groups, list)
    return groups


def _rules(path: Path, kind: str) -> list[dict[str, Any]]:
    return [rule for group in _groups(path) for rule in group["rules"] if kind in rule]


def alert_rules() -> list[dict[str, Any]]:
    return _rules(RULES_DIR / "isales-alerts.yml", "alert")


def _alert_cases() -> list[dict[str, Any]]:
    return [
        case
        for path in TEST_FILES
        for group in _load(path)["tests"]
        for case in group.get("alert_rule_test", [])
    ]


def test_promtool_check_rules() -> None:
    _run("check", "rules", *RULE_FILES)


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests(test_file: Path) -> None:
    assert test_file.is_file(), f"{test_file} is missing"
    _run("test", "rules", test_file)


def test_every_alert_has_for_severity_summary_and_runbook() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == ALERTS
    for rule in rules:
        name = rule["alert"]
        assert rule.get("for"), f"{name}: no `for:` (a single bad scrape would page)"
        assert rule.get("labels", {}).get("severity") in SEVERITIES, f"{name}: severity"
        annotations = rule.get("annotations", {})
        assert annotations.get("summary"), f"{name}: no summary"
        assert runbook_path(annotations.get("runbook_url", "")) == runbook_page(name), name


DEFAULT_DOCS = "http://127.0.0.1:9100/docs"
"""Where `stream-app board` serves the docs; the rules' fallback without `isales_docs_url`."""
TEMPLATE = (
    "{{ with $externalLabels.isales_docs_url }}{{ . }}{{ else }}" + DEFAULT_DOCS + "{{ end }}"
)


def runbook_page(alert: str) -> str:
    return f"operations/runbook/{alert}.html#{alert.lower()}"


def runbook_path(url: str) -> str:
    """The page and anchor a rule's runbook_url names under the docs' base URL."""
    assert url.startswith(TEMPLATE + "/"), url
    return url.removeprefix(TEMPLATE + "/")


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "html"
    done = subprocess.run(
        [sys.executable, "-m", "stream_app", "docs", "--strict", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_every_runbook_link_opens_a_page_with_its_anchor(built_docs: Path) -> None:
    for rule in alert_rules():
        page, _, anchor = runbook_page(rule["alert"]).partition("#")
        html = built_docs / page
        assert html.is_file(), f"{rule['alert']}: no page {page}"
        assert f'id="{anchor}"' in html.read_text(), f"{rule['alert']}: no #{anchor} on {page}"


def test_up_points_the_runbook_links_at_its_board() -> None:
    """`up` gives Prometheus the external label the rules' runbook_url reads; promtool's unit
    tests (deploy/prometheus/tests) check the fallback when no label is set."""
    config = prometheus_config({}, RULES_DIR, None, 5, "http://127.0.0.1:9200/docs/")
    assert config["global"]["external_labels"] == {"isales_docs_url": "http://127.0.0.1:9200/docs"}
    assert "external_labels" not in prometheus_config({}, RULES_DIR, None, 5)["global"]


def test_business_hours_gate() -> None:
    for rule in alert_rules():
        gated = GATE in " ".join(rule["expr"].split())
        assert gated == (rule["alert"] in GATED), f"{rule['alert']}: gate is {gated}"


def test_every_alert_is_tested_firing_and_quiet() -> None:
    cases = _alert_cases()
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert firing == ALERTS, f"never tested firing: {sorted(ALERTS - firing)}"
    assert quiet == ALERTS, f"never tested quiet: {sorted(ALERTS - quiet)}"
    for case in cases:
        for alert in case.get("exp_alerts") or []:
            # Annotations are compared too, so the templates are rendered and checked.
            assert set(alert.get("exp_annotations", {})) >= {"summary", "runbook_url"}, case


def test_recording_rule_names() -> None:
    names = [rule["record"] for rule in _rules(RULES_DIR / "isales-recording.yml", "record")]
    assert len(names) == len(set(names)), "a recording rule name is used twice"
    for name in names:
        assert RECORD_NAME.match(name), f"{name}: not level:metric:operation"
    for name in ("pacing_target", "pacing_actual", "pacing_expected"):
        for level in ("team", "org"):
            assert f"{level}:isales_{name}:sum" in names
    assert {"team:isales_pacing_ratio", "org:isales_pacing_ratio"} <= set(names)


def test_test_files_pin_interval_and_group_order() -> None:
    """Debian's promtool 2.42 needs `interval:` in every test group. Alerts read recording rules,
    so each test file that loads both orders every group, recording first: left to promtool the
    order is random and a `for:` start moves by one evaluation between runs."""
    all_groups = [g["name"] for path in RULE_FILES for g in _groups(path)]
    for path in RULE_FILES:
        for group in _groups(path):
            assert group.get("interval"), f"{path.name}: group {group['name']} has no interval"
    for path in TEST_FILES:
        doc = _load(path)
        for group in doc["tests"]:
            assert group.get("interval"), f"{path.name}: {group.get('name')} has no interval"
        if any(f.endswith("isales-alerts.yml") for f in doc["rule_files"]):
            assert doc.get("group_eval_order") == all_groups, path.name
