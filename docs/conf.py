"""Sphinx configuration of the documentation site: MyST Markdown pages, the furo theme."""

from __future__ import annotations

project = "Inside-sales KPI stream"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = project
html_show_copyright = False
