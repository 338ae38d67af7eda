"""The gateway's settings (ISALES_* environment variables). Secrets are SecretStr: never
printed, never logged; a vendor whose secret is not set has no endpoint (404)."""

from __future__ import annotations

from pydantic import AwareDatetime, Field, SecretStr
from pydantic_settings import BaseSettings

from stream_app.settings_base import CONFIG


def _previous(what: str, setting: str) -> str:
    return (
        f"The previous {what}, still accepted while a rotation is under way (until "
        f"`ISALES_{setting.upper()}_PREVIOUS_UNTIL`, if set). A secret: never printed or logged. "
        '`isales_gateway_signatures_verified_total{secret="previous"}` says whether the vendor '
        "still uses it."
    )


def _until(what: str) -> str:
    return (
        "When the rotation's overlap ends (ISO 8601 with an offset, e.g. "
        f"`2026-12-31T00:00:00Z`): past it the previous {what} is refused. Unset: accepted for "
        "as long as it is set."
    )


class GatewaySettings(BaseSettings):
    """The webhook gateway (`stream-app gateway`): checks each vendor request's signature and
    writes it to the vendor's raw topic, answering 200 only once Kafka has it. Put a TLS proxy
    in front. A vendor whose secret is not set has no endpoint (404)."""

    model_config = CONFIG

    gateway_host: str = Field(
        default="127.0.0.1",
        description="Address the gateway listens on (`0.0.0.0` in a container, behind the TLS "
        "proxy).",
    )
    gateway_port: int = Field(
        default=9120,
        ge=1,
        le=65535,
        description="The gateway's port: the /webhooks/<vendor> endpoints, /metrics and /healthz.",
    )
    gateway_public_url: str = Field(
        default="",
        description="The base URL the vendors call (`https://hooks.example.com`), exactly as "
        "they see it: Twilio and HubSpot sign the full URL. Empty: `http://<host>:<port>`.",
    )
    gateway_max_body_bytes: int = Field(
        default=1_000_000,
        gt=0,
        le=1_000_000,
        description="Largest request body accepted, in bytes (at most 1000000); a larger one is "
        "answered 413.",
    )
    gateway_produce_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Seconds the gateway waits for Kafka to acknowledge a request; past it the "
        "request is answered 503 and the vendor retries.",
    )
    gateway_minimise: bool = Field(
        default=True,
        description="Write to the vendor topics only the fields the adapters read (after the "
        "signature was checked on the request as received): phone numbers, e-mail "
        "addresses, names, IP addresses and Aircall's token stay out of Kafka, and the KPIs "
        "are the same. Off: the body as received (docs: operations/personal-data).",
    )
    gateway_hash_key: SecretStr | None = Field(
        default=None,
        description="With minimisation on, a key for HMAC-SHA256: a caller's and callee's "
        "number (Twilio From/To, Aircall raw_digits) and a recipient's address (SendGrid "
        "email) are kept as their keyed hash (`hmac-sha256:<hex>`), a stable join key that "
        "is not the number. Unset: they are dropped. A secret: never printed or logged.",
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None,
        description="Twilio's Auth Token, which checks X-Twilio-Signature. A secret: never "
        "printed or logged. Unset: no Twilio endpoint.",
    )
    twilio_auth_token_previous: SecretStr | None = Field(
        default=None,
        description=_previous("Twilio Auth Token", "twilio_auth_token"),
    )
    twilio_auth_token_previous_until: AwareDatetime | None = Field(
        default=None,
        description=_until("Twilio Auth Token"),
    )
    sendgrid_verification_key: SecretStr | None = Field(
        default=None,
        description="SendGrid's signed Event Webhook verification key: the base64 (DER) public "
        "key from SendGrid's settings. Treated as a secret: never printed or logged. Unset: no "
        "SendGrid endpoint.",
    )
    sendgrid_verification_key_previous: SecretStr | None = Field(
        default=None,
        description=_previous("SendGrid verification key", "sendgrid_verification_key"),
    )
    sendgrid_verification_key_previous_until: AwareDatetime | None = Field(
        default=None,
        description=_until("SendGrid verification key"),
    )
    aircall_webhook_token: SecretStr | None = Field(
        default=None,
        description="The Aircall webhook's token, compared in constant time with the token in "
        "each payload. A secret: never printed or logged. Unset: no Aircall endpoint.",
    )
    aircall_webhook_token_previous: SecretStr | None = Field(
        default=None,
        description=_previous("Aircall webhook token", "aircall_webhook_token"),
    )
    aircall_webhook_token_previous_until: AwareDatetime | None = Field(
        default=None,
        description=_until("Aircall webhook token"),
    )
    hubspot_client_secret: SecretStr | None = Field(
        default=None,
        description="The HubSpot app's client secret, which checks X-HubSpot-Signature-v3 (and "
        "the older X-HubSpot-Signature with `ISALES_HUBSPOT_LEGACY_SIGNATURES`). A "
        "secret: never printed or logged. Unset: no HubSpot endpoint.",
    )
    hubspot_client_secret_previous: SecretStr | None = Field(
        default=None,
        description=_previous("HubSpot client secret", "hubspot_client_secret"),
    )
    hubspot_client_secret_previous_until: AwareDatetime | None = Field(
        default=None,
        description=_until("HubSpot client secret"),
    )
    hubspot_legacy_signatures: bool = Field(
        default=False,
        description="Also accept HubSpot's older X-HubSpot-Signature (v1: webhook subscriptions "
        "of apps without v3; v2: workflow webhook actions) when a request carries no v3 "
        "signature. They have no timestamp, so a captured request can be replayed: leave off "
        "unless your HubSpot app sends only those.",
    )
    hubspot_signature_tolerance_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A HubSpot request whose X-HubSpot-Request-Timestamp is more than this many "
        "seconds off the gateway's clock is refused (403); 300 is HubSpot's documented limit.",
    )
