"""Erasing a lead, the pure part: its hash, which state keys name it, and the engine dropping
its later events (docs/operations/personal-data.md, "Erasing a person")."""

from __future__ import annotations

import hashlib

from schemas.touch import TouchRecord
from stream_app.families.engagement.config import EngagementConfig
from stream_app.families.engagement.lead import LeadFamily
from stream_app.spine.clock import FakeClock
from stream_app.spine.engine import Engine
from stream_app.spine.erasure import entity_ids, erased_entities, lead_hash
from stream_app.spine.store import DictStore
from tests.helpers.factories import T0


def test_the_hash_is_sha256_of_the_prefixed_id() -> None:
    assert lead_hash("lead-7") == hashlib.sha256(b"isales-lead:lead-7").hexdigest()


def test_the_keys_that_name_a_lead() -> None:
    assert entity_ids("e/lead-7/lead-7") == ["lead-7", "lead-7"]
    assert entity_ids("e/seg:smb/lead-7") == ["lead-7"]
    assert "a/b" in entity_ids("e/a/b/a/b")  # an id holding a '/', as its own group
    assert entity_ids("w/rep-01/1h/0") == [] and entity_ids("t/rep-01") == []
    keys = ["e/lead-7/lead-7", "e/seg:smb/lead-7", "e/lead-8/lead-8", "e/rep:a/call:1:dial"]
    found = erased_entities(keys, {lead_hash("lead-7")})
    assert [key for key, _, _ in found] == ["e/lead-7/lead-7", "e/seg:smb/lead-7"]


def touch(n: int, lead: str) -> TouchRecord:
    return TouchRecord.model_validate(
        {
            "event_id": f"t{n}",
            "touch_id": f"t{n}",
            "occurred_at": T0 + n * 1000,
            "lead_id": lead,
            "type": "page_view",
            "channel": "web",
        }
    )


def test_an_erased_leads_events_count_nowhere() -> None:
    engine: Engine[TouchRecord] = Engine(
        LeadFamily(EngagementConfig()),
        DictStore(),
        FakeClock(T0),
        specs=(),
        tz="UTC",
        grace_ms=0,
        window_retention_ms=0,
        dedupe_retention_ms=10**12,
    )
    engine.erased.add(lead_hash("lead-7"))
    kinds = []
    for offset, lead in enumerate(("lead-7", "lead-8", "lead-7")):
        plan = engine.plan(touch(offset, lead), 0, offset)
        engine.commit(plan)
        kinds.append(plan.kind)
    engine.flush()
    assert kinds == ["erased", "applied", "erased"]
    pst = engine.store.get("p/0")
    assert pst is not None and pst["o"] == 2 and pst["er"] == 2 and pst["applied"] == 1
    assert engine.store.get("e/lead-7/lead-7") is None
    assert engine.store.get("e/lead-8/lead-8") is not None
