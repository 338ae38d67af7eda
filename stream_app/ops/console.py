"""`stream-app up`'s console: one status table of the pipelines, read from each worker's own
/readyz and /metrics, instead of their framework logs (those go to a file per process). On a
terminal the table refreshes in place (rich); captured (CI, a pipe) it is printed when a
pipeline's readiness changes and then every `every_s` seconds."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.live import Live
from rich.table import Table


@dataclass(frozen=True, slots=True)
class Status:
    pipeline: str
    ready: bool
    applied: float | None = None
    lag: float | None = None
    dead: float | None = None
    late: float | None = None
    watermark: float | None = None
    late_history: float | None = None
    """Of `late`, history arriving (a day or more behind the partition's newest event)."""


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), ""
    except OSError:
        return 0, ""


SHOWN = (
    "isales_events_applied_total",
    "isales_consumer_lag_messages",
    "isales_dead_letter_events_total",
    "isales_late_events_total",
    "isales_late_history_events_total",
    "isales_watermark_timestamp_seconds",
)


def read(pipeline: str, addresses: list[str]) -> Status:
    """The pipeline's figures over its processes (`--processes`: each holds its own
    partitions, so their sums are the pipeline's); ready when every process is."""
    ready = True
    sums: dict[str, float] = {}
    watermark: float | None = None
    bodies: list[str] = []
    answered = True
    for address in addresses:
        ready = _get(f"http://{address}/readyz")[0] == 200 and ready
        # Only the series the table shows: a whole scrape renders thousands of lines on the
        # worker's event loop, every second, for five numbers.
        query = "&".join(f"name[]={n}" for n in SHOWN)
        status, body = _get(f"http://{address}/metrics?{query}")
        answered = answered and status == 200
        bodies.append(body)
    if not answered:
        return Status(pipeline, ready)
    for body in bodies:
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
                if sample.name == "isales_watermark_timestamp_seconds" and sample.value > 0:
                    watermark = max(watermark or 0.0, sample.value)
    return Status(
        pipeline,
        ready,
        applied=sums.get("isales_events_applied_total", 0.0),
        lag=sums.get("isales_consumer_lag_messages", 0.0),
        dead=sums.get("isales_dead_letter_events_total", 0.0),
        late=sums.get("isales_late_events_total", 0.0),
        watermark=watermark,
        late_history=sums.get("isales_late_history_events_total", 0.0),
    )


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def render(rows: list[Status], rates: dict[str, float], elapsed_s: float) -> Table:
    ready = sum(r.ready for r in rows)
    table = Table(title=f"{ready}/{len(rows)} pipelines ready, {elapsed_s:.0f} s after start")
    # Late records split: live ones missed their window's grace; history (a backfill, the
    # seeded past) arrives after the windows moved on, as it must.
    columns = ("pipeline", "ready", "events/s", "lag", "DLQ", "late", "late (history)")
    for column in (*columns, "last event (UTC)"):
        table.add_column(column, justify="left" if column == "pipeline" else "right")
    for r in rows:
        last = datetime.fromtimestamp(r.watermark, UTC).strftime("%H:%M:%S") if r.watermark else "-"
        rate = rates.get(r.pipeline)
        table.add_row(
            r.pipeline,
            "ready" if r.ready else "starting",
            "-" if rate is None else f"{rate:,.1f}",
            _n(r.lag),
            _n(r.dead),
            _n(None if r.late is None else r.late - (r.late_history or 0.0)),
            _n(r.late_history),
            last,
        )
    return table


class StatusBoard:
    def __init__(self, targets: dict[str, list[str]], console: Console | None = None) -> None:
        self.targets = targets
        # Captured output (a pipe, CI) has no width: rich would fold the table into 80 columns.
        self.console = console or Console(width=None if sys.stdout.isatty() else 120)
        self.started = time.monotonic()
        self._last: dict[str, tuple[float, float]] = {}
        self._ready: tuple[bool, ...] = ()
        self._announced = False
        self.all_ready_after: float | None = None

    def poll(self) -> Table:
        rows = [read(name, addresses) for name, addresses in self.targets.items()]
        now = time.monotonic()
        rates: dict[str, float] = {}
        for r in rows:
            if r.applied is None:
                continue
            before = self._last.get(r.pipeline)
            if before is not None and now > before[0]:
                rates[r.pipeline] = max(r.applied - before[1], 0.0) / (now - before[0])
            self._last[r.pipeline] = (now, r.applied)
        elapsed = now - self.started
        if self.all_ready_after is None and all(r.ready for r in rows):
            self.all_ready_after = elapsed
        self._ready = tuple(r.ready for r in rows)
        return render(rows, rates, elapsed)

    def run(self, alive: Callable[[], bool], every_s: float = 30.0) -> None:
        """Until `alive()` is false (a child exited) or Ctrl-C."""
        if self.console.is_terminal:
            with Live(self.poll(), console=self.console, refresh_per_second=1) as live:
                while alive():
                    time.sleep(2)
                    live.update(self.poll())
                    self._announce()
            return
        printed_at, shown = 0.0, None
        while alive():
            table = self.poll()
            now = time.monotonic()
            if self._ready != shown or now - printed_at >= every_s:
                self.console.print(table)
                printed_at, shown = now, self._ready
            self._announce()
            time.sleep(2)

    def _announce(self) -> None:
        if self.all_ready_after is not None and not self._announced:
            self._announced = True
            self.console.print(
                f"all {len(self.targets)} pipelines ready {self.all_ready_after:.0f} s after start"
            )
