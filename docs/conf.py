"""Sphinx configuration of the documentation site: MyST Markdown pages, the furo theme."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# The site's own extensions (docs/_ext) and the project they document (the repository root).
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))

project = "Inside-sales KPI stream"

extensions = ["myst_parser"]
# reference/configuration.md, generated from the settings classes at every build.
extensions += ["isales_reference"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = project
html_show_copyright = False
