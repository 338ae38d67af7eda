"""`stream-app worker --pipeline P --processes N`: N members of one consumer group under one
supervisor, so one pipeline uses every core of a machine.

Each member is an ordinary worker process with its own worker id (`<id>-<i>`: its state folder
and static group membership), and its own metrics port (the pipeline's port + 100 x i, so the
members of every pipeline fit on one host), so Prometheus scrapes each as it would scrape
workers on separate hosts. The supervisor restarts a member
that dies (its partitions come back to it by static membership, exactly as after any crash),
gives up on one that keeps dying at start (a configuration error, not a crash), and on SIGTERM
or SIGINT stops every member the way a single worker stops.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

from stream_app.settings import MAX_PROCESSES, PROCESS_PORT_STRIDE

log = logging.getLogger(__name__)

RESTARTS = 5
"""Restarts of one member within RESTART_WINDOW_S before the supervisor gives up."""
RESTART_WINDOW_S = 60.0
STOP_TIMEOUT_S = 60.0
"""How long members get to stop on SIGTERM (a worker's own shutdown timeout is 30 s)."""


def member_env(env: dict[str, str], index: int, worker_id: str) -> dict[str, str]:
    """Member `index`'s settings: the base worker id with its index, the port offset."""
    offset = str(index * PROCESS_PORT_STRIDE)
    return {**env, "ISALES_WORKER_ID": f"{worker_id}-{index}", "ISALES_PORT_OFFSET": offset}


def member_ports(port: int, processes: int) -> list[int]:
    """The metrics ports of a pipeline's members, whose own setting is `port`."""
    return [port + i * PROCESS_PORT_STRIDE for i in range(processes)]


def free_member_port(processes: int, host: str = "127.0.0.1") -> int:
    """A port whose every member port (`member_ports`) is free on `host` now."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind((host, 0))
            port = int(first.getsockname()[1])
            if port + (processes - 1) * PROCESS_PORT_STRIDE > 65_535:
                continue
            others: list[socket.socket] = []
            try:
                for member in member_ports(port, processes)[1:]:
                    sock = socket.socket()
                    others.append(sock)
                    sock.bind((host, member))
            except OSError:
                continue
            finally:
                for sock in others:
                    sock.close()
        return port
    raise RuntimeError(f"no free port for {processes} members on {host}")


def check_processes(processes: int) -> None:
    if not 1 <= processes <= MAX_PROCESSES:
        raise SystemExit(f"--processes must be 1..{MAX_PROCESSES}, not {processes}")


@dataclass
class Member:
    index: int
    command: Sequence[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    starts: deque[float] = field(default_factory=lambda: deque(maxlen=RESTARTS + 1))

    def start(self) -> None:
        self.starts.append(time.monotonic())
        self.proc = subprocess.Popen(self.command, env=self.env)
        log.info("member %d started (pid %d)", self.index, self.proc.pid)

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def crashing(self) -> bool:
        """Restarted RESTARTS times within RESTART_WINDOW_S: it does not crash, it cannot
        start."""
        return len(self.starts) > RESTARTS and self.starts[-1] - self.starts[0] < RESTART_WINDOW_S


class Supervisor:
    def __init__(
        self,
        pipeline: str,
        processes: int,
        env: dict[str, str],
        *,
        command: Callable[[str], Sequence[str]] | None = None,
    ) -> None:
        worker_id = env.get("ISALES_WORKER_ID") or pipeline
        base = command or (
            lambda p: [sys.executable, "-m", "stream_app", "worker", "--pipeline", p]
        )
        self.members = [
            Member(i, base(pipeline), member_env(env, i, worker_id)) for i in range(processes)
        ]
        self.stopping = False

    def _stop(self, signum: int, _: FrameType | None) -> None:
        if not self.stopping:
            log.info("%s: stopping %d members", signal.Signals(signum).name, len(self.members))
        self.stopping = True

    def run(self) -> int:
        """Until SIGTERM/SIGINT (0 once every member stopped) or a member that cannot start
        (its exit code, after stopping the others)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        for member in self.members:
            member.start()
        failed = 0
        while not self.stopping:
            time.sleep(0.2)
            for member in self.members:
                code = member.exited()
                if code is None or self.stopping:
                    continue
                if member.crashing():
                    log.error(
                        "member %d exited %d, %d times within %.0f s: stopping all",
                        member.index,
                        code,
                        RESTARTS + 1,
                        RESTART_WINDOW_S,
                    )
                    failed, self.stopping = code or 1, True
                    break
                log.warning("member %d exited %d: restarting it", member.index, code)
                member.start()
        return self._stop_all() or failed

    def _stop_all(self) -> int:
        for member in self.members:
            if member.exited() is None and member.proc is not None:
                member.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        worst = 0
        for member in self.members:
            if member.proc is None:
                continue
            try:
                code = member.proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.error("member %d did not stop in %.0f s: killed", member.index, STOP_TIMEOUT_S)
                member.proc.kill()
                code = member.proc.wait()
            # A member stopped by our SIGTERM exits 0; one that was already dead keeps its code.
            worst = worst or (code if code not in (0, -signal.SIGTERM) else 0)
        return worst


def run(pipeline: str, processes: int) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s supervisor %(message)s")
    return Supervisor(pipeline, processes, dict(os.environ)).run()
