"""The vendor normalisers' settings (ISALES_* environment variables)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings

from stream_app.config import CONFIG


class VendorSettings(BaseSettings):
    model_config = CONFIG
    pipeline_module: ClassVar[str] = "stream_app.adapters.pipeline"

    vendor_twilio_topic: str = "vendor.twilio"
    vendor_aircall_topic: str = "vendor.aircall"
    vendor_sendgrid_topic: str = "vendor.sendgrid"
    vendor_twilio_metrics_port: int = Field(default=9115, ge=1, le=65535)
    vendor_aircall_metrics_port: int = Field(default=9116, ge=1, le=65535)
    vendor_sendgrid_metrics_port: int = Field(default=9117, ge=1, le=65535)
    vendor_dedupe_hours: float = Field(
        default=24.0, gt=0, description="Gateway request ids remembered (vendors retry for a day)."
    )
