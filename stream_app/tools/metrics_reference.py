"""The metrics reference: which pipeline exposes which catalogued series, and the docs page made
from it (docs/_ext writes it at build time)."""

from __future__ import annotations

from stream_app.families.calls import catalog as calls
from stream_app.families.crm import catalog as crm
from stream_app.families.email import catalog as email
from stream_app.families.engagement import catalog as engagement
from stream_app.gateway import catalog as gateway
from stream_app.spine.catalog import PIPELINE, Series

FAMILY_SERIES: dict[str, tuple[Series, ...]] = {
    "calls": calls.SERIES,
    "email": email.SERIES,
    "crm-attribution": (),
    "crm": crm.SERIES,
    "web": (),
    "engagement": (),
    "reach": engagement.SERIES,
}
"""Pipeline -> the family series its worker exposes, beside `PIPELINE`."""


def exposed_by(pipeline: str) -> tuple[Series, ...]:
    """Everything a pipeline's worker shows on /metrics."""
    return (*FAMILY_SERIES[pipeline], *PIPELINE)


def every_series() -> tuple[Series, ...]:
    seen: dict[str, Series] = {}
    for series in (*PIPELINE, *gateway.SERIES, *(s for f in FAMILY_SERIES.values() for s in f)):
        seen.setdefault(series.name, series)
    return tuple(seen.values())


SECTIONS = (
    ("Calls (`calls` pipeline)", calls.SERIES),
    ("E-mail (`email` pipeline)", email.SERIES),
    ("CRM: handoffs and outcomes (`crm` pipeline)", crm.SERIES),
    ("Relationship and reach (`reach` pipeline)", engagement.SERIES),
    ("Every pipeline", PIPELINE),
    ("The webhook gateway (`stream-app gateway`)", gateway.SERIES),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """The docs' metrics page."""
    lines = [
        "# Metrics",
        "",
        "Generated from the metrics catalogs (`stream_app/families/*/catalog.py`,",
        "`stream_app/spine/catalog.py`, `stream_app/gateway/catalog.py`): a live scrape of each",
        "pipeline shows exactly these series, and every series the Grafana boards, the alert rules",
        "and the web board query is one of them (both are tested). Labels are from bounded, capped",
        "sets (`other` past a cap); none carries personal data. Each pipeline serves its own port",
        "([pipelines and their ports](commands.md#pipelines-and-their-ports)).",
    ]
    for title, series in SECTIONS:
        lines += [
            "",
            f"## {title}",
            "",
            "| series | type | labels | meaning |",
            "| --- | --- | --- | --- |",
        ]
        for s in series:
            labels = ", ".join(f"`{label}`" for label in s.labels) or "none"
            lines.append(f"| `{s.name}` | {s.kind} | {labels} | {_cell(s.help)} |")
    return "\n".join(lines) + "\n"
