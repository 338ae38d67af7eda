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
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

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

from stream_app.gateway import catalog, signatures
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
        self.replaced = Counter(
            base(catalog.REPLACED),
            catalog.REPLACED.help,
            catalog.REPLACED.labels,
            registry=self.registry,
        )
        self.producer: AIOKafkaProducer | None = None
        self._replacing = asyncio.Lock()
        self.topics = {
            "twilio": settings.vendor_twilio_topic,
            "aircall": settings.vendor_aircall_topic,
            "sendgrid": settings.vendor_sendgrid_topic,
            "hubspot": settings.vendor_hubspot_topic,
        }

    # ---- verification ---------------------------------------------------------------------

    def _verifier(self, vendor: str) -> Callable[[web.Request, bytes], bool | None] | None:
        """None: the vendor is not configured. The check returns None when the request has no
        signature at all (401), False when it has a wrong one (403)."""
        s = self.s
        base = s.gateway_public_url or f"http://{s.gateway_host}:{s.gateway_port}"
        if vendor == "twilio" and s.twilio_auth_token is not None:
            token = s.twilio_auth_token.get_secret_value()

            def check_twilio(request: web.Request, body: bytes) -> bool | None:
                given = request.headers.get("X-Twilio-Signature")
                if not given:
                    return None
                params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
                return signatures.twilio(token, base + request.path_qs, params, given)

            return check_twilio
        if vendor == "sendgrid" and s.sendgrid_verification_key is not None:
            key = s.sendgrid_verification_key.get_secret_value()

            def check_sendgrid(request: web.Request, body: bytes) -> bool | None:
                given = request.headers.get(SENDGRID_SIGNATURE)
                stamp = request.headers.get(SENDGRID_TIMESTAMP)
                if not given or not stamp:
                    return None
                return signatures.sendgrid(key, given, stamp, body)

            return check_sendgrid
        if vendor == "aircall" and s.aircall_webhook_token is not None:
            aircall_token = s.aircall_webhook_token.get_secret_value()

            def check_aircall(request: web.Request, body: bytes) -> bool | None:
                if b'"token"' not in body:
                    return None
                return signatures.aircall(aircall_token, body)

            return check_aircall
        if vendor == "hubspot" and s.hubspot_client_secret is not None:
            secret = s.hubspot_client_secret.get_secret_value()
            tolerance_ms = int(s.hubspot_signature_tolerance_seconds * 1000)

            def check_hubspot(request: web.Request, body: bytes) -> bool | None:
                given = request.headers.get(HUBSPOT_SIGNATURE)
                stamp = request.headers.get(HUBSPOT_TIMESTAMP)
                if not given or not stamp:
                    return None
                return signatures.hubspot_v3(
                    secret,
                    request.method,
                    base + request.path_qs,
                    body,
                    stamp,
                    given,
                    self.clock.now_ms(),
                    tolerance_ms,
                )

            return check_hubspot
        return None

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
        check = self._verifier(vendor) if vendor in VENDORS else None
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
