"""`up`'s status table, from plain rows: what a person reads on the console; and how `up
--processes` reads and scrapes a pipeline of several processes (members served locally)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.console import Console

from stream_app.ops.console import Status, read, render
from stream_app.ops.stack import prometheus_config


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


class _Worker(BaseHTTPRequestHandler):
    """A worker's /readyz and /metrics, as one `--processes` member answers them."""

    metrics = ""
    ready = True

    def do_GET(self) -> None:
        if self.path.startswith("/readyz"):
            body, code = b"{}", 200 if self.ready else 503
        else:
            body, code = self.metrics.encode(), 200
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(metrics: str, ready: bool = True) -> tuple[ThreadingHTTPServer, str]:
    handler = type("Member", (_Worker,), {"metrics": metrics, "ready": ready})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


def _metrics(partition: int, applied: int, lag: int, watermark: float) -> str:
    return (
        "# TYPE isales_events_applied_total counter\n"
        f'isales_events_applied_total{{partition="{partition}"}} {applied}\n'
        "# TYPE isales_consumer_lag_messages gauge\n"
        f'isales_consumer_lag_messages{{partition="{partition}"}} {lag}\n'
        "# TYPE isales_watermark_timestamp_seconds gauge\n"
        f'isales_watermark_timestamp_seconds{{partition="{partition}"}} {watermark}\n'
    )


def test_a_pipeline_of_several_processes_is_their_sum_and_ready_when_all_are() -> None:
    """`up --processes 2`: each member holds its own partitions, so the pipeline's row adds
    them up (the newest watermark of the two), and it is ready only when both are."""
    one, first = _serve(_metrics(0, 100, 4, 1_796_000_000))
    two, second = _serve(_metrics(1, 250, 6, 1_796_000_060))
    slow, starting = _serve(_metrics(1, 0, 0, 0), ready=False)
    try:
        status = read("calls", [first, second])
        assert status.ready
        assert (status.applied, status.lag, status.watermark) == (350, 10, 1_796_000_060)
        assert not read("calls", [first, starting]).ready
    finally:
        for server in (one, two, slow):
            server.shutdown()
            server.server_close()


def test_prometheus_scrapes_every_process_of_a_pipeline_under_its_name() -> None:
    config = prometheus_config(
        {"calls": ["127.0.0.1:9108", "127.0.0.1:9208"], "email": ["127.0.0.1:9109"]},
        Path("rules"),
        None,
        5,
    )
    (job,) = config["scrape_configs"]
    assert job["static_configs"] == [
        {"targets": ["127.0.0.1:9108", "127.0.0.1:9208"], "labels": {"pipeline": "calls"}},
        {"targets": ["127.0.0.1:9109"], "labels": {"pipeline": "email"}},
    ]
