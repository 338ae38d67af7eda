"""A record of several events (FamilyParts: the reach stage's bundles of credits) counts as
its parts would, each sent as a record of its own in the same order; and a crash after any
write of its state, then a replay, leaves the state the uninterrupted run left."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.touch import ReachBundle
from stream_app.families.engagement.reach import ReachFamily
from stream_app.spine.clock import FakeClock
from stream_app.spine.engine import Engine
from stream_app.spine.store import DictStore, Value
from stream_app.spine.windows import parse_window_spec

T0 = 1_800_000_000_000
HOUR = 3_600_000
GROUPS = ("rep:r1", "rep:r2")


def engine(store: DictStore | None = None) -> Engine[Any]:
    return Engine(
        ReachFamily(),
        store or DictStore(),
        FakeClock(T0 + 30 * HOUR),
        specs=tuple(parse_window_spec(n) for n in ("1h", "1d")),
        tz="UTC",
        # Small next to the credits' spread: some windows close under later credits, and
        # some credits fall past the dedupe horizon.
        grace_ms=2 * HOUR,
        window_retention_ms=48 * HOUR,
        dedupe_retention_ms=20 * HOUR,
    )


def credits(seed: int, n: int = 60) -> list[dict[str, Any]]:
    """Touch credits of a few touch ids in versions, over 30 hours, some repeated as they
    were (a re-send), some moved away, with the team naming the window's label."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for _ in range(n):
        if out and rng.random() < 0.15:
            out.append(rng.choice(out))
            continue
        out.append(
            {
                "id": f"t{rng.randrange(12)}",
                "v": rng.randrange(4),
                "kind": "touch",
                "group": rng.choice(GROUPS),
                "occurred_at": T0 + rng.randrange(30 * HOUR),
                "team_id": rng.choice(("team-a", "team-b")),
                "channel": rng.choice(("call", "email")),
                "touch_type": rng.choice(("call_dial", "call_connect", "email_open_human")),
                "moved": rng.random() < 0.1,
            }
        )
    return out


def bundles(parts: list[dict[str, Any]], rng: random.Random) -> list[tuple[bytes, bytes]]:
    """The credits in the same order, as records of one group's consecutive credits, cut at
    random: (key, value)."""
    out: list[tuple[bytes, bytes]] = []
    chunk: list[dict[str, Any]] = []
    for credit in parts:
        if chunk and (credit["group"] != chunk[0]["group"] or rng.random() < 0.3):
            out.append(_record(chunk))
            chunk = []
        chunk.append(credit)
    if chunk:
        out.append(_record(chunk))
    return out


def _record(chunk: list[dict[str, Any]]) -> tuple[bytes, bytes]:
    group = chunk[0]["group"]
    return group.encode(), orjson.dumps({"group": group, "credits": chunk})


def apply(eng: Engine[Any], records: list[bytes], start: int = 0, flush_every: int = 0) -> None:
    for offset, value in enumerate(records, start=start):
        eng.commit(eng.plan(ReachBundle.model_validate_json(value), 0, offset))
        if flush_every and offset % flush_every == 0:
            eng.flush()
    eng.flush()


def counted(eng: Engine[Any]) -> dict[str, Any]:
    """What the state says a group counted: every window's and totals' counts (zeros left
    out), labels and finality, and the partition record's counters. Offsets and revisions
    are left out: they count records, and the bundled run has fewer."""
    out: dict[str, Any] = {}
    for key, value in eng.store.items():
        if key.startswith(("w/", "t/")):
            out[key] = (
                {m: n for m, n in value["c"].items() if n},
                value.get("team"),
                value.get("final"),
                value.get("first"),
                value.get("last"),
            )
        elif key.startswith("p/"):
            out[key] = {k: v for k, v in value.items() if k not in ("o", "lag")}
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000), cut=st.integers(0, 100_000))
def test_a_bundle_counts_as_its_credits_sent_one_per_record(seed: int, cut: int) -> None:
    parts = credits(seed)
    singles, together = engine(), engine()
    apply(singles, [orjson.dumps(credit) for credit in parts])
    apply(together, [value for _, value in bundles(parts, random.Random(cut))])
    want, got = counted(singles), counted(together)
    assert got == want
    pst: Value = want["p/0"]
    # The scenario exercises what it is about: duplicates, late credits and expired ones.
    if seed % 4 == 0:
        assert pst["dup"] > 0 and pst["applied"] > 0


def test_the_scenarios_hold_late_duplicate_and_expired_credits() -> None:
    kinds = {"dup": 0, "late": 0, "exp": 0}
    for seed in range(20):
        eng = engine()
        apply(eng, [orjson.dumps(c) for c in credits(seed)])
        pst = eng.store.get("p/0")
        assert pst is not None
        for k in kinds:
            kinds[k] += pst.get(k, 0)
    assert all(n > 0 for n in kinds.values()), kinds


@pytest.mark.parametrize(("seed", "flush_every"), [(1, 2), (2, 3), (3, 5)])
def test_a_crash_after_any_write_then_replay_gives_the_uninterrupted_state(
    seed: int, flush_every: int
) -> None:
    records = [value for _, value in bundles(credits(seed, 40), random.Random(seed))]
    reference = engine()
    apply(reference, records, flush_every=flush_every)
    durable: DictStore = reference.store.durable  # type: ignore[assignment]
    rng = random.Random(seed)
    for cut in range(len(durable.log) + 1):
        survivor = DictStore()
        for key, value, partition in durable.log[:cut]:
            if value is None:
                survivor.delete(key, partition)
            else:
                survivor.put(key, value, partition)
        pst = survivor.get("p/0")
        committed = -1 if pst is None else pst["o"]
        restart_at = rng.randint(0, committed + 1)  # redelivered from any committed offset
        replay = engine(survivor)
        apply(replay, records[restart_at:], start=restart_at, flush_every=rng.randint(1, 4))
        assert survivor.data == durable.data, f"crash after write {cut}"


def test_parts_of_one_record_must_share_its_group() -> None:
    mixed = [c for c in credits(9) if c["group"] == GROUPS[0]][:2]
    mixed[1] = {**mixed[1], "group": GROUPS[1]}
    with pytest.raises(ValueError, match="bundle's group"):
        ReachBundle.model_validate_json(orjson.dumps({"group": GROUPS[0], "credits": mixed}))


def test_a_single_credit_is_a_bundle_of_one() -> None:
    credit = credits(4)[0]
    assert ReachBundle.model_validate_json(orjson.dumps(credit)).credits[0].id == credit["id"]
