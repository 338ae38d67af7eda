"""diff-kpis: the latest record per key of two topics, compared field by field."""

from __future__ import annotations

from stream_app.tools.kpi_diff import diff, report


def test_same_records_apart_from_when_they_were_sent() -> None:
    left = {"k1": {"dials": 3, "emitted_at": "a", "revision": 4}}
    right = {"k1": {"dials": 3, "emitted_at": "b", "revision": 9}}
    assert diff(left, right).same
    assert "the same" in report(diff(left, right), "a", "b")


def test_keys_on_one_side_and_changed_fields_are_reported() -> None:
    left = {"k1": {"dials": 3, "final": True}, "k2": {"dials": 1}}
    right = {"k1": {"dials": 4, "final": True}, "k3": {"dials": 1}}
    result = diff(left, right)
    assert result.only_left == ["k2"] and result.only_right == ["k3"]
    assert result.changed == {"k1": {"dials": (3, 4)}}
    assert not diff({"k": {"final": True}}, {"k": {"final": False}}, ignore=["final"]).changed
    text = report(result, "live", "replay")
    assert "1 keys only in live" in text and "k1: dials: 3 -> 4" in text
