"""The personal-data map (docs/operations/personal-data.md) stays true where a test can tell:
it lists every topic the service creates and every pipeline that keeps state, and every
setting it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from stream_app import registry
from stream_app.kafka.topics import topic_kinds
from stream_app.settings import Settings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "operations" / "personal-data.md"


def test_every_topic_the_service_creates_is_on_the_map() -> None:
    text = PAGE.read_text()
    missing = [name for name in topic_kinds(Settings()) if f"`{name}`" not in text]
    assert not missing, f"not on the personal-data map: {missing}"


def test_every_stateful_pipeline_is_on_the_map() -> None:
    state = PAGE.read_text().split("### State", 1)[1].split("### Everything else", 1)[0]
    for spec in registry.pipelines(Settings()):
        name = "normalise-*" if spec.name.startswith("normalise-") else spec.name
        assert f"`{name}`" in state, spec.name


def test_every_setting_it_names_exists() -> None:
    named = set(re.findall(r"ISALES_([A-Z0-9_]+)", PAGE.read_text()))
    fields = {name.upper() for name in Settings.model_fields}
    assert named and named <= fields, named - fields
