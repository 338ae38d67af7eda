"""`stream-app board`: the page and its one JSON endpoint. The server asks Prometheus (the
local one `up` starts, or yours) and hands the page rows, so the browser talks to one origin
and needs nothing from the internet."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from stream_app.adapters.people import DirectoryFile
from stream_app.board import DOCS_HTML
from stream_app.board.day import (
    HOUR_MS,
    ShownDay,
    outside_hours,
    pace_per_hour,
    per_hour,
    shown_day,
)
from stream_app.board.queries import CHART_DIALS, QUERIES, Query
from stream_app.families.calls.targets import TargetsFile, TargetsStore
from stream_app.spine.business_time import BusinessCalendar, is_open
from stream_app.spine.clock import Clock, SystemClock

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


def rows(results: dict[Query, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Prometheus vectors -> one row per label set and section, a column per query."""
    merged: dict[str, dict[tuple[str, ...], dict[str, Any]]] = defaultdict(dict)
    for query, vector in results.items():
        for sample in vector:
            labels = sample["metric"]
            key = tuple(labels.get(name, "") for name in query.by)
            row = merged[query.section].setdefault(key, dict(zip(query.by, key, strict=True)))
            row[query.name] = float(sample["value"][1])
    return {section: [r for _, r in sorted(m.items())] for section, m in merged.items()}


def _team_targets(reps: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for row in reps:
        if "dials_target" in row:
            out[row.get("team", "")] += row["dials_target"]
    return dict(out)


class Board:
    def __init__(
        self,
        prometheus_url: str,
        docs_dir: Path = DOCS_HTML,
        people: DirectoryFile | None = None,
        calendar: Callable[[], BusinessCalendar] | None = None,
        grace_ms: int = 300_000,
        clock: Clock | None = None,
    ) -> None:
        self.prometheus = prometheus_url.rstrip("/")
        self.docs_dir = docs_dir
        self.people = people
        self.calendar = calendar or (lambda: TargetsFile().business_calendar("UTC"))
        self.grace_ms = grace_ms
        self.clock = clock or SystemClock()
        self.session: aiohttp.ClientSession | None = None

    async def _get(self, path: str, **params: str) -> Any:
        assert self.session is not None
        async with self.session.get(self.prometheus + path, params=params) as response:
            body = await response.json()
        if body.get("status") != "success":
            raise ValueError(body.get("error", "query failed"))
        return body["data"]

    async def _vectors(
        self, queries: tuple[Query, ...], at_ms: int, errors: list[str]
    ) -> dict[Query, list[dict[str, Any]]]:
        """Every query evaluated at one instant, so the figures of a refresh agree."""

        async def one(query: Query) -> list[dict[str, Any]]:
            params = {"query": query.promql, "time": f"{at_ms / 1000:.3f}"}
            try:
                data = await self._get("/api/v1/query", **params)
                return list(data["result"])
            except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
                errors.append(f"{query.name}: {exc}")
                return []

        results = await asyncio.gather(*(one(q) for q in queries))
        return dict(zip(queries, results, strict=True))

    async def _hourly(
        self, cal: BusinessCalendar, day: ShownDay, targets: dict[str, float], errors: list[str]
    ) -> dict[str, Any]:
        """Dials per hour of the shown day per team, and the pace line: the team's day target
        spread over the business hours."""
        start, end = day.hours
        until = min(day.at_ms, end)
        hours = list(range(start, max(until, start + 1), HOUR_MS))
        series: dict[str, dict[str, list[float | None]]] = {}
        try:
            data = await self._get(
                "/api/v1/query_range",
                query=CHART_DIALS,
                start=f"{start / 1000:.3f}",
                end=f"{max(until, start) / 1000:.3f}",
                step="60",
            )
        except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
            errors.append(f"chart: {exc}")
            data = {"result": []}
        for result in data["result"]:
            team = result["metric"].get("team", "")
            samples = [(float(t), float(v)) for t, v in result["values"]]
            rows = per_hour(samples, day.hours, until)
            series.setdefault(team, {})["dials"] = [v for _, v, _ in rows]
            # 1 for an hour counted from Prometheus's first sample, not from its start.
            series[team]["partial"] = [1.0 if partial else 0.0 for _, _, partial in rows]
        for team, target in targets.items():
            pace: list[float | None] = list(pace_per_hour(cal, day.day, hours, target))
            series.setdefault(team, {})["pace"] = pace
        return {"hours": [h / 1000 for h in hours], "teams": series}

    async def data(self, _: web.Request) -> web.Response:
        errors: list[str] = []
        now = self.clock.now_ms()
        cal = self.calendar()  # once a refresh: it checks the targets file for a change
        day = shown_day(cal, now, self.grace_ms)
        by_day = tuple(q for q in QUERIES if q.scope == "day")
        rest = tuple(q for q in QUERIES if q.scope == "now")
        results = await self._vectors(rest, now, errors)
        of_day = await self._vectors(by_day, day.at_ms, errors)
        if day.kind == "last_business_day" and not any(of_day.values()):
            # Prometheus did not run on that day (a first start on a Sunday): today so far,
            # labelled as outside business hours, rather than nothing.
            day = outside_hours(cal, now)
            of_day = await self._vectors(by_day, now, errors)
        results.update(of_day)
        sections = rows(results)
        try:
            alerts = [
                {"name": a["labels"].get("alertname", ""), **a}
                for a in (await self._get("/api/v1/alerts"))["alerts"]
                if a.get("state") == "firing"
            ]
        except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
            alerts, errors = [], [*errors, f"alerts: {exc}"]
        if self.people is not None:
            # The people directory's display names beside the rep ids (the ids stay the key).
            names = self.people.get().names
            for section in sections.values():
                for row in section:
                    if row.get("rep") in names:
                        row["name"] = names[row["rep"]]
        body = {
            **sections,
            "day": {
                "kind": day.kind,
                "date": day.day.isoformat(),
                "at": day.at_ms / 1000,
                "open": is_open(cal, now),
                "timezone": str(cal.tz),
            },
            "hourly": await self._hourly(cal, day, _team_targets(sections.get("reps", [])), errors),
            "alerts": [
                {
                    "name": a["name"],
                    "severity": a["labels"].get("severity", ""),
                    "summary": a.get("annotations", {}).get("summary", ""),
                    "since": a.get("activeAt", ""),
                }
                for a in alerts
            ],
            "as_of": now / 1000,
            "prometheus": self.prometheus,
            "errors": errors,
        }
        return web.json_response(body)

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info.get("name") or "index.html"
        path = (STATIC / name).resolve()
        if path.parent != STATIC or not path.is_file():
            raise web.HTTPNotFound()
        return web.Response(
            body=path.read_bytes(),
            content_type=TYPES.get(path.suffix, "application/octet-stream"),
            headers={"Cache-Control": "no-cache"},
        )

    async def docs_root(self, _: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/docs/")

    async def docs(self, request: web.Request) -> web.StreamResponse:
        """The built documentation site, so the alerts' runbook links open on the first run."""
        root = self.docs_dir.resolve()
        tail = request.match_info.get("tail", "") or "index.html"
        path = (root / tail).resolve()
        if path.is_dir():
            path = path / "index.html"
        if not root.is_dir():
            return web.Response(
                status=404,
                text="The documentation is not built here: run `stream-app docs` "
                "(scripts/bootstrap.sh does), then reload.",
            )
        if root not in path.parents or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def start(self, _: web.Application) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))

    async def stop(self, _: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/board", self.data)
        app.router.add_get("/docs", self.docs_root)
        app.router.add_get("/docs/{tail:.*}", self.docs)
        app.router.add_get("/", self.static)
        app.router.add_get("/{name}", self.static)
        app.on_startup.append(self.start)
        app.on_cleanup.append(self.stop)
        return app


def run(
    prometheus_url: str,
    host: str,
    port: int,
    docs_dir: Path = DOCS_HTML,
    people_file: Path | None = None,
    targets_file: Path | None = None,
    business_timezone: str = "UTC",
    grace_ms: int = 300_000,
) -> None:
    clock = SystemClock()
    people = None
    if people_file is not None:
        people = DirectoryFile(people_file, clock.now_ms)
    # The calls worker's calendar (the targets file), read again when it changes.
    targets = TargetsStore(targets_file, business_timezone, clock)

    def calendar() -> BusinessCalendar:
        targets.maybe_reload()
        return targets.calendar

    board = Board(prometheus_url, docs_dir, people, calendar, grace_ms, clock)
    web.run_app(board.app(), host=host, port=port, print=None)
