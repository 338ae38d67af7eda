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


class PacingKey(BaseModel):
    model_config = ConfigDict(frozen=True, title="PacingKey")

    kpi: Literal["pacing"]
    rep_id: str
    metric: str
    period: Literal["day", "week"]
    period_start: str = Field(description="Local date the period starts (ISO 8601).")


class PacingKpi(BaseModel):
    """Where a rep stands against a target right now (topic `kpi.pacing`, one key per rep,
    metric and period; compaction keeps the latest standing). Team = sum of its reps' records."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="PacingKpi")

    schema_version: Literal[1]
    kpi: Literal["pacing"]
    rep_id: str
    team_id: str
    metric: Literal["dials", "connects", "talk_minutes"]
    period: Literal["day", "week"]
    period_start: str = Field(description="Local date the period starts (ISO 8601).")
    time_zone: str
    target: float = Field(description="Target for the period; 0 on a day off.")
    actual: float = Field(description="Done so far: the rep's current local-day window.")
    expected: float = Field(description="target x elapsed share of the period's business time.")
    pace_ratio: float | None = Field(description="actual / expected; null while expected is 0.")
    elapsed_fraction: float
    business_hours_open: bool
    as_of: datetime
