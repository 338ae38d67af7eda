"""The gateway's settings (ISALES_* environment variables). Secrets are SecretStr: never
printed, never logged; a vendor whose secret is not set has no endpoint (404)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from stream_app.settings_base import CONFIG


class GatewaySettings(BaseSettings):
    model_config = CONFIG

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=9120, ge=1, le=65535)
    gateway_public_url: str = Field(
        default="",
        description="The base URL the vendors call (https://hooks.example.com), as they see it: "
        "Twilio signs the full URL. Empty: http://<host>:<port>.",
    )
    gateway_max_body_bytes: int = Field(default=1_000_000, gt=0, le=1_000_000)
    gateway_produce_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Past it a request is answered 503: the vendor retries."
    )
    twilio_auth_token: SecretStr | None = None
    sendgrid_verification_key: SecretStr | None = Field(
        default=None, description="SendGrid's signed-webhook public key (base64 DER)."
    )
    aircall_webhook_token: SecretStr | None = None
    hubspot_client_secret: SecretStr | None = Field(
        default=None, description="The HubSpot app's client secret (signature v3)."
    )
    hubspot_signature_tolerance_seconds: float = Field(
        default=300.0, gt=0, description="HubSpot's documented limit on a request's age."
    )
