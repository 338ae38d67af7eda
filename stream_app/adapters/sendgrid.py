"""SendGrid Event Webhook: a JSON array of events of any type, in any order, retried as a whole.

Each event maps to one canonical e-mail event (or none: a type the KPIs do not use), or a
rejection of that event alone: one bad event does not refuse its batch. The campaign, variant,
subject, segment, lead, owner and send time come from the message's custom args (SendGrid's
`custom_args`, echoed at the top level of every event); the recipient's address is never read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from stream_app.adapters import Canonical, Ignored, Mapped, Rejected

TYPES = {
    "processed": "sent",
    "delivered": "delivered",
    "open": "open",
    "click": "click",
    "bounce": "bounce",
    "deferred": "deferred",
    "dropped": "dropped",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
    "spamreport": "spam_report",
}
IGNORED = frozenset({"group_resubscribe"})


def _ms(value: Any) -> int | None:
    """Unix seconds (SendGrid's `timestamp`, an int or a numeric string), ms, or ISO-8601."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        number = int(value)
        return number * 1000 if number < 100_000_000_000 else number
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    return None


def _campaign(event: dict[str, Any]) -> str | None:
    if event.get("campaign_id"):
        return str(event["campaign_id"])
    category = event.get("category")
    if isinstance(category, list):
        category = category[0] if category else None
    return str(category) if category else None


def adapt_event(event: Any) -> Mapped | None:
    if not isinstance(event, dict):
        return Rejected("invalid_payload", "an event is not a JSON object")
    kind = event.get("event")
    if kind in IGNORED or kind not in TYPES:
        # Nothing for the KPIs, or a type SendGrid added since: counted, not a dead letter.
        return Ignored("sendgrid", str(kind))
    event_id, message = event.get("sg_event_id"), event.get("sg_message_id")
    if not event_id or not message:
        return Rejected("missing_field", "sg_event_id and sg_message_id are required")
    at = _ms(event.get("timestamp"))
    if at is None:
        return Rejected("invalid_timestamp", "timestamp is not a Unix time")
    campaign, lead = _campaign(event), event.get("lead_id")
    if campaign is None:
        return Rejected("missing_field", "no campaign_id custom arg and no category")
    if not lead:
        # Never the address instead: it is personal data, and not the CRM's lead.
        return Rejected("missing_field", "no lead_id custom arg")
    sent = _ms(event.get("sent_at"))
    if sent is None and kind == "processed":
        sent = at
    if sent is None:
        return Rejected("missing_field", "no sent_at custom arg")
    body: dict[str, Any] = {
        # SendGrid's id for this event: the same on every retry of the batch.
        "event_id": f"sendgrid:{event_id}",
        "occurred_at": at,
        "type": TYPES[kind],
        # sg_message_id is the X-Message-Id plus a per-filter suffix: every event of one
        # message shares the part before the first dot.
        "message_id": f"sendgrid:{str(message).split('.', 1)[0]}",
        "campaign_id": campaign,
        "variant": str(event.get("variant") or "default"),
        "subject_id": str(event.get("subject_id") or "default"),
        "segment": str(event.get("segment") or "unknown"),
        "lead_id": str(lead),
        "sent_at": min(sent, at),
    }
    for field in ("owner_rep_id", "owner_team_id"):
        if event.get(field):
            body[field] = str(event[field])
    if kind == "open":
        body["machine_open"] = bool(event.get("sg_machine_open"))
    if kind == "click" and isinstance(event.get("url"), str):
        host = event["url"].split("//", 1)[-1].split("/", 1)[0].split("?", 1)[0]
        if host:
            body["url_host"] = host.lower()
    if kind == "bounce":
        # `type`: "bounce" (the address does not exist: hard) or "blocked" (refused for now).
        body["bounce_type"] = "soft" if event.get("type") == "blocked" else "hard"
    return Canonical("email", campaign.encode(), body, body.get("owner_rep_id"))


def adapt(payload: bytes) -> list[Mapped]:
    """One webhook POST: every event of the batch, mapped or rejected on its own."""
    try:
        batch = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return [Rejected("invalid_json", "the body is not JSON")]
    if not isinstance(batch, list):
        return [Rejected("invalid_payload", "the body is not a JSON array of events")]
    return [m for m in (adapt_event(e) for e in batch) if m is not None]
