"""The gateway's series (`stream-app gateway`, its own /metrics); see spine/catalog.py."""

from __future__ import annotations

from stream_app.spine.catalog import Series

REQUESTS = Series(
    "isales_gateway_requests_total",
    "counter",
    "Webhook requests by vendor and HTTP status answered.",
    ("vendor", "status"),
)
LATENCY = Series(
    "isales_gateway_request_seconds",
    "histogram",
    "From the request read to the answer (Kafka's acknowledgement included).",
    ("vendor",),
)
FAILURES = Series(
    "isales_gateway_produce_failures_total",
    "counter",
    "Requests Kafka did not acknowledge in time (answered 503; the vendor retries).",
    ("vendor",),
)
REPLACED = Series(
    "isales_gateway_producer_replacements_total",
    "counter",
    "Times the Kafka producer was replaced after an error it does not recover from.",
    (),
)
VERIFIED = Series(
    "isales_gateway_signatures_verified_total",
    "counter",
    "Requests whose signature verified, by vendor and by the secret that verified it (current "
    "or previous): once `previous` stops growing, the old secret can go.",
    ("vendor", "secret"),
)
SERIES: tuple[Series, ...] = (REQUESTS, LATENCY, FAILURES, VERIFIED, REPLACED)
