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

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Canonical:
    role: str  # "calls", "email" or "crm": which canonical topic
    key: bytes
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejected:
    reason_class: str
    reason: str


Mapped = Canonical | Rejected
