"""A record of parts (`stream_app.spine.parts`: a rep's credits of an engagement batch) counts
as its parts would, each sent as a record of its own in the same order; a crash after any write
of its state, then a replay, leaves the state the uninterrupted run left; and the records are
built and read as the module says."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.families.crm.attribution import ATTRIBUTED
from stream_app.families.crm.demo import CrmScenarioConfig, crm_scenario
from stream_app.families.engagement.reach import ReachFamily
from stream_app.families.engagement.web import WebFamily
from stream_app.kafka.ingest import decide
from stream_app.registry import spec_for
from stream_app.settings import Settings
from stream_app.spine.clock import FakeClock, SystemClock
from stream_app.spine.decode import Accepted, Rejected, decode
from stream_app.spine.engine import Engine
from stream_app.spine.parts import PARTS_MAX_PAYLOAD, pack
from stream_app.spine.store import DictStore, Value
from stream_app.spine.windows import parse_window_spec
from tests.helpers.engines import replayed
from tests.spine.test_metrics_only import engine_for

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
    random (`pack`, as the publisher builds them): (key, value)."""
    out: list[tuple[bytes, bytes]] = []
    chunk: list[dict[str, Any]] = []
    for credit in parts:
        if chunk and (credit["group"] != chunk[0]["group"] or rng.random() < 0.3):
            out += _records(chunk)
            chunk = []
        chunk.append(credit)
    if chunk:
        out += _records(chunk)
    return out


def _records(chunk: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    key = chunk[0]["group"].encode()
    return [(key, value) for value in pack([orjson.dumps(c) for c in chunk])]


def read(key: bytes, value: bytes, family: Any = None) -> Accepted[Any] | Rejected:
    return decode(
        value,
        key,
        family or ReachFamily(),
        max_bytes=PARTS_MAX_PAYLOAD,
        now_ms=T0 + 40 * HOUR,
        max_future_ms=0,
    )


def apply(
    eng: Engine[Any], records: list[tuple[bytes, bytes]], start: int = 0, flush_every: int = 0
) -> None:
    for offset, (key, value) in enumerate(records, start=start):
        got = read(key, value)
        assert isinstance(got, Accepted), got
        if got.parts is not None:
            eng.commit(eng.plan_parts(got.parts, 0, offset))
        else:
            eng.commit(eng.plan(got.event, 0, offset))
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
    apply(singles, [(c["group"].encode(), orjson.dumps(c)) for c in parts])
    apply(together, bundles(parts, random.Random(cut)))
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
        apply(eng, [(c["group"].encode(), orjson.dumps(c)) for c in credits(seed)])
        pst = eng.store.get("p/0")
        assert pst is not None
        for k in kinds:
            kinds[k] += pst.get(k, 0)
    assert all(n > 0 for n in kinds.values()), kinds


@pytest.mark.parametrize(("seed", "flush_every"), [(1, 2), (2, 3), (3, 5)])
def test_a_crash_after_any_write_then_replay_gives_the_uninterrupted_state(
    seed: int, flush_every: int
) -> None:
    records = bundles(credits(seed, 40), random.Random(seed))
    reference = engine()
    apply(reference, records, flush_every=flush_every)
    durable: DictStore = reference.store.durable  # type: ignore[assignment]
    rng = random.Random(seed)
    for cut in range(len(durable.log) + 1):
        survivor = replayed(durable.log[:cut])
        pst = survivor.get("p/0")
        committed = -1 if pst is None else pst["o"]
        restart_at = rng.randint(0, committed + 1)  # redelivered from any committed offset
        replay = engine(survivor)
        apply(replay, records[restart_at:], start=restart_at, flush_every=rng.randint(1, 4))
        assert survivor.data == durable.data, f"crash after write {cut}"


def test_a_keys_only_value_goes_as_itself_and_records_are_cut_by_size() -> None:
    values = [orjson.dumps({"n": n, "pad": "x" * 100}) for n in range(50)]
    assert pack(values[:1]) == values[:1]
    records = pack(values, max_bytes=1_000)
    assert len(records) > 1
    assert all(len(r) <= 1_000 + 200 for r in records)
    assert [p for r in records for p in orjson.loads(r)["parts"]] == [
        orjson.loads(v) for v in values
    ]


def test_a_part_under_another_key_refuses_the_record_and_says_which() -> None:
    mine, other = credits(9)[:2]
    other = {**other, "group": "rep:someone-else"}
    mine = {**mine, "group": "rep:r1"}
    got = read(b"rep:r1", pack([orjson.dumps(mine), orjson.dumps(other)])[0])
    assert isinstance(got, Rejected)
    assert got.reason_class == "key_mismatch" and got.reason.startswith("part 1:")


def test_a_bad_part_refuses_the_record_with_its_index() -> None:
    good = credits(9)[0]
    bad = {**good, "occurred_at": "yesterday"}
    got = read(good["group"].encode(), pack([orjson.dumps(good), orjson.dumps(bad)])[0])
    assert isinstance(got, Rejected) and "1.occurred_at" in got.reason


def test_only_a_family_that_takes_parts_reads_them() -> None:
    value = pack([orjson.dumps({"a": 1}), orjson.dumps({"a": 2})])[0]
    got = read(b"lead-1", value, WebFamily())
    assert isinstance(got, Rejected) and got.reason_class == "missing_field"


def test_the_crm_stage_counts_a_reps_records_of_a_batch_as_it_counts_them_one_by_one() -> None:
    """The attribution stage's output is bundled per rep and batch: the CRM KPI stage's
    windows, totals and partition counters are those of the same records sent one by one."""
    s = Settings()
    now_ms = SystemClock().now_ms()  # the scenario's events are in the past of today
    attribution = spec_for(s, "crm-attribution")
    kpis = spec_for(s, "crm")
    stage1 = engine_for(s, attribution, FakeClock(now_ms))
    sent: list[list[tuple[bytes, bytes]]] = [[]]
    for offset, record in enumerate(crm_scenario(CrmScenarioConfig(seed=11, handoffs=300))):
        plan = decide(
            stage1, s, key=record.key, value=record.value, partition=0, offset=offset, now_ms=now_ms
        ).plan
        stage1.commit(plan)
        sent[-1] += [(k, v) for role, k, v in plan.emits if role == ATTRIBUTED]
        if offset % 97 == 96:  # batches end anywhere
            stage1.flush()
            sent.append([])
    packed: list[tuple[bytes, bytes]] = []
    for batch in sent:
        by_rep: dict[bytes, list[bytes]] = {}
        for key, value in batch:
            by_rep.setdefault(key, []).append(value)
        packed += [(key, value) for key, values in by_rep.items() for value in pack(values)]
    # The same records one by one, in the order the packed ones hold them (a batch's records
    # of one rep together).
    singles = [
        (key, orjson.dumps(part))
        for key, value in packed
        for part in orjson.loads(value).get("parts", [orjson.loads(value)])
    ]
    assert len(packed) < len(singles) / 2  # the scenario bundles
    counts = []
    for records in (singles, packed):
        engine = engine_for(s, kpis, FakeClock(now_ms))
        for offset, (key, value) in enumerate(records):
            engine.commit(
                decide(
                    engine, s, key=key, value=value, partition=0, offset=offset, now_ms=now_ms
                ).plan
            )
        engine.flush()
        counts.append(counted(engine))
    assert counts[0] == counts[1]
    assert sum(n for key, c in counts[0].items() if key.startswith("t/") for n in c[0].values())
