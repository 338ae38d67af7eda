"""The normaliser's decode and emit, without Kafka: an envelope of each vendor becomes its
canonical events (on the calls or e-mail role, keyed as those pipelines require); an envelope
that maps to nothing but rejections is a decode rejection (the DLQ, counted) with the
adapter's reason; a batch's bad events go to the DLQ role on their own."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlencode

import orjson

from stream_app.adapters.normaliser import NormaliserFamily
from stream_app.spine.clock import FakeClock
from stream_app.spine.collector import StateCollector
from stream_app.spine.decode import Accepted, Rejected, decode
from stream_app.spine.engine import Engine
from stream_app.spine.labels import LabelGuard
from stream_app.spine.store import DictStore, partition_key

NOW = 1_796_100_000_000
FAMILY = NormaliserFamily()


def envelope(vendor: str, body: str, query: str = "", request_id: str = "r1") -> bytes:
    return orjson.dumps(
        {
            "request_id": request_id,
            "vendor": vendor,
            "received_at": NOW,
            "query": query,
            "body": body,
        }
    )


def decoded(raw: bytes) -> Accepted[Any] | Rejected:
    return decode(raw, b"r1", FAMILY, max_bytes=1_000_000, now_ms=NOW, max_future_ms=60_000)


def test_a_twilio_callback_becomes_a_call_event_keyed_by_rep() -> None:
    form = urlencode(
        {
            "CallSid": "CA9",
            "CallStatus": "in-progress",
            "Direction": "outbound-api",
            "AnsweredBy": "human",
            "Timestamp": "Mon, 30 Nov 2026 00:53:40 +0000",
        }
    )
    query = urlencode({"rep_id": "rep-a", "team_id": "team-x", "started_at": "1796000000000"})
    result = decoded(envelope("twilio", form, query))
    assert isinstance(result, Accepted)
    ((role, key, value),) = FAMILY.emit(None, {}, result.event)
    event = orjson.loads(value)
    assert (role, key) == ("calls", b"rep-a")
    assert (event["event_id"], event["status"], event["answered_by"]) == (
        "twilio:CA9:in-progress",
        "answered",
        "human",
    )


def test_a_callback_that_maps_to_nothing_but_rejections_is_dead_lettered() -> None:
    result = decoded(envelope("aircall", '{"resource": "call", "event": "call.created"}'))
    assert isinstance(result, Rejected)
    assert result.reason_class == "wrong_type"  # the adapter's invalid_payload
    assert "aircall: no data object" in result.reason


def test_a_sendgrid_batch_sends_good_events_on_and_bad_ones_to_the_dlq() -> None:
    good = {
        "event": "delivered",
        "timestamp": 1_796_000_000,
        "sg_event_id": "e1",
        "sg_message_id": "m1.filter",
        "campaign_id": "spring",
        "lead_id": "lead-1",
        "sent_at": 1_796_000_000,
        "email": "someone@example.com",
    }
    bad = {**good, "sg_event_id": "e2", "lead_id": None}
    result = decoded(envelope("sendgrid", orjson.dumps([good, bad]).decode()))
    assert isinstance(result, Accepted)
    emits = FAMILY.emit(None, {}, result.event)
    assert [(role, key) for role, key, _ in emits] == [
        ("email", b"spring"),
        ("rejected", b"sendgrid"),
    ]
    dead = orjson.loads(emits[1][2])
    assert dead["reason_class"] == "missing_field" and dead["request_id"] == "r1"
    assert b"someone@example.com" not in b"".join(v for _, _, v in emits)


# ---- vendor events with nothing for the KPIs: counted, never dead letters ------------------


def normaliser_engine(store: DictStore) -> Engine[Any]:
    return Engine(
        FAMILY,
        store,
        FakeClock(NOW),
        specs=(),
        tz="UTC",
        grace_ms=0,
        window_retention_ms=3_600_000,
        dedupe_retention_ms=3_600_000,
    )


IGNORED_TRAFFIC = [
    envelope("aircall", '{"resource": "call", "event": "call.hold", "data": {"id": 1}}', "", "a"),
    envelope("aircall", '{"resource": "contact", "event": "contact.created", "data": {}}', "", "b"),
    envelope(
        "hubspot",
        orjson.dumps(
            [
                {"subscriptionType": "company.creation", "portalId": 1, "objectId": 7},
                {"subscriptionType": "company.creation", "portalId": 1, "objectId": 8},
            ]
        ).decode(),
        "",
        "c",
    ),
    envelope("aircall", '{"resource": "call", "event": "call.hold", "data": {"id": 2}}', "", "d"),
]
"""Expected, by the adapters' documented rule (a type with nothing for the KPIs is counted once
per vendor event): aircall call.hold 2, aircall contact.created 1, hubspot company.creation 2."""
EXPECTED = {"aircall|call.hold": 2, "aircall|contact.created": 1, "hubspot|company.creation": 2}


def apply(engine: Engine[Any], raw: bytes, offset: int) -> str:
    key = orjson.loads(raw)["request_id"].encode()  # the gateway keys by request
    result = decode(raw, key, FAMILY, max_bytes=1_000_000, now_ms=NOW, max_future_ms=60_000)
    assert isinstance(result, Accepted), result
    plan = engine.plan(result.event, 0, offset)
    engine.commit(plan)
    engine.flush()
    return plan.kind


def ignored_samples(engine: Engine[Any]) -> dict[tuple[str, str], float]:
    collector = StateCollector(
        engine,
        prefix="isales",
        source_topic="vendor.aircall",
        owned=lambda: {0},
        highwater=lambda _: None,
        guard=LabelGuard({}),
        clock=FakeClock(NOW),
    )
    return {
        (s.labels["vendor"], s.labels["type"]): s.value
        for family in collector.collect()
        for s in family.samples
        if s.name == "isales_vendor_ignored_events_total"
    }


def test_ignored_vendor_events_are_counted_once_by_vendor_and_type() -> None:
    engine = normaliser_engine(DictStore())
    kinds = [apply(engine, raw, offset) for offset, raw in enumerate(IGNORED_TRAFFIC)]
    assert kinds == ["applied"] * 4  # handled, not dead-lettered
    # A replay of the same offsets (a restart before the commit) changes nothing.
    assert [apply(engine, raw, o) for o, raw in enumerate(IGNORED_TRAFFIC)] == ["replayed"] * 4
    assert ignored_samples(engine) == {
        tuple(label.split("|")): float(n) for label, n in EXPECTED.items()
    }
    assert FAMILY.emit(None, {}, decode_event(IGNORED_TRAFFIC[0])) == []


def test_a_crash_between_the_entity_and_the_partition_record_counts_once() -> None:
    store = DictStore()
    engine = normaliser_engine(store)
    for offset, raw in enumerate(IGNORED_TRAFFIC[:3]):
        apply(engine, raw, offset)
    before = copy.deepcopy(store.data[partition_key(0)])
    apply(engine, IGNORED_TRAFFIC[3], 3)
    store.data[partition_key(0)] = before  # the entity's write survived, the partition's not
    restarted = normaliser_engine(store)
    assert apply(restarted, IGNORED_TRAFFIC[3], 3) == "applied"  # finished, not duplicated
    assert ignored_samples(restarted)[("aircall", "call.hold")] == 2.0


def test_type_labels_are_bounded_and_clean() -> None:
    from stream_app.adapters import ignored_label
    from stream_app.spine.collector import MAX_TYPES_PER_VENDOR, capped_types

    assert ignored_label("aircall", "call.hold") == "aircall|call.hold"
    assert ignored_label("aircall", "+1 415 555 0100") == "aircall|invalid"  # never a value
    many = {f"sendgrid|t{i:03d}": 1 for i in range(MAX_TYPES_PER_VENDOR + 5)}
    capped = capped_types(many)
    assert len(capped) == MAX_TYPES_PER_VENDOR + 1
    assert capped[("sendgrid", "other")] == 5


def decode_event(raw: bytes) -> Any:
    key = orjson.loads(raw)["request_id"].encode()
    result = decode(raw, key, FAMILY, max_bytes=1_000_000, now_ms=NOW, max_future_ms=60_000)
    assert isinstance(result, Accepted)
    return result.event
