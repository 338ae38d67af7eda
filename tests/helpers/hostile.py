"""Hostile records for the fault suite, each with the reason class the README's DLQ table gives
its kind. Written from the table, not from the decoder: a record the table files under one
class must come out of the service under that class."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

from stream_app.demo.traffic import Produced


@dataclass(frozen=True, slots=True)
class Bad:
    """A record the service must dead-letter, and the class the README gives it."""

    key: bytes | None
    value: bytes | None
    reason_class: str
    kind: str = "malformed"


# kind -> README reason class
KINDS: dict[str, str] = {
    "random_bytes": "invalid_json",  # starts with 0xff: never UTF-8, never JSON
    "truncated_json": "invalid_json",
    "deep_nesting": "invalid_json",  # 10,000 levels; the table: deeper than 1,024
    "nan": "invalid_json",
    "infinity": "invalid_json",
    "not_utf8": "invalid_json",
    "huge_integer": "invalid_value",  # 10^30 talk seconds: far past the bound
    "huge_integer_timestamp": "wrong_type",  # becomes a float: not ISO-8601, not epoch ms
    "json_array": "wrong_type",
    "enum_as_list": "wrong_type",
    "tombstone": "empty",
    "zero_bytes": "empty",
    "null_key": "key_mismatch",
    "email_key": "key_mismatch",
    "year_1": "invalid_value",
    "year_1_utc": "invalid_value",
    "year_9999": "invalid_value",
    "email_rep": "personal_data",
    "phone_rep": "personal_data",
    "tel_rep": "personal_data",
    "digit_run_rep": "personal_data",
    "missing_field": "missing_field",
    "one_megabyte": "oversize",
}
LARGE_KINDS = ("one_megabyte",)


def hostile(rng: random.Random, kind: str, sample: dict[str, Any], n: int) -> Bad:
    """One hostile record modelled on a good event `sample` (so only its flaw is wrong)."""
    key = str(sample["rep_id"]).encode()
    bad = {**sample, "event_id": f"hostile-{n}", "call_id": f"hostile-call-{n}"}
    value: bytes
    if kind == "random_bytes":
        value = b"\xff" + rng.randbytes(rng.randint(0, 300))
    elif kind == "truncated_json":
        whole = orjson.dumps(bad)
        value = whole[: rng.randint(1, len(whole) - 1)]
    elif kind == "deep_nesting":
        value = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    elif kind == "nan":
        value = orjson.dumps(bad).replace(b'"initiated"', b"NaN").replace(b"}", b',"x":NaN}')
    elif kind == "infinity":
        value = orjson.dumps(bad)[:-1] + b',"talk_seconds":Infinity}'
    elif kind == "not_utf8":
        value = orjson.dumps(bad).replace(b'"status"', b'"st\xc3\x28tus"')
    elif kind == "huge_integer":
        value = orjson.dumps(bad)[:-1] + b',"talk_seconds":1000000000000000000000000000000}'
    elif kind == "huge_integer_timestamp":
        value = orjson.dumps({k: v for k, v in bad.items() if k != "occurred_at"})[:-1]
        value += b',"occurred_at":123456789012345678901234567890}'
    elif kind == "json_array":
        value = orjson.dumps([bad])
    elif kind == "enum_as_list":
        value = orjson.dumps({**bad, "direction": ["outbound"]})
    elif kind == "tombstone":
        return Bad(key, None, KINDS[kind])
    elif kind == "zero_bytes":
        value = b""
    elif kind == "null_key":
        return Bad(None, orjson.dumps(bad), KINDS[kind])
    elif kind == "email_key":
        return Bad(b"jane.doe@example.com", orjson.dumps(bad), KINDS[kind])
    elif kind == "year_1":
        value = orjson.dumps({**bad, "occurred_at": "0001-01-01T00:00:00+01:00"})
    elif kind == "year_1_utc":
        stamp = "0001-01-01T00:00:00+00:00"
        value = orjson.dumps({**bad, "occurred_at": stamp, "started_at": stamp})
    elif kind == "year_9999":
        value = orjson.dumps({**bad, "occurred_at": "9999-12-31T23:59:59-05:00"})
    elif kind in ("email_rep", "phone_rep", "tel_rep", "digit_run_rep"):
        rep = {
            "email_rep": "jane@example.com",
            "phone_rep": "+1 415 555 0199",
            "tel_rep": "tel:14155550199",
            "digit_run_rep": "14155550198.x",
        }[kind]
        return Bad(rep.encode(), orjson.dumps({**bad, "rep_id": rep}), KINDS[kind])
    elif kind == "missing_field":
        value = orjson.dumps({k: v for k, v in bad.items() if k != "call_id"})
    elif kind == "one_megabyte":
        value = orjson.dumps({**bad, "padding": "p" * rng.randint(1_005_000, 1_040_000)})
    else:
        raise ValueError(kind)
    return Bad(key, value, KINDS[kind])


def mix(
    rng: random.Random, good: list[Produced], count: int, large: int = 3
) -> list[Produced | Bad]:
    """`good` with `count` hostile records spread through it: every kind in turn, the ~1 MB
    ones limited to `large` (they are broker volume, not variety)."""
    samples = [orjson.loads(p.value) for p in good if p.kind == "event"][:200]
    small = [k for k in KINDS if k not in LARGE_KINDS]
    kinds = [*(LARGE_KINDS * large), *(small[i % len(small)] for i in range(count - large))]
    out: list[Produced | Bad] = list(good)
    for n, kind in enumerate(kinds):
        out.insert(rng.randint(0, len(out)), hostile(rng, kind, rng.choice(samples), n))
    return out
