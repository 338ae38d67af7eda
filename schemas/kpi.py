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


_EMAIL_COUNTS = (
    "sent: messages sent; delivered; bounced_hard; bounced_soft (soft only); deferred; dropped; "
    "human_opens (a click implies one); machine_opens; clicks; unsubscribes; spam_reports: "
    "messages, each counted once."
)


class EmailCohortKpi(BaseModel):
    """Send cohort of a campaign by one dimension value (topic `kpi.email`): everything ever seen
    for the messages sent. Key: kpi, campaign_id, dimension, value."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="EmailCohortKpi")

    schema_version: Literal[1]
    kpi: Literal["email_cohort"]
    campaign_id: str
    dimension: Literal["variant", "segment", "send_weekday", "send_hour", "team"]
    value: str
    sent: int = Field(description=_EMAIL_COUNTS)
    delivered: int
    bounced_hard: int
    bounced_soft: int
    deferred: int
    dropped: int
    human_opens: int
    machine_opens: int
    machine_only: int = Field(description="Messages with machine opens and no human open.")
    clicks: int
    unsubscribes: int
    spam_reports: int
    open_rate: float | None = Field(description="human_opens / delivered")
    adjusted_open_rate: float | None = Field(description="human_opens / (delivered - machine_only)")
    click_rate: float | None = Field(description="clicks / delivered")
    click_to_open_rate: float | None = Field(description="clicks / human_opens")
    bounce_rate: float | None = Field(description="(bounced_hard + bounced_soft) / sent")
    emitted_at: datetime


class EmailActivityKpi(BaseModel):
    """What happened in an event-time window to a campaign variant's messages (topic
    `kpi.email`): each count is messages whose *first* such event fell in the window."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="EmailActivityKpi")

    schema_version: Literal[1]
    kpi: Literal["email_activity"]
    campaign_id: str
    variant: str
    window: str
    window_start: datetime
    window_end: datetime
    window_start_ms: int
    window_end_ms: int
    time_zone: str
    sent: int
    delivered: int
    bounced_hard: int
    bounced_soft: int
    deferred: int
    dropped: int
    human_opens: int
    machine_opens: int
    clicks: int
    unsubscribes: int
    spam_reports: int
    final: bool
    revision: int
    emitted_at: datetime


class EmailAbVariant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    variant: str
    successes: int
    delivered: int
    rate: float | None
    rival: str | None = Field(description="The campaign's best other variant.")
    z: float | None
    p_value: float | None = Field(description="Two-sided; not corrected for repeated looks.")


class EmailAbKpi(BaseModel):
    """A/B comparison of a campaign's variants on one rate (topic `kpi.email_ab`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="EmailAbKpi")

    schema_version: Literal[1]
    kpi: Literal["email_ab"]
    campaign_id: str
    metric: Literal["open_rate", "click_rate"]
    alpha: float
    min_delivered: int
    leader: str | None = Field(description="Set once the best beats the runner-up at p < alpha.")
    variants: list[EmailAbVariant]
    emitted_at: datetime


class _CrmWindow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1]
    rep_id: str
    team_id: str
    window: str
    window_start: datetime
    window_end: datetime
    window_start_ms: int
    window_end_ms: int
    time_zone: str
    bucketed_by: str
    final: bool
    revision: int
    emitted_at: datetime


class CrmHandoffsKpi(_CrmWindow):
    """Handoffs of one inside-sales rep in one event-time window (topic `kpi.handoffs`)."""

    model_config = ConfigDict(title="CrmHandoffsKpi")

    kpi: Literal["crm_handoffs"]
    handoffs: int = Field(description="Opportunities created from the rep's leads (商談化数).")
    accepted: int
    rejected: int
    handoff_conversion: float | None = Field(description="accepted / handoffs (商談化率).")
    by_segment: dict[str, dict[str, int]]
    discovery: dict[str, dict[str, int]] = Field(
        description="field -> status -> handoffs: answered, asked_declined, asked_unknown, "
        "not_asked, not_applicable."
    )
    fields_answered: int
    fields_applicable: int = Field(description="Discovery fields not marked not_applicable.")
    discovery_completeness: float | None = Field(description="answered / applicable.")
    complete_handoffs: int = Field(description="Every required field answered (or n/a).")


class CrmOutcomesKpi(_CrmWindow):
    """Deals closed in one event-time window, credited to the rep who handed over (topic
    `kpi.outcomes`), bucketed by close time."""

    model_config = ConfigDict(title="CrmOutcomesKpi")

    kpi: Literal["crm_outcomes"]
    won: int
    lost: int
    win_rate: float | None = Field(description="won / (won + lost).")
    won_amount: dict[str, float] = Field(description="currency -> amount won.")
    by_segment: dict[str, dict[str, int]]


class CrmCohortKpi(BaseModel):
    """The handoffs a rep made on one day and what became of them so far (topic
    `kpi.handoffs`); updated as outcomes arrive, days or weeks later."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="CrmCohortKpi")

    schema_version: Literal[1]
    kpi: Literal["crm_cohort"]
    rep_id: str
    team_id: str
    handoff_day: str
    handoffs: int
    accepted: int
    rejected: int
    won: int
    lost: int
    won_amount: dict[str, float]
    handoff_conversion: float | None
    win_rate: float | None
    emitted_at: datetime


class CrmAttributionKpi(BaseModel):
    """An outcome's attribution (topic `kpi.outcomes`, one key per outcome event): recorded as
    `unattributed` while its handoff is unseen, then overwritten as `attributed`."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="CrmAttributionKpi")

    schema_version: Literal[1]
    kpi: Literal["crm_attribution"]
    event_id: str
    opportunity_id: str
    outcome: Literal["won", "lost"]
    close_at: datetime
    amount_cents: int | None
    currency: str | None
    status: Literal["attributed", "unattributed"]
    rep_id: str | None
    team_id: str | None


Band = Literal["cold", "warming", "warm", "hot"]


class EngagementHandoff(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    opportunity_id: str
    handoff_at: datetime
    rep_id: str | None
    score: float = Field(description="The lead's score at the moment of handoff.")
    band: Band


class EngagementKpi(BaseModel):
    """A lead's engagement (topic `kpi.engagement`, compacted, keyed by `lead_id`). The score is
    as of `score_at`, the lead's newest touch; at a later time t it is
    score x 2^(-(t - score_at) / half_life_days)."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="EngagementKpi")

    schema_version: Literal[1]
    kpi: Literal["engagement"]
    lead_id: str
    score: float
    band: Band
    score_at: datetime | None
    half_life_days: float
    touches: dict[str, int] = Field(description="Touches per channel (outreach and response).")
    machine_touches: dict[str, int]
    last_touch_at: datetime | None
    owner_rep_id: str | None
    team_id: str | None
    segment: str
    handoffs: list[EngagementHandoff]


class SegmentKpi(BaseModel):
    """A segment's reach and target fit (topic `kpi.segments`, key `{"kpi":"segments",
    "segment":...}`), as of `evaluated_at` (engaged and bands are *now*)."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="SegmentKpi")

    schema_version: Literal[1]
    kpi: Literal["segments"]
    segment: str
    targeted: int
    touched: int
    engaged: int
    handoffs: int
    accepted: int
    won: int
    engaged_share: float | None
    win_rate: float | None
    target_share: float | None
    win_share: float | None
    fit_index: float | None
    engages_not_winning: bool
    leads_by_band: dict[Band, int]
    median_score: float | None
    touches: dict[str, int]
    evaluated_at: datetime


class CalibrationRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    band: Band
    handoffs: int
    accepted: int
    won: int
    acceptance_rate: float | None
    win_rate: float | None


class ScoreCalibrationKpi(BaseModel):
    """Per band at handoff over every rep (topic `kpi.segments`, key `{"kpi":
    "score_calibration"}`): if the score means anything, the win rate rises with the band."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="ScoreCalibrationKpi")

    schema_version: Literal[1]
    kpi: Literal["score_calibration"]
    bands: list[CalibrationRow]
    evaluated_at: datetime
