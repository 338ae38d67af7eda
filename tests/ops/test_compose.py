"""The docker-compose stack can't be run here (no Docker engine); check everything that can be.

Static checks on docker-compose.yml and the configs it mounts, plus the real validators that work
without an engine: docker-compose 1.29's `config -q` (the Compose schema) and `promtool check
config`. A missing validator is a failure, not a skip: scripts/bootstrap.sh installs both.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from stream_app import cli
from stream_app.registry import names, spec_for
from stream_app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
APP_IMAGE_SERVICES = (
    "topics",
    "worker",
    "worker-email",
    "worker-crm-attribution",
    "worker-crm",
    "demo",
    "demo-email",
    "demo-crm",
)
# Long-running KPI workers, one per pipeline (each scalable, each scraped by job isales-kpi).
WORKERS = {
    "worker": "calls",
    "worker-email": "email",
    "worker-crm-attribution": "crm-attribution",
    "worker-web": "web",
    "worker-engagement": "engagement",
    "worker-reach": "reach",
    "worker-crm": "crm",
}
# Services that run once and exit 0: no healthcheck, no restart.
ONE_SHOT = {"topics", "demo-email", "demo-crm"}
LOOPBACK = "127.0.0.1"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load(ROOT / "docker-compose.yml")


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def prometheus_config() -> dict[str, Any]:
    return _load(PROMETHEUS_DIR / "prometheus.yml")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed: run scripts/bootstrap.sh "
            "(Debian packages docker-compose and prometheus)"
        )
    return path


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _one_shot(services: dict[str, dict[str, Any]]) -> set[str]:
    """Services another one waits on to *finish*: they exit, so they need no healthcheck."""
    found = set()
    for service in services.values():
        depends = service.get("depends_on", {})
        if isinstance(depends, dict):
            for name, spec in depends.items():
                if spec.get("condition") == "service_completed_successfully":
                    found.add(name)
    return found


def _ports(service: dict[str, Any]) -> list[tuple[str | None, str | None, str]]:
    """(host ip, published host port, container port) for each port mapping."""
    parsed: list[tuple[str | None, str | None, str]] = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            published = port.get("published")
            parsed.append(
                (
                    port.get("host_ip"),
                    str(published) if published not in (None, "") else None,
                    str(port["target"]),
                )
            )
            continue
        parts = str(port).split(":")
        if len(parts) == 3:
            parsed.append((parts[0], parts[1] or None, parts[2]))
        elif len(parts) == 2:
            parsed.append((None, parts[0] or None, parts[1]))
        else:
            parsed.append((None, None, parts[0]))
    return parsed


def _binds(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(host path, container path, read-only) for each bind mount (named volumes skipped)."""
    binds: list[tuple[str, str, bool]] = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                binds.append((volume["source"], volume["target"], bool(volume.get("read_only"))))
            continue
        source, target, *mode = str(volume).split(":")
        if source.startswith((".", "/", "~")):
            binds.append((source, target, "ro" in mode[0].split(",") if mode else False))
    return binds


def _interpolate(value: object) -> str:
    """Compose's `${VAR:-default}` with VAR unset (the only interpolation form the file uses)."""
    text = str(value)
    resolved = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)
    assert "$" not in resolved, f"unsupported interpolation in {text!r}"
    return resolved


def _cli_args(command: list[str], monkeypatch: pytest.MonkeyPatch) -> argparse.Namespace:
    """The arguments the image's entrypoint (`stream-app`) parses from a service's command."""
    seen: list[argparse.Namespace] = []

    def capture(args: argparse.Namespace) -> int:
        seen.append(args)
        return 0

    for name in dir(cli):
        if name.startswith("cmd_"):
            monkeypatch.setattr(cli, name, capture)
    assert cli.main([str(arg) for arg in command]) == 0
    assert len(seen) == 1
    return seen[0]


def _container_settings(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The service's Settings as its container sees them: its environment and nothing else."""
    for name in list(os.environ):
        if name.startswith("ISALES_") or name == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(name)
    for name, value in service.get("environment", {}).items():
        monkeypatch.setenv(name, _interpolate(value))
    return Settings()


def _metrics_port(
    services: dict[str, dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
) -> int:
    """The port a worker service's process serves /metrics and /healthz on (as the app picks it)."""
    service = services[name]
    args = _cli_args(service["command"], monkeypatch)
    assert args.command == "worker", f"{name}: {service['command']}"
    assert args.pipeline == WORKERS[name], f"{name}: pipeline {args.pipeline}"
    assert args.pipeline in names()
    settings = _container_settings(service, monkeypatch)
    # The app's own choice of port for the pipeline (what `worker --pipeline X` binds).
    return spec_for(settings, args.pipeline).port


def _command_flag(service: dict[str, Any], flag: str) -> str:
    for arg in service.get("command", []):
        if str(arg).startswith(f"{flag}="):
            return str(arg).split("=", 1)[1]
    raise AssertionError(f"{flag} not set in the service's command")


# ---- docker-compose.yml ------------------------------------------------------------------------


def test_compose_file_parses_and_pins_images(services: dict[str, dict[str, Any]]) -> None:
    expected = {
        "kafka",
        "topics",
        "worker",
        "worker-email",
        "worker-crm-attribution",
        "worker-crm",
        "demo",
        "demo-email",
        "demo-crm",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    assert expected <= set(services)
    for name, service in services.items():
        image = service.get("image", "")
        assert image, f"{name}: no image"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not a version tag"
    assert services["demo"]["profiles"] == ["demo"]
    assert services["demo-email"]["profiles"] == ["demo"]
    assert services["demo-crm"]["profiles"] == ["demo"]
    # Every pipeline runs in the default stack, not behind a profile.
    assert all("profiles" not in services[name] for name in WORKERS)
    # One image for all the app's services, built once by the worker.
    assert services["worker"]["build"] == "."
    assert {services[name]["image"] for name in APP_IMAGE_SERVICES} == {services["worker"]["image"]}


def test_compose_environment_names_real_settings(services: dict[str, dict[str, Any]]) -> None:
    fields = {f"ISALES_{name.upper()}" for name in Settings.model_fields}
    fields.add("KAFKA_BOOTSTRAP_SERVERS")
    for service in APP_IMAGE_SERVICES:
        for name in services[service]["environment"]:
            assert name in fields, f"{service}: {name} is not a setting"
    for worker in WORKERS:
        # Prometheus and the published port reach the worker from outside its container.
        assert services[worker]["environment"]["ISALES_METRICS_HOST"] == "0.0.0.0", worker


def test_every_long_running_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    # What others wait on to finish must be one-shot; nothing waits on a one-shot to be healthy.
    waited_on = _one_shot(services)
    assert "topics" in waited_on
    assert waited_on <= ONE_SHOT, waited_on - ONE_SHOT
    for service in services.values():
        for on, spec in service.get("depends_on", {}).items():
            if on in ONE_SHOT:
                assert spec["condition"] == "service_completed_successfully", on
    for name, service in services.items():
        # Compose's default restart policy is "no": only the declared one-shots may have it.
        if service.get("restart", "no") == "no":
            assert name in ONE_SHOT, f"{name}: long-running service without a restart policy"
            assert "healthcheck" not in service, f"{name} runs once: a healthcheck means nothing"
            continue
        assert name not in ONE_SHOT, f"{name} runs once but restarts"
        check = service.get("healthcheck")
        assert check, f"{name}: long-running service without a healthcheck"
        assert not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: {check['test']}"


def test_start_order(services: dict[str, dict[str, Any]]) -> None:
    def condition(service: str, on: str) -> str:
        return str(services[service]["depends_on"][on]["condition"])

    assert services["topics"]["command"] == ["topics"]
    assert condition("topics", "kafka") == "service_healthy"
    for name in (*WORKERS, "demo", "demo-email", "demo-crm"):
        assert condition(name, "kafka") == "service_healthy", name
        assert condition(name, "topics") == "service_completed_successfully", name
    assert condition("prometheus", "alertmanager") == "service_healthy"
    assert condition("grafana", "prometheus") == "service_healthy"


def test_host_ports_loopback_only_and_worker_scalable(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for host_ip, _, container in _ports(service):
            assert host_ip == LOOPBACK, f"{name}: port {container} not bound to {LOOPBACK}"
    for worker in WORKERS:
        worker_ports = _ports(services[worker])
        # Replicas of `--scale worker=N` would fight over a fixed host port.
        assert worker_ports, f"{worker}: no port to reach a replica from the host"
        assert all(published is None for _, published, _ in worker_ports), worker_ports
    published = {p for s in services.values() for _, p, _ in _ports(s) if p is not None}
    assert {"3000", "9090", "9093"} <= published


def test_mounted_host_paths_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "build" in service:
            context = ROOT / service["build"]
            assert (context / "Dockerfile").is_file(), f"{name}: no Dockerfile in {context}"
        for source, target, read_only in _binds(service):
            assert (ROOT / source).exists(), f"{name}: {source} (-> {target}) is missing"
            assert read_only, f"{name}: {source} should be mounted read-only"


def test_demo_commands_parse(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-shot services' commands are what the image's `stream-app` really accepts."""
    topics = _cli_args(services["topics"]["command"], monkeypatch)
    assert topics.command == "topics"
    live = _cli_args(services["demo"]["command"], monkeypatch)
    assert live.command == "demo"
    assert not live.email and not live.scenario, "demo is the live call traffic"
    email = _cli_args(services["demo-email"]["command"], monkeypatch)
    assert email.command == "demo"
    assert email.email, "demo-email must produce the seeded email scenario (and exit)"


def test_demo_crm_command_parses(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`demo --crm` is accepted by `stream-app` and selects only the seeded CRM scenario."""
    crm = _cli_args(services["demo-crm"]["command"], monkeypatch)
    assert crm.command == "demo"
    assert crm.crm, "demo-crm must produce the seeded CRM scenario (and exit)"
    # cmd_demo checks --email before --crm: the email flag would win.
    assert not crm.email and not crm.scenario, services["demo-crm"]["command"]
    for other in ("demo", "demo-email"):
        assert not _cli_args(services[other]["command"], monkeypatch).crm, other


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_worker_healthcheck_and_ports_use_its_metrics_port(
    services: dict[str, dict[str, Any]], worker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _metrics_port(services, worker, monkeypatch)
    service = services[worker]
    probe = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/healthz" in probe, probe
    assert [str(p) for p in service["expose"]] == [str(port)]
    assert [container for _, _, container in _ports(service)] == [str(port)]


def test_worker_targets_file_is_mounted(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    targets = worker["environment"]["ISALES_TARGETS_FILE"]
    mounts = {target: source for source, target, _ in _binds(worker)}
    assert targets in mounts, f"{targets} is not mounted into the worker"
    assert (ROOT / mounts[targets]).is_file()


def test_grafana_anonymous_viewer_and_provisioning(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    mounts = {target: source for source, target, _ in _binds(grafana)}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    assert mounts["/var/lib/grafana/dashboards"] == "./deploy/grafana/dashboards"


@pytest.mark.parametrize("profile", [None, "demo"])
def test_docker_compose_config_validates(profile: str | None) -> None:
    args = [_tool("docker-compose"), "-f", "docker-compose.yml"]
    if profile:
        args += ["--profile", profile]
    result = _run([*args, "config", "-q"], cwd=ROOT)
    assert result.returncode == 0, result.stderr or result.stdout


def test_docker_compose_config_rejects_a_broken_file(tmp_path: Path) -> None:
    """The validator above really validates: a bad condition must fail it."""
    text = (ROOT / "docker-compose.yml").read_text()
    broken = text.replace("service_completed_successfully", "service_finished", 1)
    assert broken != text
    (tmp_path / "docker-compose.yml").write_text(broken)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    result = _run([_tool("docker-compose"), "-f", "docker-compose.yml", "config", "-q"], tmp_path)
    assert result.returncode != 0
    assert "service_finished" in result.stderr


# ---- Prometheus and Alertmanager configs -------------------------------------------------------


def test_promtool_check_config() -> None:
    result = _run([_tool("promtool"), "check", "config", "prometheus.yml"], cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_every_worker_replica(
    prometheus_config: dict[str, Any],
    services: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert prometheus_config["global"]["scrape_interval"] == "15s"
    assert prometheus_config["global"]["evaluation_interval"] == "15s"
    jobs = {job["job_name"]: job for job in prometheus_config["scrape_configs"]}
    job = jobs["isales-kpi"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["dns_sd_configs"] == [
        {"names": ["worker"], "type": "A", "port": 9108, "refresh_interval": "15s"},
        {"names": ["worker-email"], "type": "A", "port": 9109, "refresh_interval": "15s"},
        {
            "names": ["worker-crm-attribution"],
            "type": "A",
            "port": 9110,
            "refresh_interval": "15s",
        },
        {"names": ["worker-crm"], "type": "A", "port": 9111, "refresh_interval": "15s"},
        {"names": ["worker-web"], "type": "A", "port": 9112, "refresh_interval": "15s"},
        {"names": ["worker-engagement"], "type": "A", "port": 9113, "refresh_interval": "15s"},
        {"names": ["worker-reach"], "type": "A", "port": 9114, "refresh_interval": "15s"},
    ]
    assert "static_configs" not in job
    # One A-record lookup per worker service (every replica), on the port that pipeline serves.
    discovered = {sd["names"][0]: sd["port"] for sd in job["dns_sd_configs"]}
    assert set(discovered) == set(WORKERS)
    for worker in WORKERS:
        assert discovered[worker] == _metrics_port(services, worker, monkeypatch), worker
    # The port tells the pipelines apart in `instance`.
    assert len(set(discovered.values())) == len(WORKERS), discovered


def test_prometheus_alerts_to_alertmanager(
    prometheus_config: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    targets = [
        target
        for manager in prometheus_config["alerting"]["alertmanagers"]
        for static in manager["static_configs"]
        for target in static["targets"]
    ]
    assert targets == ["alertmanager:9093"]
    assert "alertmanager" in services


def test_prometheus_files_land_where_the_config_expects(
    prometheus_config: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    prometheus = services["prometheus"]
    config_path = PurePosixPath(_command_flag(prometheus, "--config.file"))
    mounts = {PurePosixPath(target): source for source, target, _ in _binds(prometheus)}
    assert mounts[config_path] == "./deploy/prometheus/prometheus.yml"
    assert prometheus_config["rule_files"] == ["rules/*.yml"]
    for pattern in prometheus_config["rule_files"]:
        in_container = config_path.parent / PurePosixPath(pattern).parent
        assert in_container in mounts, f"{in_container} is not mounted"
        host_dir = ROOT / mounts[in_container]
        assert sorted(host_dir.glob(PurePosixPath(pattern).name)), f"{pattern} matches no file"


def test_alertmanager_config() -> None:
    config = _load(ROOT / "deploy" / "alertmanager" / "alertmanager.yml")
    route = config["route"]
    receivers = {receiver["name"] for receiver in config["receivers"]}
    assert route["receiver"] in receivers
    assert route["group_by"] == ["alertname", "team"]
    for child in route.get("routes", []):
        assert child["receiver"] in receivers


def _pipeline_of(command: list[str]) -> str:
    assert command[0] == "worker", command
    return command[command.index("--pipeline") + 1] if "--pipeline" in command else "calls"


def test_up_and_compose_run_the_same_services_with_the_same_files(
    services: dict[str, dict[str, Any]],
) -> None:
    """`stream-app up` (README's first command) and docker-compose are the same stack: the same
    pipelines, the same demo scenarios, the same rules, Alertmanager, targets and engagement
    files; only the scrape discovery differs (loopback ports against Compose DNS)."""
    from stream_app.ops.stack import ALERTMANAGER_CONFIG, JOB, RULES

    compose_pipelines = {
        _pipeline_of(svc["command"])
        for svc in services.values()
        if svc.get("command", [""])[0] == "worker"
    }
    assert compose_pipelines == set(cli.UP_PIPELINES)
    demos = {
        tuple(svc["command"][1:])
        for svc in services.values()
        if svc.get("command", [""])[0] == "demo"
    }
    live = ("--rate", f"{cli.UP_DEMO_RATE:g}")
    assert demos == {live, *((flag,) for flag in cli.UP_SEEDED_DEMOS)}
    assert {"prometheus", "alertmanager"} <= set(services)
    mounts = {v.split(":")[0] for svc in services.values() for v in svc.get("volumes", [])}
    for path in (
        RULES,
        ALERTMANAGER_CONFIG,
        ROOT / "deploy" / "targets.yml",
        ROOT / "deploy" / "engagement.yml",
    ):
        assert "./" + str(path.relative_to(ROOT)) in mounts, path
    compose_prometheus = _load(PROMETHEUS_DIR / "prometheus.yml")
    assert {job["job_name"] for job in compose_prometheus["scrape_configs"]} >= {JOB}
