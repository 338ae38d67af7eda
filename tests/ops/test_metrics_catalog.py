"""The metrics catalogs are the one list of series: every series the Grafana boards, the alert
and recording rules and the web board query is catalogued (a live scrape of each pipeline is
compared with its catalog in tests/ops/test_up.py), and the docs page lists them all."""

from __future__ import annotations

import re

import yaml

from stream_app.board.queries import QUERIES
from stream_app.spine.catalog import PIPELINE
from stream_app.tools.dashboards import panel_queries
from stream_app.tools.metrics_reference import FAMILY_SERIES, every_series, markdown
from tests.helpers.support import ROOT

RULES = ROOT / "deploy" / "prometheus" / "rules"
TOKEN = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
PII_LABELS = {"lead_id", "lead", "phone", "email", "address", "contact", "contact_id"}


def series_in(promql: str) -> set[str]:
    """The isales_ series a PromQL expression reads (recording rules' `a:b:c` names aside)."""
    return {t for t in TOKEN.findall(promql) if t.startswith("isales_") and ":" not in t}


def catalogued() -> set[str]:
    names = set()
    for series in every_series():
        names.add(series.name)
        if series.kind == "histogram":
            names |= {series.name + suffix for suffix in ("_bucket", "_sum", "_count")}
    return names


def rule_expressions() -> list[tuple[str, str]]:
    found = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                found.append((rule.get("alert") or rule.get("record"), rule["expr"]))
    return found


def test_the_extraction_sees_series_and_skips_recorded_names() -> None:
    expr = 'sum by (team) (isales_calls_window_dials{window="1d"}) / team:isales_pacing_ratio'
    assert series_in(expr) == {"isales_calls_window_dials"}


def test_every_series_the_grafana_boards_query_is_catalogued() -> None:
    unknown = {
        (uid, title, name)
        for uid, title, expr in panel_queries()
        for name in series_in(expr) - catalogued()
    }
    assert unknown == set()


def test_every_series_the_rules_read_is_catalogued() -> None:
    unknown = {
        (rule, n) for rule, expr in rule_expressions() for n in series_in(expr) - catalogued()
    }
    assert unknown == set()


def test_every_series_the_web_board_reads_is_catalogued() -> None:
    unknown = {(q.name, n) for q in QUERIES for n in series_in(q.promql) - catalogued()}
    assert unknown == set()


def test_names_are_unique_and_labels_carry_no_personal_data() -> None:
    everything = [s for family in FAMILY_SERIES.values() for s in family] + list(PIPELINE)
    names = [s.name for s in everything]
    assert len(names) == len(set(names))
    for series in every_series():
        assert series.name.startswith("isales_")
        assert (series.kind == "counter") == series.name.endswith("_total"), series.name
        assert not set(series.labels) & PII_LABELS, series.name


def test_the_docs_page_lists_every_series_once() -> None:
    page = markdown()
    for series in every_series():
        assert page.count(f"| `{series.name}` |") == 1, series.name


def test_the_docs_build_writes_the_page() -> None:
    ext = (ROOT / "docs" / "_ext" / "isales_reference.py").read_text()
    assert "write_metrics_reference" in ext
    assert "reference/metrics.md" in (ROOT / "docs" / ".gitignore").read_text()
