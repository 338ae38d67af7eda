"""The Faust worker: one thin agent per source topic, plus one timer for windows over time."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable
from typing import Any, cast

import faust
import orjson
from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from faust.exceptions import ProducerSendError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from schemas.common import from_ms
from stream_app import crm_kpis, email_kpis
from stream_app.clock import Clock, SystemClock
from stream_app.cluster_watch import ClusterWatch
from stream_app.crm_metrics import CrmCollector
from stream_app.dead_letter import SideRecord, metadata_only, side_record
from stream_app.email_metrics import EmailCollector
from stream_app.engine import Engine
from stream_app.family import Family
from stream_app.health import StallWatch
from stream_app.ingest import decide
from stream_app.kafka_config import faust_credentials
from stream_app.kpi import kpi_key, kpi_record
from stream_app.logstorm import LogStorm
from stream_app.metrics import (
    LabelGuard,
    RebalanceCollector,
    SequencerCollector,
    StateCollector,
)
from stream_app.pacing import PacingCollector, RepDay, pace, pacing_key, pacing_record
from stream_app.pipelines import Pipeline, spec_for
from stream_app.sequence import OffsetSequencer
from stream_app.settings import Settings
from stream_app.store import Value
from stream_app.targets import TargetsStore
from stream_app.topics import ensure_topics
from stream_app.web_auth import authorized, challenge
from stream_app.windows import window_for

log = logging.getLogger(__name__)
METRIC_PREFIX = "isales"
IDLE_CHECK_MS = 2_000


class FaustTableStore:
    """StateStore over a Faust table. Writes update the table at once and queue their changelog
    records; `drain()` hands them to the Kafka producer in order, and the agent awaits it before
    its events are acknowledged.

    Faust's own path (`send_changelog` -> `send_soon`) is not used: its buffer flush returns
    after a 0.1 s wait even with records still queued, so an offset commit could overtake the
    state it covers and a `kill -9` then lost events (seen here: 23 of 17,135)."""

    def __init__(self, app: Any, table: Any) -> None:
        self.app = app
        self.table = table
        self.outbox: list[tuple[str, Value | None, int]] = []

    def get(self, key: str) -> Value | None:
        value: Value | None = self.table.data.get(key)
        return value

    def put(self, key: str, value: Value, partition: int) -> None:
        self.table.data[key] = value
        self.outbox.append((key, value, partition))

    def delete(self, key: str, partition: int) -> None:
        self.table.data.pop(key, None)
        self.outbox.append((key, None, partition))

    def items(self) -> list[tuple[str, Value]]:
        return [(k, v) for k, v in self.table.data.items() if v is not None]

    async def drain(self) -> None:
        outbox, self.outbox = self.outbox, []
        topic = self.table.changelog_topic.get_topic_name()
        for key, value, partition in outbox:
            # Bytes as Faust's json codec writes them, and a real tombstone (None) on delete,
            # which Faust's serializer would turn into b"null". Sequential sends keep the
            # per-partition order that replay relies on.
            await self.app.producer.send(
                topic,
                orjson.dumps(key),
                None if value is None else orjson.dumps(value),
                partition=partition,
                timestamp=None,
                headers=None,
            )


class QuietWorker(faust.Worker):
    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        # mode leaves the root logger at DEBUG and filters in the handler, so every debug()
        # call in aiokafka and Faust built a LogRecord: a sixth of the worker's CPU.
        logger.setLevel(level)
        super().on_setup_root_logger(logger, level)


class Worker(QuietWorker):
    """The service's worker: readable logs during outages and a bounded shutdown."""

    def __init__(self, service: Service, **kwargs: Any) -> None:
        super().__init__(service.app, **kwargs)
        self.service = service

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        self.service.log_storm.install(logger)

    def _schedule_shutdown(self, signal: signal.Signals) -> None:
        # Faust's stop waits on the producer and the group coordinator; with the broker gone
        # that took 40 s and more. State and offsets are crash-safe, so past the timeout the
        # process simply ends (what a SIGKILL would do, minus the surprise).
        timeout = self.service.settings.shutdown_timeout_seconds
        watchdog = threading.Timer(timeout, _exit_after_timeout, args=(timeout,))
        watchdog.daemon = True
        watchdog.start()
        super()._schedule_shutdown(signal)


EXIT_STATE_MISMATCH = 3
"""Exit status when the cluster no longer holds what the state counted (see ClusterWatch)."""


def _exit_fatal(message: str) -> None:
    # Not a graceful stop: Faust's is what hangs on such a cluster, and nothing is lost by
    # ending (state and offsets are crash-safe).
    log.critical(message)
    logging.shutdown()
    os._exit(EXIT_STATE_MISMATCH)


def _exit_after_timeout(timeout: float) -> None:
    log.warning(
        "shutdown did not finish within ISALES_SHUTDOWN_TIMEOUT_SECONDS=%s; exiting now "
        "(state and offsets are crash-safe: the next start resumes exactly)",
        timeout,
    )
    logging.shutdown()
    os._exit(0)


_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)


class Service:
    """Builds the Faust app from settings; holds the engine, topics and metrics of the worker."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
        pipeline: Pipeline = "calls",
    ) -> None:
        s = self.settings = settings
        self.pipeline = pipeline
        spec = self.spec = spec_for(s, pipeline)
        self.clock = clock or SystemClock()
        self.registry = registry or CollectorRegistry()
        self.app = faust.App(
            spec.app_id,
            broker=[f"kafka://{b}" for b in s.bootstrap_list],
            broker_credentials=faust_credentials(s),
            store="memory://",
            autodiscover=False,
            consumer_auto_offset_reset="earliest",
            processing_guarantee="at_least_once",
            table_standby_replicas=0,
            topic_partitions=s.partitions,
            topic_replication_factor=s.replication_factor,
            topic_disable_leader=True,
            broker_session_timeout=s.session_timeout_seconds,
            broker_heartbeat_interval=min(3.0, s.session_timeout_seconds / 3),
            producer_acks=-1,
            # At least the broker's limit (message.max.bytes, ~1 MB by default), so the
            # producer never refuses a copy the broker would take.
            producer_max_request_size=s.producer_max_request_bytes,
            web_enabled=True,
            web_bind=s.metrics_host,
            web_host=s.metrics_host,
            web_port=spec.port,
            web_in_thread=False,
            # Only the pages we mean: Faust's /table pages serve stored state (event ids, call
            # times) and /router the cluster's layout, unauthenticated, on this port.
            web_tables_enabled=False,
            web_router_enabled=False,
            web_stats_enabled=False,
            web_graph_enabled=False,
            web_metrics_enabled=False,
            logging_config=None,
            # Table keys and values go to the changelog as JSON and come back as str and dict.
            key_serializer="json",
            value_serializer="json",
        )
        self.source_name = spec.source
        self.topics = spec.topics
        self.source_topic = self._raw_topic(self.source_name)
        self.table = self.app.Table(
            f"{pipeline}-state",
            default=None,
            partitions=s.partitions,
        )
        self.family: Family[Any] = spec.family
        self.table_store = FaustTableStore(self.app, self.table)
        dedupe_hours = spec.dedupe_hours
        self.engine: Engine[Any] = Engine(
            self.family,
            self.table_store,
            self.clock,
            specs=s.window_specs,
            tz=s.business_timezone,
            grace_ms=s.grace_ms,
            window_retention_ms=int(s.window_retention_hours * 3_600_000),
            dedupe_retention_ms=int(dedupe_hours * 3_600_000),
        )
        # Faust warns on every producer back-pressure cycle; that is flow control, not news.
        logging.getLogger("faust.transport.producer").setLevel(logging.ERROR)
        self.lock = asyncio.Lock()
        self.stalls = StallWatch(int(s.stall_timeout_seconds * 1000))
        self.log_storm = LogStorm(self.clock, interval_ms=int(s.outage_log_interval_seconds * 1000))
        self._emitted: list[Awaitable[Any]] = []
        self._side: list[tuple[str, SideRecord, Awaitable[Any]]] = []
        self.sequencer = OffsetSequencer()
        self._beginning: dict[int, int] = {}
        self.registry.register(SequencerCollector(self.sequencer, METRIC_PREFIX, self.source_name))
        self._indexed: set[int] | None = None
        self._last_sweep = time.monotonic()
        guard = self.guard = LabelGuard(
            {
                "rep": s.label_cap_rep,
                "team": s.label_cap_team,
                "campaign": s.label_cap_campaign,
                "variant": s.label_cap_variant,
                "segment": s.label_cap_segment,
                "field": s.label_cap_field,
                "currency": s.label_cap_currency,
            }
        )
        self.rebalances = 0
        self.registry.register(RebalanceCollector(lambda: self.rebalances, METRIC_PREFIX))
        self.targets = TargetsStore(s.targets_file, s.business_timezone, self.clock)
        self._targets_checked = time.monotonic()
        self._pacing_published = 0.0
        self._day_spec = next((w for w in s.window_specs if w.name == "1d"), None)
        common: dict[str, Any] = {
            "prefix": METRIC_PREFIX,
            "source_topic": self.source_name,
            "owned": self.owned_partitions,
            "highwater": self._highwater,
            "guard": guard,
            "clock": self.clock,
        }
        if pipeline == "crm":
            self.registry.register(CrmCollector(self.engine, **common))
        elif pipeline == "crm-attribution":
            self.registry.register(StateCollector(self.engine, **common))
        elif pipeline == "email":
            self.registry.register(
                EmailCollector(
                    self.engine,
                    alpha=s.ab_alpha,
                    min_n=s.ab_min_delivered,
                    idle_ms=int(s.email_campaign_idle_hours * 3_600_000),
                    **common,
                )
            )
        else:
            self.targets.maybe_reload(force=True)
            if self._day_spec is None:
                log.warning("no 1d window configured (ISALES_WINDOWS): pacing has no actuals")
            self.registry.register(
                PacingCollector(
                    self.targets, self.rep_days, prefix=METRIC_PREFIX, label=guard, clock=self.clock
                )
            )
            self.registry.register(StateCollector(self.engine, **common))
        self._wire()

    def _raw_topic(self, name: str) -> Any:
        # Bytes in, bytes out: decoding is ours, so a bad record can reach the DLQ intact.
        return self.app.topic(
            name,
            partitions=self.settings.partitions,
            key_serializer="raw",
            value_serializer="raw",
        )

    # ---- ownership -------------------------------------------------------------------------

    def ready(self) -> bool:
        recovery = cast(Any, self.app.tables).recovery
        return bool(recovery.completed.is_set()) and not self.app.rebalancing

    def owned_partitions(self) -> set[int]:
        if not self.ready():
            return set()
        return {
            tp.partition for tp in self.app.consumer.assignment() if tp.topic == self.source_name
        }

    def _highwater(self, partition: int) -> int | None:
        try:
            hw = self.app.consumer.highwater(faust.types.TP(self.source_name, partition))
        except Exception:
            return None
        return None if hw is None else int(hw)

    def _applied_next(self, partition: int) -> int:
        return self.engine.next_offset(partition) or 0

    def _caught_up(self, partition: int) -> bool:
        hw = self._highwater(partition)
        return hw is not None and self._applied_next(partition) >= hw

    def _state_next_offsets(self) -> dict[int, int]:
        """Next offset per source partition this process holds state for."""
        out = {}
        for part in range(self.settings.partitions):
            nxt = self.engine.next_offset(part)
            if nxt is not None:
                out[part] = nxt
        return out

    def stalled_partitions(self) -> list[int]:
        """Owned partitions with records waiting that made no progress for
        ISALES_STALL_TIMEOUT_SECONDS."""
        owned = self.owned_partitions()
        self.stalls.forget_except(owned)
        now = self.clock.now_ms()
        return [
            part
            for part in sorted(owned)
            if self.stalls.observe(part, self._applied_next(part), self._highwater(part), now)
        ]

    # ---- wiring ----------------------------------------------------------------------------

    def _wire(self) -> None:
        app, s = self.app, self.settings

        @app.task  # type: ignore[untyped-decorator]
        async def create_topics() -> None:
            await ensure_topics(s)

        @app.agent(self.source_topic, concurrency=1)
        async def calls(stream: Any) -> Any:
            # take_events acks a batch only after this body has handled all of it.
            async for events in stream.take_events(
                s.batch_max_events, within=s.batch_within_seconds
            ):
                await self.handle([event.message for event in events])
                yield None

        @app.timer(interval=s.kpi_update_interval_seconds)  # type: ignore[untyped-decorator]
        async def windows_tick() -> None:
            await self.tick()

        @app.task  # type: ignore[untyped-decorator]
        async def watch_cluster() -> None:
            # Outside the state lock, on its own client: Faust is what hangs when this fires.
            await cast(Any, self.app.tables).recovery.completed.wait()
            watch = ClusterWatch(s, self.source_name, self.spec.app_id, self._state_next_offsets)
            while True:
                await asyncio.sleep(s.cluster_check_interval_seconds)
                fatal = await watch.check()
                if fatal is not None:
                    _exit_fatal(fatal)

        @app.task  # type: ignore[untyped-decorator]
        async def reload_on_sighup() -> None:
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP, lambda: self.targets.maybe_reload(force=True)
            )

        @app.on_partitions_assigned.connect
        async def count_rebalance(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            self.rebalances += 1

        @app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            if not authorized(
                request.headers.get("Authorization"),
                token=s.metrics_auth_token,
                user=s.metrics_basic_auth_user,
                password=s.metrics_basic_auth_password,
            ):
                return web.text(
                    "unauthorized\n",
                    status=401,
                    headers={"WWW-Authenticate": challenge(s.metrics_auth_token)},
                )
            return web.bytes(self.exposition(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

        @app.page("/healthz")
        async def healthz(web: Any, request: Any) -> Any:
            return web.json({"status": "ok"})

        @app.page("/readyz")
        async def readyz(web: Any, request: Any) -> Any:
            ready = self.ready()
            stalled = self.stalled_partitions() if ready else []
            body: dict[str, Any] = {
                "ready": ready and not stalled,
                "partitions": sorted(self.owned_partitions()),
            }
            if not ready:
                body["reason"] = "recovering state or rebalancing"
            elif stalled:
                body["reason"] = (
                    f"partitions {stalled} of {self.source_name} have records waiting and made "
                    f"no progress for {s.stall_timeout_seconds:g} s"
                )
                body["stalled"] = stalled
            return web.json(body, status=200 if body["ready"] else 503)

    def exposition(self) -> bytes:
        """The scrape, rendered from state as it is: never waits on the lock, which handle()
        and tick() hold while the producer waits on the broker (a scrape once took 31.7 s
        during an outage and Prometheus marked the worker down). Collectors only read, and
        between awaits the state is whole: each record's writes land in one synchronous step."""
        if not self.lock.locked():
            self._sync_index()
        self.guard.new_scrape()
        return generate_latest(self.registry)

    # ---- per record ------------------------------------------------------------------------

    async def _route(self, topic: str, msg: Any, meta: dict[str, str]) -> None:
        """A copy of the source record to the DLQ or late topic, sent now; handle() awaits the
        acknowledgement before the batch's state reaches the changelog and its offsets are
        committed, so a crash re-sends, never loses."""
        record = side_record(msg.key, msg.value, meta, self.settings.dlq_max_record_bytes)
        try:
            fut = await self._send_side(topic, record)
        except ProducerSendError as exc:
            if not isinstance(exc.__cause__, _TOO_LARGE):
                raise
            fut = await self._send_side(topic, metadata_only(record))
        self._side.append((topic, record, fut))

    async def _send_side(self, topic: str, record: SideRecord) -> Awaitable[Any]:
        fut: Awaitable[Any] = await self.app.producer.send(
            topic, record.key, record.value, partition=None, timestamp=None, headers=record.headers
        )
        return fut

    async def _await_side(self) -> None:
        side, self._side = self._side, []
        for topic, record, fut in side:
            try:
                await fut
            except _TOO_LARGE:
                # The topic takes less than ISALES_DLQ_MAX_RECORD_BYTES (its max.message.bytes
                # was set lower): keep provenance and reason rather than stall on the record.
                log.warning(
                    "%s refused a %d-byte copy as too large; sent its metadata only",
                    topic,
                    len(record.value or b"") + len(record.key or b""),
                )
                await (await self._send_side(topic, metadata_only(record)))

    async def _produce(self, topic: str, key: bytes, value: bytes) -> Awaitable[Any]:
        """KPI records straight to the producer: Faust's topic.send costs ~1.4 ms a record,
        which held the state lock (and scrapes) for seconds when a backlog finalised."""
        fut: Awaitable[Any] = await self.app.producer.send(
            topic, key, value, partition=None, timestamp=None, headers=None
        )
        return fut

    async def handle(self, messages: list[Any]) -> None:
        async with self.lock:
            for msg in messages:
                await self._handle_one(msg)
            emitted, self._emitted = self._emitted, []
            for fut in emitted:
                await fut
            await self._await_side()
            # Before the batch is acknowledged, its state writes must be with the producer.
            self.engine.flush()
            await self.table_store.drain()

    async def _next_offset(self, partition: int) -> int:
        nxt = self.engine.next_offset(partition)
        if nxt is not None:
            return nxt
        if partition not in self._beginning:
            # One request for every owned partition: each call costs ~1.5 s on Faust's
            # consumer thread, and the state lock (and so /metrics) waits on it.
            topic = self.source_name
            tps = {faust.types.TP(topic, p) for p in self.owned_partitions() | {partition}}
            earliest = await self.app.consumer.earliest_offsets(*tps)
            for tp in tps:
                self._beginning.setdefault(tp.partition, int(earliest.get(tp) or 0))
        return self._beginning[partition]

    async def _rewind(self, partition: int, expected: int, seen: int) -> None:
        log.warning(
            "offset gap on %s[%d]: state expects %d, consumer is at %d; seeking back",
            self.source_name,
            partition,
            expected,
            seen,
        )
        # seek_wait runs in the consumer's own thread and resets Faust's read offset;
        # plain seek() pokes aiokafka from this thread and was seen not to take.
        tp = faust.types.TP(self.source_name, partition)
        await self.app.consumer.seek_wait({tp: expected})

    async def _catch_up_idle(self, owned: set[int]) -> None:
        """A commit past the state with nothing new behind it delivers no record to notice
        the gap by; so a partition that has been quiet checks the consumer's position."""
        for part in sorted(owned):
            if self.engine.quiet_ms(part) < IDLE_CHECK_MS:
                continue
            expected = await self._next_offset(part)
            position = await self.app.consumer.position(faust.types.TP(self.source_name, part))
            if position is not None and position > expected:
                self.sequencer.rewinds += 1
                self.engine.touch(part)
                await self._rewind(part, expected, int(position))

    async def _in_sequence(self, msg: Any) -> bool:
        expected = await self._next_offset(msg.partition)
        action = self.sequencer.check(msg.partition, msg.offset, expected)
        if action == "rewind":
            await self._rewind(msg.partition, expected, msg.offset)
            return False
        if action == "accept_hole":
            log.warning(
                "offset hole on %s[%d] at %d..%d accepted after repeated rewinds",
                msg.topic,
                msg.partition,
                expected,
                msg.offset - 1,
            )
        return action != "skip"

    async def _handle_one(self, msg: Any) -> None:
        if not await self._in_sequence(msg):
            return
        decided = decide(
            self.engine,
            self.settings,
            key=msg.key,
            value=msg.value,
            partition=msg.partition,
            offset=msg.offset,
            now_ms=self.clock.now_ms(),
        )
        plan = decided.plan
        if plan.kind == "replayed":
            pass  # applied before a crash: nothing to send again
        elif decided.rejected is not None:
            meta = self._source_meta(msg)
            meta.update(
                {
                    "dlq.reason.class": decided.rejected.reason_class,
                    "dlq.reason": decided.rejected.reason,
                }
            )
            await self._route(self.settings.dlq_topic, msg, meta)
        else:
            # Downstream records must be acknowledged before the state that remembers them
            # reaches the changelog (handle() awaits them before draining it): a crash in
            # between re-sends them with the same event ids, never loses them.
            for role, key, value in plan.emits:
                self._emitted.append(await self._produce(self.topics[role], key, value))
            if plan.late_specs:
                meta = self._source_meta(msg)
                meta["late.windows"] = ",".join(plan.late_specs)
                await self._route(self.settings.late_topic, msg, meta)
        self.engine.commit(plan)

    def _source_meta(self, msg: Any) -> dict[str, str]:
        return {
            "source.topic": str(msg.topic),
            "source.partition": str(msg.partition),
            "source.offset": str(msg.offset),
            "routed_at": from_ms(self.clock.now_ms()).isoformat(),
        }

    def _sync_index(self) -> set[int]:
        owned = self.owned_partitions()
        if owned != self._indexed:
            self.engine.rebuild_index(owned)
            self.sequencer.reset()
            self._indexed = owned
        return owned

    # ---- KPI records ------------------------------------------------------------------------

    def _window_records(
        self, value: Value, *, final: bool, now_ms: int
    ) -> list[tuple[str, bytes, bytes]]:
        """(topic, key, record) for one window, by pipeline."""
        tz = self.settings.business_timezone
        if self.pipeline == "email":
            records = email_kpis.window_records(value, tz=tz, final=final, now_ms=now_ms)
            return [(self.topics["kpi"], k, v) for k, v in records]
        if self.pipeline == "crm":
            out = crm_kpis.window_records(value, tz=tz, final=final, now_ms=now_ms)
            return [(self.topics[role], k, v) for role, k, v in out]
        if self.pipeline == "crm-attribution":
            return []
        record = kpi_record(self.family, value, tz=tz, final=final, now_ms=now_ms)
        return [(self.topics["kpi"], kpi_key(self.family.name, value), record)]

    async def _publish_totals(self, owned: set[int], now: int) -> None:
        """Records built from totals whose values changed: email send cohorts and A/B, CRM
        handoff cohorts. Same keys each time, so a re-send after a crash overwrites."""
        s = self.settings
        for _key, totals in self.engine.take_dirty_totals():
            if totals["p"] not in owned:
                continue
            out: list[tuple[str, bytes, bytes]] = []
            if self.pipeline == "email":
                campaign, counts = totals["g"], totals["c"]
                cohorts = email_kpis.cohort_records(campaign, counts, now)
                out += [(self.topics["kpi"], k, v) for k, v in cohorts]
                ab = email_kpis.ab_records(
                    campaign, counts, alpha=s.ab_alpha, min_n=s.ab_min_delivered, now_ms=now
                )
                out += [(self.topics["ab"], k, v) for k, v in ab]
            elif self.pipeline == "crm":
                out += [
                    (self.topics["handoffs"], k, v) for k, v in crm_kpis.cohort_records(totals, now)
                ]
            for topic, key, record in out:
                await self._produce(topic, key, record)

    # ---- pacing ----------------------------------------------------------------------------

    def rep_days(self, now_ms: int) -> list[RepDay]:
        """Every rep this worker owns, with their counts in today's local-day window."""
        if self._day_spec is None:
            return []
        start = window_for(now_ms, self._day_spec, self.settings.business_timezone).start_ms
        days = []
        for _, totals in self.engine.values("t/", self.owned_partitions()):
            window = self.engine.window(totals["g"], self._day_spec.name, start)
            counts = {} if window is None else window["c"]
            days.append(RepDay(totals["g"], totals.get("team", ""), counts))
        return days

    async def _publish_pacing(self, now: int) -> None:
        cal = self.targets.calendar
        rows = pace(self.targets.current, cal, now, self.rep_days(now))
        pending = []
        for row in rows:
            record = pacing_record(row, cal=cal, now_ms=now)
            key = pacing_key(row, cal, now)
            pending.append(await self._produce(self.settings.kpi_pacing_topic, key, record))
        for fut in pending:
            await fut

    # ---- over time -------------------------------------------------------------------------

    async def tick(self) -> None:
        s = self.settings
        self.log_storm.tick()
        self.stalled_partitions()  # keeps the progress marks fresh between probes
        async with self.lock:
            owned = self._sync_index()
            if not owned and not self.ready():
                return
            await self._catch_up_idle(owned)
            now = self.clock.now_ms()
            idle_ms = int(s.idle_timeout_seconds * 1000)
            due: list[tuple[str, Value]] = []
            for part in sorted(owned):
                wm = self.engine.effective_watermark(part, self._caught_up(part), idle_ms)
                due.extend(self.engine.due_windows(part, wm))
            # A window is marked final only after its final record is acknowledged, so a crash
            # in between re-sends it (same key: it overwrites) instead of losing it.
            pending = []
            for _key, value in due:
                for topic, record_key, record in self._window_records(
                    value, final=True, now_ms=now
                ):
                    pending.append(await self._produce(topic, record_key, record))
            for fut in pending:
                await fut
            for key, value in due:
                self.engine.mark_final(key, value)
            for _key, value in self.engine.take_dirty():
                if value["p"] not in owned:
                    continue
                for topic, record_key, record in self._window_records(
                    value, final=False, now_ms=now
                ):
                    await self._produce(topic, record_key, record)
            await self._publish_totals(owned, now)
            if time.monotonic() - self._last_sweep >= s.sweep_interval_seconds:
                self._last_sweep = time.monotonic()
                removed = self.engine.sweep(owned)
                if removed:
                    log.info("retention removed %d keys", removed)
            self.engine.flush()
            await self.table_store.drain()
            if self.pipeline != "calls":
                return
            if time.monotonic() - self._targets_checked >= s.targets_check_interval_seconds:
                self._targets_checked = time.monotonic()
                self.targets.maybe_reload()
            if time.monotonic() - self._pacing_published >= s.pacing_publish_interval_seconds:
                self._pacing_published = time.monotonic()
                await self._publish_pacing(now)
