"""`stream-app import --vendor V --since T [--until T]`: a vendor's history, written to the
topics its webhooks feed, exactly as the normaliser would have written it.

* **Same path as the webhooks.** What an API lists becomes the webhooks the vendor sends for it
  (`importer.aircall`, `.twilio`, `.hubspot`), minimised as the gateway does, then passed
  through the normaliser family itself (adapter, people directory); its output goes to the
  canonical topics (calls, `vendor.hubspot.objects`), not to the raw vendor topics. Why: the
  normaliser stage reads several vendor partitions at once and would interleave a quarter of
  history out of order on the calls topic, where a partition's watermark closes windows; the
  import writes one window at a time in event-time order instead (calls held back across a
  window's end go out with the next), so history closes its windows as live traffic does.
* **Once with the webhooks.** The event ids are the adapters' own, so a call both imported and
  sent by webhook counts once, in either order, as long as the later of the two arrives within
  the dedupe horizon of the first (docs/kpis/exactness.md). History must reach a pipeline
  before newer events do: import before pointing the webhooks at the gateway, then import the
  gap once they are on (docs/operations/backfills.md).
* **Resumable.** A checkpoint under `ISALES_DATA_DIR/imports/` is written after each window
  (calls) or page (deals) has been acknowledged by Kafka; the same command run again goes on
  from there. What was sent after the last checkpoint is sent again with the same ids: counted
  once downstream.
* **Exit status**: 0 once everything in the range is imported, 1 if the import stopped (the
  reason is printed; run it again to resume), 2 for a usage or settings error.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from stream_app.adapters.hubspot import OBJECTS
from stream_app.adapters.normaliser import REJECTED, Envelope, NormaliserFamily
from stream_app.adapters.people import DirectoryFile
from stream_app.gateway.minimise import minimiser
from stream_app.importer import Raw, aircall, hubspot, twilio
from stream_app.importer.http import Api, ImportStopped
from stream_app.kafka.client_config import aiokafka_options
from stream_app.kafka.partitioner import KafkaPartitioner
from stream_app.kafka.topics import ensure_topics
from stream_app.registry import spec_for
from stream_app.settings import Settings
from stream_app.spine.clock import SystemClock
from stream_app.spine.dead_letter import side_record

VENDORS = ("aircall", "twilio", "hubspot")


class TooOld(Exception):
    """The range is older than the topics it would be written to can still count."""


WINDOWED = ("aircall", "twilio")
EXIT_DONE, EXIT_STOPPED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Out:
    """One record for a canonical topic, with the event time it is ordered by."""

    at: int
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    def dump(self) -> list[Any]:
        hdrs = [[k, base64.b64encode(v).decode()] for k, v in self.headers]
        return [self.at, self.topic, base64.b64encode(self.key).decode(), self.value.decode(), hdrs]

    @classmethod
    def load(cls, item: list[Any]) -> Out:
        hdrs = tuple((k, base64.b64decode(v)) for k, v in item[4])
        return cls(item[0], item[1], base64.b64decode(item[2]), item[3].encode(), hdrs)


@dataclass
class Checkpoint:
    """Where an import stands, saved after every acknowledged window or page."""

    path: Path
    vendors: list[str]
    since_ms: int
    until_ms: int
    next_ms: int
    carry: list[Out] = field(default_factory=list)
    after: str | None = None
    deals_done: bool = False
    records: int = 0
    done: bool = False

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        raw = orjson.loads(path.read_bytes())
        raw["carry"] = [Out.load(item) for item in raw["carry"]]
        return cls(path=path, **raw)

    def save(self) -> None:
        data = {k: v for k, v in vars(self).items() if k != "path"}
        data["carry"] = [o.dump() for o in self.carry]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        os.replace(tmp, self.path)  # a kill mid-write leaves the previous checkpoint whole


class Translate:
    """Webhooks to what the normaliser emits for them, for the topics it writes."""

    def __init__(self, s: Settings, now_ms: Callable[[], int]) -> None:
        people = DirectoryFile(s.people_file, now_ms) if s.people_file is not None else None
        self.family = NormaliserFamily(people)
        key = s.gateway_hash_key.get_secret_value().encode() if s.gateway_hash_key else None
        self.minimise = minimiser(s.hubspot_discovery.values(), key) if s.gateway_minimise else None
        self.topics = {
            "calls": s.calls_topic,
            "email": s.email_topic,
            REJECTED: s.dlq_topic,
            OBJECTS: s.vendor_hubspot_objects_topic,
        }
        self.max_bytes = s.dlq_max_record_bytes
        self.now_ms = now_ms
        self.counts: Counter[str] = Counter()

    def __call__(self, raws: list[Raw]) -> list[Out]:
        out: list[Out] = []
        now = self.now_ms()
        for raw in raws:
            body = self.minimise(raw.vendor, raw.body) if self.minimise else raw.body
            fields = {
                "request_id": raw.request_id,
                "vendor": raw.vendor,
                "received_at": now,
                "query": raw.query,
                "body": body.decode("utf-8", "replace"),
            }
            try:
                envelope = Envelope.model_validate(fields)
            except ValidationError as exc:
                error = exc.errors()[0]
                self.counts["dead-lettered"] += 1
                meta = {
                    "source.topic": f"import:{raw.vendor}",
                    "dlq.reason.class": str(error["type"]),
                    "dlq.reason": str(error["msg"])[:500],
                }
                side = side_record(raw.request_id.encode(), body, meta, self.max_bytes)
                topic, headers = self.topics[REJECTED], tuple(side.headers)
                out.append(Out(now, topic, side.key or b"", side.value or b"", headers))
                continue
            for name, n in (self.family.tally(envelope) or {}).items():
                self.counts[name.split("|")[0]] += n
            for role, key, value in self.family.emit(None, {}, envelope):
                at = orjson.loads(value).get("occurred_at") if role != REJECTED else now
                self.counts["dead-lettered" if role == REJECTED else "events"] += 1
                out.append(
                    Out(int(at if isinstance(at, int) else now), self.topics[role], key, value)
                )
        return out


class Progress:
    """A line per interval, readable in a log as on a terminal."""

    def __init__(self, cp: Checkpoint, every_s: float, api: dict[str, Api]) -> None:
        self.cp, self.every_s, self.api = cp, every_s, api
        self.started = time.monotonic()
        self.first_records = cp.records
        self.deals = 0
        self.done_ms = cp.next_ms

    def line(self) -> str:
        cp = self.cp
        elapsed = max(time.monotonic() - self.started, 1e-3)
        rate = (cp.records - self.first_records) / elapsed
        pages = sum(a.pages for a in self.api.values())
        requests = sum(a.requests for a in self.api.values())
        waited = sum(a.waited_s for a in self.api.values())
        parts = [f"{cp.records:,} records", f"{pages:,} pages ({requests:,} requests)"]
        parts.append(f"{rate:,.0f} records/s")
        if any(v in WINDOWED for v in cp.vendors):
            span = max(cp.until_ms - cp.since_ms, 1)
            share = (cp.next_ms - cp.since_ms) / span
            covered = (cp.next_ms - self.done_ms) / span
            left = elapsed / covered * (1 - share) if covered > 0 else None
            parts.insert(0, f"calls up to {_day(cp.next_ms)} ({share:.0%})")
            parts.append(f"{_duration(left)} left" if left is not None else "time left: -")
        if "hubspot" in cp.vendors:
            parts.append(f"{self.deals:,} deals read" + (" (done)" if cp.deals_done else ""))
        if waited:
            parts.append(f"{waited:,.0f} s waiting on rate limits")
        return "import: " + ", ".join(parts)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            print(self.line(), file=sys.stderr, flush=True)


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _event_ms(value: bytes | None) -> int | None:
    try:
        at = orjson.loads(value or b"null").get("occurred_at")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if isinstance(at, int):
        return at
    try:
        return int(datetime.fromisoformat(str(at).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


async def newest_event_ms(
    s: Settings, producer: AIOKafkaProducer, topic: str, wait_s: float = 10.0
) -> int | None:
    """The newest event time among the last record of each partition of `topic` (what its
    partitions' watermarks are about), or None if it is empty."""
    consumer = AIOKafkaConsumer(**aiokafka_options(s), enable_auto_commit=False)
    await consumer.start()
    try:
        parts = sorted(await producer.partitions_for(topic))  # waits for the metadata
        tps = [TopicPartition(topic, p) for p in parts]
        ends = await consumer.end_offsets(tps) if tps else {}
        live = {tp for tp, end in ends.items() if end > 0}
        if not live:
            return None
        consumer.assign(list(live))
        for tp in live:
            consumer.seek(tp, ends[tp] - 1)
        newest: int | None = None
        deadline = time.monotonic() + wait_s
        while live and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                live.discard(tp)
                for record in records:
                    at = _event_ms(record.value)
                    newest = at if newest is None or (at is not None and at > newest) else newest
        return newest
    finally:
        await consumer.stop()


async def too_old(
    s: Settings, producer: AIOKafkaProducer, vendors: list[str], since_ms: int
) -> list[str]:
    """Why the range would be expired where it is written: a pipeline counts nothing that is
    more than its dedupe horizon behind the newest event of its partition, so history written
    behind newer events does not count (docs/operations/backfills.md, "Day one")."""
    checks = []
    if any(v in WINDOWED for v in vendors):
        checks.append((s.calls_topic, spec_for(s, "calls").dedupe_hours))
    if "hubspot" in vendors:
        checks.append((s.vendor_hubspot_objects_topic, s.hubspot_retention_hours))
    out = []
    for topic, hours in checks:
        newest = await newest_event_ms(s, producer, topic)
        if newest is not None and since_ms < newest - hours * 3_600_000:
            out.append(
                f"{topic} already holds events up to {_day(newest)} UTC: what happened before "
                f"{_day(int(newest - hours * 3_600_000))} is more than its dedupe horizon "
                f"({hours:g} h) behind them and would be expired, not counted. Import before "
                'newer events reach it (docs/operations/backfills.md, "Day one"), or --since '
                "later"
            )
    return out


def checkpoint_path(s: Settings, vendors: list[str], since_ms: int) -> Path:
    stamp = datetime.fromtimestamp(since_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    return s.data_dir / "imports" / f"{'+'.join(vendors)}-{stamp}.json"


def problems(s: Settings, vendors: list[str]) -> list[str]:
    """What is missing before the import can start, in the settings' own names."""
    out = []
    if "aircall" in vendors and not (s.aircall_api_id and s.aircall_api_token):
        out.append("aircall: set ISALES_AIRCALL_API_ID and ISALES_AIRCALL_API_TOKEN")
    if "twilio" in vendors:
        if not (s.twilio_account_sid and s.twilio_auth_token):
            out.append("twilio: set ISALES_TWILIO_ACCOUNT_SID and ISALES_TWILIO_AUTH_TOKEN")
        if s.people_file is None:
            out.append(
                "twilio: set ISALES_PEOPLE_FILE listing each rep's Twilio Client identity "
                "(the API does not keep the rep_id of the callback URLs)"
            )
    if "hubspot" in vendors and s.hubspot_access_token is None:
        out.append("hubspot: set ISALES_HUBSPOT_ACCESS_TOKEN")
    return out


def _session(s: Settings, vendor: str) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=60)
    if vendor == "aircall":
        assert s.aircall_api_token is not None
        auth = aiohttp.BasicAuth(s.aircall_api_id, s.aircall_api_token.get_secret_value())
        return aiohttp.ClientSession(auth=auth, timeout=timeout)
    if vendor == "twilio":
        assert s.twilio_auth_token is not None
        auth = aiohttp.BasicAuth(s.twilio_account_sid, s.twilio_auth_token.get_secret_value())
        return aiohttp.ClientSession(auth=auth, timeout=timeout)
    assert s.hubspot_access_token is not None
    token = s.hubspot_access_token.get_secret_value()
    return aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}, timeout=timeout)


class Importer:
    def __init__(self, s: Settings, cp: Checkpoint, progress_every_s: float) -> None:
        self.s, self.cp = s, cp
        self.translate = Translate(s, SystemClock().now_ms)
        self.progress_every_s = progress_every_s
        self.api: dict[str, Api] = {}

    async def run(self) -> None:
        s, cp = self.s, self.cp
        # Day one may come before any worker has run: the topics as the service makes them,
        # not as a broker's auto-creation would.
        await ensure_topics(s)
        base = {
            "aircall": s.aircall_api_url,
            "twilio": s.twilio_api_url,
            "hubspot": s.hubspot_api_url,
        }
        async with contextlib.AsyncExitStack() as stack:
            for vendor in cp.vendors:
                session = await stack.enter_async_context(_session(s, vendor))
                self.api[vendor] = Api(
                    vendor,
                    base[vendor],
                    session,
                    retries=s.import_retries,
                    backoff_max_s=s.import_backoff_max_seconds,
                )
            producer = AIOKafkaProducer(
                **aiokafka_options(s),
                acks="all",
                enable_idempotence=True,
                linger_ms=20,
                # The normaliser's own partitioner: a rep's calls land where its would.
                partitioner=KafkaPartitioner(),
            )
            await producer.start()
            stack.push_async_callback(producer.stop)
            # Only before the first record: on a resume the newest are the import's own.
            if not cp.records and (reasons := await too_old(s, producer, cp.vendors, cp.since_ms)):
                raise TooOld("; ".join(reasons))
            self.progress = Progress(cp, self.progress_every_s, self.api)
            ticker = asyncio.create_task(self.progress.run())
            try:
                if any(v in WINDOWED for v in cp.vendors):
                    await self._windows(producer)
                if "hubspot" in cp.vendors and not cp.deals_done:
                    await self._deals(producer)
            finally:
                ticker.cancel()
                print(self.progress.line(), file=sys.stderr, flush=True)
            cp.done = True
            cp.save()

    async def _send(self, producer: AIOKafkaProducer, records: list[Out]) -> None:
        futures = [
            await producer.send(o.topic, o.value, key=o.key, headers=list(o.headers) or None)
            for o in records
        ]
        await asyncio.gather(*futures)
        self.cp.records += len(records)

    async def _windows(self, producer: AIOKafkaProducer) -> None:
        cp, step = self.cp, int(self.s.import_window_hours * 3_600_000)
        while cp.next_ms < cp.until_ms:
            end = min(cp.next_ms + step, cp.until_ms)
            raws: list[Raw] = []
            if "aircall" in cp.vendors:
                raws += await aircall.window(self.api["aircall"], cp.next_ms, end)
            if "twilio" in cp.vendors:
                account = self.s.twilio_account_sid
                raws += await twilio.window(self.api["twilio"], account, cp.next_ms, end)
            merged = cp.carry + self.translate(raws)
            last = end >= cp.until_ms
            # A call that ends after the window goes out with the next one, in its order.
            ready = sorted((o for o in merged if last or o.at < end), key=_order)
            await self._send(producer, ready)
            cp.carry = [] if last else [o for o in merged if o.at >= end]
            cp.next_ms = end
            cp.save()

    async def _deals(self, producer: AIOKafkaProducer) -> None:
        cp, api = self.cp, self.api["hubspot"]
        portal = await hubspot.portal_id(api, self.s.hubspot_portal_id)
        discovery = list(self.s.hubspot_discovery.values())
        async for deals, after in hubspot.deal_pages(api, discovery, cp.after):
            self.progress.deals += len(deals)
            raws = [
                raw
                for deal in deals
                for raw in hubspot.webhooks(deal, portal, cp.since_ms, cp.until_ms)
            ]
            await self._send(producer, sorted(self.translate(raws), key=_order))
            cp.after, cp.deals_done = after, after is None
            cp.save()


def _order(o: Out) -> tuple[int, str, bytes, bytes]:
    return (o.at, o.topic, o.key, o.value)


def parse_time(text: str, now: datetime) -> datetime:
    """An ISO 8601 date or time (UTC unless it says otherwise), or `<n>d`: midnight UTC n days
    ago (`90d`, about a quarter)."""
    if text.endswith("d") and text[:-1].isdigit():
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=int(text[:-1]))
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def main_import(
    s: Settings,
    vendors: list[str],
    since: str,
    until: str | None,
    fresh: bool,
    progress_every_s: float,
) -> int:
    vendors = [v for v in VENDORS if v in vendors]
    missing = problems(s, vendors)
    if missing:
        for line in missing:
            print(line, file=sys.stderr)
        return EXIT_USAGE
    now = datetime.now(UTC)
    try:
        since_ms = int(parse_time(since, now).timestamp() * 1000)
        until_ms = int((parse_time(until, now) if until else now).timestamp() * 1000)
    except ValueError as exc:
        print(f"--since/--until: {exc}", file=sys.stderr)
        return EXIT_USAGE
    path = checkpoint_path(s, vendors, since_ms)
    if path.exists() and not fresh:
        cp = Checkpoint.load(path)
        if cp.done:
            print(f"already imported ({path}); --fresh imports the range again", file=sys.stderr)
            return EXIT_DONE
        print(f"resuming from {path} (up to {_day(cp.until_ms)})", file=sys.stderr)
    else:
        if since_ms >= until_ms:
            print("--since must be before --until", file=sys.stderr)
            return EXIT_USAGE
        cp = Checkpoint(path, vendors, since_ms, until_ms, next_ms=since_ms)
    print(
        f"importing {', '.join(vendors)} from {_day(cp.since_ms)} to {_day(cp.until_ms)} UTC; "
        f"checkpoint {path}",
        file=sys.stderr,
    )
    importer = Importer(s, cp, progress_every_s)
    try:
        asyncio.run(importer.run())
    except TooOld as exc:
        print(f"refused: {exc}.", file=sys.stderr)
        return EXIT_USAGE
    except (ImportStopped, KafkaError) as exc:
        # Kafka refusing a batch is a stop like an API outage: the checkpoint is before it.
        print(f"stopped: {exc}. Run the same command again to resume.", file=sys.stderr)
        return EXIT_STOPPED
    counts = importer.translate.counts
    summary = ", ".join(f"{n:,} {what}" for what, n in sorted(counts.items())) or "nothing"
    print(f"done: {summary}; {cp.records:,} records written", file=sys.stderr)
    return EXIT_DONE
