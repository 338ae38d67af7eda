"""`stream-app replay`: rebuild pipelines' state and KPI records from the start of their source
topics, under a new application id (a new consumer group and new changelogs), with progress.

The replay is a worker like any other, started as a subprocess with another `ISALES_APP_ID`; it
counts from offset 0 (the source's earliest) and this command follows its `/metrics` until every
partition has reached the end offset it had when the replay began and the worker has settled,
then stops it. KPI records have deterministic keys, so by default a replay rewrites the live
KPI topics with what the current settings compute; `--topic-suffix` writes every output topic
of the replayed pipelines under another name instead, for `stream-app diff-kpis`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from stream_app.kafka.client_config import aiokafka_options
from stream_app.ops.supervisor import free_member_port, member_ports
from stream_app.registry import spec_for
from stream_app.settings import Settings
from stream_app.spine.pipeline import PipelineSpec

EXIT_DONE, EXIT_FAILED = 0, 1


@dataclass
class Stage:
    spec: PipelineSpec
    ports: list[int]
    """One per worker process (`--processes`)."""
    proc: subprocess.Popen[bytes]
    begin: dict[int, int]
    end: dict[int, int]
    tasks: dict[int, TaskID]

    def scrape(self) -> dict[str, dict[str, float]] | None:
        """`isales_next_offset` per partition and the lag, over every process (a partition
        counts as where the furthest of them has it), or None if one does not answer."""
        out: dict[str, dict[str, float]] = {"next": {}, "lag": {}}
        for port in self.ports:
            try:
                url = f"http://127.0.0.1:{port}/metrics"
                with urllib.request.urlopen(url, timeout=5) as response:
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


def renamed_topics(s: Settings, specs: list[PipelineSpec], suffix: str) -> dict[str, str]:
    """ISALES_* variables that rename every output topic of the replayed pipelines."""
    outputs = {out.topic for spec in specs for out in spec.outputs.values()}
    env = {}
    for name, value in s.model_dump().items():
        if name.endswith("_topic") and value in outputs:
            env[f"ISALES_{name.upper()}"] = f"{value}{suffix}"
    return env


def replay(
    s: Settings,
    pipelines: list[str],
    app_id: str,
    suffix: str | None,
    timeout_s: float,
    console: Console,
    processes: int = 1,
) -> int:
    specs = [spec_for(s, name) for name in pipelines]
    env = {**os.environ, "ISALES_APP_ID": app_id}
    env.pop("ISALES_WORKER_ID", None)  # never share a live replica's state folder or identity
    if suffix:
        env.update(renamed_topics(s, specs, suffix))
    replay_settings = Settings.model_validate(
        {k.removeprefix("ISALES_").lower(): v for k, v in env.items() if k.startswith("ISALES_")}
        | {"KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers}
    )
    stages: list[Stage] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8} records/s"),
        TimeRemainingColumn(),
    )
    deadline = time.monotonic() + timeout_s
    with Progress(*columns, console=console) as progress:
        try:
            for spec in [spec_for(replay_settings, name) for name in pipelines]:
                begin, end = _offsets(replay_settings, spec.source)
                port = free_member_port(processes)
                stage_env = {**env, **{name: str(port) for name in _PORT_VARIABLES}}
                command = [sys.executable, "-m", "stream_app", "worker", "--pipeline", spec.name]
                proc = subprocess.Popen(
                    [*command, *(("--processes", str(processes)) if processes > 1 else ())],
                    env=stage_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                tasks = {
                    part: progress.add_task(
                        f"{spec.name} {spec.source}[{part}]",
                        total=max(end[part] - begin[part], 0),
                        rate="-",
                    )
                    for part in sorted(end)
                }
                ports = member_ports(port, processes)
                stages.append(Stage(spec, ports, proc, begin, end, tasks))
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
    stages: list[Stage], progress: Progress, deadline: float, s: Settings, console: Console
) -> int:
    seen: dict[tuple[str, int], tuple[float, float]] = {}
    settled_since: float | None = None
    while time.monotonic() < deadline:
        time.sleep(1.0)
        done = True
        for stage in stages:
            if stage.proc.poll() is not None:
                console.print(
                    f"[red]{stage.spec.name}: the replay worker exited {stage.proc.returncode}"
                )
                return EXIT_FAILED
            scraped = stage.scrape()
            if scraped is None:
                done = False
                continue
            for part, task in stage.tasks.items():
                nxt = scraped["next"].get(str(part))
                lag = scraped["lag"].get(str(part))
                if nxt is None:
                    done = False
                    continue
                applied = max(nxt - stage.begin[part], 0)
                now = time.monotonic()
                before = seen.get((stage.spec.name, part))
                rate = (
                    "-" if before is None else f"{(applied - before[1]) / (now - before[0]):,.0f}"
                )
                seen[(stage.spec.name, part)] = (now, applied)
                progress.update(task, completed=min(applied, stage.end[part]), rate=rate)
                if nxt < stage.end[part] or (lag or 0) > 0:
                    done = False
        if not done:
            settled_since = None
            continue
        settled_since = settled_since or time.monotonic()
        # Caught up: give the timer its ticks to close what event time closes and to send
        # the last window and totals records, then stop.
        if time.monotonic() - settled_since >= s.kpi_update_interval_seconds * 3 + 2:
            return EXIT_DONE
    console.print("[red]the replay did not finish within --timeout")
    return EXIT_FAILED


def main_replay(
    s: Settings,
    pipelines: list[str],
    app_id: str | None,
    suffix: str | None,
    timeout_s: float,
    processes: int = 1,
) -> int:
    console = Console(stderr=True, soft_wrap=True)
    app = app_id or f"{s.app_id}-replay-{time.strftime('%Y%m%d%H%M%S')}"
    console.print(f"replaying {', '.join(pipelines)} from the start under app id {app}")
    code = replay(s, pipelines, app, suffix, timeout_s, console, processes)
    if code == EXIT_DONE:
        where = f"topics with suffix {suffix!r}" if suffix else "the KPI topics"
        console.print(
            f"done: state rebuilt under ISALES_APP_ID={app}, records on {where}. To run on "
            f"from it, start the workers with ISALES_APP_ID={app}."
        )
    return code
