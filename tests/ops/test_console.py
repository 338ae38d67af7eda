"""`up`'s status table, from plain rows (no processes): what a person reads on the console."""

from __future__ import annotations

from rich.console import Console

from stream_app.ops.console import Status, render


def test_the_table_shows_each_pipeline_its_readiness_and_figures() -> None:
    rows = [
        Status("calls", True, applied=1200, lag=0, dead=3, late=1, watermark=1_796_000_000),
        Status("reach", True, late=34_920, late_history=34_913),
        Status("email", False),
    ]
    console = Console(record=True, width=120)
    console.print(render(rows, {"calls": 19.5}, 42.0))
    text = console.export_text()
    assert "2/3 pipelines ready, 42 s after start" in text
    calls = next(line for line in text.splitlines() if "calls" in line)
    assert all(part in calls for part in ("ready", "19.5", "3", "1", "00:53:20"))
    # Late: 7 live, 34,913 history arriving (the seeded past), in their own columns.
    assert "late (history)" in text
    reach = next(line for line in text.splitlines() if "reach" in line)
    assert reach.split("│")[6].strip() == "7" and reach.split("│")[7].strip() == "34,913"
    email = next(line for line in text.splitlines() if "email" in line)
    assert "starting" in email
