"""The Faust worker of one pipeline: builds what the pipeline's spec names and wires it to the
source topic's batches (`kafka.internals.faust_fetch`), one timer for windows over time, and the
web pages.

An event walks one way: a fetched batch goes to `Ingest` (decode, dedupe, plan, commit),
the engine's write-back state goes to the changelog before the batch is acknowledged, the
timer closes windows and publishes KPI records (`Publisher`), and `/metrics` reads the state
at scrape time through the pipeline's collector.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from stream_app.kafka.changelog_store import FaustTableStore
from stream_app.kafka.client_config import faust_credentials
from stream_app.kafka.cluster_watch import ClusterWatch
from stream_app.kafka.erasures import ErasureWatch
from stream_app.kafka.ingest import Handoff, Ingest
from stream_app.kafka.internals import SignalledWorker, aiokafka_producer
from stream_app.kafka.internals.faust_fetch import Batch, BatchApp, BatchConsumer
from stream_app.kafka.partitioner import KafkaPartitioner
from stream_app.kafka.publish import Publisher
from stream_app.kafka.source import Source
from stream_app.kafka.topics import ensure_topics
from stream_app.ops.health import StallWatch
from stream_app.ops.logstorm import LogStorm
from stream_app.ops.web_auth import authorized, challenge
from stream_app.registry import spec_for
from stream_app.settings import Settings
from stream_app.spine.clock import Clock, SystemClock
from stream_app.spine.collector import Only, RebalanceCollector, SequencerCollector
from stream_app.spine.engine import Engine
from stream_app.spine.labels import LabelGuard
from stream_app.spine.pipeline import Context
from stream_app.spine.windows import parse_windows

log = logging.getLogger(__name__)
METRIC_PREFIX = "isales"

EXIT_STATE_MISMATCH = 3
"""Exit status when the cluster no longer holds what the state counted (see ClusterWatch)."""


class QuietWorker(SignalledWorker):
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

    def on_shutdown_signal(self, signal: signal.Signals) -> None:
        # Faust's stop waits on the producer and the group coordinator; with the broker gone
        # that took 40 s and more. State and offsets are crash-safe, so past the timeout the
        # process simply ends (what a SIGKILL would do, minus the surprise).
        timeout = self.service.settings.shutdown_timeout_seconds
        watchdog = threading.Timer(timeout, _exit_after_timeout, args=(timeout,))
        watchdog.daemon = True
        watchdog.start()


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


def rocksdb_options(s: Settings) -> dict[str, int]:
    """Faust's RocksDB store options (Table(options=...)): bounded buffers and cache, since
    the worker reads its state from memory and the store only on a restart."""
    mb = 1024 * 1024
    return {
        "write_buffer_size": s.rocksdb_write_buffer_mb * mb,
        "max_write_buffer_number": 2,
        "block_cache_size": s.rocksdb_block_cache_mb * mb,
        "block_cache_compressed_size": s.rocksdb_block_cache_mb * mb,
    }


def worker_dir(s: Settings, app_id: str, port: int) -> Path:
    """This worker's local state folder: one per replica, so two workers on a host never
    share (RocksDB locks its files)."""
    return s.data_dir / app_id / (s.worker_id or f"port-{port}")


def faust_app(s: Settings, app_id: str, port: int, batch_topic: str) -> BatchApp:
    datadir = worker_dir(s, app_id, port)
    datadir.mkdir(parents=True, exist_ok=True)
    replica: dict[str, Any] = {}
    if s.worker_id:
        # Faust's assignor checks the URL a rejoining static member's cached metadata names
        # against its own; naming the replica, not its port, lets a restart take another
        # port. (No page routes through it: Faust's router is off.)
        replica["canonical_url"] = f"http://{s.worker_id}.isales"
    app = BatchApp(
        app_id,
        broker=[f"kafka://{b}" for b in s.bootstrap_list],
        broker_credentials=faust_credentials(s),
        store=f"{s.store}://",
        datadir=datadir,
        # Static membership with a stable id: a restarted replica takes its partitions back
        # without a rebalance, instead of waiting for the killed member's session to expire.
        consumer_group_instance_id=s.worker_id,
        **replica,
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
        # At least the broker's limit (message.max.bytes, ~1 MB by default), so the producer
        # never refuses a copy the broker would take.
        producer_max_request_size=s.producer_max_request_bytes,
        producer_max_batch_size=s.producer_max_batch_bytes,
        producer_partitioner=KafkaPartitioner(),
        # The batch a fetch returns is the batch the engine handles and flushes once.
        broker_max_poll_records=s.batch_max_events,
        # Faust's 1 MiB a partition left the batch task waiting on fetches for up to half
        # of a backlog's wall time (the next fetch of a partition goes out only once its
        # buffer is empty, from the consumer's own thread).
        consumer_max_fetch_size=s.consumer_max_fetch_bytes,
        web_enabled=True,
        web_bind=s.metrics_host,
        web_host=s.metrics_host,
        web_port=port,
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
    app.batch_topics = frozenset({batch_topic})
    return app


class NotOwned(Exception):
    """A batch for partitions this worker does not own at the moment (mid-rebalance)."""


class Service:
    """One pipeline's worker: Faust app, state, ingest, publishing and metrics."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
        pipeline: str = "calls",
    ) -> None:
        s = self.settings = settings
        spec = spec_for(s, pipeline)
        if s.port_offset:  # a member of `worker --processes N`
            spec = dataclasses.replace(spec, port=spec.port + s.port_offset)
        self.spec = spec
        self.clock = clock or SystemClock()
        self.registry = registry or CollectorRegistry()
        self.app = app = faust_app(s, spec.app_id, spec.port, spec.source)
        # Bytes in, bytes out: decoding is ours, so a bad record can reach the DLQ intact.
        self.source_topic = app.topic(
            spec.source, partitions=s.partitions, key_serializer="raw", value_serializer="raw"
        )
        self.table = app.Table(
            spec.table,
            default=None,
            partitions=s.partitions,
            options=rocksdb_options(s) if s.store == "rocksdb" else None,
        )
        self.table_store = FaustTableStore(app, self.table, persistent=s.store == "rocksdb")
        self.engine: Engine[Any] = Engine(
            spec.family,
            self.table_store,
            self.clock,
            specs=s.window_specs if spec.windows is None else parse_windows(spec.windows),
            tz=s.business_timezone,
            grace_ms=s.grace_ms if spec.grace_seconds is None else int(spec.grace_seconds * 1000),
            window_retention_ms=int(s.window_retention_hours * 3_600_000),
            dedupe_retention_ms=int(spec.dedupe_hours * 3_600_000),
            live_lag_ms=int(s.live_lag_seconds * 1000),
        )
        # Faust warns on every producer back-pressure cycle; that is flow control, not news.
        logging.getLogger("faust.transport.producer").setLevel(logging.ERROR)
        self.lock = asyncio.Lock()
        self.stalls = StallWatch(int(s.stall_timeout_seconds * 1000))
        self.log_storm = LogStorm(self.clock, interval_ms=int(s.outage_log_interval_seconds * 1000))
        self.source = Source(app, spec.source)
        self.publisher = Publisher(
            lambda *args, **kwargs: app.producer.send(*args, **kwargs),
            lambda: aiokafka_producer(app.producer),
            spec,
            self.engine,
            s.dlq_max_record_bytes,
        )
        self.ingest = Ingest(
            self.engine,
            s,
            self.clock,
            self.source,
            self.publisher,
            self.table_store,
            self.owned_partitions,
        )
        self._indexed: set[int] | None = None
        self._last_sweep_ms = self.clock.now_ms()
        self.guard = LabelGuard(
            {
                "rep": s.label_cap_rep,
                "team": s.label_cap_team,
                "campaign": s.label_cap_campaign,
                "variant": s.label_cap_variant,
                "segment": s.label_cap_segment,
                "field": s.label_cap_field,
                "currency": s.label_cap_currency,
                "channel": s.label_cap_channel,
            }
        )
        self.rebalances = 0
        ctx = Context(
            settings=s,
            engine=self.engine,
            clock=self.clock,
            guard=self.guard,
            prefix=METRIC_PREFIX,
            source=spec.source,
            owned=self.owned_partitions,
            highwater=self.source.highwater,
            produce=self.publisher.produce,
            outputs=spec.outputs,
        )
        self.extras = spec.extras(ctx)
        if getattr(spec.family, "erasable", False):
            self.extras.append(ErasureWatch(ctx, spec.name))
        for collector in (
            SequencerCollector(self.ingest.sequencer, METRIC_PREFIX, spec.source),
            RebalanceCollector(lambda: self.rebalances, METRIC_PREFIX),
            *(c for extra in self.extras for c in extra.collectors()),
            spec.collector(ctx),
        ):
            self.registry.register(collector)
        self._wire()

    # ---- ownership -------------------------------------------------------------------------

    def ready(self) -> bool:
        recovery = cast(Any, self.app.tables).recovery
        return bool(recovery.completed.is_set()) and not self.app.rebalancing

    def owned_partitions(self) -> set[int]:
        return self.source.assigned() if self.ready() else set()

    def _applied_next(self, partition: int) -> int:
        return self.engine.next_offset(partition) or 0

    def _caught_up(self, partition: int) -> bool:
        hw = self.source.highwater(partition)
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
            if self.stalls.observe(part, self._applied_next(part), self.source.highwater(part), now)
        ]

    # ---- wiring ----------------------------------------------------------------------------

    def _wire(self) -> None:
        app, s = self.app, self.settings

        @app.task  # type: ignore[untyped-decorator]
        async def create_topics() -> None:
            await ensure_topics(s)

        # Subscribed through the conductor like an agent's topic, but its records come as
        # whole fetches (faust_fetch.BatchConsumer), acknowledged once handled.
        app.topics.add(self.source_topic)

        @app.task  # type: ignore[untyped-decorator]
        async def take_batches() -> None:
            consumer = cast(BatchConsumer, app.consumer)
            # One batch's hand-over (its side records acknowledged, then its state to the
            # producer, then its offsets acknowledged) runs while the next batch is applied.
            handing: asyncio.Task[None] | None = None
            while True:
                batch = await consumer.take()
                try:
                    handoff = await self.handle(batch.records())
                except NotOwned as exc:
                    log.info("batch for partitions %s not owned now; it is read again", exc)
                    if handing is not None:
                        await handing
                    await consumer.done(batch, False)
                    await asyncio.sleep(0.1)
                    continue
                except Exception:
                    # Not acknowledged: the state's offsets send the consumer back to the
                    # first record it did not apply (as an agent's restart did).
                    log.exception(
                        "batch of %d records failed; it is read again", len(batch.records())
                    )
                    if handing is not None:
                        await handing
                    await consumer.done(batch, False)
                    await asyncio.sleep(1.0)
                    continue
                if handing is not None:
                    await handing
                handing = asyncio.ensure_future(self._hand_over(consumer, batch, handoff))

        @app.timer(interval=s.kpi_update_interval_seconds)  # type: ignore[untyped-decorator]
        async def windows_tick() -> None:
            await self.tick()

        @app.task  # type: ignore[untyped-decorator]
        async def watch_cluster() -> None:
            # Outside the state lock, on its own client: Faust is what hangs when this fires.
            await cast(Any, self.app.tables).recovery.completed.wait()
            watch = ClusterWatch(s, self.spec.source, self.spec.app_id, self._state_next_offsets)
            while True:
                await asyncio.sleep(s.cluster_check_interval_seconds)
                fatal = await watch.check()
                if fatal is not None:
                    _exit_fatal(fatal)

        @app.task  # type: ignore[untyped-decorator]
        async def start_extras() -> None:
            for extra in self.extras:
                extra.start()
            try:
                await asyncio.Event().wait()  # until the worker stops and cancels this
            finally:
                for extra in self.extras:
                    close = getattr(extra, "close", None)
                    if close is not None:
                        await close()

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
            # `?name[]=m&name[]=n` keeps only those series, as prometheus_client's own
            # handlers do: a poller after one metric does not pay for rendering all of them.
            names = request.query.getall("name[]", [])
            return web.bytes(self.exposition(names), content_type=CONTENT_TYPE_LATEST.split(";")[0])

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
                    f"partitions {stalled} of {self.spec.source} have records waiting and made "
                    f"no progress for {s.stall_timeout_seconds:g} s"
                )
                body["stalled"] = stalled
            return web.json(body, status=200 if body["ready"] else 503)

    def exposition(self, names: Iterable[str] = ()) -> bytes:
        """The scrape, rendered from state as it is: never waits on the lock, which handle()
        and tick() hold while the producer waits on the broker (a scrape once took 31.7 s
        during an outage and Prometheus marked the worker down). Collectors only read, and
        between awaits the state is whole: each record's writes land in one synchronous step."""
        if not self.lock.locked():
            self._sync_index()
        self.guard.new_scrape()
        wanted = set(names)
        return generate_latest(Only(self.registry, wanted) if wanted else self.registry)

    def _sync_index(self) -> set[int]:
        owned = self.owned_partitions()
        if owned != self._indexed:
            self.table_store.load(owned)
            self.engine.rebuild_index(owned)
            self.ingest.sequencer.reset()
            self._indexed = owned
        return owned

    # ---- records in ------------------------------------------------------------------------

    async def handle(self, messages: list[Any]) -> Handoff:
        async with self.lock:
            owned = self._sync_index()
            partitions = {msg.partition for msg in messages}
            if not partitions <= owned:
                # A batch taken before a rebalance began, which then waited here for the lock
                # (a tick held it through a broker outage): its partitions' state was just
                # dropped, and their local stores are being handed over. Applying it, or
                # loading those stores now, left a partition without its state once the
                # rebalance ended (seen in CI). Its records are read again from the state's
                # offsets once the partitions are owned.
                raise NotOwned(sorted(partitions - owned))
            self.table_store.ensure_loaded(partitions)
            for extra in self.extras:
                before = getattr(extra, "before_batch", None)
                if before is not None:
                    await before()
            return await self.ingest.batch(messages)

    async def _hand_over(self, consumer: BatchConsumer, batch: Batch, handoff: Handoff) -> None:
        handled = False
        try:
            await self.ingest.hand_over(handoff)
            handled = True
        except Exception:
            log.exception(
                "state of a batch of %d records not handed over; it is read again",
                len(batch.records()),
            )
        finally:
            try:
                await consumer.done(batch, handled)
            except Exception:
                # Its own task: nothing else would see this (a commit as the worker stops).
                log.exception(
                    "offsets of a batch of %d records not acknowledged", len(batch.records())
                )

    # ---- over time -------------------------------------------------------------------------

    async def tick(self) -> None:
        s = self.settings
        self.log_storm.tick()
        self.stalled_partitions()  # keeps the progress marks fresh between probes
        async with self.lock:
            owned = self._sync_index()
            if not owned and not self.ready():
                return
            await self.ingest.catch_up_idle(owned)
            now = self.clock.now_ms()
            idle_ms = int(s.idle_timeout_seconds * 1000)
            due = []
            for part in sorted(owned):
                wm = self.engine.effective_watermark(part, self._caught_up(part), idle_ms)
                due.extend(self.engine.due_windows(part, wm))
            await self.publisher.final_windows(due, now)
            await self.publisher.changed(owned, now)
            if now - self._last_sweep_ms >= s.sweep_interval_seconds * 1000:
                self._last_sweep_ms = now
                removed = self.engine.sweep(owned)
                if removed:
                    log.info("retention removed %d keys", removed)
            self.engine.flush()
            await self.ingest.settle_all()
            await self.table_store.drain()
            for extra in self.extras:
                await extra.tick()
