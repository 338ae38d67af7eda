"""Records on the KPI topics. Key = (owner, window, window start): a re-sent record overwrites."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KPI_SCHEMA_VERSION = 1


class KpiKey(BaseModel):
    model_config = ConfigDict(frozen=True, title="KpiKey")

    kpi: str
    rep_id: str
    window: str
    window_start_ms: int


class CallWindowKpi(BaseModel):
    """Call-activity KPIs of one rep in one event-time window (topic `kpi.calls`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="CallWindowKpi")

    schema_version: Literal[1]
    kpi: Literal["calls"]
    rep_id: str
    team_id: str
    window: str = Field(description="Window size as configured: 1m, 15m, 1h or 1d (local day).")
    window_start: datetime
    window_end: datetime
    window_start_ms: int
    window_end_ms: int
    time_zone: str = Field(description="Business time zone the windows are aligned to.")
    bucketed_by: dict[str, str] = Field(description="Which timestamp buckets each count.")
    dials: int
    connects: int
    machine_answers: int
    talk_seconds: float
    short_calls: int
    inbound_calls: int
    connect_rate: float | None = Field(description="connects / dials; null when no dials.")
    avg_talk_seconds: float | None = Field(description="talk_seconds / connects; null if none.")
    final: bool = Field(description="True once the watermark passed window end + grace.")
    revision: int = Field(description="Grows with every change of this window.")
    emitted_at: datetime
