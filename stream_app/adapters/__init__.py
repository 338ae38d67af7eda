"""Vendor payloads to canonical events (README, "Vendor events in"): one pure module per vendor.

An adapter takes what the vendor sent (its body and, for form-encoded callbacks, the callback
URL's query) and returns canonical events, each with the topic role it belongs on and its message
key, or a rejection with a reason. Each maps the vendor's own retry-stable id to `event_id`, so a
vendor retry deduplicates downstream. No adapter keeps state: the KPI pipelines' merges already
make order and duplicates harmless.

They live here, not in the family packages, because one vendor feeds several families (HubSpot:
CRM and e-mail) and the normaliser stage is per vendor topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TYPE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


@dataclass(frozen=True, slots=True)
class Canonical:
    role: str  # "calls", "email" or "crm": which canonical topic
    key: bytes
    event: dict[str, Any]
    person: str | None = None
    """The vendor's own identity of the rep (an Aircall user id, the rep_id on a Twilio
    callback URL, a SendGrid owner_rep_id), mapped through the people directory when one is
    configured (adapters.people); never a label itself."""


@dataclass(frozen=True, slots=True)
class Rejected:
    reason_class: str
    reason: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A vendor event that carries nothing for the KPIs (an Aircall `call.hold`, a SendGrid
    `group_resubscribe`, a HubSpot company change) or a type the vendor added since: normal
    traffic, so never a dead letter; counted per vendor and type
    (`isales_vendor_ignored_events_total`)."""

    vendor: str
    kind: str


Mapped = Canonical | Rejected | Ignored


def ignored_label(vendor: str, kind: str) -> str:
    """`vendor|type` as the counter's labels: a vendor's type names kept if they look like type
    names (letters, digits, `._-`, at most 64), anything else as `invalid`."""
    clean = kind if _TYPE_NAME.fullmatch(kind) else "invalid"
    return f"{vendor}|{clean}"
