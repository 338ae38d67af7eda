"""The engagement file: the weight of each kind of touch, the score's half-life, the band
thresholds and the target-fit rule. YAML, validated by pydantic (extra keys refused), beside
the targets file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.touch import TOUCH_TYPES

MACHINE_TOUCHES: frozenset[str] = frozenset({"email_open_machine", "call_machine"})
"""Touches no person made: they count as touchpoints but add nothing to the score."""

Weight = Annotated[float, Field(ge=0, le=1_000)]


class Bands(BaseModel):
    """Lower bounds of each band; a score below `warming` is cold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warming: Annotated[float, Field(gt=0)] = 5.0
    warm: Annotated[float, Field(gt=0)] = 20.0
    hot: Annotated[float, Field(gt=0)] = 50.0

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if not self.warming < self.warm < self.hot:
            raise ValueError("bands must rise: warming < warm < hot")
        return self


class TargetFit(BaseModel):
    """When a segment is flagged `engages_not_winning` (README, "Target fit")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    win_rate_fraction: Annotated[float, Field(gt=0, le=1)] = 0.5
    """Flag when the segment's win rate is below this fraction of the org's..."""
    min_handoffs: Annotated[int, Field(ge=1)] = 20
    """...over at least this many handoffs of the segment."""


DEFAULT_WEIGHTS: dict[str, float] = {
    "page_view": 1,
    "pricing_page_view": 5,
    "content_download": 6,
    "form_submit": 10,
    "webinar_registered": 4,
    "webinar_attended": 12,
    "ad_click": 2,
    "meeting_booked": 25,
    "chat": 8,
    "call_dial": 0,
    "call_connect": 15,
    "call_machine": 0,
    "email_delivered": 0,
    "email_open_human": 2,
    "email_open_machine": 0,
    "email_click": 4,
    "email_reply": 15,
    "crm_handoff": 0,
}


class EngagementConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    half_life_days: Annotated[float, Field(gt=0, le=3650)] = 14.0
    weights: dict[str, Weight] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    bands: Bands = Bands()
    target_fit: TargetFit = TargetFit()

    @model_validator(mode="after")
    def _known_touches_machines_nothing(self) -> EngagementConfig:
        unknown = sorted(set(self.weights) - TOUCH_TYPES)
        if unknown:
            raise ValueError(f"unknown touch types in weights: {', '.join(unknown)}")
        for touch in sorted(MACHINE_TOUCHES):
            if self.weights.get(touch, 0) != 0:
                raise ValueError(f"weights.{touch} must be 0: no person made that touch")
        return self

    def weight(self, touch: str) -> float:
        """A touch type the file leaves out weighs 0 (it still counts as a touchpoint)."""
        return float(self.weights.get(touch, 0.0))

    @property
    def half_life_ms(self) -> float:
        return self.half_life_days * 86_400_000


def load(path: Path) -> EngagementConfig:
    raw = yaml.safe_load(path.read_text()) or {}
    return EngagementConfig.model_validate(raw)
