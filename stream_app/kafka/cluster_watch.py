"""Notice a cluster that lost what this pipeline's state remembers.

A broker that came back empty (a wiped volume, a re-created topic, an unclean leader
election) leaves the worker's state ahead of the topic: end offsets below offsets already
applied. Faust then waits forever in a rebalance, and a restart would silently skip the new
records as "already applied". Neither is acceptable, so the worker checks, from its own client
and without the state lock, and stops with one clear message instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from stream_app.kafka.client_config import aiokafka_options
from stream_app.settings import Settings

log = logging.getLogger(__name__)

MISSING_CHECKS = 3
"""Consecutive checks that must miss the topic before it is declared gone (a broker that is
just restarting answers metadata before it has loaded every topic)."""


def behind(next_offsets: dict[int, int], ends: dict[int, int]) -> list[tuple[int, int, int]]:
    """(partition, end offset, next offset of state) wherever the topic ends before what the
    state has applied. End offsets never go down on a healthy cluster."""
    return [
        (part, ends[part], nxt)
        for part, nxt in sorted(next_offsets.items())
        if part in ends and ends[part] < nxt
    ]


def lost_message(topic: str, app_id: str, rows: list[tuple[int, int, int]]) -> str:
    parts = ", ".join(f"[{p}] ends at {end}, state applied up to {nxt - 1}" for p, end, nxt in rows)
    return (
        f"{topic} lost records this pipeline already counted ({parts}): the cluster was wiped "
        "or the topic re-created. The KPI state no longer matches the topic, so the worker "
        f"stops rather than skip new records as already applied. To start over, delete the "
        f"consumer group {app_id} and the topic {app_id}-*-state-changelog, then start again."
    )


@dataclass
class ClusterWatch:
    settings: Settings
    topic: str
    app_id: str
    next_offsets: Callable[[], dict[int, int]]
    timeout_s: float = 10.0
    misses: int = 0
    _consumer: Any = field(default=None, repr=False)
    _admin: Any = field(default=None, repr=False)

    async def _clients(self) -> tuple[Any, Any]:
        if self._consumer is None:
            options = aiokafka_options(self.settings)
            admin = AIOKafkaAdminClient(**options)
            await admin.start()
            consumer = AIOKafkaConsumer(**options, enable_auto_commit=False)
            await consumer.start()
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def check(self) -> str | None:
        """A fatal message, or None when the topic still holds what the state applied (or
        the broker cannot be asked right now: an outage is not data loss)."""
        try:
            return await asyncio.wait_for(self._check(), self.timeout_s)
        except Exception as exc:  # the broker is down or slow: try again next time
            log.debug("cluster check skipped: %r", exc)
            return None

    async def _check(self) -> str | None:
        admin, consumer = await self._clients()
        described = (await admin.describe_topics([self.topic]))[0]
        if described.get("error_code", 0) != 0 or not described.get("partitions"):
            self.misses += 1
            if self.misses >= MISSING_CHECKS:
                return (
                    f"{self.topic} no longer exists on the cluster: it was deleted or the "
                    "cluster wiped. The worker stops; start it again once the topic is back "
                    "(a new cluster also needs the state reset, see the README)."
                )
            return None
        self.misses = 0
        nexts = self.next_offsets()
        if not nexts:
            return None
        parts = {int(p["partition"]) for p in described["partitions"]}
        tps = [TopicPartition(self.topic, p) for p in sorted(nexts) if p in parts]
        # A partition the state knows that the topic lacks (re-created with fewer) ends at 0.
        ends = dict.fromkeys(set(nexts) - parts, 0)
        ends.update({tp.partition: int(o) for tp, o in (await consumer.end_offsets(tps)).items()})
        rows = behind(nexts, ends)
        return lost_message(self.topic, self.app_id, rows) if rows else None

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            await self._admin.close()
            self._consumer = self._admin = None
