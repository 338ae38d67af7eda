"""`stream-app import`'s settings (ISALES_* environment variables): each vendor's API address
and credentials, and how patiently to retry. Credentials are SecretStr: never printed or
logged. The Twilio import authenticates with ISALES_TWILIO_AUTH_TOKEN, the gateway's."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from stream_app.settings_base import CONFIG


class ImportSettings(BaseSettings):
    """History from the vendors' REST APIs (`stream-app import`)."""

    model_config = CONFIG

    aircall_api_id: str = Field(
        default="",
        description="Aircall API ID (Integrations & API > API Keys): the Basic-auth user of "
        "the Public API.",
    )
    aircall_api_token: SecretStr | None = Field(
        default=None,
        description="Aircall API token, the Basic-auth password. A secret: never printed or "
        "logged.",
    )
    aircall_api_url: str = Field(
        default="https://api.aircall.io", description="Aircall's Public API base URL."
    )
    twilio_account_sid: str = Field(
        default="",
        description="Twilio Account SID (`AC...`): the Basic-auth user of the REST API, with "
        "ISALES_TWILIO_AUTH_TOKEN as its password.",
    )
    twilio_api_url: str = Field(
        default="https://api.twilio.com", description="Twilio's REST API base URL."
    )
    hubspot_access_token: SecretStr | None = Field(
        default=None,
        description="A HubSpot private app's access token with the `crm.objects.deals.read` "
        "scope (Bearer). A secret: never printed or logged.",
    )
    hubspot_api_url: str = Field(
        default="https://api.hubapi.com", description="HubSpot's API base URL."
    )
    hubspot_portal_id: int | None = Field(
        default=None,
        description="The HubSpot account (portal) id the webhooks carry. Unset: asked of "
        "`/account-info/v3/details`.",
    )
    import_window_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 31,
        description="Calls are listed one window of this many hours at a time and written in "
        "event-time order within it, so windows close as they do live; the checkpoint is "
        "written after each window.",
    )
    import_retries: int = Field(
        default=8,
        ge=0,
        description="Retries of a request that failed (5xx, no answer) before the import "
        "stops with its checkpoint; a 429 is waited out, not counted.",
    )
    import_backoff_max_seconds: float = Field(
        default=60.0,
        gt=0,
        description="The longest wait between retries (exponential backoff with jitter).",
    )
