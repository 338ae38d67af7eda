"""Erasing a lead on request, in the running stages and by `stream-app erase`
(docs/operations/personal-data.md, "Erasing a person").

The erasure list is a compacted topic keyed by the lead's hash (`spine.erasure.lead_hash`).
Every stage keyed by lead (web, engagement, reach, crm-attribution) reads it from the start,
whatever its app id, a tick at a time: a listed lead's later events count nowhere (the engine
drops them), and its state entries are deleted through the changelog, so neither a restart, a
replay nor another machine brings it back. Counts already made stay: an erasure removes the
person, not what the team did.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stream_app.kafka.client_config import aiokafka_options
from stream_app.spine.erasure import erased_entities, lead_hash

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from stream_app.settings import Settings
    from stream_app.spine.pipeline import Context

log = logging.getLogger(__name__)

LOAD_TIMEOUT_S = 60.0
"""The whole list read before the stage applies a record, or the batch waits and is tried
again (an erased lead's event must not slip through while the list is unread)."""

CONFIRM_WINDOW_MS = 600_000
"""A stage confirms an erasure on the audit topic when the erasure is this recent as it reads
it (the `erase` command waits for that); older ones, read again after a restart, are applied
without a word."""


class ErasureWatch:
    """A stage's reader of the erasure list (a pipeline extra: its tick runs under the state
    lock, between batches)."""

    def __init__(self, ctx: Context, stage: str) -> None:
        self.ctx = ctx
        self.stage = stage
        self.consumer: AIOKafkaConsumer | None = None

    def collectors(self) -> Sequence[Collector]:
        return []

    def start(self) -> None:
        pass

    async def _poll(self) -> dict[str, int]:
        """Hashes listed since the last poll, with when each was erased; the first poll reads
        the whole list (to its end offsets) before the stage applies any record."""
        s = self.ctx.settings
        fresh: dict[str, int] = {}
        if self.consumer is None:
            # No group: every partition, from the start, whatever the stage's app id.
            consumer = AIOKafkaConsumer(
                s.erasure_topic,
                **aiokafka_options(s),
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            await consumer.start()
            try:
                deadline = time.monotonic() + LOAD_TIMEOUT_S
                while not consumer.assignment():
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no partition of {s.erasure_topic} assigned")
                    self._read(await consumer.getmany(timeout_ms=100), fresh)
                tps = sorted(consumer.assignment())
                ends = await consumer.end_offsets(tps)
                while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{s.erasure_topic} not read to its end")
                    self._read(await consumer.getmany(timeout_ms=500), fresh)
            except BaseException:
                await consumer.stop()
                raise
            self.consumer = consumer
            return fresh
        while True:
            batches = await self.consumer.getmany(timeout_ms=0, max_records=10_000)
            if not batches:
                return fresh
            self._read(batches, fresh)

    def _read(self, batches: dict[Any, list[Any]], fresh: dict[str, int]) -> None:
        for records in batches.values():
            for record in records:
                if record.key is None or record.value is None:
                    continue
                digest = record.key.decode()
                if digest not in self.ctx.engine.erased:
                    body = orjson.loads(record.value)
                    fresh[digest] = int(body.get("erased_at", 0))

    async def close(self) -> None:
        """As the worker stops: its reader of the list."""
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            await consumer.stop()

    async def before_batch(self) -> None:
        """Before the stage applies its first batch: the whole list, so no event of an erased
        lead is applied after a restart or in a replay (a list that cannot be read fails the
        batch, which is read again). Later additions come with the ticks: what a lead's
        events rebuilt in between is deleted with the rest of its state."""
        if self.consumer is None:
            await self._apply()

    async def tick(self) -> None:
        try:
            await self._apply()
        except Exception as exc:  # the timer goes on; the next batch tries again
            log.warning("erasure list not read (%s): trying again", type(exc).__name__)

    async def _apply(self) -> None:
        fresh = await self._poll()
        if not fresh:
            return
        engine, family = self.ctx.engine, self.ctx.engine.family
        engine.erased |= fresh.keys()  # first: no later event of theirs is applied
        entries: Counter[str] = Counter()
        tombstones: list[Awaitable[Any]] = []
        forget = getattr(family, "erased_records", None)
        for key, entity, digest in erased_entities(engine.store.keys("e/"), set(fresh)):
            value = engine.store.get(key)
            if value is None:
                continue
            engine.store.delete(key, value["p"])
            entries[digest] += 1
            for role, record_key in forget(entity) if forget is not None else []:
                topic = self.ctx.outputs[role].topic
                tombstones.append(await self.ctx.produce(topic, record_key, None))
        now = self.ctx.clock.now_ms()
        confirms = []
        for digest, erased_at in fresh.items():
            if now - erased_at > CONFIRM_WINDOW_MS:
                continue
            body = {
                "kind": "stage",
                "lead_hash": digest,
                "stage": self.stage,
                "worker": self.ctx.settings.worker_id or f"port-{self.ctx.settings.port_offset}",
                "at": now,
                "state_entries": entries[digest],
            }
            audit = self.ctx.settings.erasure_audit_topic
            confirms.append(await self.ctx.produce(audit, digest.encode(), orjson.dumps(body)))
        for fut in (*tombstones, *confirms):
            await fut
        log.info(
            "erasure list: %d leads applied, %d state entries deleted",
            len(fresh),
            entries.total(),
        )


# ---- stream-app erase ----------------------------------------------------------------------


async def erase(
    s: Settings, leads: list[str], stages: list[str], timeout_s: float
) -> dict[str, Any]:
    """List `leads` for erasure, tombstone their keys on the compacted KPI topics keyed by
    lead, and wait until every stage in `stages` confirmed each; returns the report."""
    from stream_app.kafka.topics import ensure_topics, retention_ms, topic_kinds

    await ensure_topics(s)
    started = int(time.time() * 1000)
    hashes = {lead: lead_hash(lead) for lead in leads}
    producer = AIOKafkaProducer(**aiokafka_options(s), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sends = []
        for digest in hashes.values():
            body = orjson.dumps({"lead_hash": digest, "erased_at": started})
            sends.append(await producer.send(s.erasure_topic, body, key=digest.encode()))
        tombstoned = [s.kpi_engagement_topic]
        for lead in leads:
            sends.append(await producer.send(s.kpi_engagement_topic, None, key=lead.encode()))
        for fut in sends:
            await fut
        confirmed = await _confirmations(s, set(hashes.values()), stages, started, timeout_s)
        kinds = topic_kinds(s)
        retention_only = [
            {
                "topic": topic,
                "until": time.strftime(
                    "%Y-%m-%d", time.gmtime((started + retention_ms(s, kind)) / 1000)
                ),
            }
            for topic, kind in sorted(kinds.items())
            if kind in ("vendor", "source", "internal", "dead-letter")
        ]
        missing = {
            lead: sorted(set(stages) - set(confirmed.get(digest, {})))
            for lead, digest in hashes.items()
        }
        for lead, digest in hashes.items():
            record = {
                "kind": "erased",
                "lead_hash": digest,
                "at": started,
                "stages": confirmed.get(digest, {}),
                "not_confirmed": missing[lead],
                "tombstoned": tombstoned,
                "retention_only": retention_only,
            }
            await (
                await producer.send(
                    s.erasure_audit_topic, orjson.dumps(record), key=digest.encode()
                )
            )
        return {
            "leads": len(leads),
            "missing": {lead: m for lead, m in missing.items() if m},
            "retention_only": retention_only,
            "tombstoned": tombstoned,
        }
    finally:
        await producer.stop()


async def _confirmations(
    s: Settings, hashes: set[str], stages: list[str], since_ms: int, timeout_s: float
) -> dict[str, dict[str, int]]:
    """lead hash -> stage -> state entries it deleted, from the stages' audit records."""
    consumer = AIOKafkaConsumer(
        s.erasure_audit_topic,
        **aiokafka_options(s),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    out: dict[str, dict[str, int]] = defaultdict(dict)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if all(set(stages) <= out.get(h, {}).keys() for h in hashes):
                break
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    body = orjson.loads(record.value or b"{}")
                    digest = body.get("lead_hash")
                    if body.get("kind") != "stage" or digest not in hashes:
                        continue
                    if int(body.get("at", 0)) < since_ms:
                        continue
                    stage = str(body.get("stage"))
                    out[digest][stage] = out[digest].get(stage, 0) + int(body["state_entries"])
    finally:
        await consumer.stop()
    return dict(out)


def run_erase(s: Settings, leads: list[str], timeout_s: float) -> int:
    from stream_app import registry

    stages = [
        spec.name for spec in registry.pipelines(s) if getattr(spec.family, "erasable", False)
    ]
    report = asyncio.run(erase(s, leads, stages, timeout_s))
    print(f"erased {report['leads']} lead(s) from the stages keyed by lead: {', '.join(stages)}")
    print(f"tombstoned on: {', '.join(report['tombstoned'])}")
    for lead, missing in report["missing"].items():
        print(f"not confirmed within {timeout_s:g} s by: {', '.join(missing)} ({lead_hash(lead)})")
    print("records only retention removes (the lead's events as they came in):")
    for item in report["retention_only"]:
        print(f"  {item['topic']}: gone by {item['until']}")
    return 1 if report["missing"] else 0
