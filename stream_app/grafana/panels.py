"""Panel builders the boards share: tables of several queries, bar charts, rate overrides."""

from __future__ import annotations

from collections.abc import Callable

from stream_app.grafana.model import COUNT_NO_VALUE, GRID_WIDTH, Json, Panel, Target
from stream_app.grafana.promql import cohort_rates


def rate_overrides(names: list[str], decimals: int = 0) -> list[Json]:
    return [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [
                {"id": "unit", "value": "percentunit"},
                {"id": "decimals", "value": decimals},
                {"id": "noValue", "value": "-"},
            ],
        }
        for name in names
    ]


def organize(keys: dict[str, str], columns: list[str]) -> Json:
    """Instant table queries merged on their labels: key labels first, then one column per
    query (`Value #<refId>`), named."""
    refs = [chr(ord("A") + i) for i in range(len(columns))]
    return {
        "id": "organize",
        "options": {
            "excludeByName": {"Time": True},
            "indexByName": {label: i for i, label in enumerate(keys)}
            | {f"Value #{ref}": i + len(keys) for i, ref in enumerate(refs)},
            "renameByName": keys
            | {f"Value #{ref}": name for ref, name in zip(refs, columns, strict=True)},
        },
    }


def table(
    title: str,
    description: str,
    keys: dict[str, str],
    columns: list[tuple[str, str]],
    *,
    height: int,
    overrides: list[Json],
    sort_by: str,
    width: int = GRID_WIDTH,
    no_value: str = COUNT_NO_VALUE,
) -> Panel:
    """One row per combination of the `keys` labels (label -> column title), one column per
    (title, expr); every expr must aggregate `by` exactly the key labels."""
    return Panel(
        "table",
        title,
        description,
        tuple(Target(expr, name, instant=True, table=True) for name, expr in columns),
        width,
        height,
        no_value=no_value,
        decimals=0,
        overrides=tuple(overrides),
        transformations=(
            {"id": "merge", "options": {}},
            organize(keys, [name for name, _ in columns]),
        ),
        options={"sortBy": [{"displayName": sort_by, "desc": True}]},
    )


def breakdown(
    dimension: str,
    name: str,
    width: int,
    *,
    note: str = "",
    order: Callable[[str], str] | None = None,
) -> Panel:
    """Open and click rate per value of a cohort dimension, bars sorted by value (`order`
    relabels values whose names do not sort)."""
    rates = cohort_rates(dimension, "value", order)
    return bar_chart(
        f"Open and click rate by {name.lower()}",
        f"Send cohort of the selected campaigns by the message's {name.lower()}: "
        "sum(human opens) / sum(delivered) and sum(clicks) / sum(delivered) over the campaigns, "
        "never an average of per-campaign rates. Every message counts once under each "
        f"dimension.{note}",
        ("value", name),
        [("Open rate", rates["open_rate"]), ("Click rate", rates["click_rate"])],
        width,
        unit="percentunit",
        no_value="no deliveries yet",
        decimals=1,
    )


def bar_chart(
    title: str,
    description: str,
    key: tuple[str, str],
    columns: list[tuple[str, str]],
    width: int,
    *,
    unit: str = "short",
    no_value: str = COUNT_NO_VALUE,
    decimals: int = 0,
    stacked: bool = False,
    overrides: tuple[Json, ...] = (),
) -> Panel:
    """One bar group per value of the `key` label (label, axis title), sorted by it; one bar
    (or stack segment) per (title, expr); every expr must aggregate `by` exactly the key."""
    label, name = key
    options: Json = {"xField": name}
    if stacked:
        options["stacking"] = "normal"
    return Panel(
        "barchart",
        title,
        description,
        tuple(Target(expr, col, instant=True, table=True) for col, expr in columns),
        width,
        8,
        unit=unit,
        no_value=no_value,
        decimals=decimals,
        minimum=0,
        overrides=overrides,
        transformations=(
            {"id": "merge", "options": {}},
            {"id": "sortBy", "options": {"fields": {}, "sort": [{"field": label}]}},
            organize({label: name}, [col for col, _ in columns]),
        ),
        options=options,
    )
