"""Which pipelines exist: each family's settings mixin in `Settings` names the module that
builds its pipelines, so adding a family is its package plus that one line."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any, Protocol, cast

from stream_app.settings import Settings
from stream_app.spine.pipeline import PipelineSpec


class FamilyPipelines(Protocol):
    """What a family's `pipeline` module offers."""

    NAMES: tuple[str, ...]

    def pipelines(self, s: Settings) -> list[PipelineSpec]: ...

    def boards(self) -> list[dict[str, Any]]:
        """The family's Grafana boards (`stream_app.tools.dashboards` writes them)."""
        ...


@cache
def modules() -> tuple[FamilyPipelines, ...]:
    """The families' pipeline modules, in the order `Settings` lists their mixins."""
    names = [vars(c)["pipeline_module"] for c in Settings.__mro__ if "pipeline_module" in vars(c)]
    return tuple(cast(FamilyPipelines, importlib.import_module(name)) for name in names)


def names() -> tuple[str, ...]:
    return tuple(name for module in modules() for name in module.NAMES)


def pipelines(s: Settings) -> list[PipelineSpec]:
    """Every family's pipelines, then each family's `augment` (if it has one) over all of them:
    a family that taps the others' events (engagement) wraps their specs."""
    specs = [spec for module in modules() for spec in module.pipelines(s)]
    for module in modules():
        augment = getattr(module, "augment", None)
        if augment is not None:
            specs = augment(s, specs)
    return specs


def spec_for(s: Settings, name: str) -> PipelineSpec:
    for spec in pipelines(s):
        if spec.name == name:
            return spec
    raise ValueError(f"unknown pipeline {name!r}; one of {', '.join(names())}")
