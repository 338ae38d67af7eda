"""Helpers for integration tests: worker subprocesses, scrapes and topic reads."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from stream_app.kafka.local_broker import free_port
from stream_app.ops.supervisor import free_member_port, member_ports

ROOT = Path(__file__).resolve().parents[2]


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    every: float = 0.5,
    explain: Callable[[], str] | None = None,
) -> None:
    """`explain`: what the failure message should add (the processes' own account), read only
    once it has timed out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    detail = f"\n{explain()}" if explain is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")


PORT_SETTINGS = {
    "calls": "ISALES_METRICS_PORT",
    "email": "ISALES_EMAIL_METRICS_PORT",
    "crm-attribution": "ISALES_CRM_ATTRIBUTION_METRICS_PORT",
    "crm": "ISALES_CRM_METRICS_PORT",
    "web": "ISALES_WEB_METRICS_PORT",
    "engagement": "ISALES_ENGAGEMENT_METRICS_PORT",
    "reach": "ISALES_REACH_METRICS_PORT",
}
"""The metrics port setting of each pipeline `stream-app up` runs."""


def isolated_env(bootstrap: str, **overrides: str) -> dict[str, str]:
    """Settings for one test: its own topics and consumer group on the shared broker."""
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "ISALES_APP_ID": f"isales-test-{tag}",
        "ISALES_CALLS_TOPIC": f"calls-{tag}",
        "ISALES_KPI_CALLS_TOPIC": f"kpi-calls-{tag}",
        "ISALES_DLQ_TOPIC": f"dlq-{tag}",
        "ISALES_ERASURE_TOPIC": f"erasures-{tag}",
        "ISALES_ERASURE_AUDIT_TOPIC": f"erasure-audit-{tag}",
        "ISALES_LATE_TOPIC": f"late-{tag}",
        "ISALES_EMAIL_TOPIC": f"email-{tag}",
        "ISALES_KPI_EMAIL_TOPIC": f"kpi-email-{tag}",
        "ISALES_KPI_EMAIL_AB_TOPIC": f"kpi-email-ab-{tag}",
        "ISALES_KPI_PACING_TOPIC": f"kpi-pacing-{tag}",
        "ISALES_CRM_TOPIC": f"crm-{tag}",
        "ISALES_CRM_ATTRIBUTED_TOPIC": f"crm-attributed-{tag}",
        "ISALES_KPI_HANDOFFS_TOPIC": f"kpi-handoffs-{tag}",
        "ISALES_KPI_OUTCOMES_TOPIC": f"kpi-outcomes-{tag}",
        "ISALES_WEB_TOPIC": f"web-{tag}",
        "ISALES_TOUCHES_TOPIC": f"touches-{tag}",
        "ISALES_REACH_TOPIC": f"reach-{tag}",
        "ISALES_KPI_ENGAGEMENT_TOPIC": f"kpi-engagement-{tag}",
        "ISALES_KPI_SEGMENTS_TOPIC": f"kpi-segments-{tag}",
        "ISALES_ENGAGEMENT_REFRESH_SECONDS": "1",
        "ISALES_VENDOR_TWILIO_TOPIC": f"vendor-twilio-{tag}",
        "ISALES_VENDOR_AIRCALL_TOPIC": f"vendor-aircall-{tag}",
        "ISALES_VENDOR_SENDGRID_TOPIC": f"vendor-sendgrid-{tag}",
        "ISALES_VENDOR_HUBSPOT_TOPIC": f"vendor-hubspot-{tag}",
        "ISALES_VENDOR_HUBSPOT_OBJECTS_TOPIC": f"vendor-hubspot-objects-{tag}",
        "ISALES_PARTITIONS": "4",
        "ISALES_SESSION_TIMEOUT_SECONDS": "6",
        "ISALES_GRACE_SECONDS": "120",
        "ISALES_IDLE_TIMEOUT_SECONDS": "3",
        # The seeded scenarios are history (March 2026); these tests want their last windows
        # closed by the idle timer as a live stream's would be, so history counts as live.
        "ISALES_LIVE_LAG_SECONDS": str(10 * 365 * 86_400),
        "ISALES_KPI_UPDATE_INTERVAL_SECONDS": "0.5",
        "ISALES_BUSINESS_TIMEZONE": "Europe/Berlin",
        "ISALES_LOG_LEVEL": "info",
        # Local state under the temp folder, one per test's app, never in the user's home.
        "ISALES_DATA_DIR": str(Path(tempfile.gettempdir()) / f"isales-state-{tag}"),
    }
    env.update(overrides)
    return env


class WorkerProc:
    """`stream-app worker` as a subprocess with its own metrics port."""

    def __init__(
        self,
        env: dict[str, str],
        log_dir: Path,
        name: str,
        pipeline: str = "calls",
        worker_id: str | None = None,
        processes: int = 1,
    ) -> None:
        """`worker_id`: the same id on a restart reuses the killed worker's local state
        folder and static group membership, as a replica of a StatefulSet would.
        `processes`: `worker --processes N`, its members on `member_ports(port, N)`."""
        self.port = free_member_port(processes) if processes > 1 else free_port()
        self.processes = processes
        self.pipeline = pipeline
        port = str(self.port)
        ports = (
            "METRICS",
            "EMAIL_METRICS",
            "CRM_ATTRIBUTION_METRICS",
            "CRM_METRICS",
            "WEB_METRICS",
            "ENGAGEMENT_METRICS",
            "REACH_METRICS",
            "VENDOR_TWILIO_METRICS",
            "VENDOR_AIRCALL_METRICS",
            "VENDOR_SENDGRID_METRICS",
            "VENDOR_HUBSPOT_METRICS",
            "HUBSPOT_OBJECTS_METRICS",
        )
        self.env = {**env, **{f"ISALES_{name}_PORT": port for name in ports}}
        if worker_id is not None:
            self.env["ISALES_WORKER_ID"] = worker_id
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProc:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *("-m", "stream_app", "worker", "--pipeline", self.pipeline),
                *(("--processes", str(self.processes)) if self.processes > 1 else ()),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def member_urls(self) -> list[str]:
        """Each member's address (one, unless `processes`)."""
        return [f"http://127.0.0.1:{p}" for p in member_ports(self.port, self.processes)]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""  # not listening (yet, or any more)

    def ready(self) -> bool:
        if not self.alive():
            raise AssertionError(f"worker died; log:\n{self.log_tail()}")
        return self.get("/readyz")[0] == 200

    def scrape(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        status, body = self.get("/metrics")
        if status != 200:
            raise OSError(f"scrape of {self.url} answered {status}")
        return parse_metrics(body)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def account(self, lines: int = 40) -> str:
        """What the worker says of itself: its /readyz answer and the end of its log."""
        status, body = self.get("/readyz")
        return (
            f"--- worker {self.log_path.stem}: alive={self.alive()} /readyz {status} {body}\n"
            f"{self.log_tail(lines)}"
        )

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def parse_metrics(body: str) -> Samples:
    out: Samples = defaultdict(dict)
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return out


def metric_sum(samples: Samples, name: str, **match: str) -> float:
    total = 0.0
    for labels, value in samples.get(name, {}).items():
        as_dict = dict(labels)
        if all(as_dict.get(k) == v for k, v in match.items()):
            total += value
    return total


def merged(*scrapes: Samples) -> Samples:
    """Sum samples over workers, as PromQL sum() would."""
    out: Samples = defaultdict(dict)
    for scrape in scrapes:
        for name, series in scrape.items():
            for labels, value in series.items():
                out[name][labels] = out[name].get(labels, 0.0) + value
    return out


@dataclass
class Consumed:
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int
    headers: dict[str, str]


async def _partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    """The partitions of a topic that exists, asked of the admin API (a broker that creates
    topics on a metadata request would create it)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    parts = {p["partition"] for p in described[0]["partitions"]}
    return [TopicPartition(topic, p) for p in sorted(parts)]


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition -> end offset."""

    async def run() -> dict[int, int]:
        tps = await _partitions(bootstrap, topic)
        if not tps:
            return {}
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(tps)
            return {tp.partition: int(offset) for tp, offset in ends.items()}
        finally:
            await consumer.stop()

    return asyncio.run(run())


def read_topic(bootstrap: str, topic: str) -> list[Consumed]:
    """Every record on the topic, up to its end offsets at the time of the call."""

    async def run() -> list[Consumed]:
        tps = await _partitions(bootstrap, topic)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            if not tps:
                return []
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            out: list[Consumed] = []
            remaining = {tp for tp in tps if ends[tp] > 0}
            while remaining:
                batch = await consumer.getmany(timeout_ms=1000)
                for tp, messages in batch.items():
                    for m in messages:
                        if m.offset < ends[tp]:
                            headers = {k: v.decode() for k, v in (m.headers or ())}
                            out.append(Consumed(m.key, m.value, tp.partition, m.offset, headers))
                        if m.offset >= ends[tp] - 1:
                            remaining.discard(tp)
            return out
        finally:
            await consumer.stop()

    return asyncio.run(run())


def latest_by_key(records: list[Consumed]) -> dict[bytes, Any]:
    import orjson

    latest: dict[bytes, Any] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None and record.value is not None
        latest[record.key] = orjson.loads(record.value)
    return latest


def promtool_check_metrics(text: str) -> None:
    """`promtool check metrics` on a real exposition: names, units, help, types."""
    import shutil

    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package 'prometheus'): run scripts/bootstrap.sh"
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, theirs, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def http_get(url: str) -> tuple[int, str]:
    """(status, body), or (0, "") while nothing listens there."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`stream-app ARGS` as a user runs it, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "stream_app", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
