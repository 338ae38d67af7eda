"""`stream-app replay`: rebuild pipelines' state and KPI records from the start of their source
topics, under a new application id (a new consumer group and new changelogs), with progress,
leaving the live system alone.

The replay is a worker like any other, started as a subprocess with another `ISALES_APP_ID` on a
free port, its output in a log under `ISALES_DATA_DIR/replays/<app id>/`; it counts from offset 0
(the source's earliest) and this command follows its `/metrics` until every partition has reached
the end offset it had when the replay began and the worker has settled, then stops it. KPI
records have deterministic keys, so by default a replay rewrites the live KPI topics with what
the current settings compute; `--topic-suffix` writes every output topic of the replayed
pipelines under another name instead, for `stream-app diff-kpis`. Dead-letter and late copies are
appended, never keyed, so they never go to the live topics (`replay_plan`). What the replay
leaves is written to a manifest first; `replay --cleanup` removes it (`replay_cleanup`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from stream_app.kafka.client_config import aiokafka_options
from stream_app.kafka.topics import ensure_topics
from stream_app.ops.supervisor import free_member_port, member_ports
from stream_app.registry import spec_for
from stream_app.settings import Settings
from stream_app.spine.pipeline import PipelineSpec
from stream_app.tools.replay_plan import Plan, plan
from stream_app.tools.replay_progress import Counts, Reporter, reporter

EXIT_DONE, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
LOG_TAIL_LINES = 20


@dataclass
class Stage:
    spec: PipelineSpec
    ports: list[int]
    """One per worker process (`--processes`)."""
    proc: subprocess.Popen[bytes]
    log: Path
    begin: dict[int, int]
    end: dict[int, int]
    follows: bool
    """The source is a topic only this replay writes (an upstream stage's renamed output): it
    has no end offset to reach; the stage is caught up once it has applied what the source
    held a poll earlier."""
    before: dict[int, float] = field(default_factory=dict)
    """`follows`: the source's end offset per partition at the previous poll."""

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}/metrics" for port in self.ports]

    def scrape(self) -> dict[str, dict[str, float]] | None:
        """`isales_next_offset` per partition and the lag, over every process (a partition
        counts as where the furthest of them has it), or None if one does not answer."""
        out: dict[str, dict[str, float]] = {"next": {}, "lag": {}}
        for url in self.urls:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                    text = response.read().decode()
            except OSError:
                return None
            found: dict[str, dict[str, float]] = {"next": {}, "lag": {}}
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "isales_next_offset":
                        found["next"][sample.labels["partition"]] = sample.value
                    elif sample.name == "isales_consumer_lag_messages":
                        found["lag"][sample.labels["partition"]] = sample.value
            for part, nxt in found["next"].items():
                # After a rebalance the member that gave a partition up may still show it.
                if nxt >= out["next"].get(part, -1):
                    out["next"][part] = nxt
                    out["lag"][part] = found["lag"].get(part, 0.0)
        return out

    def counts(self, scraped: dict[str, dict[str, float]]) -> tuple[dict[int, Counts], bool]:
        """Records applied of how many per partition, and whether every partition is caught
        up. A source the live system writes counts to its end offset at the start: live
        traffic arriving meanwhile does not hold the replay up."""
        parts: dict[int, Counts] = {}
        caught = True
        for part in sorted(self.end):
            nxt = scraped["next"].get(str(part))
            if nxt is None:
                caught = False
                parts[part] = Counts(0, max(self.end[part] - self.begin[part], 0))
                continue
            if self.follows:
                end_now = nxt + scraped["lag"].get(str(part), 0.0)
                target = self.before.get(part)
                self.before[part] = end_now
                caught = caught and target is not None and nxt >= target
                total = end_now
            else:
                total = self.end[part]
                caught = caught and nxt >= total
            parts[part] = Counts(
                int(max(min(nxt, total) - self.begin[part], 0)),
                int(max(total - self.begin[part], 0)),
            )
        return parts, caught

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


_PORT_VARIABLES = tuple(
    f"ISALES_{name.upper()}" for name in Settings.model_fields if name.endswith("metrics_port")
)
"""Every pipeline's metrics port setting: a replay's worker listens on a free port whichever
pipeline it runs, never on the live worker's."""


def _offsets(s: Settings, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    async def run() -> tuple[dict[int, int], dict[int, int]]:
        consumer = AIOKafkaConsumer(**aiokafka_options(s), enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(s.partitions)]
            begin = await consumer.beginning_offsets(tps)
            end = await consumer.end_offsets(tps)
            return (
                {tp.partition: int(o) for tp, o in begin.items()},
                {tp.partition: int(o) for tp, o in end.items()},
            )
        finally:
            await consumer.stop()

    return asyncio.run(run())


def replay(
    s: Settings,
    the_plan: Plan,
    timeout_s: float,
    console: Console,
    processes: int = 1,
    progress_every_s: float = 10.0,
) -> int:
    env = {**os.environ, **the_plan.env}
    env.pop("ISALES_WORKER_ID", None)  # never share a live replica's state folder or identity
    replay_settings = Settings.model_validate(
        {k.removeprefix("ISALES_").lower(): v for k, v in env.items() if k.startswith("ISALES_")}
        | {"KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers}
    )
    manifest = the_plan.write_manifest(s)
    console.print(
        f"manifest: {manifest} (`stream-app replay --cleanup --app-id {the_plan.app_id}` "
        "removes what this replay leaves)",
        markup=False,
    )
    for live, renamed in sorted(the_plan.renamed.items()):
        console.print(f"writes {renamed} instead of {live}", markup=False)
    # The renamed topics with their configs (compacted KPI topics, the DLQ's record size)
    # before any worker writes them, and a chained stage's source before it is read.
    asyncio.run(ensure_topics(replay_settings))
    written = set(the_plan.renamed.values())
    stages: list[Stage] = []
    deadline = time.monotonic() + timeout_s
    with reporter(console, progress_every_s) as progress:
        try:
            for spec in [spec_for(replay_settings, name) for name in the_plan.pipelines]:
                begin, end = _offsets(replay_settings, spec.source)
                port = free_member_port(processes)
                stage_env = {**env, **{name: str(port) for name in _PORT_VARIABLES}}
                command = [sys.executable, "-m", "stream_app", "worker", "--pipeline", spec.name]
                log = the_plan.log(spec.name)
                with log.open("ab") as out:
                    proc = subprocess.Popen(
                        [*command, *(("--processes", str(processes)) if processes > 1 else ())],
                        env=stage_env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                ports = member_ports(port, processes)
                stage = Stage(spec, ports, proc, log, begin, end, spec.source in written)
                stages.append(stage)
                progress.start(spec.name, time.monotonic())
                console.print(
                    f"{spec.name}: log {log}; metrics {', '.join(stage.urls)}", markup=False
                )
            return _follow(stages, progress, deadline, replay_settings, console)
        finally:
            for stage in stages:
                if stage.proc.poll() is None:
                    stage.proc.send_signal(signal.SIGTERM)
            for stage in stages:
                try:
                    stage.proc.wait(timeout=s.shutdown_timeout_seconds + 10)
                except subprocess.TimeoutExpired:
                    stage.proc.kill()


def _follow(
    stages: list[Stage], progress: Reporter, deadline: float, s: Settings, console: Console
) -> int:
    settled_since: float | None = None
    while time.monotonic() < deadline:
        time.sleep(1.0)
        done = True
        for stage in stages:
            if stage.proc.poll() is not None:
                _exited(stage, console)
                return EXIT_FAILED
            scraped = stage.scrape()
            if scraped is None:
                done = False
                continue
            parts, caught = stage.counts(scraped)
            progress.update(stage.spec.name, stage.spec.source, parts, time.monotonic())
            done = done and caught
        if not done:
            settled_since = None
            continue
        settled_since = settled_since or time.monotonic()
        # Caught up: give the timer its ticks to close what event time closes and to send
        # the last window and totals records, then stop.
        if time.monotonic() - settled_since >= s.kpi_update_interval_seconds * 3 + 2:
            return EXIT_DONE
    console.print("[red]the replay did not finish within --timeout[/red]")
    for stage in stages:
        console.print(f"{stage.spec.name}: log {stage.log}", markup=False)
    return EXIT_FAILED


def _exited(stage: Stage, console: Console) -> None:
    console.print(
        f"{stage.spec.name}: the replay worker exited {stage.proc.returncode}; its log: "
        f"{stage.log}, last lines:",
        style="red",
        markup=False,
    )
    console.print(stage.log_tail(), markup=False, highlight=False)


def main_replay(
    s: Settings,
    pipelines: list[str],
    app_id: str | None,
    suffix: str | None,
    timeout_s: float,
    processes: int = 1,
    progress_every_s: float = 10.0,
) -> int:
    console = Console(stderr=True, soft_wrap=True, highlight=False)
    app = app_id or f"{s.app_id}-replay-{time.strftime('%Y%m%d%H%M%S')}"
    try:
        the_plan = plan(s, pipelines, app, suffix)
    except ValueError as exc:
        console.print(f"stream-app replay: {exc}", markup=False)
        return EXIT_REFUSED
    console.print(f"replaying {', '.join(pipelines)} from the start under app id {app}")
    code = replay(s, the_plan, timeout_s, console, processes, progress_every_s)
    if code == EXIT_DONE:
        where = f"topics with suffix {suffix!r}" if suffix else "the KPI topics"
        console.print(
            f"done: state rebuilt under ISALES_APP_ID={app}, records on {where}. To run on "
            f"from it, start the workers with ISALES_APP_ID={app}; to drop it, "
            f"`stream-app replay --cleanup --app-id {app}`.",
            markup=False,
        )
    return code
