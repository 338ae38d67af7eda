"""DLQ and late copies: whole when they fit, cut with headers saying so when they don't."""

from __future__ import annotations

from stream_app.spine.dead_letter import metadata_only, side_record

META = {"source.topic": "t", "source.partition": "3", "source.offset": "17"}


def headers(record: object) -> dict[str, str]:
    return {k: v.decode() for k, v in getattr(record, "headers", [])}


def test_a_record_that_fits_is_copied_whole() -> None:
    record = side_record(b"rep-1", b"x" * 100, META, max_bytes=105)
    assert (record.key, record.value) == (b"rep-1", b"x" * 100)
    assert headers(record) == META


def test_a_record_too_large_is_cut_to_the_limit_with_its_original_sizes() -> None:
    value = bytes(range(256)) * 4000  # 1,024,000 bytes
    record = side_record(b"rep-1", value, META, max_bytes=1_000_000)
    assert record.key == b"rep-1"
    assert record.value == value[: 1_000_000 - 5]
    assert len(record.key) + len(record.value) == 1_000_000
    h = headers(record)
    assert h["dlq.truncated"] == "true"
    assert h["dlq.original_value_bytes"] == "1024000"
    assert h["dlq.original_key_bytes"] == "5"
    assert h["source.offset"] == "17"


def test_a_huge_key_is_cut_too() -> None:
    record = side_record(b"k" * 5000, b"v" * 5000, META, max_bytes=4000)
    assert record.key == b"k" * 2000 and record.value == b"v" * 2000
    assert headers(record)["dlq.original_key_bytes"] == "5000"


def test_metadata_only_keeps_provenance_and_sizes() -> None:
    whole = side_record(b"rep-1", b"x" * 10, META, max_bytes=100)
    bare = metadata_only(whole)
    assert bare.key is None and bare.value == b""
    h = headers(bare)
    assert h["dlq.truncated"] == "metadata_only"
    assert h["dlq.original_value_bytes"] == "10" and h["source.partition"] == "3"
    cut = metadata_only(side_record(b"rep-1", b"x" * 500, META, max_bytes=100))
    assert headers(cut)["dlq.original_value_bytes"] == "500"
