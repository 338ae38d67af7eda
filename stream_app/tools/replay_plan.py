"""What a replay owns, named before it starts: its app id, the topics it writes under other
names, its consumer groups, Faust's topics, its state and log folders. The replay writes it down
as a manifest, and `replay --cleanup` removes exactly that (docs/operations/backfills.md).

A replay never appends to a topic of the live system: it re-sends every record it makes, and an
unkeyed record sent twice counts twice (a dead-letter copy, a late copy, a touch between stages,
an erasure confirmation). With `--topic-suffix` every topic it writes takes the suffix; without
one, the KPI topics, keyed and compacted, are rewritten in place by design, and every other topic
it writes is named `<topic>.<app id>`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stream_app import registry
from stream_app.kafka.topics import topic_kinds
from stream_app.settings import Settings

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
"""An app id: it names topics, consumer groups and folders (no '/', never '.' or '..')."""
SUFFIX = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
"""A topic suffix: characters Kafka allows in a topic name."""


def replay_dir(s: Settings, app_id: str) -> Path:
    """The replay's own folder: its manifest and one log per pipeline."""
    return s.data_dir / "replays" / app_id


def manifest_path(s: Settings, app_id: str) -> Path:
    return replay_dir(s, app_id) / "manifest.json"


def under(s: Settings, app_id: str) -> Settings:
    """The settings with another app id (every pipeline's group and changelogs follow it)."""
    return s.model_copy(update={"app_id": app_id})


def live_topics(s: Settings) -> set[str]:
    """Every topic the live system creates: the service's and Faust's of each pipeline."""
    names = set(topic_kinds(s))
    for spec in registry.pipelines(s):
        names.update(spec.internal_topics)
    return names


def live_groups(s: Settings) -> set[str]:
    return {spec.app_id for spec in registry.pipelines(s)}


def check_app_id(s: Settings, app_id: str) -> None:
    """Refuse an app id whose consumer groups would be the live system's."""
    if not NAME.match(app_id):
        raise ValueError(
            f"app id {app_id!r}: 1-100 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit"
        )
    if app_id == s.app_id:
        raise ValueError(f"app id {app_id!r} is the live ISALES_APP_ID")
    shared = live_groups(s) & live_groups(under(s, app_id))
    if shared:
        raise ValueError(
            f"app id {app_id!r} would use the live consumer group(s) {', '.join(sorted(shared))}"
        )


@dataclass(frozen=True)
class Plan:
    app_id: str
    pipelines: tuple[str, ...]
    suffix: str | None
    renamed: dict[str, str]
    """Live topic -> the replay's name for it."""
    env: dict[str, str]
    """ISALES_* variables of the replay's workers (app id and renamed topics)."""
    groups: tuple[str, ...]
    internal_topics: tuple[str, ...]
    state_dirs: tuple[Path, ...]
    log_dir: Path

    def log(self, pipeline: str) -> Path:
        return self.log_dir / f"{pipeline}.log"

    def manifest(self, s: Settings) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "live_app_id": s.app_id,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "pipelines": list(self.pipelines),
            "suffix": self.suffix,
            "renamed": self.renamed,
            "groups": list(self.groups),
            "internal_topics": list(self.internal_topics),
            "state_dirs": [str(p) for p in self.state_dirs],
            "log_dir": str(self.log_dir),
        }

    def write_manifest(self, s: Settings) -> Path:
        path = manifest_path(s, self.app_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.manifest(s), indent=2) + "\n")
        return path


def plan(s: Settings, pipelines: list[str], app_id: str, suffix: str | None) -> Plan:
    """With a suffix, every output topic of the replayed pipelines and the dead-letter, late
    and erasure audit topics get it; without, every one but the KPI topics (compacted), as
    `.<app id>`."""
    check_app_id(s, app_id)
    if suffix is not None and not SUFFIX.match(suffix):
        raise ValueError(f"topic suffix {suffix!r}: 1-100 letters, digits, '.', '_' or '-'")
    specs = [registry.spec_for(s, name) for name in pipelines]
    outputs = [out for spec in specs for out in spec.outputs.values()]
    # A stage keyed by lead confirms erasures on the audit topic: the replay's confirmations are
    # not the live stage's (`stream-app erase` waits for those).
    renaming = {s.dlq_topic, s.late_topic, s.erasure_audit_topic}
    renaming |= {out.topic for out in outputs if suffix or not out.compacted}
    tail = suffix or f".{app_id}"
    fields = {
        name: value
        for name, value in s.model_dump().items()
        if name.endswith("_topic") and value in renaming
    }
    renamed = {value: f"{value}{tail}" for value in fields.values()}
    clash = sorted(set(renamed.values()) & live_topics(s))
    if clash:
        raise ValueError(f"the replay's topics would be live ones: {', '.join(clash)}")
    replayed = [registry.spec_for(under(s, app_id), name) for name in pipelines]
    return Plan(
        app_id=app_id,
        pipelines=tuple(pipelines),
        suffix=suffix,
        renamed=renamed,
        env={
            "ISALES_APP_ID": app_id,
            **{f"ISALES_{name.upper()}": f"{value}{tail}" for name, value in fields.items()},
        },
        groups=tuple(spec.app_id for spec in replayed),
        internal_topics=tuple(t for spec in replayed for t in spec.internal_topics),
        state_dirs=tuple(s.data_dir / spec.app_id for spec in replayed),
        log_dir=replay_dir(s, app_id),
    )


def read_manifest(s: Settings, app_id: str) -> dict[str, Any] | None:
    path = manifest_path(s, app_id)
    if not path.exists():
        return None
    found: dict[str, Any] = json.loads(path.read_text())
    return found


def manifests(s: Settings) -> dict[str, dict[str, Any]]:
    """Every replay's manifest under ISALES_DATA_DIR, by app id."""
    out = {}
    for path in sorted((s.data_dir / "replays").glob("*/manifest.json")):
        try:
            out[path.parent.name] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return out
