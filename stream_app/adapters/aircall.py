"""Aircall webhooks (JSON, `resource: call`): one canonical call event per call event, or none.

* Times are Unix seconds on the call itself (`data.started_at`, `answered_at`, `ended_at`); an
  event's time is the call's own timestamp for it, not the payload's `timestamp` (when Aircall
  built the payload), except for tags, which have no other.
* Talk time is `ended_at - answered_at`: Aircall's `duration` includes ringing and IVR.
* Aircall has no answering-machine detection, and its "answered" outbound call includes
  voicemail. An inbound call an agent answered is a person; an outbound one is `human` or
  `machine` only when the rep tags it (`connected`, or `voicemail` / `machine`), and unknown
  (neither a connect nor a machine answer) otherwise. A tag arriving later is a later event of
  the call, so the connect is counted when the tag comes.
* The rep is `aircall-<user id>`, the team `aircall-team-<first team id>`, the lead
  `aircall-contact-<contact id>`; phone numbers (`raw_digits`, the contact's) are never read.
* `event_id` = call id + event (+ the payload time for tag changes, which repeat): a retry of
  the same webhook is the same event.
"""

from __future__ import annotations

from typing import Any

import orjson

from stream_app.adapters import Canonical, Ignored, Mapped, Rejected

HUMAN_TAGS = frozenset({"connected", "human", "conversation"})
MACHINE_TAGS = frozenset({"voicemail", "machine", "answering machine"})
HANDLED = frozenset(
    {
        "call.created",
        "call.ringing_on_agent",
        "call.answered",
        "call.ended",
        "call.hungup",
        "call.tagged",
        "call.untagged",
    }
)
"""The call events that say something about a dial, a connect or talk time; every other
event Aircall documents (call.hold, call.agent_declined, call.unsuccessful_transfer,
call.comm_assets_generated, user.*, contact.*, ...) and any it adds is ignored and counted."""


def _s_to_ms(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return int(value) * 1000
    return None


def _answered_by(data: dict[str, Any]) -> str | None:
    tags = {
        str(t.get("name", "")).strip().lower()
        for t in data.get("tags") or []
        if isinstance(t, dict)
    }
    if tags & MACHINE_TAGS:
        return "machine"
    if tags & HUMAN_TAGS:
        return "human"
    if data.get("direction") == "inbound" and data.get("answered_at"):
        return "human"
    return None


def adapt(payload: bytes) -> list[Mapped]:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return [Rejected("invalid_json", "the body is not JSON")]
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        return [Rejected("invalid_payload", "no data object")]
    event, data = str(body.get("event", "")), body["data"]
    if body.get("resource") != "call" or event not in HANDLED:
        # Users, numbers, contacts, messages, and call events with nothing for the KPIs
        # (hold, transfers, comments, ...) or added by Aircall since: counted, not dead letters.
        return [Ignored("aircall", event or "none")]
    call_id, direction = data.get("id"), data.get("direction")
    if call_id is None or direction not in ("inbound", "outbound"):
        return [Rejected("missing_field", "data.id and data.direction are required")]
    started = _s_to_ms(data.get("started_at"))
    answered, ended = _s_to_ms(data.get("answered_at")), _s_to_ms(data.get("ended_at"))
    if started is None:
        return [Rejected("invalid_timestamp", "data.started_at is not Unix seconds")]
    if event == "call.created" or event == "call.ringing_on_agent":
        status, at = ("initiated" if event == "call.created" else "ringing"), started
    elif event == "call.answered":
        if answered is None:
            return [Rejected("missing_field", "call.answered without answered_at")]
        status, at = "answered", answered
    elif event in ("call.ended", "call.hungup"):
        if ended is None:
            return [Rejected("missing_field", f"{event} without ended_at")]
        status, at = ("completed" if answered is not None else "no_answer"), ended
    elif event in ("call.tagged", "call.untagged"):
        at_payload = _s_to_ms(body.get("timestamp"))
        if at_payload is None:
            return [Rejected("invalid_timestamp", "timestamp is not Unix seconds")]
        status = "completed" if ended is not None else "answered" if answered else "ringing"
        at = max(at_payload, ended or answered or started)
    else:  # pragma: no cover - HANDLED lists exactly the branches above
        return [Ignored("aircall", event)]
    user, teams = data.get("user") or {}, data.get("teams") or []
    rep = f"aircall-{user['id']}" if isinstance(user, dict) and user.get("id") else "unassigned"
    team_id = teams[0].get("id") if teams and isinstance(teams[0], dict) else None
    suffix = f":{body.get('timestamp')}" if event in ("call.tagged", "call.untagged") else ""
    canonical: dict[str, Any] = {
        "event_id": f"aircall:{call_id}:{event}{suffix}",
        "occurred_at": at,
        "call_id": f"aircall:{call_id}",
        "rep_id": rep,
        "team_id": f"aircall-team-{team_id}" if team_id is not None else "aircall-team-none",
        "direction": direction,
        "status": status,
        "started_at": started,
    }
    contact = data.get("contact")
    if isinstance(contact, dict) and contact.get("id") is not None:
        canonical["lead_id"] = f"aircall-contact-{contact['id']}"
    if answered is not None and status in ("answered", "completed"):
        canonical["answered_at"] = answered
    if ended is not None and status in ("completed", "no_answer"):
        canonical["ended_at"] = ended
    if answered is not None and ended is not None and status == "completed":
        canonical["talk_seconds"] = (ended - answered) / 1000
    answered_by = _answered_by(data) if answered is not None else None
    if answered_by is not None:
        canonical["answered_by"] = answered_by
    if status == "no_answer" and data.get("missed_call_reason"):
        canonical["disposition"] = str(data["missed_call_reason"])[:64]
    person = str(user["id"]) if isinstance(user, dict) and user.get("id") else None
    return [Canonical("calls", rep.encode(), canonical, person)]
