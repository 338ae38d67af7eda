"""Which pipelines exist: each family's settings mixin in `Settings` names the module that
builds its pipelines, so adding a family is its package plus that one line."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any, Protocol, cast

from stream_app.pipeline import PipelineSpec
from stream_app.settings import Settings


class FamilyPipelines(Protocol):
    """What a family's `pipeline` module offers."""

    NAMES: tuple[str, ...]

    def pipelines(self, s: Settings) -> list[PipelineSpec]: ...

    def boards(self) -> list[dict[str, Any]]:
        """The family's Grafana boards (`stream_app.dashboards` writes them)."""
        ...


@cache
def modules() -> tuple[FamilyPipelines, ...]:
    """The families' pipeline modules, in the order `Settings` lists their mixins."""
    names = [vars(c)["pipeline_module"] for c in Settings.__mro__ if "pipeline_module" in vars(c)]
    return tuple(cast(FamilyPipelines, importlib.import_module(name)) for name in names)


def names() -> tuple[str, ...]:
    return tuple(name for module in modules() for name in module.NAMES)


def pipelines(s: Settings) -> list[PipelineSpec]:
    return [spec for module in modules() for spec in module.pipelines(s)]


def spec_for(s: Settings, name: str) -> PipelineSpec:
    for module in modules():
        if name in module.NAMES:
            return next(spec for spec in module.pipelines(s) if spec.name == name)
    raise ValueError(f"unknown pipeline {name!r}; one of {', '.join(names())}")
