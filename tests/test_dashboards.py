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
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream_app import dashboards as dash
from stream_app.email_kpis import rates as worker_rates

ROOT = Path(__file__).resolve().parent.parent
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
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LABEL_VALUES = {
    "window": {"1m", "15m", "1h", "1d"},
    "position": {"current", "previous"},
    "period": {"day", "week"},
    "result": {"ok", "error"},
    "dimension": {"variant", "segment", "send_weekday", "send_hour", "team"},
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
DERIVED |= {"isales_pacing_ratio"} | COHORT_RATES
NOT_COUNTS = (
    DERIVED
    | AB_STATS
    | {
        "isales_watermark_timestamp_seconds",
        "isales_event_time_delay_seconds",
        "isales_business_open",
        "isales_business_period_elapsed_ratio",
        "isales_targets_loaded_timestamp_seconds",
    }
)
GRAFANA_VARS = {"$team", "$campaign", "$__interval", "$__rate_interval"}

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
    assert not stale, f"stale dashboards {stale}: run `python -m stream_app.dashboards`"
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
    assert sorted(uids) == ["isales-email-ab", "isales-pipeline-health", "isales-team-overview"]
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
    overview = boards()["isales-team-overview.json"]
    (team,) = overview["templating"]["list"]
    assert team["name"] == "team" and team["type"] == "query"
    assert team["datasource"] == {"type": "prometheus", "uid": UID}
    assert team["query"]["query"] == "label_values(isales_calls_window_dials, team)"
    assert team["includeAll"] and team["multi"]
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
    } <= used


def test_selectors_use_real_labels_and_values() -> None:
    for uid, title, expr in dash.panel_queries():
        where = f"{uid}/{title}: {expr}"
        for name in metric_names(expr):
            if name.startswith(("isales_calls_window_", "isales_pacing_", "isales_email_")):
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
            if metric.startswith(("isales_calls_window_", "isales_email_window_")):
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
        # Cohort rates are recomputed from the counts, so they add up over campaigns.
        assert not metric_names(expr) & COHORT_RATES, f"{uid}/{title}: reads a rate gauge"
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
