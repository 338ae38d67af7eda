"""Twilio Programmable Voice status callbacks (form-encoded, one per call leg and status).

Twilio knows calls, not reps or leads: the code that creates the call (or the TwiML `<Dial>`
child) puts `rep_id`, `team_id`, optionally `lead_id`, and `started_at` (epoch ms, when it
placed the call) in the StatusCallback URL's query; the gateway passes that query along. A
callback maps to one canonical call event, none (a rep's own softphone leg), or a rejection.

* One dial per outbound leg: `outbound-api` (created through the API) and `outbound-dial` (the
  child leg of a `<Dial>`, with its ParentCallSid) are the calls to the lead; an `inbound` leg
  from a `client:` identity is the rep's softphone joining, not a call; other inbound legs are
  inbound calls.
* A person answered only when answering-machine detection says `human`; `machine_*` and `fax`
  are machines, and a `completed` call without `AnsweredBy` is only known to have connected.
* `event_id` = CallSid + status: Twilio retries a callback with the same fields, so a retry is
  the same event.
* With `AsyncAmd=true` the verdict comes on its own callback (AsyncAmdStatusCallback: CallSid,
  AnsweredBy, MachineDetectionDuration; no CallStatus): an `answered` event of the call with the
  verdict (`event_id` CallSid + `amd`). Put the same query on that URL as on StatusCallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl

from stream_app.adapters import Canonical, Mapped, Rejected

STATUS = {
    "queued": "initiated",
    "initiated": "initiated",
    "ringing": "ringing",
    "in-progress": "answered",
    "completed": "completed",
    "busy": "busy",
    "no-answer": "no_answer",
    "canceled": "canceled",
    "failed": "failed",
}
ANSWERED_BY = {
    "human": "human",
    "machine_start": "machine",
    "machine_end_beep": "machine",
    "machine_end_silence": "machine",
    "machine_end_other": "machine",
    "fax": "machine",
    "unknown": "unknown",
}
OUTBOUND = frozenset({"outbound-api", "outbound-dial"})


def _rfc2822_ms(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


def adapt(body: bytes, query: Mapping[str, str], received_at: int | None = None) -> list[Mapped]:
    try:
        form = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        return [Rejected("invalid_payload", "the body is not form-encoded text")]
    sid, status = form.get("CallSid"), form.get("CallStatus")
    if sid and not status and form.get("AnsweredBy"):
        return _async_amd(sid, form, query, received_at)
    if not sid or not status:
        return [Rejected("missing_field", "CallSid and CallStatus are required")]
    if status not in STATUS:
        return [Rejected("unknown_enum", f"unknown CallStatus {status[:40]!r}")]
    direction = form.get("Direction", "")
    if direction == "inbound" and form.get("From", "").startswith("client:"):
        return []  # the rep's softphone leg; its <Dial> child is the call
    if direction not in OUTBOUND and direction != "inbound":
        return [Rejected("unknown_enum", f"unknown Direction {direction[:40]!r}")]
    at = _rfc2822_ms(form.get("Timestamp"))
    if at is None:
        return [Rejected("invalid_timestamp", "Timestamp is not an RFC 2822 date")]
    rep, team = query.get("rep_id"), query.get("team_id")
    if not rep or not team:
        return [Rejected("missing_field", "rep_id and team_id must be on the callback URL")]
    started = query.get("started_at")
    if started is not None and started.isdigit():
        started_ms: int | None = int(started)
    else:
        started_ms = at if STATUS[status] == "initiated" else None
    if started_ms is None:
        return [Rejected("missing_field", "started_at must be on the callback URL")]
    event: dict[str, Any] = {
        "event_id": f"twilio:{sid}:{status}",
        "occurred_at": at,
        "call_id": f"twilio:{sid}",
        "rep_id": rep,
        "team_id": team,
        "direction": "outbound" if direction in OUTBOUND else "inbound",
        "status": STATUS[status],
        "started_at": min(started_ms, at),
    }
    if query.get("lead_id"):
        event["lead_id"] = query["lead_id"]
    answered_by = ANSWERED_BY.get(form.get("AnsweredBy", ""))
    if answered_by is not None:
        event["answered_by"] = answered_by
    if status == "in-progress":
        event["answered_at"] = at
    if status in ("completed", "busy", "no-answer", "canceled", "failed"):
        event["ended_at"] = at
    duration = form.get("CallDuration", "")
    if status == "completed" and duration.isdigit() and int(duration) > 0:
        # CallDuration runs from the answer to the hang-up, on the final callback only.
        event["talk_seconds"] = float(duration)
    return [Canonical("calls", rep.encode(), event, rep)]


def _async_amd(
    sid: str, form: Mapping[str, str], query: Mapping[str, str], received_at: int | None
) -> list[Mapped]:
    """The AsyncAmdStatusCallback of a call created with `AsyncAmd=true` (what predictive and
    power dialers use): `CallSid`, `AnsweredBy` and `MachineDetectionDuration`, no CallStatus
    and no Timestamp. It becomes an `answered` event of the same call carrying the verdict
    (AMD runs on an answered outbound call), timed when the gateway received it; the call's
    other events carry its answer time, so the verdict's own time only breaks ties. The merge
    keeps a definite verdict whichever order the callbacks arrive in."""
    answered_by = ANSWERED_BY.get(form.get("AnsweredBy", ""))
    if answered_by is None:
        return [Rejected("unknown_enum", f"unknown AnsweredBy {form['AnsweredBy'][:40]!r}")]
    rep, team, started = query.get("rep_id"), query.get("team_id"), query.get("started_at")
    if not rep or not team:
        return [Rejected("missing_field", "rep_id and team_id must be on the callback URL")]
    if started is None or not started.isdigit():
        return [Rejected("missing_field", "started_at must be on the AMD callback URL")]
    if received_at is None:
        return [Rejected("missing_field", "the AMD callback's receive time is unknown")]
    event: dict[str, Any] = {
        "event_id": f"twilio:{sid}:amd",
        "occurred_at": max(received_at, int(started)),
        "call_id": f"twilio:{sid}",
        "rep_id": rep,
        "team_id": team,
        "direction": "outbound",
        "status": "answered",
        "started_at": int(started),
        "answered_by": answered_by,
    }
    if query.get("lead_id"):
        event["lead_id"] = query["lead_id"]
    return [Canonical("calls", rep.encode(), event, rep)]
