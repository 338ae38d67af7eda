"""The live board without Grafana (`stream-app board`; `up` starts it): one page served by the
project, no build step and no CDN, reading the KPIs from Prometheus."""

from pathlib import Path

DOCS_SOURCE = Path(__file__).resolve().parents[2] / "docs"
"""The documentation site's sources (a checkout's docs/)."""
DOCS_HTML = DOCS_SOURCE / "_build" / "html"
"""Where `stream-app docs` (and bootstrap) build it; the board serves it at /docs/."""
