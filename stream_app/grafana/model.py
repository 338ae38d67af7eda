"""What a board is made of: panels of PromQL targets, before they become Grafana JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DATASOURCE_UID = "isales-prometheus"


DATASOURCE: dict[str, str] = {"type": "prometheus", "uid": DATASOURCE_UID}


SCHEMA_VERSION = 39


GRID_WIDTH = 24


Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Target:
    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    kind: str  # stat | bargauge | barchart | timeseries | table
    title: str
    description: str
    targets: tuple[Target, ...]
    width: int
    height: int
    unit: str = "short"
    no_value: str | None = None
    """'0' on count panels; a word on ratio/time panels where absence means something."""
    decimals: int | None = None
    minimum: float | None = None
    thresholds: tuple[tuple[float | None, str], ...] = ((None, "green"),)
    mappings: tuple[Json, ...] = ()
    overrides: tuple[Json, ...] = ()
    transformations: tuple[Json, ...] = ()
    options: Json = field(default_factory=dict)
    bars: bool = False
    min_interval: str | None = None


COUNT_NO_VALUE = "0"


PACE_THRESHOLDS: tuple[tuple[float | None, str], ...] = (
    (None, "red"),
    (0.8, "orange"),
    (1.0, "green"),
)
