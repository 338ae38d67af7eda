"""Grafana dashboards and provisioning: what can be checked without a Grafana server.

The end-to-end test runs every query against a live Prometheus; here: files are fresh, panels are
well formed, every metric and label is one the worker exports, every expr parses (promtool check
rules), counts never show "No data", and provisioning, compose and dashboards agree.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream_app.families.crm.family import TTC_BUCKETS
from stream_app.families.crm.kpis import COUNTED as CRM_KPI_COUNTED
from stream_app.families.crm.kpis import STATUSES as CRM_KPI_STATUSES
from stream_app.families.crm.kpis import rates as crm_rates
from stream_app.families.email.kpis import rates as worker_rates
from stream_app.tools import dashboards as dash

ROOT = Path(__file__).resolve().parents[2]
BOARD_DIR = ROOT / "deploy" / "grafana" / "dashboards"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
UID = "isales-prometheus"

REP = {"rep", "team"}
WINDOWED = REP | {"window", "position"}
PACED = REP | {"kpi", "period"}
PARTITION = {"topic", "partition"}
COHORT = {"campaign", "dimension", "value"}
AB = {"campaign", "kpi", "variant"}
EMAIL_WINDOWED = {"campaign", "variant", "window", "position"}
EMAIL_COUNTS = (
    "sent",
    "delivered",
    "bounced_hard",
    "bounced_soft",
    "deferred",
    "dropped",
    "human_opens",
    "machine_opens",
    "machine_only",
    "clicks",
    "unsubscribes",
    "spam_reports",
)
COHORT_RATES = {
    f"isales_email_cohort_{m}"
    for m in ("open_rate", "adjusted_open_rate", "click_rate", "click_to_open_rate", "bounce_rate")
}
AB_STATS = {f"isales_email_ab_{m}" for m in ("z_score", "p_value", "leader")}
CRM_COUNTED = ("handoffs", "accepted", "rejected", "won", "lost")
CRM_STATUSES = ("answered", "asked_declined", "asked_unknown", "not_asked", "not_applicable")
CRM_RATES = {
    f"isales_crm_window_{m}" for m in ("handoff_conversion", "win_rate", "discovery_completeness")
}
TTC = "isales_crm_handoff_to_close_seconds"
REACH_HANDOFFS = ("", "_accepted", "_rejected", "_won", "_lost")
REACH_SEGMENT_GAUGES = {
    f"isales_reach_{m}"
    for m in (
        "segment_fit_index",
        "segment_win_rate",
        "segment_engaged_share",
        "segment_engages_not_winning",
        "median_score",
    )
}
# Exposition names (counters with `_total`) and labels, as listed in the project's metric contract.
# Recording-rule names (`level:metric:op`) are not here: dashboards read raw metrics.
METRICS: dict[str, set[str]] = {
    **{
        f"isales_calls_{m}_total": REP
        for m in (
            "dials",
            "connects",
            "machine_answers",
            "talk_seconds",
            "short_calls",
            "inbound_calls",
        )
    },
    **{
        f"isales_calls_window_{m}": WINDOWED
        for m in (
            "dials",
            "connects",
            "machine_answers",
            "talk_seconds",
            "short_calls",
            "inbound_calls",
            "connect_rate",
            "avg_talk_seconds",
        )
    },
    "isales_events_applied_total": {"source"},
    "isales_duplicate_events_total": {"source"},
    "isales_late_events_total": {"source"},
    "isales_late_history_events_total": {"source"},
    "isales_late_window_updates_total": {"source", "window"},
    "isales_dead_letter_events_total": {"source", "reason"},
    "isales_consumer_lag_messages": PARTITION,
    "isales_watermark_timestamp_seconds": PARTITION,
    "isales_event_time_delay_seconds": PARTITION,
    "isales_label_overflow_total": {"label"},
    "isales_offset_rewinds_total": {"source"},
    "isales_offset_holes_total": {"source"},
    "isales_rebalances_total": set(),
    **{f"isales_pacing_{m}": PACED for m in ("target", "actual", "expected", "ratio")},
    "isales_business_open": set(),
    "isales_business_period_elapsed_ratio": {"period"},
    "isales_targets_reloads_total": {"result"},
    "isales_targets_loaded_timestamp_seconds": set(),
    # The email worker (same job, port 9109). Cohort and window metrics are gauges: no _total.
    **{f"isales_email_cohort_{m}": COHORT for m in EMAIL_COUNTS},
    **dict.fromkeys(COHORT_RATES, COHORT),
    **dict.fromkeys(AB_STATS, AB),
    # machine_only is cohort-only: a later human open withdraws it.
    **{f"isales_email_window_{m}": EMAIL_WINDOWED for m in EMAIL_COUNTS if m != "machine_only"},
    # The CRM worker (same job, port 9111).
    **{f"isales_crm_{m}_total": REP | {"segment"} for m in CRM_COUNTED},
    "isales_crm_won_amount_total": REP | {"currency"},
    **{f"isales_crm_cohort_week_{m}": REP | {"week"} for m in CRM_COUNTED},
    "isales_crm_discovery_fields_total": REP | {"field", "status"},
    **{
        f"isales_crm_{m}_total": REP
        for m in ("complete_handoffs", "discovery_answered_fields", "discovery_applicable_fields")
    },
    f"{TTC}_bucket": REP | {"le"},
    f"{TTC}_sum": REP,
    f"{TTC}_count": REP,
    "isales_crm_unattributed_outcomes": {"outcome"},
    "isales_crm_unattributed_won_amount": {"currency"},
    **{f"isales_crm_window_{m}": WINDOWED for m in CRM_COUNTED},
    **dict.fromkeys(CRM_RATES, WINDOWED),
    # The reach worker (same job, port 9114).
    "isales_reach_touchpoints_total": REP | {"channel", "kind"},
    "isales_reach_window_touchpoints": WINDOWED | {"channel", "kind"},
    **{f"isales_reach_handoffs{s}_total": REP | {"band"} for s in REACH_HANDOFFS},
    "isales_reach_window_handoffs": WINDOWED | {"band"},
    "isales_reach_segment_leads": {"segment", "stage"},
    **{f"isales_reach_segment_{m}_total": {"segment"} for m in ("handoffs", "accepted", "won")},
    "isales_reach_segment_touchpoints_total": {"segment", "channel"},
    "isales_reach_ad_impressions_total": {"segment", "campaign"},
    **{key: {"segment"} for key in REACH_SEGMENT_GAUGES},
    "isales_reach_leads_by_band": {"segment", "band"},
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LABEL_VALUES = {
    "window": {"1m", "15m", "1h", "1d"},
    "position": {"current", "previous"},
    "period": {"day", "week"},
    "result": {"ok", "error"},
    "dimension": {"variant", "segment", "send_weekday", "send_hour", "team"},
    "status": set(CRM_STATUSES),
    "outcome": {"won", "lost"},
    "band": {"cold", "warming", "warm", "hot"},
    "kind": {"outreach", "response", "machine"},
    "stage": {"targeted", "touched", "engaged"},
}
# Same label name, different sets: pacing KPIs and the A/B test's KPIs.
KPI_VALUES = {
    "isales_pacing_": {"dials", "connects", "talk_minutes"},
    "isales_email_ab_": {"open_rate", "click_rate"},
}
# Values of `value` per cohort dimension, where the set is fixed.
DIMENSION_VALUES = {
    "send_weekday": set(WEEKDAYS),
    "send_hour": {f"{h:02d}" for h in range(24)},
}
# Rates and means per rep: never aggregated (team rates are sum(numerator) / sum(denominator)).
DERIVED = {"isales_calls_window_connect_rate", "isales_calls_window_avg_talk_seconds"}
DERIVED |= {"isales_pacing_ratio"} | COHORT_RATES | CRM_RATES
DERIVED |= REACH_SEGMENT_GAUGES - {"isales_reach_segment_engages_not_winning"}
NOT_COUNTS = (
    DERIVED
    | AB_STATS
    | {
        "isales_watermark_timestamp_seconds",
        "isales_event_time_delay_seconds",
        "isales_business_open",
        "isales_business_period_elapsed_ratio",
        "isales_targets_loaded_timestamp_seconds",
        f"{TTC}_bucket",
        f"{TTC}_sum",
    }
)
GRAFANA_VARS = {"$team", "$campaign", "$__interval", "$__rate_interval", "$__range"}
WINDOW_PREFIXES = (
    "isales_calls_window_",
    "isales_email_window_",
    "isales_crm_window_",
    "isales_reach_window_",
)
TEAM_QUERIES = {
    "isales-team-overview": "label_values(isales_calls_window_dials, team)",
    "isales-handoffs": "label_values(isales_crm_window_handoffs, team)",
    "isales-outcomes": "label_values(isales_crm_window_handoffs, team)",
    "isales-reach": "label_values(isales_reach_touchpoints_total, team)",
}
CRM_BOARDS = ("isales-handoffs", "isales-outcomes")

NAME_RE = re.compile(r"isales_[a-z0-9_]+")
SELECTOR_RE = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
MATCHER_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*')
GROUPING_RE = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
AGGREGATION_RE = re.compile(r"\b(sum|avg|min|max|count|group|stddev|quantile|topk)\b\s*(by\b|\()")
DIVIDE_BY_SERIES_RE = re.compile(r"/\s*(?![\d.\s])")


def boards() -> dict[str, dict[str, Any]]:
    return dash.dashboards()


def panels() -> list[tuple[str, dict[str, Any]]]:
    return [(b["uid"], p) for b in boards().values() for p in b["panels"]]


def metric_names(expr: str) -> set[str]:
    return set(NAME_RE.findall(expr))


def balanced(expr: str) -> bool:
    """Brackets nest properly outside string literals."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    in_string = False
    escaped = False
    for char in expr:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack and not in_string


def is_count(expr: str) -> bool:
    """A query whose result is a count (or a rate/sum of counts), not a ratio, time or flag."""
    names = metric_names(expr)
    if "up{" in expr:
        names.add("up")
    return bool(names) and not names & NOT_COUNTS and not DIVIDE_BY_SERIES_RE.search(expr)


# --- files ------------------------------------------------------------------------------------


def test_checked_in_dashboards_are_what_the_generator_makes() -> None:
    stale = dash.check(BOARD_DIR)
    assert not stale, f"stale dashboards {stale}: run `python -m stream_app.tools.dashboards`"
    assert sorted(p.name for p in BOARD_DIR.glob("*.json")) == sorted(boards())


def test_check_reports_changed_missing_and_extra_files(tmp_path: Path) -> None:
    written = dash.write(tmp_path)
    assert sorted(p.name for p in written) == sorted(boards())
    assert dash.check(tmp_path) == []
    first, second, *_ = written
    first.write_text(first.read_text().replace('"refresh": "30s"', '"refresh": "1m"'))
    second.unlink()
    (tmp_path / "old-board.json").write_text("{}")
    assert sorted(dash.check(tmp_path)) == sorted([first.name, second.name, "old-board.json"])
    dash.write(tmp_path)
    assert dash.check(tmp_path) == []
    assert not (tmp_path / "old-board.json").exists()


def test_generated_json_is_plain_and_self_contained() -> None:
    for name, board in boards().items():
        text = (BOARD_DIR / name).read_text()
        assert json.loads(text) == board
        assert "${DS_" not in text and "__inputs" not in board and "__requires" not in board
        assert name == f"{board['uid']}.json"
        assert 36 <= board["schemaVersion"] <= 41
        assert board["id"] is None


# --- structure --------------------------------------------------------------------------------


def test_dashboard_uids_and_titles_are_unique_and_fixed() -> None:
    uids = [b["uid"] for b in boards().values()]
    titles = [b["title"] for b in boards().values()]
    assert sorted(uids) == [
        "isales-email-ab",
        "isales-handoffs",
        "isales-outcomes",
        "isales-pipeline-health",
        "isales-reach",
        "isales-team-overview",
    ]
    assert len(set(titles)) == len(titles)


def test_every_panel_is_placed_and_queries_the_provisioned_datasource() -> None:
    for board in boards().values():
        ids = [p["id"] for p in board["panels"]]
        assert len(set(ids)) == len(ids), board["uid"]
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            where = f"{board['uid']}/{panel['title']}"
            grid = panel["gridPos"]
            assert all(isinstance(grid[k], int) for k in "hwxy"), where
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, where
            mine = {
                (x, y)
                for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert not mine & cells, f"{where} overlaps another panel"
            cells |= mine
            assert panel["datasource"] == {"type": "prometheus", "uid": UID}, where
            targets = panel["targets"]
            assert targets and all(t["expr"].strip() for t in targets), where
            assert all(t["datasource"]["uid"] == UID for t in targets), where
            refs = [t["refId"] for t in targets]
            assert len(set(refs)) == len(refs), where


def test_team_variable() -> None:
    with_team = {
        b["uid"]: b["templating"]["list"]
        for b in boards().values()
        if any(v["name"] == "team" for v in b["templating"]["list"])
    }
    assert set(with_team) == set(TEAM_QUERIES)
    for uid, variables in with_team.items():
        (team,) = variables
        assert team["name"] == "team" and team["type"] == "query"
        assert team["datasource"] == {"type": "prometheus", "uid": UID}
        assert team["query"]["query"] == team["definition"] == TEAM_QUERIES[uid]
        assert team["includeAll"] and team["multi"] and team["allValue"] == ".*"
    # Every selector of a metric with a team label filters on the variable (checked per
    # selector in test_selectors_use_real_labels_and_values); here: the query uses it at all.
    for _, panel in panels():
        for target in panel["targets"]:
            if labels_of(target["expr"]) >= REP:
                assert 'team=~"$team"' in target["expr"], panel["title"]


def test_campaign_variable() -> None:
    email = boards()["isales-email-ab.json"]
    (campaign,) = email["templating"]["list"]
    assert campaign["name"] == "campaign" and campaign["type"] == "query"
    assert campaign["datasource"] == {"type": "prometheus", "uid": UID}
    assert campaign["query"]["query"] == "label_values(isales_email_cohort_delivered, campaign)"
    assert campaign["includeAll"] and campaign["multi"] and campaign["allValue"] == ".*"
    # Every selector of a metric with a campaign label filters on the variable (checked per
    # selector in test_selectors_use_real_labels_and_values); here: the board uses it at all.
    exprs = [e for uid, _, e in dash.panel_queries() if uid == email["uid"]]
    assert exprs and all('campaign=~"$campaign"' in e for e in exprs)


def test_expand_substitutes_every_variable() -> None:
    expr = 'sum(x{team=~"$team",campaign=~"$campaign"}[$__rate_interval]) + y[$__interval]'
    assert dash.expand(expr) == 'sum(x{team=~".*",campaign=~".*"}[1m]) + y[1m]'
    assert dash.expand(expr, team="a", campaign="c1|c2", interval="30s") == (
        'sum(x{team=~"a",campaign=~"c1|c2"}[30s]) + y[30s]'
    )
    assert dash.expand('x{campaign_id=~"$campaigns"}') == 'x{campaign_id=~"$campaigns"}'
    assert dash.expand("increase(x[$__range])") == "increase(x[6h])"
    assert dash.expand("increase(x[$__range])", time_range="7d") == "increase(x[7d])"
    assert dash.expand("x[$__range_s]") == "x[$__range_s]"


def test_table_columns_are_named() -> None:
    tables = [p for _, p in panels() if p["type"] in ("table", "barchart")]
    assert {p["type"] for p in tables} == {"table", "barchart"}
    for table in tables:
        organize = next(t for t in table["transformations"] if t["id"] == "organize")
        renamed = organize["options"]["renameByName"]
        assert {f"Value #{t['refId']}" for t in table["targets"]} <= set(renamed)
        assert all(t["format"] == "table" and t["instant"] for t in table["targets"])
        if table["type"] == "barchart":
            (key,) = set(renamed) - {f"Value #{t['refId']}" for t in table["targets"]}
            assert table["options"]["xField"] == renamed[key], table["title"]
            for target in table["targets"]:
                assert GROUPING_RE.findall(target["expr"]) and all(
                    g.strip() == key for g in GROUPING_RE.findall(target["expr"])
                ), target["expr"]


# --- queries ----------------------------------------------------------------------------------


def labels_of(expr: str) -> set[str]:
    out: set[str] = set()
    for name in metric_names(expr):
        out |= METRICS.get(name, set())
    return out


def test_every_metric_is_exported_and_no_recording_rules_are_read() -> None:
    used: set[str] = set()
    for uid, title, expr in dash.panel_queries():
        names = metric_names(expr)
        assert names or "up{" in expr, f"{uid}/{title}: no isales metric in {expr}"
        assert names <= set(METRICS), f"{uid}/{title}: unknown {names - set(METRICS)}"
        without_ranges = re.sub(r"\[[^\]]*\]", "", expr)
        assert ":" not in without_ranges, f"{uid}/{title}: recording rule in {expr}"
        used |= names
    for board in boards().values():
        text = json.dumps(board)
        assert set(NAME_RE.findall(text)) <= set(METRICS), board["uid"]
    assert {
        "isales_calls_window_dials",
        "isales_pacing_expected",
        "isales_rebalances_total",
        "isales_email_cohort_machine_only",
        "isales_email_ab_p_value",
        "isales_email_window_clicks",
        "isales_crm_window_handoffs",
        "isales_crm_discovery_fields_total",
        "isales_crm_won_amount_total",
        f"{TTC}_bucket",
        "isales_crm_unattributed_outcomes",
    } <= used


def test_selectors_use_real_labels_and_values() -> None:
    for uid, title, expr in dash.panel_queries():
        where = f"{uid}/{title}: {expr}"
        for name in metric_names(expr):
            if name.startswith((*WINDOW_PREFIXES, "isales_pacing_", "isales_email_")):
                bare = len(re.findall(rf"{name}\b(?!\{{)", expr))
                assert not bare, f"{where}: {name} without its window/kpi/campaign matchers"
        for metric, body in SELECTOR_RE.findall(expr):
            allowed = METRICS.get(metric, {"job"} if metric == "up" else set())
            matchers = {}
            for part in filter(str.strip, body.split(",")):
                found = MATCHER_RE.fullmatch(part)
                assert found, where
                label, op, value = found.groups()
                assert label in allowed, f"{where}: {metric} has no label {label}"
                matchers[label] = (op, value)
                if op == "=" and label in LABEL_VALUES:
                    assert value in LABEL_VALUES[label], f"{where}: {label}={value}"
                if op == "=" and label == "kpi":
                    (known,) = (v for p, v in KPI_VALUES.items() if metric.startswith(p))
                    assert value in known, f"{where}: kpi={value}"
            dimension = matchers.get("dimension", ("", ""))[1]
            if matchers.get("value", ("", ""))[0] == "=" and dimension in DIMENSION_VALUES:
                assert matchers["value"][1] in DIMENSION_VALUES[dimension], where
            # Summing a window gauge over all windows/positions, pacing over all KPIs, or a
            # cohort over all dimensions (each message counts once per dimension) is nonsense:
            # pin them.
            pinned = set()
            if metric.startswith(WINDOW_PREFIXES):
                pinned = {"window", "position"}
            if metric.startswith("isales_pacing_"):
                pinned = {"kpi", "period"}
            if metric.startswith("isales_email_cohort_"):
                pinned = {"dimension"}
            for label in pinned:
                assert matchers.get(label, ("", ""))[0] == "=", f"{where}: {label} not pinned"
            # Mirrors team=~"$team": the campaign selector narrows every email selector.
            if "campaign" in allowed:
                assert matchers.get("campaign") == ("=~", "$campaign"), f"{where}: no $campaign"
            if "team" in allowed:
                assert matchers.get("team") == ("=~", "$team"), f"{where}: no $team"
        for group in GROUPING_RE.findall(expr):
            for label in (g.strip() for g in group.split(",")):
                assert label in labels_of(expr), f"{where}: grouping by {label}"


def test_exprs_parse() -> None:
    queries = dash.panel_queries()
    for uid, title, expr in queries:
        assert balanced(expr), f"{uid}/{title}: unbalanced {expr}"
        expanded = dash.expand(expr)
        assert "$" not in expanded, f"{uid}/{title}: unknown variable in {expr}"
        assert set(re.findall(r"\$\w+", expr)) <= GRAFANA_VARS


def test_balanced_catches_broken_exprs() -> None:
    assert balanced('sum(rate(x{a="(]"}[1m]))')
    for broken in ("sum(x", "sum(x))", "rate(x[1m)]", 'x{a="1"', "(x]", 'x{a="}'):
        assert not balanced(broken), broken


def test_promtool_parses_every_expr(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package 'prometheus'); .ci/run installs it"
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard_query_{i}", "expr": dash.expand(expr)}
                    for i, (_, _, expr) in enumerate(dash.panel_queries())
                ],
            }
        ]
    }
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "r", "expr": "sum(x) by"}]}]})
    )
    broken = subprocess.run(
        [promtool, "check", "rules", str(bad)], capture_output=True, text=True, check=False
    )
    assert broken.returncode != 0, "promtool must reject a broken expr"


# Cohort rows (campaign, dimension, value) -> counts, as two workers would export them.
# c2/A has nothing delivered: its delivered-based rates must be absent, not NaN or 0.
COHORT_ROWS: dict[tuple[str, str, str], dict[str, int]] = {
    ("c1", "variant", "A"): {
        "sent": 100,
        "delivered": 90,
        "bounced_hard": 4,
        "bounced_soft": 6,
        "human_opens": 27,
        "machine_opens": 31,
        "machine_only": 20,
        "clicks": 7,
    },
    ("c1", "variant", "B"): {
        "sent": 50,
        "delivered": 49,
        "bounced_soft": 1,
        "human_opens": 20,
        "machine_opens": 3,
        "machine_only": 1,
        "clicks": 9,
    },
    ("c2", "variant", "A"): {"sent": 3, "bounced_hard": 1},
    ("c1", "segment", "smb"): {"sent": 120, "delivered": 110, "human_opens": 40, "clicks": 11},
    ("c2", "segment", "smb"): {"sent": 3, "delivered": 0},
    ("c1", "segment", "ent"): {"sent": 30, "delivered": 29, "human_opens": 7, "clicks": 5},
    ("c1", "team", "none"): {"sent": 150, "delivered": 139, "human_opens": 47, "clicks": 16},
    ("c2", "team", "east"): {"sent": 3},
    ("c1", "send_weekday", "mon"): {"sent": 140, "delivered": 130, "human_opens": 40, "clicks": 9},
    ("c1", "send_weekday", "sun"): {"sent": 10, "delivered": 9, "human_opens": 7, "clicks": 7},
    ("c2", "send_weekday", "mon"): {"sent": 3, "delivered": 0},
    ("c1", "send_hour", "09"): {"sent": 150, "delivered": 139, "human_opens": 47, "clicks": 16},
}
WEEK_ORDER = {"mon": "1 Mon", "sun": "7 Sun"}


def expected_cohort_samples(expr: str, legend: str, campaigns: set[str]) -> list[dict[str, Any]]:
    """What `expr` must return for COHORT_ROWS, from the worker's own rate formulas."""
    (dimension,) = set(re.findall(r'dimension="(\w+)"', expr))
    (group,) = set(GROUPING_RE.findall(expr))
    by = [g.strip() for g in group.split(",")]
    sums: dict[tuple[str, ...], dict[str, int]] = {}
    for (campaign, dim, value), counts in COHORT_ROWS.items():
        if dim != dimension or campaign not in campaigns:
            continue
        labels = {"campaign": campaign, "value": WEEK_ORDER.get(value, value)}
        bucket = sums.setdefault(tuple(labels[b] for b in by), dict.fromkeys(EMAIL_COUNTS, 0))
        for metric, n in counts.items():
            bucket[metric] += n
    rate_key = {name: key for key, name in dash.EMAIL_RATES}.get(legend)
    out = []
    for key, counts in sorted(sums.items()):
        want: float | None
        if DIVIDE_BY_SERIES_RE.search(expr):
            assert rate_key, f"rate column {legend!r} has no formula"
            want = worker_rates(counts)[rate_key]
        else:
            (name,) = metric_names(expr)
            want = counts[name.removeprefix("isales_email_cohort_")]
        if want is not None:
            inner = ", ".join(f'{b}="{v}"' for b, v in zip(by, key, strict=True))
            out.append({"labels": f"{{{inner}}}", "value": want})
    return out


def test_cohort_queries_compute_the_workers_rates(tmp_path: Path) -> None:
    """Every cohort query of the email board, evaluated by promtool over sample series, gives
    the worker's own formulas applied to the summed counts (rates absent at 0 denominator,
    weekdays relabelled in week order, the campaign selector narrowing)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package 'prometheus')"
    series = [
        {
            "series": (
                f'isales_email_cohort_{metric}{{campaign="{c}",dimension="{d}",value="{v}",'
                f'instance="w{c[-1]}:9109",job="isales-kpi"}}'
            ),
            "values": f"{counts.get(metric, 0)}x3",
        }
        for (c, d, v), counts in COHORT_ROWS.items()
        for metric in EMAIL_COUNTS
    ]
    cases = []
    for uid, panel in panels():
        for target in panel["targets"]:
            expr, legend = target["expr"], target["legendFormat"]
            if uid != "isales-email-ab" or "isales_email_cohort_" not in expr:
                continue
            for selected, campaigns in ((".*", {"c1", "c2"}), ("c2", {"c2"})):
                cases.append(
                    {
                        "expr": dash.expand(expr, campaign=selected),
                        "eval_time": "2m",
                        "exp_samples": expected_cohort_samples(expr, legend, campaigns),
                    }
                )
    assert len(cases) >= 2 * 20
    rates_checked = [c for c in cases if "/" in c["expr"] and c["exp_samples"]]
    assert len(rates_checked) >= 9
    doc = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": cases}],
    }
    path = tmp_path / "cohort_test.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    done = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


def test_weekdays_are_relabelled_alike_on_both_sides() -> None:
    relabel = re.compile(r'"value", "([^"]+)", "value", "([^"]+)"\)')
    found = 0
    for _, title, expr in dash.panel_queries():
        if 'dimension="send_weekday"' not in expr:
            continue
        found += 1
        pairs = relabel.findall(expr)
        assert len(pairs) == 2 * len(WEEKDAYS), f"{title}: {expr}"
        mapping = dict((source, target) for target, source in pairs)
        assert set(mapping) == set(WEEKDAYS)
        assert sorted(mapping.values()) == [mapping[d] for d in WEEKDAYS]  # sorts in week order
    assert found == 2


def test_counts_show_zero_not_no_data() -> None:
    counted = 0
    for uid, panel in panels():
        for target in panel["targets"]:
            expr = target["expr"]
            if not is_count(expr):
                continue
            counted += 1
            where = f"{uid}/{panel['title']}: {expr}"
            assert panel["fieldConfig"]["defaults"].get("noValue") == "0", where
            if not GROUPING_RE.search(expr):
                assert expr.rstrip().endswith("or vector(0)"), where
    assert counted >= 20


def test_rates_are_sums_over_sums() -> None:
    for uid, title, expr in dash.panel_queries():
        assert not re.search(r"\bavg(_over_time)?\b", expr), f"{uid}/{title}: {expr}"
        if metric_names(expr) & DERIVED:
            assert not AGGREGATION_RE.search(expr), f"{uid}/{title}: aggregates a rate: {expr}"
        # Cohort and CRM rates are recomputed from the counts, so they add up over campaigns,
        # reps and teams.
        assert not metric_names(expr) & (COHORT_RATES | CRM_RATES), f"{uid}/{title}: rate gauge"
        if metric_names(expr) & AB_STATS:
            # A z or p per campaign/kpi/variant: aggregation may only drop instance and job.
            groups = [g.strip() for g in GROUPING_RE.findall(expr)]
            assert len(AGGREGATION_RE.findall(expr)) == len(groups), f"{uid}/{title}: {expr}"
            assert all({x.strip() for x in g.split(",")} == AB for g in groups), expr
            assert not re.search(r"\bwithout\b", expr), expr
        if DIVIDE_BY_SERIES_RE.search(expr):
            # A 0 denominator drops the group rather than showing NaN or +Inf.
            assert re.search(r"> 0\)\s*$", expr), f"{uid}/{title}: unguarded division {expr}"


@pytest.mark.parametrize(
    ("expr", "count"),
    [
        ("sum(isales_calls_window_dials) or vector(0)", True),
        ("sum by (team) (rate(isales_events_applied_total[1m]))", True),
        ("sum(isales_calls_window_talk_seconds) / 60", True),
        ("sum(isales_calls_window_connects) / (sum(isales_calls_window_dials) > 0)", False),
        ("max(isales_event_time_delay_seconds)", False),
    ],
)
def test_count_classifier(expr: str, count: bool) -> None:
    assert is_count(expr) is count


# --- CRM boards -------------------------------------------------------------------------------


def test_crm_contract_matches_the_worker() -> None:
    assert CRM_COUNTED == CRM_KPI_COUNTED
    assert CRM_STATUSES == CRM_KPI_STATUSES
    assert tuple(status for status, _, _ in dash.DISCOVERY_STATUSES) == CRM_STATUSES


def test_discovery_statuses_are_never_merged() -> None:
    """'Asked, declined', 'asked, unknown' and 'not asked' mean different things: every
    selector of the per-status counter pins one status, and the per-field chart stacks all
    five, one target each."""
    found = 0
    for uid, title, expr in dash.panel_queries():
        for metric, body in SELECTOR_RE.findall(expr):
            if metric == "isales_crm_discovery_fields_total":
                found += 1
                (status,) = re.findall(r'\bstatus="(\w+)"', body)
                assert status in CRM_STATUSES, f"{uid}/{title}: {expr}"
        for group in GROUPING_RE.findall(expr):
            assert "status" not in group, f"{uid}/{title}: {expr}"
    handoffs = boards()["isales-handoffs.json"]
    (chart,) = (p for p in handoffs["panels"] if p["title"].startswith("Discovery fields by"))
    statuses = [re.findall(r'status="(\w+)"', t["expr"]) for t in chart["targets"]]
    assert statuses == [[s] for s in CRM_STATUSES]
    assert chart["options"]["stacking"] == "normal"
    (table,) = (p for p in handoffs["panels"] if p["title"].startswith("Reps: discovery"))
    per_rep = {s for t in table["targets"] for s in re.findall(r'status="(\w+)"', t["expr"])}
    assert per_rep == {"asked_declined", "asked_unknown", "not_asked"}
    assert found >= 8


# A CRM fixture as two workers (w1, w2) would export it. r4 has nothing decided and no fields
# that apply; team-c has nothing decided and nothing today: their rates must be absent, not NaN.
CRM_REPS = {
    "r1": ("team-a", "w1"),
    "r2": ("team-a", "w2"),
    "r3": ("team-b", "w1"),
    "r4": ("team-b", "w2"),
    "r5": ("team-c", "w1"),
}
CRM_TOTALS: dict[str, dict[str, dict[str, int]]] = {
    "r1": {
        "saas:smb": {"handoffs": 10, "accepted": 6, "rejected": 2, "won": 3, "lost": 1},
        "retail:ent": {"handoffs": 4, "accepted": 1, "rejected": 3, "lost": 2},
    },
    "r2": {"saas:smb": {"handoffs": 5, "accepted": 5, "won": 4}},
    "r3": {"retail:ent": {"handoffs": 7, "accepted": 2, "rejected": 1, "won": 1, "lost": 3}},
    "r4": {"finance:mid": {"handoffs": 2}},
    "r5": {"saas:mid": {"handoffs": 1}},
}
# (rep, window, position) -> counts; every rep has a row per window and position, 0 if quiet.
# The previous day is large so that a query not pinning position="current" is caught.
CRM_WINDOW_ROWS: dict[tuple[str, str, str], dict[str, int]] = {
    ("r1", "1d", "current"): {"handoffs": 3, "accepted": 2, "rejected": 1, "won": 1, "lost": 1},
    ("r1", "1h", "current"): {"handoffs": 1},
    ("r2", "1d", "current"): {"handoffs": 2, "won": 2},
    ("r2", "1h", "current"): {"handoffs": 2},
    ("r4", "1d", "current"): {"lost": 1},
    **{
        (r, "1d", "previous"): {"handoffs": 50, "accepted": 40, "won": 30, "lost": 1}
        for r in CRM_REPS
    },
}
CRM_DISCOVERY: dict[str, dict[str, dict[str, int]]] = {
    "r1": {
        "budget": {"answered": 8, "asked_declined": 2, "asked_unknown": 1, "not_asked": 3},
        "need": {"answered": 10, "not_applicable": 4},
    },
    "r2": {"budget": {"answered": 5}},
    "r3": {"budget": {"not_asked": 7}, "need": {"asked_unknown": 2, "not_applicable": 5}},
    "r4": {"budget": {"not_applicable": 2}},
    "r5": {"budget": {"answered": 1}},
}
CRM_COMPLETE = {"r1": 9, "r2": 5, "r3": 0, "r4": 2, "r5": 1}
CRM_AMOUNTS = {"r1": {"EUR": 1500.5, "USD": 200.0}, "r2": {"EUR": 99.25}, "r3": {"USD": 10.0}}
# Deals closed per TTC bucket (not cumulative; the last one is +Inf), matching won + lost.
CRM_TTC = {
    "r1": (0, 1, 2, 2, 1, 0, 0, 0),
    "r2": (0, 0, 1, 1, 1, 1, 0, 0),
    "r3": (0, 0, 0, 0, 1, 1, 1, 1),
}
CRM_UNATTRIBUTED = {"w1": {"won": 2, "lost": 0}, "w2": {"won": 1, "lost": 0}}
CRM_UNATTRIBUTED_AMOUNT = {"w1": {"EUR": 12.5}, "w2": {"EUR": 7.5, "JPY": 1000.0}}

# (metric, labels but instance and job, value, exporting worker)
Series = list[tuple[str, dict[str, str], float, str]]


# The last four weeks' handoff cohorts; the week of 2026-11-16 has handoffs nothing decided
# yet (win rate absent), and 2026-11-09's only in team-c.
CRM_COHORT_WEEKS: dict[str, dict[str, dict[str, int]]] = {
    "r1": {
        "2026-11-09": {"handoffs": 0},
        "2026-11-16": {"handoffs": 3, "accepted": 1},
        "2026-11-23": {"handoffs": 6, "accepted": 4, "rejected": 2, "won": 2, "lost": 1},
        "2026-11-30": {"handoffs": 2},
    },
    "r3": {"2026-11-23": {"handoffs": 4, "accepted": 1, "won": 1, "lost": 3}},
    "r5": {"2026-11-09": {"handoffs": 5, "accepted": 5, "won": 2}},
}


def crm_series() -> Series:
    """The fixture as series."""
    out: Series = []

    def add(metric: str, labels: dict[str, str], value: float, worker: str) -> None:
        out.append((metric, labels, value, worker))

    for rep, (team, worker) in CRM_REPS.items():
        who = {"rep": rep, "team": team}
        for window in ("1h", "1d"):
            for position in ("current", "previous"):
                counts = CRM_WINDOW_ROWS.get((rep, window, position), {})
                for m in CRM_COUNTED:
                    labels = who | {"window": window, "position": position}
                    add(f"isales_crm_window_{m}", labels, counts.get(m, 0), worker)
        for segment, counts in CRM_TOTALS[rep].items():
            for m in CRM_COUNTED:
                add(f"isales_crm_{m}_total", who | {"segment": segment}, counts.get(m, 0), worker)
        for currency, amount in CRM_AMOUNTS.get(rep, {}).items():
            add("isales_crm_won_amount_total", who | {"currency": currency}, amount, worker)
        answered = applicable = 0
        for fld, statuses in CRM_DISCOVERY[rep].items():
            for status in CRM_STATUSES:
                n = statuses.get(status, 0)
                labels = who | {"field": fld, "status": status}
                add("isales_crm_discovery_fields_total", labels, n, worker)
                answered += n if status == "answered" else 0
                applicable += n if status != "not_applicable" else 0
        add("isales_crm_discovery_answered_fields_total", who, answered, worker)
        add("isales_crm_discovery_applicable_fields_total", who, applicable, worker)
        add("isales_crm_complete_handoffs_total", who, CRM_COMPLETE[rep], worker)
        for week, counts in CRM_COHORT_WEEKS.get(rep, {}).items():
            for m in CRM_COUNTED:
                labels = who | {"week": week}
                add(f"isales_crm_cohort_week_{m}", labels, counts.get(m, 0), worker)
        per_bucket = CRM_TTC.get(rep, (0,) * (len(TTC_BUCKETS) + 1))
        bounds = [str(float(b)) for b in TTC_BUCKETS] + ["+Inf"]
        for i, le in enumerate(bounds):
            add(f"{TTC}_bucket", who | {"le": le}, sum(per_bucket[: i + 1]), worker)
        add(f"{TTC}_count", who, sum(per_bucket), worker)
        add(f"{TTC}_sum", who, 86_400.0 * sum(per_bucket), worker)
    for worker, outcomes in CRM_UNATTRIBUTED.items():
        for outcome, n in outcomes.items():
            add("isales_crm_unattributed_outcomes", {"outcome": outcome}, n, worker)
    for worker, amounts in CRM_UNATTRIBUTED_AMOUNT.items():
        for currency, amount in amounts.items():
            add("isales_crm_unattributed_won_amount", {"currency": currency}, amount, worker)
    return out


Key = tuple[str, ...]
Sums = Callable[[str, dict[str, str]], dict[Key, float]]
Formula = Callable[[Sums], dict[Key, float | None]]


def win(metric: str, window: str = "1d") -> tuple[str, dict[str, str]]:
    return f"isales_crm_window_{metric}", {"window": window, "position": "current"}


def tot(metric: str, **pins: str) -> tuple[str, dict[str, str]]:
    return f"isales_crm_{metric}_total", pins


def count(src: tuple[str, dict[str, str]]) -> Formula:
    return lambda s: dict(s(*src))


def combine(
    a: tuple[str, dict[str, str]],
    b: tuple[str, dict[str, str]],
    f: Callable[[int, int], float | None],
) -> Formula:
    def formula(s: Sums) -> dict[Key, float | None]:
        x, y = s(*a), s(*b)
        return {k: f(int(x[k]), int(y[k])) for k in x.keys() & y.keys()}

    return formula


def conversion(acc: tuple[str, dict[str, str]], hand: tuple[str, dict[str, str]]) -> Formula:
    return combine(
        acc, hand, lambda a, h: crm_rates({"accepted": a, "handoffs": h}, {})["handoff_conversion"]
    )


def winning(won: tuple[str, dict[str, str]], lost: tuple[str, dict[str, str]]) -> Formula:
    return combine(won, lost, lambda w, lo: crm_rates({"won": w, "lost": lo}, {})["win_rate"])


def cohort_week(metric: str) -> tuple[str, dict[str, str]]:
    return f"isales_crm_cohort_week_{metric}", {}


def unanswered() -> Formula:
    """① of the seed: asked, unanswered = asked_declined + asked_unknown, per key."""

    def formula(s: Sums) -> dict[Key, float | None]:
        out: dict[Key, float | None] = {}
        for status in ("asked_declined", "asked_unknown"):
            for key, n in s(*tot("discovery_fields", status=status)).items():
                out[key] = (out.get(key) or 0) + n
        return out

    return formula


def completeness() -> Formula:
    def f(answered: int, applicable: int) -> float | None:
        plain = {"fields_answered": answered, "fields_applicable": applicable}
        return crm_rates({}, plain)["discovery_completeness"]

    return combine(tot("discovery_answered_fields"), tot("discovery_applicable_fields"), f)


def share() -> Formula:
    return combine(tot("complete_handoffs"), tot("handoffs"), lambda c, h: c / h if h else None)


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus 2.x `bucketQuantile` (cumulative buckets sorted by bound, +Inf last), step
    for step so the floats come out bit-identical."""
    observations = buckets[-1][1]
    if observations == 0:
        return None
    rank = q * observations
    last = len(buckets) - 1
    b = next((i for i in range(last) if buckets[i][1] >= rank), last)  # sort.Search
    if b == last:
        return buckets[-2][0]
    start, end, n = 0.0, buckets[b][0], buckets[b][1]
    if b > 0:
        start = buckets[b - 1][0]
        n -= buckets[b - 1][1]
        rank -= buckets[b - 1][1]
    return start + (end - start) * (rank / n)


def ttc(q: float) -> Formula:
    def formula(s: Sums) -> dict[Key, float | None]:
        by_team: dict[Key, list[tuple[float, float]]] = defaultdict(list)
        for (team, le), n in s(f"{TTC}_bucket", {}).items():
            by_team[(team,)].append((float(le), n))
        return {k: bucket_quantile(q, sorted(v)) for k, v in by_team.items()}

    return formula


# (board uid, panel title, legend or column) -> (grouping labels, expected values).
CRM_EXPECTED: dict[tuple[str, str, str], tuple[Key, Formula]] = {
    ("isales-handoffs", "Handoffs today and this hour", "{{team}} today"): (
        ("team",),
        count(win("handoffs")),
    ),
    ("isales-handoffs", "Handoffs today and this hour", "{{team}} this hour"): (
        ("team",),
        count(win("handoffs", "1h")),
    ),
    ("isales-handoffs", "Accepted and rejected today", "{{team}} accepted"): (
        ("team",),
        count(win("accepted")),
    ),
    ("isales-handoffs", "Accepted and rejected today", "{{team}} rejected"): (
        ("team",),
        count(win("rejected")),
    ),
    ("isales-handoffs", "Handoff conversion by team", "{{team}} today"): (
        ("team",),
        conversion(win("accepted"), win("handoffs")),
    ),
    ("isales-handoffs", "Handoff conversion by team", "{{team}} all time"): (
        ("team",),
        conversion(tot("accepted"), tot("handoffs")),
    ),
    **{
        ("isales-handoffs", "Reps today: handoffs", m.title()): (("rep", "team"), count(win(m)))
        for m in ("handoffs", "accepted", "rejected")
    },
    ("isales-handoffs", "Reps today: handoffs", "Conversion"): (
        ("rep", "team"),
        conversion(win("accepted"), win("handoffs")),
    ),
    **{
        ("isales-handoffs", "Discovery fields by status (time range)", name): (
            ("field",),
            count(tot("discovery_fields", status=status)),
        )
        for status, name, _ in dash.DISCOVERY_STATUSES
    },
    ("isales-handoffs", "Discovery completeness by team (all time)", "{{team}} completeness"): (
        ("team",),
        completeness(),
    ),
    (
        "isales-handoffs",
        "Discovery completeness by team (all time)",
        "{{team}} complete handoffs",
    ): (
        ("team",),
        share(),
    ),
    ("isales-handoffs", "Reps: discovery quality (all time)", "Handoffs"): (
        ("rep", "team"),
        count(tot("handoffs")),
    ),
    ("isales-handoffs", "Reps: discovery quality (all time)", "Complete share"): (
        ("rep", "team"),
        share(),
    ),
    ("isales-handoffs", "Reps: discovery quality (all time)", "Completeness"): (
        ("rep", "team"),
        completeness(),
    ),
    **{
        ("isales-handoffs", "Reps: discovery quality (all time)", name): (
            ("rep", "team"),
            count(tot("discovery_fields", status=status)),
        )
        for status, name, _ in dash.DISCOVERY_STATUSES
        if status in ("asked_declined", "asked_unknown", "not_asked")
    },
    **{
        ("isales-handoffs", "Handoffs by segment (time range)", m.title()): (
            ("segment",),
            count(tot(m)),
        )
        for m in ("handoffs", "accepted", "rejected")
    },
    **{
        ("isales-outcomes", title, f"{{{{team}}}} {m}"): (("team",), count(src(m)))
        for title, src in (("Won and lost today", win), ("Won and lost, last 7 days", tot))
        for m in ("won", "lost")
    },
    ("isales-outcomes", "Win rate by team", "{{team}} today"): (
        ("team",),
        winning(win("won"), win("lost")),
    ),
    **{
        ("isales-outcomes", "Win rate by team", f"{{{{team}}}} {when}"): (
            ("team",),
            winning(tot("won"), tot("lost")),
        )
        for when in ("7 days", "all time")
    },
    **{
        ("isales-outcomes", "Unattributed outcomes", outcome): (
            (),
            count(("isales_crm_unattributed_outcomes", {"outcome": outcome})),
        )
        for outcome in ("won", "lost")
    },
    ("isales-outcomes", "Unattributed won amount", "{{currency}}"): (
        ("currency",),
        count(("isales_crm_unattributed_won_amount", {})),
    ),
    ("isales-outcomes", "Reps: outcomes", "Won today"): (("rep", "team"), count(win("won"))),
    ("isales-outcomes", "Reps: outcomes", "Lost today"): (("rep", "team"), count(win("lost"))),
    ("isales-outcomes", "Reps: outcomes", "Win rate today"): (
        ("rep", "team"),
        winning(win("won"), win("lost")),
    ),
    ("isales-outcomes", "Reps: outcomes", "Won"): (("rep", "team"), count(tot("won"))),
    ("isales-outcomes", "Reps: outcomes", "Lost"): (("rep", "team"), count(tot("lost"))),
    ("isales-outcomes", "Reps: outcomes", "Win rate"): (
        ("rep", "team"),
        winning(tot("won"), tot("lost")),
    ),
    **{
        ("isales-outcomes", "Reps: won amount", column): (
            ("rep", "team", "currency"),
            count(tot("won_amount")),
        )
        for column in ("7 days", "All time")
    },
    **{
        (
            "isales-outcomes",
            "Won amount by team and currency",
            f"{{{{team}}}} {{{{currency}}}} {w}",
        ): (
            ("team", "currency"),
            count(tot("won_amount")),
        )
        for w in ("7 days", "all time")
    },
    **{
        ("isales-outcomes", "Time from handoff to close", f"{{{{team}}}} {name}"): (
            ("team",),
            ttc(q),
        )
        for q, name in dash.TTC_QUANTILES
    },
    ("isales-outcomes", "Win rate by segment (all time)", "Win rate"): (
        ("segment",),
        winning(tot("won"), tot("lost")),
    ),
    (
        "isales-handoffs",
        "① Asked, unanswered against ② not asked, per rep (all time)",
        "Answered",
    ): (("rep",), count(tot("discovery_fields", status="answered"))),
    (
        "isales-handoffs",
        "① Asked, unanswered against ② not asked, per rep (all time)",
        "① Asked, unanswered",
    ): (("rep",), unanswered()),
    (
        "isales-handoffs",
        "① Asked, unanswered against ② not asked, per rep (all time)",
        "② Not asked",
    ): (("rep",), count(tot("discovery_fields", status="not_asked"))),
    (
        "isales-outcomes",
        "Last four weeks: handoff conversion and win rate by handoff week",
        "Handoff conversion",
    ): (("week",), conversion(cohort_week("accepted"), cohort_week("handoffs"))),
    (
        "isales-outcomes",
        "Last four weeks: handoff conversion and win rate by handoff week",
        "Win rate",
    ): (("week",), winning(cohort_week("won"), cohort_week("lost"))),
}


def expected_crm_samples(
    series: Series, by: Key, formula: Formula, teams: set[str]
) -> list[dict[str, Any]]:
    def sums(metric: str, pins: dict[str, str]) -> dict[Key, float]:
        out: dict[Key, float] = defaultdict(float)
        extra = ("le",) if metric.endswith("_bucket") else ()
        for name, labels, value, _ in series:
            if name != metric or any(labels.get(k) != v for k, v in pins.items()):
                continue
            if "team" in labels and labels["team"] not in teams:
                continue
            out[tuple(labels[b] for b in (*by, *extra))] += value
        return out

    samples = []
    for key, value in sorted(formula(sums).items()):
        if value is not None:
            inner = ", ".join(f'{b}="{v}"' for b, v in zip(by, key, strict=True))
            samples.append({"labels": f"{{{inner}}}", "value": value})
    return samples


def test_crm_queries_compute_the_workers_formulas(tmp_path: Path) -> None:
    """Every query of the CRM boards, evaluated by promtool over two workers' series, gives
    the worker's own formulas (stream_app.crm_kpis.rates) applied to the summed counts: window
    gauges pinned to the current window, rates absent at a 0 denominator, quantiles only for
    teams with decided deals, the team selector narrowing. Counters rise from 0 to their value
    inside the data, so increase() over 7d / the range equals the value at the end."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package 'prometheus')"
    series = crm_series()
    inputs = []
    for metric, labels, value, worker in series:
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        job = f'instance="{worker}:9111",job="isales-kpi"'
        inputs.append({"series": f"{metric}{{{inner},{job}}}", "values": f"0 {value}x10"})
    targets = {
        (uid, panel["title"], t["legendFormat"]): t["expr"]
        for uid, panel in panels()
        if uid in CRM_BOARDS
        for t in panel["targets"]
    }
    assert len(targets) == sum(len(p["targets"]) for uid, p in panels() if uid in CRM_BOARDS), (
        "(board, title, legend) must name each CRM target once"
    )
    assert set(targets) == set(CRM_EXPECTED), set(targets) ^ set(CRM_EXPECTED)
    cases = []
    for key, expr in targets.items():
        by, formula = CRM_EXPECTED[key]
        groups = GROUPING_RE.findall(expr)
        if by:
            assert tuple(g.strip() for g in groups[0].split(",") if g.strip() != "le") == by
        else:
            assert not groups, expr
        for selected, teams in ((".*", {"team-a", "team-b", "team-c"}), ("team-a", {"team-a"})):
            cases.append(
                {
                    "expr": dash.expand(expr, team=selected, time_range="6h"),
                    "eval_time": "10m",
                    "exp_samples": expected_crm_samples(series, by, formula, teams),
                }
            )
    assert all(c["exp_samples"] for c in cases)
    # With no CRM worker at all, the ungrouped stats still say 0.
    empty = [
        {
            "expr": dash.expand(expr),
            "eval_time": "1m",
            "exp_samples": [{"labels": "{}", "value": 0}],
        }
        for (uid, title, _), expr in targets.items()
        if title.startswith("Unattributed")
    ]
    assert len(empty) == 3
    doc = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {"interval": "1m", "input_series": inputs, "promql_expr_test": cases},
            {"interval": "1m", "input_series": [], "promql_expr_test": empty},
        ],
    }
    path = tmp_path / "crm_test.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    done = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-4000:]


def test_crm_expectations_by_hand() -> None:
    """The fixture exercises every guard, and the expected values are what a person gets."""
    series = crm_series()
    every = {"team-a", "team-b", "team-c"}

    def want(key: tuple[str, str, str], teams: set[str] = every) -> dict[str, float]:
        by, formula = CRM_EXPECTED[key]
        samples = expected_crm_samples(series, by, formula, teams)
        return {s["labels"]: s["value"] for s in samples}

    handoffs, outcomes = "isales-handoffs", "isales-outcomes"
    a, b, c = '{team="team-a"}', '{team="team-b"}', '{team="team-c"}'
    conversion = (handoffs, "Handoff conversion by team", "{{team}} all time")
    assert want(conversion) == {a: 12 / 19, b: 2 / 9, c: 0.0}
    assert want(conversion, {"team-a"}) == {a: 12 / 19}
    # Today: team-b and team-c handed nothing over (their previous day is not read).
    assert want((handoffs, "Handoff conversion by team", "{{team}} today")) == {a: 2 / 5}
    assert want((handoffs, "Handoffs today and this hour", "{{team}} today")) == {
        a: 5,
        b: 0,
        c: 0,
    }
    assert want((outcomes, "Win rate by team", "{{team}} today")) == {a: 3 / 4, b: 0.0}
    assert want((outcomes, "Win rate by team", "{{team}} all time")) == {a: 7 / 10, b: 1 / 4}
    completeness = want((handoffs, "Reps: discovery quality (all time)", "Completeness"))
    assert completeness == {
        '{rep="r1", team="team-a"}': 18 / 24,
        '{rep="r2", team="team-a"}': 1.0,
        '{rep="r3", team="team-b"}': 0.0,
        '{rep="r5", team="team-c"}': 1.0,
    }
    not_asked = want((handoffs, "Discovery fields by status (time range)", "Not asked"))
    declined = want((handoffs, "Discovery fields by status (time range)", "Asked, declined"))
    assert not_asked == {'{field="budget"}': 10, '{field="need"}': 0}
    assert declined == {'{field="budget"}': 2, '{field="need"}': 0}
    by_segment = want((outcomes, "Win rate by segment (all time)", "Win rate"))
    assert by_segment == {'{segment="retail:ent"}': 1 / 6, '{segment="saas:smb"}': 7 / 8}
    # team-a: cumulative (0, 1, 4, 7, 9, 10, 10, 10); the 5th of 10 deals is 1/3 into the
    # 7..14-day bucket. team-b: one deal per bucket from 30 days; its p90 is past 90 days.
    day = 86_400
    assert want((outcomes, "Time from handoff to close", "{{team}} p50")) == {
        a: 7 * day + 7 * day / 3,
        b: 60 * day,
    }
    assert want((outcomes, "Time from handoff to close", "{{team}} p90"))[b] == 90 * day
    assert want((outcomes, "Unattributed outcomes", "won")) == {"{}": 3}
    assert want((outcomes, "Unattributed won amount", "{{currency}}")) == {
        '{currency="EUR"}': 20.0,
        '{currency="JPY"}': 1000.0,
    }


# --- provisioning -----------------------------------------------------------------------------


def test_datasource_provisioning_matches_the_dashboards() -> None:
    doc = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (source,) = doc["datasources"]
    assert source["uid"] == UID == dash.DATASOURCE_UID
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["isDefault"] is True
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert source["jsonData"]["timeInterval"] == prometheus["global"]["scrape_interval"]
    referenced = {
        d["uid"]
        for board in boards().values()
        for d in find_datasources(board)
        if d.get("type") != "grafana"
    }
    assert referenced == {UID}


def find_datasources(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node["datasource"]] if isinstance(node.get("datasource"), dict) else []
        return found + [d for v in node.values() for d in find_datasources(v)]
    if isinstance(node, list):
        return [d for v in node for d in find_datasources(v)]
    return []


def test_dashboard_provider_reads_the_directory_compose_mounts() -> None:
    doc = yaml.safe_load((PROVISIONING / "dashboards" / "isales.yml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    assert path == "/var/lib/grafana/dashboards"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    sources = {m.split(":")[1]: m.split(":")[0] for m in mounts}
    assert (ROOT / sources[path]).resolve() == BOARD_DIR
    assert (ROOT / sources["/etc/grafana/provisioning"]).resolve() == PROVISIONING
