"""The webhook receiver: verify the vendor's signature, write the request to its vendor topic,
and answer 200 only once Kafka has acknowledged the record (idempotent producer, acks=all); 5xx
when Kafka does not answer in time, so the vendor retries. Nothing answered 200 is lost;
something answered 5xx may be on the topic and come again: the ids deduplicate it downstream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import SecretStr

from stream_app.gateway import catalog, signatures
from stream_app.gateway.minimise import minimiser
from stream_app.kafka.client_config import aiokafka_options
from stream_app.spine.catalog import base
from stream_app.spine.clock import Clock, SystemClock

if TYPE_CHECKING:
    from stream_app.settings import Settings

log = logging.getLogger(__name__)
WEDGED = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)
"""Errors after which aiokafka's idempotent producer never sends again (aio-libs/aiokafka#1017:
after a broker outage its sequence numbers stay out of step with the broker's, and unlike the
Java client it does not bump its epoch): the producer is replaced, with a new producer id."""
VENDORS = ("twilio", "aircall", "sendgrid", "hubspot")
SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
HUBSPOT_SIGNATURE = "X-HubSpot-Signature-v3"
HUBSPOT_TIMESTAMP = "X-HubSpot-Request-Timestamp"
HUBSPOT_LEGACY_SIGNATURE = "X-HubSpot-Signature"
HUBSPOT_LEGACY_VERSION = "X-HubSpot-Signature-Version"
SECRET_SETTINGS = {
    "twilio": "twilio_auth_token",
    "sendgrid": "sendgrid_verification_key",
    "aircall": "aircall_webhook_token",
    "hubspot": "hubspot_client_secret",
}
"""The setting holding each vendor's current secret; `<it>_previous` and `<it>_previous_until`
hold a rotation's previous one."""


class Gateway:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.s = settings
        self.clock = clock or SystemClock()
        self.registry = CollectorRegistry()
        # Names, help and labels from the catalog (what the docs list and the tests compare).
        self.requests = Counter(
            base(catalog.REQUESTS),
            catalog.REQUESTS.help,
            catalog.REQUESTS.labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            catalog.LATENCY.name,
            catalog.LATENCY.help,
            catalog.LATENCY.labels,
            registry=self.registry,
        )
        self.failures = Counter(
            base(catalog.FAILURES),
            catalog.FAILURES.help,
            catalog.FAILURES.labels,
            registry=self.registry,
        )
        self.verified = Counter(
            base(catalog.VERIFIED),
            catalog.VERIFIED.help,
            catalog.VERIFIED.labels,
            registry=self.registry,
        )
        self.replaced = Counter(
            base(catalog.REPLACED),
            catalog.REPLACED.help,
            catalog.REPLACED.labels,
            registry=self.registry,
        )
        self.producer: AIOKafkaProducer | None = None
        self._replacing = asyncio.Lock()
        key = settings.gateway_hash_key
        self.minimise = (
            minimiser(
                settings.hubspot_discovery.values(),
                key.get_secret_value().encode() if key is not None else None,
            )
            if settings.gateway_minimise
            else None
        )
        self.topics = {
            "twilio": settings.vendor_twilio_topic,
            "aircall": settings.vendor_aircall_topic,
            "sendgrid": settings.vendor_sendgrid_topic,
            "hubspot": settings.vendor_hubspot_topic,
        }

    # ---- verification ---------------------------------------------------------------------

    def _secrets(self, vendor: str) -> list[tuple[str, str]]:
        """(which, secret) the vendor's requests may be signed with now: the current one and,
        during a rotation, the previous one until its overlap ends."""
        name = SECRET_SETTINGS[vendor]
        s = self.s
        current: SecretStr | None = getattr(s, name)
        if current is None:
            return []
        found = [("current", current.get_secret_value())]
        previous: SecretStr | None = getattr(s, f"{name}_previous")
        until: datetime | None = getattr(s, f"{name}_previous_until")
        if previous is not None and (
            until is None or self.clock.now_ms() < until.timestamp() * 1000
        ):
            found.append(("previous", previous.get_secret_value()))
        return found

    def verifier(self, vendor: str) -> Callable[[web.Request, bytes], bool | None] | None:
        """None: the vendor is not configured. The check returns None when the request has no
        signature at all (401), False when it has a wrong one (403); which secret verified is
        counted."""
        secrets = self._secrets(vendor)
        if not secrets:
            return None
        check = self._check(vendor)

        def verify(request: web.Request, body: bytes) -> bool | None:
            verdict: bool | None = False
            for which, secret in secrets:
                verdict = check(secret, request, body)
                if verdict is None:
                    return None
                if verdict:
                    self.verified.labels(vendor, which).inc()
                    return True
            return verdict

        return verify

    def _check(self, vendor: str) -> Callable[[str, web.Request, bytes], bool | None]:
        """One secret's check of a request, as the vendor signs it."""
        s = self.s
        base = s.gateway_public_url or f"http://{s.gateway_host}:{s.gateway_port}"

        def check_twilio(token: str, request: web.Request, body: bytes) -> bool | None:
            given = request.headers.get("X-Twilio-Signature")
            if not given:
                return None
            # path_qs is the request-target as received: the URL Twilio signed, never
            # re-encoded (a percent-encoded query stays as it was configured).
            return signatures.twilio(token, base + request.path_qs, body, given)

        def check_sendgrid(key: str, request: web.Request, body: bytes) -> bool | None:
            given = request.headers.get(SENDGRID_SIGNATURE)
            stamp = request.headers.get(SENDGRID_TIMESTAMP)
            if not given or not stamp:
                return None
            return signatures.sendgrid(key, given, stamp, body)

        def check_aircall(token: str, request: web.Request, body: bytes) -> bool | None:
            if b'"token"' not in body:
                return None
            return signatures.aircall(token, body)

        tolerance_ms = int(s.hubspot_signature_tolerance_seconds * 1000)

        def check_hubspot(secret: str, request: web.Request, body: bytes) -> bool | None:
            given = request.headers.get(HUBSPOT_SIGNATURE)
            stamp = request.headers.get(HUBSPOT_TIMESTAMP)
            uri = base + request.path_qs
            if given and stamp:
                return signatures.hubspot_v3(
                    secret,
                    request.method,
                    uri,
                    body,
                    stamp,
                    given,
                    self.clock.now_ms(),
                    tolerance_ms,
                )
            legacy = request.headers.get(HUBSPOT_LEGACY_SIGNATURE)
            if legacy and s.hubspot_legacy_signatures:
                version = request.headers.get(HUBSPOT_LEGACY_VERSION, "v1")
                return signatures.hubspot_legacy(secret, version, request.method, uri, body, legacy)
            return None

        return {
            "twilio": check_twilio,
            "sendgrid": check_sendgrid,
            "aircall": check_aircall,
            "hubspot": check_hubspot,
        }[vendor]

    # ---- requests -------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        vendor = request.match_info["vendor"]
        started = time.perf_counter()
        status = await self._handle(vendor, request)
        label = vendor if vendor in VENDORS else "unknown"
        self.requests.labels(label, str(status)).inc()
        self.latency.labels(label).observe(time.perf_counter() - started)
        return web.Response(status=status)

    async def _handle(self, vendor: str, request: web.Request) -> int:
        check = self.verifier(vendor) if vendor in VENDORS else None
        if check is None:
            return 404
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return 413
        verdict = check(request, body)
        if verdict is None:
            return 401
        if not verdict:
            return 403
        if self.minimise is not None:
            # After the check, which needs the bytes as signed.
            body = self.minimise(vendor, body)
        request_id = uuid.uuid4().hex
        envelope = {
            "request_id": request_id,
            "vendor": vendor,
            "received_at": self.clock.now_ms(),
            "query": request.query_string,
            "body": body.decode("utf-8", "replace"),
        }
        producer = self.producer
        assert producer is not None
        try:
            await asyncio.wait_for(
                producer.send_and_wait(
                    self.topics[vendor], orjson.dumps(envelope), key=request_id.encode()
                ),
                timeout=self.s.gateway_produce_timeout_seconds,
            )
        except (KafkaError, TimeoutError) as exc:
            if isinstance(exc, WEDGED):
                await self._replace(producer)
            self.failures.labels(vendor).inc()
            log.warning(
                "%s webhook not acknowledged by Kafka (%s): answered 503",
                vendor,
                type(exc).__name__,
            )
            return 503
        return 200

    async def metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), content_type="text/plain")

    async def healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    # ---- lifecycle ------------------------------------------------------------------------

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **aiokafka_options(self.s),
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=int(self.s.gateway_produce_timeout_seconds * 1000),
        )

    async def _replace(self, broken: AIOKafkaProducer) -> None:
        """A new producer in place of a wedged one. Whatever the old one still holds belongs to
        requests answered 503, which the vendors retry: dropping it loses nothing answered 200."""
        old = broken  # kept apart: the identity check below narrows `broken` for mypy
        async with self._replacing:
            if self.producer is not broken:
                return  # another request replaced it already
            fresh = self._new_producer()
            try:
                await asyncio.wait_for(fresh.start(), self.s.gateway_produce_timeout_seconds)
            except (KafkaError, TimeoutError) as exc:
                log.warning("producer replacement failed (%s): retried on the next error", exc)
                await fresh.stop()
                return
            self.producer = fresh
            self.replaced.inc()
            log.warning("Kafka producer replaced after an unrecoverable send error")
        with contextlib.suppress(KafkaError, TimeoutError):
            await asyncio.wait_for(old.stop(), self.s.gateway_produce_timeout_seconds)

    async def start(self, app: web.Application) -> None:
        self.producer = self._new_producer()
        await self.producer.start()

    async def stop(self, app: web.Application) -> None:
        if self.producer is not None:
            await self.producer.stop()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.s.gateway_max_body_bytes)
        app.router.add_post("/webhooks/{vendor}", self.webhook)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.on_startup.append(self.start)
        app.on_cleanup.append(self.stop)
        return app


def run(settings: Settings) -> None:
    gateway = Gateway(settings)
    web.run_app(gateway.app(), host=settings.gateway_host, port=settings.gateway_port, print=None)
