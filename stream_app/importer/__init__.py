"""`stream-app import`: a vendor's history from its REST API, as the webhooks would have told it.

Each vendor module turns what its API lists (an Aircall call, a Twilio Call resource, a HubSpot
deal with its property history) into the webhook payloads the vendor sends for it; `run` passes
them through the same normaliser the live webhooks go through (the adapters, the people
directory, the gateway's data minimisation) and writes the canonical events it emits, so an
imported call and the same call arriving by webhook carry the same event ids and count once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Raw:
    """One webhook as the vendor would have sent it for what its API reports."""

    vendor: str
    request_id: str
    """Deterministic (`import:<vendor>:<object>:<event>`): an interrupted import run again
    sends the same requests."""
    body: bytes
    query: str = ""
