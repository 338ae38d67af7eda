"""`stream-app replay --cleanup --app-id X`: remove what a replay leaves behind, and nothing of
the live system.

What is X's: the manifest's renamed topics, and on the broker every topic Faust made under X's
prefix (`X-<table>-changelog`, ...), every topic renamed with its suffix or `.X`, and the
consumer group of each pipeline under X (`X`, `X-<pipeline>`), so a replay whose manifest is
lost is still found; its state folders and its log folder. What is never touched, whatever its
name: the live topics (the service's and Faust's of each live pipeline), the live consumer
groups, the names of a live or other replay's app id that extends X (`X-b-...`), and renamed
topics another replay's manifest also lists (the same suffix twice).
X may not be the live ISALES_APP_ID. Nothing is removed while one of X's consumer groups has
members (the replay still running, or workers promoted to X); groups go first, then topics, then
folders.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import GroupIdNotFound, UnknownTopicOrPartitionError, for_code
from aiokafka.protocol.admin import (
    DeleteGroupsRequest,
    DescribeGroupsRequest_v0,
    DescribeGroupsRequest_v1,
    DescribeGroupsRequest_v2,
)
from aiokafka.protocol.api import Request
from rich.console import Console

from stream_app import registry
from stream_app.kafka.client_config import aiokafka_options
from stream_app.settings import Settings
from stream_app.tools.replay_plan import (
    check_app_id,
    live_groups,
    live_topics,
    manifests,
    read_manifest,
    replay_dir,
    under,
)

EXIT_DONE, EXIT_LEFT, EXIT_REFUSED = 0, 1, 2
FAUST_TOPICS = ("-changelog", "-repartition", "-__assignor-__leader")
"""How the topics Faust creates for an app id end (`<app id>-<table>-changelog`, ...): a topic
that merely starts with the app id may be another application's on a shared cluster."""
GONE_TIMEOUT_S = 30.0
"""Topic deletion is asynchronous on the broker: how long the check waits for it."""


@dataclass(frozen=True)
class Scope:
    """What belongs to replay `app_id`, and what is never touched."""

    app_id: str
    suffix: str | None
    named: frozenset[str]
    """Topics named by the manifest or derived from the settings."""
    groups: frozenset[str]
    folders: tuple[Path, ...]
    protected_topics: frozenset[str]
    protected_groups: frozenset[str]
    protected_prefixes: tuple[str, ...]
    shared: dict[str, str]
    """A renamed topic another replay's manifest lists too -> that replay's app id."""

    def _tails(self) -> tuple[str, ...]:
        return (f".{self.app_id}", *((self.suffix,) if self.suffix else ()))

    def _safe(self, name: str, protected: frozenset[str]) -> bool:
        return name not in protected and not name.startswith(self.protected_prefixes)

    def topic(self, name: str) -> bool:
        """Whether topic `name` is this replay's to delete: one it renamed, or one Faust
        made for its app id (a pipeline no longer registered included)."""
        renamed = name in self.named and name.endswith(self._tails())
        faust = name.startswith(f"{self.app_id}-") and name.endswith(FAUST_TOPICS)
        return (
            (renamed or faust)
            and self._safe(name, self.protected_topics)
            and name not in self.shared
        )

    def group(self, name: str) -> bool:
        return name in self.groups and self._safe(name, self.protected_groups)


def scope(s: Settings, app_id: str, suffix: str | None) -> Scope:
    check_app_id(s, app_id)
    manifest = read_manifest(s, app_id) or {}
    suffix = suffix or manifest.get("suffix")
    mine = registry.pipelines(under(s, app_id))
    topics = [v for k, v in s.model_dump().items() if k.endswith("_topic") and isinstance(v, str)]
    # Without the manifest (lost, or an older replay's), every name the replay could have used.
    named = {f"{topic}.{app_id}" for topic in topics}
    named |= {f"{topic}{suffix}" for topic in topics} if suffix else set()
    named |= set(manifest.get("renamed", {}).values())
    named |= {t for spec in mine for t in spec.internal_topics}
    others = {other: m for other, m in manifests(s).items() if other != app_id}
    shared = {
        topic: other
        for other, m in others.items()
        for topic in m.get("renamed", {}).values()
        if topic in named
    }
    longer = [x for x in (s.app_id, *others) if x.startswith(f"{app_id}-")]
    state = {spec.app_id for spec in mine}
    folders = [s.data_dir / name for name in sorted(state)]
    # The manifest's state folders, if ISALES_DATA_DIR moved since: the same names only.
    folders += [Path(p) for p in manifest.get("state_dirs", []) if Path(p).name in state]
    folders.append(replay_dir(s, app_id))
    return Scope(
        app_id=app_id,
        suffix=suffix,
        named=frozenset(named),
        groups=frozenset(state),
        folders=tuple(dict.fromkeys(folders)),
        protected_topics=frozenset(live_topics(s)),
        protected_groups=frozenset(live_groups(s)),
        protected_prefixes=tuple(f"{x}-" for x in longer),
        shared=shared,
    )


async def _broker_names(s: Settings) -> tuple[list[str], list[str]]:
    admin = AIOKafkaAdminClient(**aiokafka_options(s))
    await admin.start()
    try:
        topics = await admin.list_topics()
        groups = [str(g[0]) for g in await admin.list_consumer_groups()]
        return sorted(topics), sorted(groups)
    finally:
        await admin.close()


class _DescribeGroups(
    Request[  # type: ignore[misc]  # aiokafka ships no type information
        DescribeGroupsRequest_v0 | DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2
    ]
):
    """DescribeGroups up to version 2. aiokafka 0.14 pairs its version 3 request with the
    version 2 response, which fails to decode (and closes the connection) on Kafka 4.x:
    `AIOKafkaAdminClient.describe_consumer_groups` cannot be used."""

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self.groups = groups

    def build(self, request_struct_class: Any) -> Any:
        return request_struct_class(self.groups)


async def _to_coordinators(
    s: Settings, groups: list[str], request: Callable[[str], Any]
) -> list[Any]:
    """`request(group)` sent to each group's coordinator, on a client of our own (aiokafka's
    admin client finds the coordinator but sends neither request below); the responses."""
    admin = AIOKafkaAdminClient(**aiokafka_options(s))
    client = AIOKafkaClient(**aiokafka_options(s))
    await admin.start()
    await client.bootstrap()
    try:
        return [
            await client.send(await admin.find_coordinator(group), request(group))
            for group in groups
        ]
    finally:
        await client.close()
        await admin.close()


async def _members(s: Settings, groups: list[str]) -> dict[str, int]:
    """Group -> members it has now."""
    responses = await _to_coordinators(s, groups, lambda group: _DescribeGroups([group]))
    return {
        str(found["group"]): len(found["members"])
        for response in responses
        for found in response.to_object()["groups"]
    }


async def _delete_groups(s: Settings, groups: list[str]) -> dict[str, int]:
    """Group -> Kafka error code (0: deleted). aiokafka's admin client has no DeleteGroups."""
    responses = await _to_coordinators(s, groups, lambda group: DeleteGroupsRequest([group]))
    return {
        str(group_id): int(code) for response in responses for group_id, code in response.results
    }


async def _delete_topics(s: Settings, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(**aiokafka_options(s))
    await admin.start()
    try:
        response: Any = await admin.delete_topics(topics)
        return {str(t): int(code) for t, code in response.topic_error_codes}
    finally:
        await admin.close()


def cleanup(s: Settings, app_id: str, suffix: str | None, console: Console) -> int:
    try:
        found = scope(s, app_id, suffix)
    except ValueError as exc:
        console.print(f"stream-app replay --cleanup: refused: {exc}", markup=False)
        return EXIT_REFUSED

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False)

    for topic, other in sorted(found.shared.items()):
        say(f"kept topic {topic}: replay {other} wrote it too (its manifest names it)")
    topics, groups = asyncio.run(_broker_names(s))
    doomed_groups = [g for g in groups if found.group(g)]
    # Nothing is removed while a group has members: the replay (or a worker promoted to this
    # app id) still runs. A static member (`--processes`) stays until its session expires.
    deadline = time.monotonic() + s.session_timeout_seconds + 5
    busy = asyncio.run(_members(s, doomed_groups)) if doomed_groups else {}
    while any(busy.values()) and time.monotonic() < deadline:
        time.sleep(1.0)
        busy = asyncio.run(_members(s, doomed_groups))
    running = sorted(g for g, n in busy.items() if n)
    if running:
        say(
            f"consumer group(s) {', '.join(running)} have members: a worker runs under this app "
            "id (the replay still running?). Stop it first; nothing was removed."
        )
        return EXIT_LEFT
    if doomed_groups:
        codes = asyncio.run(_delete_groups(s, doomed_groups))
        for group, code in sorted(codes.items()):
            if code == 0:
                say(f"removed consumer group {group}")
            elif code != GroupIdNotFound.errno:
                say(f"consumer group {group} not removed: {for_code(code).__name__}")
        if any(code not in (0, GroupIdNotFound.errno) for code in codes.values()):
            return EXIT_LEFT
    doomed_topics = [t for t in topics if found.topic(t)]
    if doomed_topics:
        codes = asyncio.run(_delete_topics(s, doomed_topics))
        for topic, code in sorted(codes.items()):
            if code in (0, UnknownTopicOrPartitionError.errno):
                say(f"removed topic {topic}")
            else:
                say(f"topic {topic} not removed: {for_code(code).__name__}")
    for folder in found.folders:
        if folder.exists():
            shutil.rmtree(folder)
            say(f"removed folder {folder}")
    left = _left(s, found)
    if left:
        say(f"left of replay {app_id}: {', '.join(left)}")
        return EXIT_LEFT
    say(f"nothing of replay {app_id} is left")
    return EXIT_DONE


def _left(s: Settings, found: Scope) -> list[str]:
    """What is still there, once the broker has had time to finish deleting topics."""
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while True:
        topics, groups = asyncio.run(_broker_names(s))
        left = [f"topic {t}" for t in topics if found.topic(t)]
        left += [f"consumer group {g}" for g in groups if found.group(g)]
        left += [f"folder {f}" for f in found.folders if f.exists()]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(1.0)
