"""A real single-node Apache Kafka (KRaft) on 127.0.0.1 without Docker.

The broker jars come from Maven Central through `mvn` once and are cached outside the repo;
each broker gets its own state folder with a pid file, so `stop` ends exactly that process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

KAFKA_VERSION = os.environ.get("ISALES_KAFKA_VERSION", "4.1.1")
SLF4J_BINDING = "2.24.3"


def cache_dir() -> Path:
    base = os.environ.get("ISALES_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "isales-kpi"
    )
    return Path(base)


def libs_dir() -> Path:
    return cache_dir() / f"kafka-{KAFKA_VERSION}" / "libs"


_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.isales</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{slf4j}</version></dependency>
  </dependencies>
</project>
"""

_LOG4J = """status = warn
appender.console.type = Console
appender.console.name = out
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c{1})%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"""


def fetch(quiet: bool = True) -> Path:
    """Resolve the broker and its dependencies through Maven (once) and return the jar folder."""
    libs = libs_dir()
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (mvn) is not on PATH; it is needed once to fetch the Kafka jars")
    work = libs.parent
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(_POM.format(kafka=KAFKA_VERSION, slf4j=SLF4J_BINDING))
    tmp = work / "libs.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [mvn, "-B", "dependency:copy-dependencies", f"-DoutputDirectory={tmp}"]
    if quiet:
        cmd.insert(1, "-q")
    subprocess.run(cmd, cwd=work, check=True)
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    marker.touch()
    return libs


def java_bin() -> str:
    home = os.environ.get("JAVA_HOME")
    candidate = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not candidate or not os.path.exists(candidate):
        raise RuntimeError("Java 17+ is needed to run the local Kafka broker; none found")
    return candidate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def _metadata_ok(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


@dataclass
class LocalKafka:
    """One broker's state folder: config, data, log, pid and port files."""

    home: Path

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def port_file(self) -> Path:
        return self.home / "broker.port"

    @property
    def log_file(self) -> Path:
        return self.home / "broker.log"

    def bootstrap(self) -> str | None:
        if not self.port_file.exists():
            return None
        return f"127.0.0.1:{self.port_file.read_text().strip()}"

    def pid(self) -> int | None:
        if not self.pid_file.exists():
            return None
        pid = int(self.pid_file.read_text().strip())
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return None
        # Only our broker: same main class and this folder's config, never a recycled pid.
        config = str(self.home / "server.properties").encode()
        return pid if b"kafka.Kafka" in cmdline and config in cmdline else None

    def running(self) -> bool:
        return self.pid() is not None

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def formatted(self) -> bool:
        """Whether the folder holds a cluster already (KRaft storage is formatted once)."""
        return (self.data_dir / "meta.properties").exists() and self.config_file.exists()

    def _saved_ports(self) -> tuple[int, int] | None:
        if not self.config_file.exists():
            return None
        props = dict(
            line.split("=", 1) for line in self.config_file.read_text().splitlines() if "=" in line
        )
        try:
            listeners = dict(
                part.split("://", 1) for part in props.get("listeners", "").split(",") if part
            )
            broker = int(listeners["PLAINTEXT"].rsplit(":", 1)[1])
            controller = int(listeners["CONTROLLER"].rsplit(":", 1)[1])
        except (KeyError, ValueError, IndexError):
            return None
        return broker, controller

    def start(self, port: int | None = None, timeout: float = 120.0, fresh: bool = False) -> str:
        """Start the broker of this folder. An existing cluster restarts with its topics and
        data, on its previous port unless another is asked for or that one is taken;
        `fresh` wipes the folder's cluster first."""
        if self.running():
            if fresh:
                self.stop()
            else:
                bootstrap = self.bootstrap()
                assert bootstrap is not None
                return bootstrap
        libs = fetch()
        self.home.mkdir(parents=True, exist_ok=True)
        data = self.data_dir
        if fresh or not self.formatted():
            shutil.rmtree(data, ignore_errors=True)
        saved = self._saved_ports() if data.exists() else None
        if port is None and saved is not None and not _port_open(saved[0]):
            port = saved[0]
        port = port or free_port()
        controller = saved[1] if saved is not None and not _port_open(saved[1]) else free_port()
        config = self.config_file
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{controller}",
                    f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=8",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "",
                ]
            )
        )
        (self.home / "log4j2.properties").write_text(_LOG4J)
        java = java_bin()
        classpath = f"{libs}/*"
        if not (data / "meta.properties").exists():
            subprocess.run(
                [
                    java,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    str(uuid.uuid4()).replace("-", "")[:22],
                    "-c",
                    str(config),
                ],
                check=True,
                capture_output=True,
            )
        log = self.log_file.open("ab")
        proc = subprocess.Popen(
            [
                java,
                "-Xms256m",
                "-Xmx768m",
                "-XX:+UseSerialGC",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(config),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives the launcher; stop() ends it by pid
        )
        log.close()
        self.pid_file.write_text(str(proc.pid))
        self.port_file.write_text(str(port))
        bootstrap = f"127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"Kafka exited with {proc.returncode}; see {self.log_file}")
            if _port_open(port) and asyncio.run(_metadata_ok(bootstrap)):
                return bootstrap
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Kafka did not accept connections in {timeout}s; see {self.log_file}")

    def kill(self) -> bool:
        """SIGKILL, for fault tests: the broker gets no chance to flush or deregister."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.1)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        self.pid_file.unlink(missing_ok=True)
        return True

    def stop(self, timeout: float = 30.0) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.2)
        if self.pid() is not None:
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        self.pid_file.unlink(missing_ok=True)
        return True


def default_home() -> Path:
    """Where `up` and `kafka start` keep their broker (ISALES_KAFKA_HOME; default in the cache,
    beside the jars)."""
    home = os.environ.get("ISALES_KAFKA_HOME")
    return Path(home) if home else cache_dir() / "broker"
