"""The normaliser stage: raw vendor webhooks (`vendor.<name>`) to canonical events on the
calls, e-mail and CRM topics, keyed as those pipelines require, with the vendor's own event
time and retry-stable ids. It counts nothing; like every stage, it keeps its source offsets in
its state, so a SIGKILL re-sends at worst (same event ids), never loses.

A vendor event with nothing for the KPIs, or of a type the vendor added since, maps to nothing
and is counted per vendor and type (`isales_vendor_ignored_events_total`), never dead-lettered.
A payload that maps to nothing but rejections is refused at decode: the DLQ gets the original
record with its source topic, partition, offset and the adapter's reason, and the DLQ counter
counts it. A batch (SendGrid) with some bad events sends the good ones on and each bad one to
the DLQ as a JSON record with the vendor, the request id, the reason and the event itself.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from pydantic import PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from schemas.common import to_ms
from schemas.vendor import VendorEnvelope
from stream_app.adapters import (
    Canonical,
    Ignored,
    Mapped,
    Rejected,
    aircall,
    hubspot,
    ignored_label,
    sendgrid,
    twilio,
)
from stream_app.adapters.people import VENDORS, DirectoryFile, Who
from stream_app.spine.family_protocol import DerivedSpec, Emit, Facts, MetricSpec, State

REJECTED = "rejected"  # emit role: the DLQ topic


def adapt(envelope: VendorEnvelope) -> list[Mapped]:
    body = envelope.body.encode()
    if envelope.vendor == "twilio":
        return twilio.adapt(body, dict(parse_qsl(envelope.query)), to_ms(envelope.received_at))
    if envelope.vendor == "aircall":
        return aircall.adapt(body)
    if envelope.vendor == "hubspot":
        return hubspot.adapt(body)
    return sendgrid.adapt(body)


class Envelope(VendorEnvelope):
    """The envelope, adapted while it is decoded: a payload with nothing but rejections is a
    decode error (DLQ, counted), with the adapter's reason."""

    _mapped: list[Mapped] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _adapt(self) -> Envelope:
        mapped = adapt(self)
        if mapped and all(isinstance(m, Rejected) for m in mapped):
            first = mapped[0]
            assert isinstance(first, Rejected)
            # The adapter's class (missing_field, invalid_timestamp, ...) and its reason.
            context = {"vendor": self.vendor, "reason": first.reason}
            raise PydanticCustomError(first.reason_class, "{vendor}: {reason}", context)
        self._mapped = mapped
        return self

    @property
    def mapped(self) -> list[Mapped]:
        return self._mapped


log = logging.getLogger(__name__)
ID_LIKE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
REP_FIELDS = {"calls": ("rep_id", "team_id"), "email": ("owner_rep_id", "owner_team_id")}
"""Where each canonical role names the rep and team the people directory decides."""


class NormaliserFamily:
    def __init__(self, people: DirectoryFile | None = None) -> None:
        self.people = people
        self._told: set[tuple[str, str]] = set()

    max_payload_bytes: int = 1_000_000
    """A SendGrid batch of 1,000 events is ~300 KB; Kafka's default record limit is ~1 MB."""
    name: str = "vendor"
    key_field: str = "any (the gateway's choice)"
    model: type[Envelope] = Envelope
    metrics: tuple[MetricSpec, ...] = ()
    derived: tuple[DerivedSpec, ...] = ()

    def partition_key(self, event: Envelope) -> str:
        return event.request_id

    def group(self, event: Envelope) -> str:
        # Every key an event touches must live on its own partition (the spine's rule): the
        # request, which is also the message key.
        return event.request_id

    def event_id(self, event: Envelope) -> str:
        return event.request_id

    def entity(self, event: Envelope) -> str:
        # One small entity per request, swept after ISALES_VENDOR_DEDUPE_HOURS: the canonical
        # events' own ids are what deduplicates a vendor's retries, downstream.
        return event.request_id

    def occurred_ms(self, event: Envelope) -> int:
        return to_ms(event.received_at)

    def entity_time(self, event: Envelope) -> int:
        return to_ms(event.received_at)

    def check_time(self, event: Envelope) -> list[int]:
        return [to_ms(event.received_at)]

    def merge(self, state: State | None, event: Envelope) -> State:
        return {}

    def facts(self, state: State) -> Facts:
        return {}

    def labels(self, state: State) -> Mapping[str, str]:
        return {}

    def windowed(self, fact: str) -> bool:
        return False

    def tally(self, event: Envelope) -> dict[str, int] | None:
        """Counted in the partition's state, exactly once as the applied events are: the vendor
        events of this request that map to nothing (`ignored|vendor|type`,
        isales_vendor_ignored_events_total) and, with a people directory, the canonical events
        whose person it does not list (`unmapped|vendor`,
        isales_vendor_unmapped_events_total)."""
        counts: dict[str, int] = {}
        for m in event.mapped:
            if isinstance(m, Ignored):
                label = "ignored|" + ignored_label(m.vendor, m.kind)
            elif isinstance(m, Canonical) and self._who(event.vendor, m) is False:
                label = f"unmapped|{event.vendor}"
            else:
                continue
            counts[label] = counts.get(label, 0) + 1
        return counts or None

    def _who(self, vendor: str, m: Canonical) -> Who | bool | None:
        """The directory's person for a canonical event (False: not listed; None: no
        directory, or the role names no rep)."""
        if self.people is None or m.role not in REP_FIELDS or vendor not in VENDORS:
            return None
        who = self.people.get().who(vendor, m.person)
        return who if who.mapped else False

    def _missing(self, vendor: str, identity: str | None) -> None:
        """Say once (per process) which identity the people directory lacks, so it can be
        added; a value that is not an id (an address, a phone number) is never logged."""
        key = (vendor, identity or "")
        if key in self._told or len(self._told) >= 1_000:
            return
        self._told.add(key)
        shown = identity if identity and ID_LIKE.fullmatch(identity) else "(not an id: not shown)"
        log.warning(
            "people directory: %s identity %s is not listed; its events count as unmapped-%s",
            vendor,
            shown,
            vendor,
        )

    def _mapped(self, vendor: str, m: Canonical) -> tuple[bytes, dict[str, Any]]:
        """The event with its rep and team as the people directory says (its key too, for
        the calls topic, which is keyed by rep)."""
        if self.people is None or m.role not in REP_FIELDS or vendor not in VENDORS:
            return m.key, m.event
        who = self.people.get().who(vendor, m.person)
        if not who.mapped:
            self._missing(vendor, m.person)
        rep_field, team_field = REP_FIELDS[m.role]
        event = {**m.event, rep_field: who.rep, team_field: who.team}
        return (who.rep.encode() if m.role == "calls" else m.key), event

    def emit(self, old: State | None, new: State, event: Envelope) -> list[Emit]:
        out: list[Emit] = []
        for m in event.mapped:
            if isinstance(m, Canonical):
                key, mapped = self._mapped(event.vendor, m)
                out.append((m.role, key, orjson.dumps(mapped)))
            elif isinstance(m, Rejected):
                body: dict[str, Any] = {
                    "vendor": event.vendor,
                    "request_id": event.request_id,
                    "reason_class": m.reason_class,
                    "reason": m.reason,
                }
                out.append((REJECTED, event.vendor.encode(), orjson.dumps(body)))
        return out
