"""Write the JSON Schema files from the pydantic models (`stream-app schemas`)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.crm import AttributedEvent, CrmEvent
from schemas.email import EmailEvent
from schemas.kpi import (
    CallWindowKpi,
    CrmAttributionKpi,
    CrmCohortKpi,
    CrmHandoffsKpi,
    CrmOutcomesKpi,
    EmailAbKpi,
    EmailActivityKpi,
    EmailCohortKpi,
    EngagementKpi,
    KpiKey,
    PacingKey,
    PacingKpi,
    ScoreCalibrationKpi,
    SegmentKpi,
)
from schemas.telephony import CallEvent
from schemas.touch import ReachRecord, TouchRecord
from schemas.web import WebEvent

HERE = Path(__file__).parent
MODELS: dict[str, tuple[type[BaseModel], str]] = {
    "telephony_call_event.schema.json": (CallEvent, "validation"),
    "kpi_calls.schema.json": (CallWindowKpi, "serialization"),
    "kpi_key.schema.json": (KpiKey, "serialization"),
    "kpi_pacing.schema.json": (PacingKpi, "serialization"),
    "email_event.schema.json": (EmailEvent, "validation"),
    "kpi_email_cohort.schema.json": (EmailCohortKpi, "serialization"),
    "kpi_email_activity.schema.json": (EmailActivityKpi, "serialization"),
    "kpi_email_ab.schema.json": (EmailAbKpi, "serialization"),
    "crm_event.schema.json": (CrmEvent, "validation"),
    "web_event.schema.json": (WebEvent, "validation"),
    "crm_attributed_event.schema.json": (AttributedEvent, "validation"),
    "kpi_crm_handoffs.schema.json": (CrmHandoffsKpi, "serialization"),
    "kpi_crm_outcomes.schema.json": (CrmOutcomesKpi, "serialization"),
    "kpi_crm_cohort.schema.json": (CrmCohortKpi, "serialization"),
    "kpi_crm_attribution.schema.json": (CrmAttributionKpi, "serialization"),
    "kpi_pacing_key.schema.json": (PacingKey, "serialization"),
    "touch_record.schema.json": (TouchRecord, "validation"),
    "reach_record.schema.json": (ReachRecord, "validation"),
    "kpi_engagement.schema.json": (EngagementKpi, "serialization"),
    "kpi_segments.schema.json": (SegmentKpi, "serialization"),
    "kpi_score_calibration.schema.json": (ScoreCalibrationKpi, "serialization"),
}


def render(model: type[BaseModel], mode: str) -> str:
    schema = model.model_json_schema(mode=mode)  # type: ignore[arg-type]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_all(check: bool = False) -> list[str]:
    """Write every schema file; with `check`, write nothing and return the stale ones."""
    stale = []
    for name, (model, mode) in MODELS.items():
        path = HERE / name
        text = render(model, mode)
        if not path.exists() or path.read_text() != text:
            stale.append(name)
            if not check:
                path.write_text(text)
    return stale
