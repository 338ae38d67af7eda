"""Schemas, settings and KPI records: the contracts other services rely on."""

from __future__ import annotations

import json

import orjson
import pytest
from pydantic import ValidationError

from schemas.generate import HERE, MODELS, render, write_all
from schemas.kpi import CallWindowKpi
from schemas.telephony import CallEvent
from stream_app.families.calls.family import CallsFamily
from stream_app.families.calls.records import kpi_key, kpi_record
from stream_app.settings import Settings
from tests.helpers.engines import feed, make
from tests.helpers.factories import T0, connected_call, raw_event


def test_checked_in_json_schemas_are_fresh() -> None:
    assert write_all(check=True) == [], "run `stream-app schemas` and commit the result"
    for name, (model, mode) in MODELS.items():
        assert json.loads((HERE / name).read_text()) == json.loads(render(model, mode))


def test_event_round_trips_through_json() -> None:
    event = CallEvent.model_validate(
        raw_event(answered_by="human", answered_at=T0 + 1, ended_at=T0 + 5_000)
    )
    again = CallEvent.model_validate_json(event.model_dump_json())
    assert again == event
    assert CallsFamily.talk(CallsFamily(30).merge(None, again)) == (T0 + 5_000, 4_999)


def test_kpi_record_matches_its_schema_and_key_is_deterministic() -> None:
    engine = make()
    feed(engine, connected_call(talk_ms=61_000))
    value = engine.store.get(f"w/rep-01/1h/{T0}")
    assert value is not None
    family = CallsFamily(30)
    record = CallWindowKpi.model_validate_json(
        kpi_record(family, value, tz="UTC", final=True, now_ms=T0)
    )
    assert record.dials == 1 and record.talk_seconds == 61.0 and record.final
    assert record.connect_rate == 1.0 and record.avg_talk_seconds == 61.0
    assert record.bucketed_by["dials"] == "started_at"
    assert kpi_key("calls", value) == kpi_key("calls", dict(value))
    assert orjson.loads(kpi_key("calls", value)) == {
        "kpi": "calls",
        "rep_id": "rep-01",
        "window": "1h",
        "window_start_ms": T0,
    }


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("ISALES_WINDOWS", "5m, 1h,1d")
    monkeypatch.setenv("ISALES_BUSINESS_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("ISALES_KAFKA_SASL_PASSWORD", "hunter2")
    s = Settings()
    assert s.bootstrap_list == ["k1:9092", "k2:9092"]
    assert [w.name for w in s.window_specs] == ["5m", "1h", "1d"]
    assert "hunter2" not in repr(s)
    monkeypatch.setenv("ISALES_BUSINESS_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings()
    monkeypatch.setenv("ISALES_BUSINESS_TIMEZONE", "UTC")
    monkeypatch.setenv("ISALES_WINDOWS", "7m")
    with pytest.raises(ValidationError, match="divide 24h"):
        Settings()


def test_no_settings_mixin_shadows_another_ones_validator() -> None:
    """Validators are looked up by name: a family mixin's `_check_windows` once replaced the
    spine's, and ISALES_WINDOWS went unchecked."""
    seen: dict[str, str] = {}
    for cls in Settings.__mro__:
        infos = getattr(cls, "__pydantic_decorators__", None)
        if infos is None:
            continue
        validators = {**infos.field_validators, **infos.model_validators}
        for name in vars(cls):
            if name in validators:
                assert name not in seen, f"{cls.__name__}.{name} shadows {seen[name]}.{name}"
                seen[name] = cls.__name__
    assert "_check_windows" in seen and "_check_crm_windows" in seen
