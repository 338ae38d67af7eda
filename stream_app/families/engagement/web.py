"""The web stage: web and marketing events (`web.events`, keyed by lead, ad impressions by
campaign) to touches of leads on `isales.touches`, and impressions to their segment on
`isales.reach`. It counts nothing itself."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from schemas.common import to_ms
from schemas.web import WebEvent, WebEventType
from stream_app.families.engagement.touches import REACH, web_touches
from stream_app.spine.family_protocol import DerivedSpec, Emit, Facts, MetricSpec, State


class WebFamily:
    name: str = "web"
    erasable: bool = True
    """Keyed by lead: reads the erasure list (stream-app erase)."""
    key_field: str = "lead_id (campaign_id for ad_impressions)"
    model: type[WebEvent] = WebEvent
    metrics: tuple[MetricSpec, ...] = ()
    derived: tuple[DerivedSpec, ...] = ()

    def partition_key(self, event: WebEvent) -> str:
        key = event.campaign_id if event.type is WebEventType.ad_impressions else event.lead_id
        assert key is not None  # the schema requires it
        return key

    def group(self, event: WebEvent) -> str:
        return self.partition_key(event)

    def event_id(self, event: WebEvent) -> str:
        return event.event_id

    def entity(self, event: WebEvent) -> str:
        return self.partition_key(event)

    def occurred_ms(self, event: WebEvent) -> int:
        return to_ms(event.occurred_at)

    def entity_time(self, event: WebEvent) -> int:
        return to_ms(event.occurred_at)

    def check_time(self, event: WebEvent) -> list[int]:
        return [to_ms(event.occurred_at)]

    def merge(self, state: State | None, event: WebEvent) -> State:
        return {}  # only the dedupe of event ids is kept (the spine's `seen`)

    def facts(self, state: State) -> Facts:
        return {}

    def labels(self, state: State) -> Mapping[str, str]:
        return {}

    def windowed(self, fact: str) -> bool:
        return False

    def emit(self, old: State | None, new: State, event: WebEvent) -> list[Emit]:
        if event.type is not WebEventType.ad_impressions:
            return web_touches(old, new, event)
        group = f"seg:{event.segment}"
        body = {
            "id": f"imp:{event.event_id}",
            "v": 0,
            "kind": "impressions",
            "group": group,
            "occurred_at": to_ms(event.occurred_at),
            "campaign_id": event.campaign_id,
            "count": event.count,
        }
        return [(REACH, group.encode(), orjson.dumps(body))]
