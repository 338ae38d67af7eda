"""Several records of one key as one: what a stage sends one key in one batch (a rep's credits
of a batch) goes downstream as `{"parts": [record, ...]}`, and the next stage counts each part
as an event of its own (`Engine.plan_parts`), as if the parts had come one per record in that
order. A record's fixed cost (decode, the partition record, the windows and totals it writes,
the glue around it) was most of what a reach credit cost; shared by a rep's credits of a batch
it is paid once (`bench.hot_path --pipeline reach`, with and without `--single`).

Only internal topics between two of our own stages carry them (an `Output` with `bundled`, read
by a family with `takes_parts`); a key's only record of a batch goes as itself.
"""

from __future__ import annotations

from collections.abc import Sequence

PARTS_MAX_BYTES = 262_144
"""A record of parts holds about this much (a backfill's batch can credit thousands of leads to
one segment): well inside Kafka's 1 MB default. A consumer reads up to PARTS_MAX_PAYLOAD."""
PARTS_MAX_PAYLOAD = 1_000_000
"""The payload limit of a family that takes parts: a full record, plus its largest part."""


def pack(values: Sequence[bytes], max_bytes: int = PARTS_MAX_BYTES) -> list[bytes]:
    """One key's values of a batch, in order: one value as itself, several as records of
    parts cut where one would pass `max_bytes`."""
    if len(values) == 1:
        return [values[0]]
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for value in values:
        if chunk and size + len(value) > max_bytes:
            out.append(_record(chunk))
            chunk, size = [], 0
        chunk.append(value)
        size += len(value) + 1
    out.append(_record(chunk))
    return out


def _record(chunk: list[bytes]) -> bytes:
    # The parts are JSON objects already: joined, not parsed and dumped again.
    return b'{"parts":[' + b",".join(chunk) + b"]}"
