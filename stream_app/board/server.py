"""`stream-app board`: the page and its one JSON endpoint. The server asks Prometheus (the
local one `up` starts, or yours) and hands the page rows, so the browser talks to one origin
and needs nothing from the internet."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from stream_app.adapters.people import DirectoryFile
from stream_app.board import DOCS_HTML
from stream_app.board.queries import QUERIES, Query
from stream_app.spine.clock import SystemClock

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


class Board:
    def __init__(
        self,
        prometheus_url: str,
        docs_dir: Path = DOCS_HTML,
        people: DirectoryFile | None = None,
    ) -> None:
        self.prometheus = prometheus_url.rstrip("/")
        self.docs_dir = docs_dir
        self.people = people
        self.session: aiohttp.ClientSession | None = None

    async def _get(self, path: str, **params: str) -> Any:
        assert self.session is not None
        async with self.session.get(self.prometheus + path, params=params) as response:
            body = await response.json()
        if body.get("status") != "success":
            raise ValueError(body.get("error", "query failed"))
        return body["data"]

    async def data(self, _: web.Request) -> web.Response:
        errors: list[str] = []

        async def one(query: Query) -> list[dict[str, Any]]:
            try:
                data = await self._get("/api/v1/query", query=query.promql)
                return list(data["result"])
            except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
                errors.append(f"{query.name}: {exc}")
                return []

        results = await asyncio.gather(*(one(q) for q in QUERIES))
        try:
            alerts = [
                {"name": a["labels"].get("alertname", ""), **a}
                for a in (await self._get("/api/v1/alerts"))["alerts"]
                if a.get("state") == "firing"
            ]
        except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
            alerts, errors = [], [*errors, f"alerts: {exc}"]
        sections = rows(dict(zip(QUERIES, results, strict=True)))
        if self.people is not None:
            # The people directory's display names beside the rep ids (the ids stay the key).
            names = self.people.get().names
            for section in sections.values():
                for row in section:
                    if row.get("rep") in names:
                        row["name"] = names[row["rep"]]
        body = {
            **sections,
            "alerts": [
                {
                    "name": a["name"],
                    "severity": a["labels"].get("severity", ""),
                    "summary": a.get("annotations", {}).get("summary", ""),
                    "since": a.get("activeAt", ""),
                }
                for a in alerts
            ],
            "as_of": time.time(),
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
) -> None:
    people = None
    if people_file is not None:
        people = DirectoryFile(people_file, SystemClock().now_ms)
    board = Board(prometheus_url, docs_dir, people)
    web.run_app(board.app(), host=host, port=port, print=None)
