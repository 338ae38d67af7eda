"""Kafka connection options from settings, for aiokafka clients and for Faust."""

from __future__ import annotations

import ssl
from typing import Any

import faust

from stream_app.settings import Settings


def _ssl_context(s: Settings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(s.kafka_ssl_cafile) if s.kafka_ssl_cafile else None)
    if s.kafka_ssl_certfile:
        ctx.load_cert_chain(
            str(s.kafka_ssl_certfile),
            str(s.kafka_ssl_keyfile) if s.kafka_ssl_keyfile else None,
            s.kafka_ssl_key_password.get_secret_value() if s.kafka_ssl_key_password else None,
        )
    return ctx


def aiokafka_options(s: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": s.kafka_bootstrap_servers,
        "security_protocol": s.kafka_security_protocol,
    }
    if s.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(s)
    if s.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = s.kafka_sasl_mechanism
        options["sasl_plain_username"] = s.kafka_sasl_username
        options["sasl_plain_password"] = (
            s.kafka_sasl_password.get_secret_value() if s.kafka_sasl_password else None
        )
    return options


def faust_credentials(s: Settings) -> Any:
    if s.kafka_security_protocol == "PLAINTEXT":
        return None
    if s.kafka_security_protocol == "SSL":
        return faust.SSLCredentials(_ssl_context(s))
    return faust.SASLCredentials(
        username=s.kafka_sasl_username,
        password=s.kafka_sasl_password.get_secret_value() if s.kafka_sasl_password else None,
        mechanism=s.kafka_sasl_mechanism,
        ssl_context=_ssl_context(s) if s.kafka_security_protocol == "SASL_SSL" else None,
    )
