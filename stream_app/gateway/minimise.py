"""Less personal data at the edge: what the gateway writes to a vendor topic keeps only the
fields the adapters read (docs/operations/personal-data.md, "At the gateway").

Applied after the signature was verified on the bytes as received, never before. Each vendor's
rule is a keep-list taken from its adapter: a field the adapter does not read is dropped, so
phone numbers, e-mail addresses, names and IP addresses do not reach Kafka, and the KPIs are
the same (the adapters read nothing that is dropped). Where a party's identity may be wanted
later as a join key (a caller's number, a recipient's address), it is kept as a keyed hash
(HMAC-SHA256 with `ISALES_GATEWAY_HASH_KEY`) when that key is set, and dropped when not.

A body the rule cannot parse is written as received: the adapter dead-letters it with its
reason, and the dead-letter topic keeps it for `ISALES_DLQ_RETENTION_DAYS`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from stream_app.adapters.hubspot_objects import AMOUNT, CURRENCY, OWNER, STAGE, discovery_status

Hasher = Callable[[str], str] | None
"""A party's identity as its keyed hash (`hmac-sha256:<hex>`), or None: drop it."""

TWILIO_KEEP = frozenset(
    {"CallSid", "CallStatus", "Direction", "Timestamp", "AnsweredBy", "CallDuration"}
)
"""What the Twilio adapter reads of a status callback (the callback URL's own query, rep and
lead ids the team put there, is not the body and is kept)."""
TWILIO_PARTIES = ("From", "To")
"""Kept as a keyed hash if a key is set; `From` as it is when it is the rep's softphone
(`client:<identity>`), which the adapter skips."""

AIRCALL_TOP = frozenset({"resource", "event", "timestamp"})
"""Never `token`: Aircall's shared secret travels in the body, and the gateway checked it."""
AIRCALL_DATA = frozenset(
    {"id", "direction", "started_at", "answered_at", "ended_at", "missed_call_reason"}
)

SENDGRID_KEEP = frozenset(
    {
        "event",
        "sg_event_id",
        "sg_message_id",
        "timestamp",
        "campaign_id",
        "category",
        "lead_id",
        "sent_at",
        "variant",
        "subject_id",
        "segment",
        "owner_rep_id",
        "owner_team_id",
        "sg_machine_open",
        "type",
    }
)
"""What the SendGrid adapter reads of an event (custom args included); `url` is cut to its
host, `email` kept only as a keyed hash."""

HUBSPOT_KEEP = frozenset(
    {
        "subscriptionType",
        "objectTypeId",
        "portalId",
        "objectId",
        "occurredAt",
        "eventId",
        "propertyName",
        "associationType",
        "fromObjectId",
        "toObjectId",
        "associationRemoved",
    }
)
HUBSPOT_VALUES = frozenset({STAGE, OWNER, AMOUNT, CURRENCY})
"""Properties whose values the KPIs read. A discovery property's value becomes its status
marker (answered, or the documented not-answered markers); every other value is dropped."""


def keyed_hash(key: bytes) -> Callable[[str], str]:
    def digest(value: str) -> str:
        return "hmac-sha256:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    return digest


def twilio(body: bytes, hasher: Hasher) -> bytes:
    if body.lstrip()[:1] in (b"{", b"["):
        return body  # not a status callback: the adapter dead-letters it as received
    try:
        form = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return body
    kept = []
    for name, value in form:
        if name in TWILIO_KEEP or (name == "From" and value.startswith("client:")):
            kept.append((name, value))
        elif name in TWILIO_PARTIES and hasher is not None and value:
            kept.append((name, hasher(value)))
    return urlencode(kept).encode()


def aircall(body: bytes, hasher: Hasher) -> bytes:
    parsed = _json(body)
    if not isinstance(parsed, dict):
        return body
    out = {k: v for k, v in parsed.items() if k in AIRCALL_TOP}
    data = parsed.get("data")
    if isinstance(data, dict):
        kept: dict[str, Any] = {k: v for k, v in data.items() if k in AIRCALL_DATA}
        for name in ("user", "contact"):
            if isinstance(data.get(name), dict) and "id" in data[name]:
                kept[name] = {"id": data[name]["id"]}
        if isinstance(data.get("teams"), list):
            kept["teams"] = [{"id": t.get("id")} for t in data["teams"] if isinstance(t, dict)]
        if isinstance(data.get("tags"), list):
            kept["tags"] = [{"name": t.get("name")} for t in data["tags"] if isinstance(t, dict)]
        if hasher is not None and isinstance(data.get("raw_digits"), str):
            kept["raw_digits"] = hasher(data["raw_digits"])
        out["data"] = kept
    elif "data" in parsed:
        out["data"] = data
    return orjson.dumps(out)


def sendgrid(body: bytes, hasher: Hasher) -> bytes:
    parsed = _json(body)
    if not isinstance(parsed, list):
        return body
    out: list[Any] = []
    for event in parsed:
        if not isinstance(event, dict):
            out.append(event)  # the adapter dead-letters it as it is
            continue
        kept = {k: v for k, v in event.items() if k in SENDGRID_KEEP}
        url = event.get("url")
        if isinstance(url, str):
            # The adapter reads the clicked link's host: the path and query may carry
            # the recipient's own tokens.
            scheme, sep, rest = url.partition("//")
            host = (rest if sep else url).split("/", 1)[0].split("?", 1)[0]
            kept["url"] = f"{scheme}//{host}/" if sep else host
        if hasher is not None and isinstance(event.get("email"), str):
            kept["email"] = hasher(event["email"].strip().lower())
        out.append(kept)
    return orjson.dumps(out)


def hubspot(body: bytes, discovery: Collection[str]) -> bytes:
    parsed = _json(body)
    single = isinstance(parsed, dict)
    events = [parsed] if single else parsed
    if not isinstance(events, list):
        return body
    out: list[Any] = []
    for event in events:
        if not isinstance(event, dict):
            out.append(event)
            continue
        kept = {k: v for k, v in event.items() if k in HUBSPOT_KEEP}
        name, value = event.get("propertyName"), event.get("propertyValue")
        if "propertyValue" in event and name in HUBSPOT_VALUES:
            kept["propertyValue"] = value
        elif "propertyValue" in event and name in discovery:
            text = None if value is None else str(value)
            status = discovery_status(text)
            kept["propertyValue"] = "answered" if status == "answered" else text
        out.append(kept)
    return orjson.dumps(out[0] if single else out)


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def minimiser(discovery: Collection[str], hash_key: bytes | None) -> Callable[[str, bytes], bytes]:
    """`(vendor, verified body) -> the body to write`."""
    hasher = keyed_hash(hash_key) if hash_key else None
    rules: dict[str, Callable[[bytes], bytes]] = {
        "twilio": lambda body: twilio(body, hasher),
        "aircall": lambda body: aircall(body, hasher),
        "sendgrid": lambda body: sendgrid(body, hasher),
        "hubspot": lambda body: hubspot(body, discovery),
    }

    def minimise(vendor: str, body: bytes) -> bytes:
        return rules[vendor](body)

    return minimise
