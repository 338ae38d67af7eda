"""Headless Chromium (Debian's `chromium`), how a web page is tested here: the DOM after the
page's scripts ran, its console, and a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

FLAGS = [
    "--headless=new",
    "--no-sandbox",  # root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed (scripts/bootstrap.sh installs it)"
    return found


def render(
    url: str, budget_ms: int = 8000, profile: Path | None = None, width: int = 1440
) -> tuple[str, str]:
    """(the DOM after the scripts ran, Chromium's stderr with the page's console lines), in a
    window `width` pixels wide."""
    extra = [f"--user-data-dir={profile}"] if profile else []
    done = subprocess.run(
        [
            chromium(),
            *FLAGS,
            *extra,
            f"--window-size={width},900",
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def screenshot(
    url: str, path: Path, profile: Path | None = None, width: int = 1440, height: int = 1200
) -> None:
    extra = [f"--user-data-dir={profile}"] if profile else []
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            chromium(),
            *FLAGS,
            *extra,
            "--virtual-time-budget=8000",
            f"--window-size={width},{height}",
            "--hide-scrollbars",
            f"--screenshot={path}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and path.exists(), done.stderr[-2000:]


def console_errors(stderr: str) -> list[str]:
    """Uncaught exceptions and console.error lines Chromium logged for the page."""
    return [
        line
        for line in stderr.splitlines()
        if "CONSOLE" in line and re.search(r"Uncaught|Error|error", line)
    ]


class Cells(HTMLParser):
    """Every element's text by its data-kpi (and data-key), and the data-alert names."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self.alerts: list[str] = []
        self.ids: dict[str, str] = {}
        self._open: list[tuple[str, tuple[str, str] | None, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        alert = a.get("data-alert")
        if alert:
            self.alerts.append(alert)
        kpi = a.get("data-kpi")
        key = (kpi, a.get("data-key") or "") if kpi else None
        self._open.append((tag, key, a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for _, key, ident in self._open[-1:]:
            if key is not None:
                self.cells[key] = self.cells.get(key, "") + data
            if ident is not None:
                self.ids[ident] = self.ids.get(ident, "") + data


def cells(dom: str) -> Cells:
    parser = Cells()
    parser.feed(dom)
    return parser


def charts(dom: str) -> dict[str, int]:
    """Each <svg data-chart="name"> of the page and how many marks (bars, lines, dots) it
    draws."""
    out: dict[str, int] = {}
    for match in re.finditer(r'<svg[^>]*data-chart="([^"]+)"[^>]*>(.*?)</svg>', dom, re.S):
        out[match.group(1)] = len(re.findall(r"<(?:rect|path|circle)\b", match.group(2)))
    return out


def html_data(dom: str, name: str) -> str | None:
    """The <html> element's data-`name` attribute, as the page's scripts left it."""
    match = re.search(rf'<html[^>]*\sdata-{name}="([^"]*)"', dom)
    return match.group(1) if match else None
