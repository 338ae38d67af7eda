"""`stream-app worker --pipeline calls --processes 2`: two members of one consumer group under
one supervisor split the partitions, count the scenario exactly together (each on its own port,
under its own worker id), the supervisor restarts a member killed with SIGKILL and the counts
stay exact, and SIGTERM stops every member cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from stream_app.families.calls.demo import ScenarioConfig
from stream_app.ops.supervisor import free_member_port, member_ports
from tests.helpers.checks import check_counters, processed
from tests.helpers.scenarios import produce_scenario
from tests.helpers.support import (
    ROOT,
    alive,
    descendants,
    http_get,
    isolated_env,
    merged,
    parse_metrics,
    wait_for,
)

pytestmark = pytest.mark.kafka

CONFIG = ScenarioConfig(seed=32, calls=2000, reps=12, teams=2, malformed=10)


def test_two_processes_split_count_exactly_restart_and_stop(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    port = free_member_port(2)
    ports = member_ports(port, 2)
    env = isolated_env(kafka_bootstrap, ISALES_METRICS_PORT=str(port))
    produced = produce_scenario(env, CONFIG)
    total = len(produced.records)
    log = (tmp_path / "supervisor.log").open("wb")
    command = [sys.executable, "-m", "stream_app", "worker", "--pipeline", "calls"]
    supervisor = subprocess.Popen(
        [*command, "--processes", "2"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    members: set[int] = set()

    def text() -> str:
        return (tmp_path / "supervisor.log").read_text(errors="replace")[-4000:]

    def partitions(i: int) -> list[int]:
        status, body = http_get(f"http://127.0.0.1:{ports[i]}/readyz")
        return list(orjson.loads(body)["partitions"]) if status == 200 else []

    def scrape(i: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        status, body = http_get(f"http://127.0.0.1:{ports[i]}/metrics")
        assert status == 200, (i, status)
        return parse_metrics(body)

    def split() -> bool:
        assert supervisor.poll() is None, text()
        members.update(descendants(supervisor.pid))
        p0, p1 = partitions(0), partitions(1)
        return bool(p0) and bool(p1) and sorted(p0 + p1) == [0, 1, 2, 3]

    try:
        wait_for(split, 180, "two members split the four partitions", explain=text)
        wait_for(lambda: processed(merged(scrape(0), scrape(1))) == total, 300, "all processed")
        check_counters(merged(scrape(0), scrape(1)), produced.truth)
        # One state folder per member, named by its worker id.
        state = Path(env["ISALES_DATA_DIR"]) / env["ISALES_APP_ID"]
        assert {p.name for p in state.iterdir()} >= {"calls-0", "calls-1"}

        # SIGKILL member 1: the supervisor starts it again; together they are exact again.
        offset_1 = f"ISALES_PORT_OFFSET={ports[1] - port}".encode()
        victim = next(
            pid
            for pid in descendants(supervisor.pid)
            if offset_1 in Path(f"/proc/{pid}/environ").read_bytes()
        )
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: not alive(victim), 30, "the member is gone")
        wait_for(split, 180, "the member is back and the partitions split again", explain=text)
        wait_for(lambda: processed(merged(scrape(0), scrape(1))) == total, 300, "all again")
        check_counters(merged(scrape(0), scrape(1)), produced.truth)
        said = (tmp_path / "supervisor.log").read_text(errors="replace")
        assert "member 1 exited -9: restarting it" in said

        members.update(descendants(supervisor.pid))
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(90) == 0, text()
        left = [pid for pid in members if alive(pid)]
        assert not left, f"members still running after the supervisor stopped: {left}"
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
        log.close()
