"""100,000 leads leave the reach worker's /metrics bounded, with no lead id in it: every label
comes from a capped set (rep, team, segment, channel, campaign) or a fixed one (kind, band,
status, window, position), whatever the number of leads."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from schemas.touch import ReachRecord
from stream_app.families.engagement.config import EngagementConfig
from stream_app.families.engagement.metrics import SEGMENTS, ReachCollector, SegmentIndex
from stream_app.families.engagement.reach import ReachFamily
from stream_app.spine.clock import FakeClock
from stream_app.spine.engine import Engine
from stream_app.spine.labels import LabelGuard
from stream_app.spine.pipeline import Context, Output
from stream_app.spine.store import DictStore
from stream_app.spine.windows import parse_window_spec

T0 = 1_800_000_000_000
LEADS = 100_000
CAPS = {"rep": 50, "team": 10, "segment": 20, "channel": 8, "campaign": 10}


def credits(leads: int) -> list[bytes]:
    out = []
    for n in range(leads):
        lead, at = f"lead-{n:06d}", T0 + n * 1000
        seg, rep = f"seg-{n % 97}", f"rep-{n % 300}"
        out.append(
            orjson.dumps(
                {
                    "id": lead,
                    "v": 1,
                    "kind": "lead",
                    "group": f"seg:{seg}",
                    "occurred_at": at,
                    "touched": n % 2 == 0,
                    "handoffs": 1 if n % 3 == 0 else 0,
                    "touches": {f"ch-{n % 31}": 2},
                    "score": float(n % 60),
                    "score_at": at,
                }
            )
        )
        out.append(
            orjson.dumps(
                {
                    "id": f"t-{lead}",
                    "v": 1,
                    "kind": "touch",
                    "group": f"rep:{rep}",
                    "occurred_at": at,
                    "team_id": f"team-{n % 23}",
                    "channel": f"ch-{n % 31}",
                    "touch_type": "page_view",
                }
            )
        )
        if n % 100 == 0:
            out.append(
                orjson.dumps(
                    {
                        "id": f"imp-{n}",
                        "v": 0,
                        "kind": "impressions",
                        "group": f"seg:{seg}",
                        "occurred_at": at,
                        "campaign_id": f"camp-{n % 41}",
                        "count": 5000,
                    }
                )
            )
        if n % 3 == 0:
            out.append(
                orjson.dumps(
                    {
                        "id": f"handoff:{lead}",
                        "v": 1,
                        "kind": "handoff",
                        "group": f"rep:{rep}",
                        "occurred_at": at,
                        "band": ("cold", "warming", "warm", "hot")[n % 4],
                        "won": n % 2 == 0,
                    }
                )
            )
    return out


def scrape(leads: int) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    clock = FakeClock(T0 + leads * 1000)
    engine: Engine[Any] = Engine(
        ReachFamily(),
        DictStore(),
        clock,
        specs=tuple(parse_window_spec(n) for n in ("1h", "1d")),
        tz="UTC",
        grace_ms=86_400_000,
        window_retention_ms=86_400_000,
        dedupe_retention_ms=10**12,
    )
    for offset, value in enumerate(credits(leads)):
        engine.commit(engine.plan(ReachRecord.model_validate_json(value), offset % 4, offset))
    engine.flush()
    guard = LabelGuard(CAPS)
    sent: list[tuple[str, bytes, bytes]] = []

    async def produce(topic: str, key: bytes, value: bytes | None) -> Any:
        assert value is not None  # the segment index sends no tombstones
        sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    ctx = cast(
        Context,
        SimpleNamespace(
            engine=engine,
            clock=clock,
            owned=lambda: {0, 1, 2, 3},
            outputs={SEGMENTS: Output("kpi.segments")},
            produce=produce,
        ),
    )
    config = EngagementConfig()
    index = SegmentIndex(ctx, config, refresh_seconds=1)
    collector = ReachCollector(
        engine,
        prefix="isales",
        source_topic="isales.reach",
        owned=ctx.owned,
        highwater=lambda part: None,
        guard=guard,
        clock=clock,
        config=config,
        index=index,
    )
    asyncio.run(index.tick())  # builds the anchors, publishes kpi.segments
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode(), sent


def test_a_hundred_thousand_leads_leave_metrics_bounded_and_anonymous() -> None:
    text, sent = scrape(LEADS)
    small, _ = scrape(LEADS // 5)
    assert "lead-" not in text
    series = [s for family in text_string_to_metric_families(text) for s in family.samples]
    labels: dict[str, set[str]] = {}
    for sample in series:
        for name, value in sample.labels.items():
            labels.setdefault(name, set()).add(value)
    for name, cap in CAPS.items():
        assert len(labels[name] - {"other"}) == cap, name  # every cap reached, none exceeded
    small_series = [s for f in text_string_to_metric_families(small) for s in f.samples]
    # Five times the leads, the same label values: the series grow by a few combinations of
    # the folded `other` rep with its teams, not with the leads (13.9k against 13.2k here).
    assert len(series) < 1.1 * len(small_series), (len(series), len(small_series))
    every_lead = sum(
        v
        for s in series
        if s.name == "isales_reach_segment_leads" and s.labels["stage"] == "targeted"
        for v in (s.value,)
    )
    assert every_lead == LEADS  # folded into `other`, never dropped
    by_band = sum(s.value for s in series if s.name == "isales_reach_leads_by_band")
    assert by_band == LEADS
    assert {t for t, _, _ in sent} == {"kpi.segments"} and b"lead-" not in b"".join(
        v for _, _, v in sent
    )
