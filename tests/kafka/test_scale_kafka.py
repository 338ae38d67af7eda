"""Two workers share four partitions: their sum is the truth; after one dies, the survivor
alone exports the whole truth."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from stream_app.families.calls.demo import ScenarioConfig
from tests.helpers.checks import check_counters, processed
from tests.helpers.scenarios import produce_scenario
from tests.helpers.support import WorkerProc, isolated_env, merged, wait_for

pytestmark = pytest.mark.kafka

CONFIG = ScenarioConfig(seed=31, calls=3000, reps=12, teams=2, malformed=20)


def _partitions(worker: WorkerProc) -> list[int]:
    status, body = worker.get("/readyz")
    return list(orjson.loads(body)["partitions"]) if status == 200 else []


def test_two_workers_then_one(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap)
    produced = produce_scenario(env, CONFIG)
    total = len(produced.records)
    a = WorkerProc(env, tmp_path, "a").start()
    b = WorkerProc(env, tmp_path, "b").start()
    try:

        def split() -> bool:
            pa, pb = _partitions(a), _partitions(b)
            return bool(pa) and bool(pb) and sorted(pa + pb) == [0, 1, 2, 3]

        def both() -> str:
            return f"{a.account()}\n{b.account()}"

        wait_for(split, 120, "the four partitions split between two workers", explain=both)
        wait_for(
            lambda: processed(merged(a.scrape(), b.scrape())) == total,
            300,
            "both workers together processed everything",
            explain=both,
        )
        wait_for(split, 30, "still split", explain=both)
        alone_a, alone_b = a.scrape(), b.scrape()
        assert 0 < processed(alone_a) < total and 0 < processed(alone_b) < total
        check_counters(merged(alone_a, alone_b), produced.truth)

        b.kill()
        wait_for(
            lambda: _partitions(a) == [0, 1, 2, 3],
            120,
            "survivor owns all partitions",
            explain=a.account,
        )
        wait_for(lambda: processed(a.scrape()) == total, 120, "survivor recovered all state")
        check_counters(a.scrape(), produced.truth)
    finally:
        a.stop()
        b.stop()
