"""The project's own broker launcher: start, status, stop exactly the process it started."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stream_app.kafka.local_broker import LocalKafka, free_port

pytestmark = pytest.mark.kafka


async def _round_trip(bootstrap: str) -> bytes | None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("launcher-check", b"hello")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        "launcher-check", bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), 30)
        value: bytes | None = message.value
        return value
    finally:
        await consumer.stop()


def test_start_status_stop_via_the_cli(tmp_path: Path) -> None:
    port = free_port()
    home = tmp_path / "broker"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "stream_app", "kafka", *args, "--dir", str(home)],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    started = cli("start", "--port", str(port))
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == f"127.0.0.1:{port}"
    broker = LocalKafka(home)
    pid = broker.pid()
    assert pid is not None
    try:
        assert asyncio.run(_round_trip(f"127.0.0.1:{port}")) == b"hello"
        status = cli("status")
        assert status.returncode == 0 and f"pid {pid}" in status.stdout
    finally:
        stopped = cli("stop")
    assert stopped.stdout.strip() == "stopped"
    assert (
        not Path(f"/proc/{pid}").exists()
        or b"kafka.Kafka" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
    assert cli("status").returncode == 1
    assert cli("stop").stdout.strip() == "not running"


def test_stop_never_kills_a_process_it_did_not_start(tmp_path: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        broker = LocalKafka(tmp_path)
        broker.pid_file.write_text(str(bystander.pid))  # a stale or recycled pid
        assert broker.pid() is None
        assert broker.stop() is False
        assert bystander.poll() is None and os.path.exists(f"/proc/{bystander.pid}")
    finally:
        bystander.kill()
        bystander.wait()


def _topics(bootstrap: str) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    async def run() -> set[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            return set(await admin.list_topics())
        finally:
            await admin.close()

    return asyncio.run(run())


def test_start_again_keeps_the_cluster_and_fresh_wipes_it(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path / "broker")
    first = broker.start()
    try:
        assert asyncio.run(_round_trip(first)) == b"hello"
        broker.stop()
        again = broker.start()
        assert again == first, "same folder, same port"
        assert "launcher-check" in _topics(again)
        assert asyncio.run(_read_first(again)) == b"hello", "and the same records"
        wiped = broker.start(fresh=True)
        assert "launcher-check" not in _topics(wiped)
    finally:
        broker.stop()


async def _read_first(bootstrap: str) -> bytes | None:
    consumer = AIOKafkaConsumer(
        "launcher-check", bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), 30)
        value: bytes | None = message.value
        return value
    finally:
        await consumer.stop()
