"""Copies of records for the dead-letter and late topics: the original bytes and where they
came from, within what the broker will take."""

from __future__ import annotations

from dataclasses import dataclass

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class SideRecord:
    key: bytes | None
    value: bytes | None
    headers: Headers


def side_record(
    key: bytes | None, value: bytes | None, meta: dict[str, str], max_bytes: int
) -> SideRecord:
    """The record as it came, headers from `meta`. A copy larger than `max_bytes` cannot be
    produced whole (the broker's limit is about 1 MB and a source topic may take more), so its
    value, then its key, is cut to fit and headers say so and give the original sizes: a copy
    that cannot be sent would crash-loop the stream on it."""
    size = len(key or b"") + len(value or b"")
    if size <= max_bytes:
        return SideRecord(key, value, _encode(meta))
    cut_key = key if key is None or len(key) <= max_bytes // 2 else key[: max_bytes // 2]
    room = max_bytes - len(cut_key or b"")
    cut_value = value if value is None else value[:room]
    meta = {
        **meta,
        "dlq.truncated": "true",
        "dlq.original_key_bytes": str(len(key or b"")),
        "dlq.original_value_bytes": str(len(value or b"")),
    }
    return SideRecord(cut_key, cut_value, _encode(meta))


def metadata_only(record: SideRecord) -> SideRecord:
    """When the broker refuses even the cut copy (a topic with a lower `max.message.bytes`):
    provenance and reason, no payload."""
    headers = [(k, v) for k, v in record.headers if k != "dlq.truncated"]
    headers.append(("dlq.truncated", b"metadata_only"))
    if not any(k == "dlq.original_value_bytes" for k, _ in headers):
        headers.append(("dlq.original_key_bytes", str(len(record.key or b"")).encode()))
        headers.append(("dlq.original_value_bytes", str(len(record.value or b"")).encode()))
    return SideRecord(None, b"", headers)


def _encode(meta: dict[str, str]) -> Headers:
    return [(k, v.encode()) for k, v in meta.items()]
