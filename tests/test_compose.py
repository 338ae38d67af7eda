"""docker-compose.yml can't be run here (no Docker engine); check what can be checked."""

from __future__ import annotations

from pathlib import Path

import yaml

from stream_app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_parses_and_pins_images() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "worker", "demo"} <= set(services)
    for name, service in services.items():
        image = service.get("image", "")
        assert image and ":" in image and not image.endswith(":latest"), name
    assert "healthcheck" in services["kafka"] and "healthcheck" in services["worker"]


def test_compose_environment_names_real_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    fields = {f"ISALES_{name.upper()}" for name in Settings.model_fields}
    fields.add("KAFKA_BOOTSTRAP_SERVERS")
    for service in ("worker", "demo"):
        for name in compose["services"][service]["environment"]:
            assert name in fields, f"{service}: {name} is not a setting"
