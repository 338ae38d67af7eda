"""`python -m stream_app.tools.dashboards`: every Grafana board, built from the families'
boards (through the registry) and the pipeline-health board, written to deploy/grafana/dashboards.
The rules the queries follow are `stream_app.grafana`'s."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from stream_app import registry
from stream_app.families.crm.grafana import DISCOVERY_STATUSES, TTC_QUANTILES
from stream_app.families.email.grafana import EMAIL_RATES
from stream_app.grafana import pipeline
from stream_app.grafana.model import DATASOURCE_UID
from stream_app.grafana.render import expand, render

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


if __name__ == "__main__":
    for path in write(OUT_DIR):
        sys.stdout.write(f"{path}\n")
