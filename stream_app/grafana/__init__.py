"""Grafana dashboards as code: plain dicts, written to deploy/grafana/dashboards.

`python -m stream_app.grafana` regenerates the checked-in JSON; tests/test_dashboards.py fails
while the files on disk differ from what this package builds. Each family's boards are its own
(`families/<name>/grafana.py`, listed through the registry), the pipeline-health board is the
spine's (`pipeline.py`); `promql` and `panels` are what they share; `render` makes the JSON.

Rules the queries follow (README, "Dashboards"):
- "Today" is the event-time business day: the window gauges with window="1d", position="current",
  bucketed per fact (dials by started_at, connects by answered_at, talk by ended_at).
- Counts never show "No data": ungrouped queries end in `or vector(0)`, grouped ones rely on the
  worker exporting every known rep (and every dead-letter reason, window size) at 0, and count
  panels set noValue "0".
- Rates are sum(numerator) / sum(denominator), denominator guarded with `> 0`; per-rep rate
  gauges are never averaged (they are not used at all).
- Every panel and every variable name the provisioned data source by uid; no ${DS_...}.

The email board reads the email worker's send-cohort gauges (every message of a campaign ever
seen, by dimension: pin `dimension`, and every message counts once under each dimension) and its
activity window gauges (pin `window` and `position`). Cohort rates are recomputed as sum / sum from
the count gauges; the per-row rate gauges the worker exports are never read. Every email selector
filters `campaign=~"$campaign"`.

The CRM boards (handoffs, outcomes) read the CRM worker. "Today"/"this hour" are its window count
gauges (window="1d"/"1h", position="current"); its per-rep rate gauges (conversion, win rate,
completeness) are never read: rates are recomputed sum / sum from counts, conversion = accepted /
handoffs, win rate = won / (won + lost), completeness = answered / applicable discovery fields.
"All time" reads the all-time counters (exact: they come from the worker's state);
"7 days" and "time range" are increase() of those counters over 7d / $__range, i.e. by processing
time. Discovery statuses are never merged ("asked, declined/unknown" apart from "not asked").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stream_app.families.crm.grafana import DISCOVERY_STATUSES, TTC_QUANTILES
from stream_app.families.email.grafana import EMAIL_RATES
from stream_app.grafana import pipeline
from stream_app.grafana.model import DATASOURCE_UID
from stream_app.grafana.render import expand, render
from stream_app.spine import registry

__all__ = [
    "DATASOURCE_UID",
    "DISCOVERY_STATUSES",
    "EMAIL_RATES",
    "OUT_DIR",
    "TTC_QUANTILES",
    "check",
    "dashboards",
    "expand",
    "panel_queries",
    "write",
]

OUT_DIR = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"


def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON."""
    families = registry.modules()
    boards = [
        *families[0].boards(),
        *pipeline.boards(),
        *(b for f in families[1:] for b in f.boards()),
    ]
    return {f"{board['uid']}.json": board for board in boards}


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL expr) for every target of every panel."""
    return [
        (board["uid"], panel["title"], target["expr"])
        for board in dashboards().values()
        for panel in board["panels"]
        for target in panel["targets"]
    ]


def write(directory: Path) -> list[Path]:
    """Write every dashboard; delete *.json files in `directory` this package no longer makes."""
    directory.mkdir(parents=True, exist_ok=True)
    boards = dashboards()
    for stale in directory.glob("*.json"):
        if stale.name not in boards:
            stale.unlink()
    written = []
    for name, board in boards.items():
        path = directory / name
        path.write_text(render(board), encoding="utf-8")
        written.append(path)
    return written


def check(directory: Path) -> list[str]:
    """Names of files that are missing, differ from the generator, or are no longer generated."""
    boards = dashboards()
    problems = [
        name
        for name, board in boards.items()
        if not (directory / name).is_file()
        or (directory / name).read_text(encoding="utf-8") != render(board)
    ]
    if directory.is_dir():
        problems += sorted(p.name for p in directory.glob("*.json") if p.name not in boards)
    return problems
