"""Demo traffic for the engagement pipelines: after a good conversation the lead often looks
at the website, downloads something or books a meeting; now and then an ad platform reports
impressions per campaign and segment (counts, never per person)."""

from __future__ import annotations

import random
import zlib
from typing import Any

import orjson

from stream_app.demo.traffic import Produced

WEB_TYPES = ("page_view", "pricing_page_view", "content_download", "meeting_booked", "chat")
SEGMENTS = ("saas:smb", "retail:smb")


def lead_segment(lead: str) -> str:
    """A lead's segment, the same every time (the demo's CRM picks the same labels)."""
    return SEGMENTS[zlib.crc32(lead.encode()) % len(SEGMENTS)]


def web_follow_up(
    rng: random.Random, call: dict[str, Any], team: str, ended_ms: int
) -> list[tuple[int, Produced]]:
    lead = call.get("lead_id")
    out: list[tuple[int, Produced]] = []
    if lead is not None and rng.random() < 0.6:
        for n in range(rng.randint(1, 3)):
            at = ended_ms + rng.randint(30_000, 600_000)
            event = {
                "event_id": f"web-{call['call_id']}-{n}",
                "occurred_at": at,
                "type": rng.choices(WEB_TYPES, (6, 3, 2, 1, 1))[0],
                "lead_id": lead,
                "channel": "web",
                "segment": lead_segment(lead),
                "owner_rep_id": call["rep_id"],
            }
            out.append((at, Produced(lead.encode(), orjson.dumps(event), "event", topic="web")))
    if rng.random() < 0.05:
        campaign = rng.choice(("spring-ads", "webinar-ads"))
        event = {
            "event_id": f"imp-{call['call_id']}",
            "occurred_at": ended_ms,
            "type": "ad_impressions",
            "channel": "ads",
            "campaign_id": campaign,
            "segment": rng.choice(SEGMENTS),
            "count": rng.randint(500, 5_000),
        }
        out.append(
            (ended_ms, Produced(campaign.encode(), orjson.dumps(event), "event", topic="web"))
        )
    return out
