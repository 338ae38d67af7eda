"""Panels to Grafana dashboard JSON (schema 39), and board queries as Grafana would send them."""

from __future__ import annotations

import json
import re

from stream_app.grafana.model import DATASOURCE, GRID_WIDTH, SCHEMA_VERSION, Json, Panel, Target


def thresholds(steps: tuple[tuple[float | None, str], ...]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def _target_json(target: Target, ref: str) -> Json:
    out: Json = {
        "datasource": dict(DATASOURCE),
        "editorMode": "code",
        "expr": target.expr,
        "instant": target.instant,
        "legendFormat": target.legend or "__auto",
        "range": not target.instant,
        "refId": ref,
    }
    if target.table:
        out["format"] = "table"
    return out


def _options(panel: Panel) -> Json:
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    base: Json
    if panel.kind == "stat":
        base = {
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": reduce,
            "textMode": "auto",
        }
    elif panel.kind == "bargauge":
        base = {
            "displayMode": "gradient",
            "orientation": "horizontal",
            "reduceOptions": reduce,
            "showUnfilled": True,
            "valueMode": "color",
        }
    elif panel.kind == "barchart":
        base = {
            "barWidth": 0.9,
            "groupWidth": 0.7,
            "legend": {
                "calcs": [],
                "displayMode": "list",
                "placement": "bottom",
                "showLegend": True,
            },
            "orientation": "auto",
            "showValue": "auto",
            "stacking": "none",
            "tooltip": {"mode": "multi", "sort": "none"},
            "xTickLabelRotation": 0,
            "xTickLabelSpacing": 0,
        }
    elif panel.kind == "timeseries":
        base = {
            "legend": {
                "calcs": ["lastNotNull", "max"],
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif panel.kind == "table":
        base = {"cellHeight": "sm", "showHeader": True}
    else:
        raise ValueError(f"unknown panel kind {panel.kind!r}")
    return base | panel.options


def _field_defaults(panel: Panel) -> Json:
    defaults: Json = {
        "color": {
            "mode": "palette-classic" if panel.kind in ("timeseries", "barchart") else "thresholds"
        },
        "mappings": list(panel.mappings),
        "thresholds": thresholds(panel.thresholds),
        "unit": panel.unit,
    }
    if panel.no_value is not None:
        defaults["noValue"] = panel.no_value
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    if panel.minimum is not None:
        defaults["min"] = panel.minimum
    if panel.kind == "timeseries":
        defaults["min"] = 0
        defaults["custom"] = {
            "drawStyle": "bars" if panel.bars else "line",
            "fillOpacity": 60 if panel.bars else 10,
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"group": "A", "mode": "normal" if panel.bars else "none"},
        }
    elif panel.kind == "barchart":
        defaults["custom"] = {"axisSoftMin": 0, "fillOpacity": 80, "gradientMode": "none"}
    elif panel.kind == "table":
        defaults["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}}
    return defaults


def _layout(panels: list[Panel]) -> list[tuple[Panel, Json]]:
    """Left to right, wrapping at the grid width."""
    placed: list[tuple[Panel, Json]] = []
    x = y = row_height = 0
    for panel in panels:
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        placed.append((panel, {"h": panel.height, "w": panel.width, "x": x, "y": y}))
        x += panel.width
        row_height = max(row_height, panel.height)
    return placed


def _panel_json(panel: Panel, panel_id: int, grid: Json) -> Json:
    out: Json = {
        "datasource": dict(DATASOURCE),
        "description": panel.description,
        "fieldConfig": {"defaults": _field_defaults(panel), "overrides": list(panel.overrides)},
        "gridPos": grid,
        "id": panel_id,
        "options": _options(panel),
        "targets": [_target_json(t, chr(ord("A") + i)) for i, t in enumerate(panel.targets)],
        "title": panel.title,
        "type": panel.kind,
    }
    if panel.transformations:
        out["transformations"] = list(panel.transformations)
    if panel.min_interval:
        out["interval"] = panel.min_interval
    return out


def variable(name: str, label: str, query: str) -> Json:
    """Multi-value query variable with All (regex .*), for `label=~"$name"` matchers."""
    return {
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "datasource": dict(DATASOURCE),
        "definition": query,
        "hide": 0,
        "includeAll": True,
        "label": label,
        "multi": True,
        "name": name,
        "options": [],
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor"},
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
        "type": "query",
    }


def dashboard(
    uid: str, title: str, description: str, panels: list[Panel], variables: list[Json]
) -> Json:
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": description,
        "editable": False,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": False,
                "icon": "dashboard",
                "includeVars": False,
                "keepTime": True,
                "tags": ["isales"],
                "targetBlank": False,
                "title": "Inside sales",
                "type": "dashboards",
            }
        ],
        "panels": [
            _panel_json(panel, i + 1, grid) for i, (panel, grid) in enumerate(_layout(panels))
        ],
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["isales"],
        "templating": {"list": variables},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


_GRAFANA_VARS = re.compile(r"\$(?:team|campaign|__rate_interval|__interval|__range)\b")


def expand(
    expr: str,
    *,
    team: str = ".*",
    campaign: str = ".*",
    interval: str = "1m",
    time_range: str = "6h",
) -> str:
    """The expr as Grafana would send it, for running it against Prometheus directly
    (`time_range` is the dashboard's time range, `$__range`; the boards default to 6h)."""
    values = {
        "$team": team,
        "$campaign": campaign,
        "$__rate_interval": interval,
        "$__interval": interval,
        "$__range": time_range,
    }
    return _GRAFANA_VARS.sub(lambda m: values[m.group(0)], expr)


def render(board: Json) -> str:
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
