"""Small builders for call events in unit tests."""

from __future__ import annotations

from typing import Any

import orjson

from schemas.telephony import CallEvent

T0 = 1_772_445_600_000  # 2026-03-02T10:00:00Z


def raw_event(n: int = 1, call: str = "c1", rep: str = "rep-01", **over: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"{call}-{n}",
        "occurred_at": T0,
        "call_id": call,
        "rep_id": rep,
        "team_id": "team-a",
        "direction": "outbound",
        "status": "initiated",
        "started_at": T0,
    }
    event.update(over)
    return event


def event(n: int = 1, call: str = "c1", rep: str = "rep-01", **over: Any) -> CallEvent:
    return CallEvent.model_validate(raw_event(n, call, rep, **over))


def as_bytes(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data)


def connected_call(
    call: str = "c1",
    rep: str = "rep-01",
    start: int = T0,
    talk_ms: int = 60_000,
    answered_by: str = "human",
) -> list[CallEvent]:
    answered = start + 5_000
    ended = answered + talk_ms
    common = {"started_at": start}
    return [
        event(1, call, rep, occurred_at=start, **common),
        event(2, call, rep, status="ringing", occurred_at=start + 1_000, **common),
        event(
            3,
            call,
            rep,
            status="answered",
            occurred_at=answered,
            answered_by="unknown",
            answered_at=answered,
            **common,
        ),
        event(
            4,
            call,
            rep,
            status="completed",
            occurred_at=ended,
            answered_by=answered_by,
            answered_at=answered,
            ended_at=ended,
            **common,
        ),
    ]
