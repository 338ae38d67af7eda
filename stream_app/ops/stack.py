"""The local ops stack `stream-app up` runs beside the workers: Prometheus (scraping every
worker, with the shipped alert and recording rules) and Alertmanager, both from their Debian
packages, on loopback, each in its own state folder under the data dir. The same rules and
Alertmanager configuration as the docker-compose stack; only the scrape targets differ (static
loopback ports here, Compose's DNS there)."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "rules"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
JOB = "isales-kpi"  # the job the shipped rules select (up{job="isales-kpi"})


def binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def prometheus_config(
    targets: dict[str, list[str]],
    rules: Path,
    alertmanager: str | None,
    interval_s: int,
    docs_url: str | None = None,
) -> dict[str, Any]:
    """Prometheus's configuration for `targets` (pipeline -> its processes' host:port). Each
    target carries
    its pipeline as a label, so a board can tell them apart without reading ports. `docs_url`:
    where the alerts' runbook links point (the rules read it as the external label
    `isales_docs_url`)."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": f"{interval_s}s", "evaluation_interval": f"{interval_s}s"},
        "rule_files": [str(rules / "*.yml")],
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/metrics",
                "static_configs": [
                    {"targets": addresses, "labels": {"pipeline": name}}
                    for name, addresses in targets.items()
                ],
            }
        ],
    }
    if docs_url:
        config["global"]["external_labels"] = {"isales_docs_url": docs_url.rstrip("/")}
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return config


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return int(response.status) == 200
    except OSError:
        return False


@dataclass
class OpsStack:
    root: Path
    targets: dict[str, list[str]]
    """Pipeline -> the host:port of each of its processes."""
    prometheus_port: int = 9090
    alertmanager_port: int = 9093
    rules: Path = RULES
    interval_s: int = 5
    host: str = "127.0.0.1"
    docs_url: str | None = None
    """The docs site's base URL for the alerts' runbook links (`up`: its board's /docs)."""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.host}:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{self.host}:{self.alertmanager_port}"

    def missing(self) -> list[str]:
        """The Debian packages not installed (bootstrap installs both)."""
        out = []
        if binary("prometheus") is None:
            out.append("prometheus")
        if binary("prometheus-alertmanager", "alertmanager") is None:
            out.append("prometheus-alertmanager")
        return out

    def start(self) -> None:
        prometheus = binary("prometheus")
        alertmanager = binary("prometheus-alertmanager", "alertmanager")
        assert prometheus and alertmanager, "check missing() first"
        prom_dir, am_dir = self.root / "prometheus", self.root / "alertmanager"
        for folder in (prom_dir, am_dir):
            (folder / "data").mkdir(parents=True, exist_ok=True)
        config = prometheus_config(
            self.targets,
            self.rules,
            f"{self.host}:{self.alertmanager_port}",
            self.interval_s,
            self.docs_url,
        )
        config_file = prom_dir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        self._spawn(
            [
                alertmanager,
                f"--config.file={ALERTMANAGER_CONFIG}",
                f"--storage.path={am_dir / 'data'}",
                f"--web.listen-address={self.host}:{self.alertmanager_port}",
                "--cluster.listen-address=",  # one instance: no gossip port
            ],
            am_dir / "alertmanager.log",
        )
        self._spawn(
            [
                prometheus,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={prom_dir / 'data'}",
                f"--web.listen-address={self.host}:{self.prometheus_port}",
                "--storage.tsdb.retention.time=2d",
            ],
            prom_dir / "prometheus.log",
        )

    def _spawn(self, command: list[str], log: Path) -> None:
        with log.open("ab") as out:
            self.procs.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT))

    def wait_ready(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        urls = (f"{self.prometheus_url}/-/ready", f"{self.alertmanager_url}/-/ready")
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                return False
            if all(ready(u) for u in urls):
                return True
            time.sleep(0.3)
        return False

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
