"""The board shows the people directory's display names beside the rep ids: its JSON, served by
`stream-app board`'s handler, against a local server shaped as Prometheus's HTTP API
(/api/v1/query, /api/v1/query_range and /api/v1/alerts, as Prometheus documents them)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from stream_app.adapters.people import DirectoryFile
from stream_app.board.server import Board
from stream_app.spine.clock import FakeClock


async def prometheus(request: web.Request) -> web.Response:
    if request.path == "/api/v1/alerts":
        return web.json_response({"status": "success", "data": {"alerts": []}})
    if request.path == "/api/v1/query_range":  # the chart's series: a matrix, none here
        return web.json_response(
            {"status": "success", "data": {"resultType": "matrix", "result": []}}
        )
    if "unmapped" in request.query.get("query", ""):
        result = [{"metric": {"vendor": "twilio"}, "value": [1796000000, "12"]}]
    else:
        result = [
            {"metric": {"rep": rep, "team": "team-a"}, "value": [1796000000, "3"]}
            for rep in ("rep-01", "rep-99")
        ]
    return web.json_response(
        {"status": "success", "data": {"resultType": "vector", "result": result}}
    )


async def board_json(people: DirectoryFile | None) -> dict[str, Any]:
    api = web.Application()
    api.router.add_get("/{tail:.*}", prometheus)
    async with TestServer(api) as prom_server:
        board = Board(f"http://127.0.0.1:{prom_server.port}", people=people)
        async with TestServer(board.app()) as board_server, ClientSession() as session:
            url = f"http://127.0.0.1:{board_server.port}/api/board"
            async with session.get(url) as response:
                body: dict[str, Any] = await response.json()
                return body


def test_reps_carry_their_display_name_and_keep_their_id(tmp_path: Path) -> None:
    path = tmp_path / "people.yml"
    path.write_text(
        yaml.safe_dump({"people": [{"id": "rep-01", "name": "Aiko Tanaka", "team": "team-a"}]})
    )
    body = asyncio.run(board_json(DirectoryFile(path, FakeClock(0).now_ms)))
    reps = {row["rep"]: row for row in body["reps"]}
    assert reps["rep-01"]["name"] == "Aiko Tanaka"
    assert "name" not in reps["rep-99"]  # not in the directory: its id, as before
    # The directory's gaps, for the warning beside the alerts.
    assert body["unmapped"] == [{"vendor": "twilio", "unmapped_events": 12.0}]
    plain = asyncio.run(board_json(None))
    assert all("name" not in row for row in plain["reps"])
