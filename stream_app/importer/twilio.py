"""Twilio calls from the Calls resource (`GET /2010-04-01/Accounts/{sid}/Calls.json`), as status
callbacks.

* The list is filtered by start time (`StartTime>`, `StartTime<`), `PageSize` up to 1,000,
  and paged by `next_page_uri`; calls are kept only if their `start_time` is in the window
  (the filter's edges are Twilio's business, the window's are ours).
* A call becomes the callbacks it would have sent: `initiated` at its `start_time`,
  `in-progress` at `end_time - duration` when it was answered (`duration` counts from the
  answer), and its final status at `end_time` with `CallDuration` and `AnsweredBy`. Their
  `event_id`s are the adapter's, `twilio:<CallSid>:<status>`: a callback of the same call is
  a duplicate. A call still under way is imported as far as it has got.
* Twilio knows calls, not reps: the live callbacks carry the `rep_id` the team's code puts on
  the callback URL, which no API keeps. The import takes the rep's Twilio Client identity
  instead (the `client:` caller of the call, or of its parent leg for a `<Dial>` child), which
  the people directory maps to the rep (`twilio:` identities), and the import refuses to run
  Twilio without a directory: the calls topic is keyed by rep, and the same call under two
  rep ids would count twice. No lead: the lead id was on the callback URL too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from stream_app.importer import Raw
from stream_app.importer.http import Api

PAGE_SIZE = 1000
NO_TEAM = "twilio-team-none"
"""The team on an imported call's callback: the people directory replaces it with the rep's."""
UNKNOWN_REP = "unassigned"
FINAL = frozenset({"completed", "busy", "no-answer", "canceled", "failed"})


def _ms(value: Any) -> int | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


def _rfc2822(ms: int) -> str:
    return format_datetime(datetime.fromtimestamp(ms / 1000, UTC))


def identity(call: dict[str, Any], parent: dict[str, Any] | None) -> str:
    """The rep's Twilio Client identity: who placed the call from a softphone."""
    for leg in (call, parent or {}):
        caller = leg.get("from")
        if isinstance(caller, str) and caller.startswith("client:"):
            return caller.removeprefix("client:")
    return UNKNOWN_REP


def callbacks(call: dict[str, Any], parent: dict[str, Any] | None) -> list[Raw]:
    sid, status, direction = call.get("sid"), call.get("status"), call.get("direction")
    started, ended = _ms(call.get("start_time")), _ms(call.get("end_time"))
    if not sid or not isinstance(status, str) or started is None:
        return []  # never dialled (queued, or canceled before it started)
    query = urlencode(
        {"rep_id": identity(call, parent), "team_id": NO_TEAM, "started_at": str(started)}
    )
    common = {"CallSid": sid, "Direction": direction or ""}
    if isinstance(call.get("from"), str) and call["from"].startswith("client:"):
        common["From"] = call["from"]  # the adapter skips a softphone's own leg by it
    steps: list[tuple[str, int, dict[str, str]]] = [("initiated", started, {})]
    duration = str(call.get("duration") or "")
    answered = duration.isdigit() and int(duration) > 0
    if ended is not None and answered:
        steps.append(("in-progress", max(ended - int(duration) * 1000, started), {}))
    if status in FINAL and ended is not None:
        final = {"CallDuration": duration} if duration.isdigit() else {}
        steps.append((status, ended, final))
    elif status == "in-progress" and not answered:
        steps.append(("in-progress", started, {}))
    out = []
    for name, at, extra in steps:
        form = {**common, "CallStatus": name, "Timestamp": _rfc2822(at), **extra}
        if call.get("answered_by") and name in ("in-progress", "completed"):
            form["AnsweredBy"] = str(call["answered_by"])
        body = urlencode(form).encode()
        out.append(Raw("twilio", f"import:twilio:{sid}:{name}", body, query))
    return out


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def window(api: Api, account: str, start_ms: int, end_ms: int) -> list[Raw]:
    base = f"/2010-04-01/Accounts/{account}/Calls.json"
    params = {"StartTime>": _iso(start_ms), "StartTime<": _iso(end_ms), "PageSize": str(PAGE_SIZE)}
    page = await api.get(base, params)
    listed = list(page.get("calls") or [])
    while uri := page.get("next_page_uri"):
        page = await api.get(uri)
        listed += page.get("calls") or []
    by_sid = {c.get("sid"): c for c in listed}
    out: list[Raw] = []
    for call in listed:
        started = _ms(call.get("start_time"))
        if started is None or not start_ms <= started < end_ms:
            continue
        parent_sid = call.get("parent_call_sid")
        parent = by_sid.get(parent_sid) if parent_sid else None
        if parent_sid and parent is None:
            parent = await api.get(f"/2010-04-01/Accounts/{account}/Calls/{parent_sid}.json")
            by_sid[parent_sid] = parent
        out += callbacks(call, parent)
    return out
