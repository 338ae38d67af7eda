"""SIGKILL the worker at random points of a scenario, restart it: nothing lost, nothing twice."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from stream_app.families.calls.demo import ScenarioConfig
from tests.helpers.checks import (
    check_counters,
    check_kpi_topic,
    progress,
    wait_all_final,
)
from tests.helpers.scenarios import produce_scenario, settings_for
from tests.helpers.support import (
    WorkerProc,
    isolated_env,
    latest_by_key,
    parse_metrics,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.kafka

CONFIG = ScenarioConfig(seed=23, calls=5000, reps=12, teams=2, duplicate_rate=0.06, malformed=56)


def test_sigkill_three_times_then_exact(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = isolated_env(kafka_bootstrap)
    produced = produce_scenario(env, CONFIG)
    total = len(produced.records)
    rng = random.Random(2024)
    kill_at = sorted(rng.uniform(0.1, 0.85) for _ in range(2))
    kills: list[str] = []

    # One replica, killed and restarted: it keeps its local state folder and its static
    # group membership (ISALES_WORKER_ID), so restarts read the changelog's tail only.
    worker = WorkerProc(env, tmp_path, "worker-0", worker_id="w0").start()
    try:
        wait_for(worker.ready, 90, "first worker ready")
        for n, fraction in enumerate(kill_at):
            target = int(total * fraction)
            current = worker

            def reached(w: WorkerProc = current, t: int = target) -> bool:
                return progress(w) >= t

            wait_for(reached, 300, f"{target} records processed", every=0.05)
            worker.kill()
            kills.append(f"after >= {target} records")
            worker = WorkerProc(env, tmp_path, f"worker-{n + 1}", worker_id="w0").start()
            wait_for(worker.ready, 120, "restarted worker ready")
            if n == 0:
                # One kill lands a random moment after recovery, whatever the count is then.
                time.sleep(rng.uniform(0.2, 2.0))
                before = progress(worker)
                worker.kill()
                kills.append(f"{before} records, shortly after recovery")
                worker = WorkerProc(env, tmp_path, f"worker-{n + 1}b", worker_id="w0").start()
                wait_for(worker.ready, 120, "restarted worker ready")
        assert len(kills) >= 3
        try:
            wait_for(lambda: progress(worker) == total, 300, f"all {total} records processed")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; processed {progress(worker)} (kills: {kills}); log:\n{worker.log_tail()}"
            ) from None
        # The last restart read the replica's local copy, not the whole changelog.
        restored = re.findall(
            r"(\d+) keys loaded from the local store", worker.log_path.read_text()
        )
        assert restored and sum(int(n) for n in restored) > 0, "restarted from the local store"
        s = settings_for(env)
        wait_all_final(kafka_bootstrap, s.kpi_calls_topic, produced.truth)
        samples = parse_metrics(worker.get("/metrics")[1])
        check_counters(samples, produced.truth)
        latest = latest_by_key(read_topic(kafka_bootstrap, s.kpi_calls_topic))
        check_kpi_topic(latest, produced.truth, final=True)
        dead = read_topic(kafka_bootstrap, s.dlq_topic)
        sources = {
            (int(r.headers["source.partition"]), int(r.headers["source.offset"])) for r in dead
        }
        assert sources == set(produced.malformed), "every malformed record dead-lettered"
        late = read_topic(kafka_bootstrap, s.late_topic)
        late_sources = {(r.headers["source.partition"], r.headers["source.offset"]) for r in late}
        assert len(late_sources) == produced.truth.late_events + produced.truth.expired
    finally:
        worker.stop()


def _commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def run() -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            tps = {TopicPartition(topic, p): o for p, o in offsets.items()}
            consumer.assign(list(tps))
            await consumer.commit(tps)
        finally:
            await consumer.stop()

    asyncio.run(run())


def test_offsets_committed_past_the_state_are_rewound(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Faust can commit past records it never delivered (faust-streaming #596, #221). Simulate
    the worst case, a commit at the end of every partition while the state is behind, and
    the worker must seek back to its state and still produce the exact truth."""
    # Small fetches keep the state well behind the end when the worker is killed: at the
    # default 2,000 records a fetch, the worker could finish the backlog between the poll that
    # saw a third and the kill, and then there is nothing to seek back to.
    env = isolated_env(kafka_bootstrap, ISALES_BATCH_MAX_EVENTS="20")
    produced = produce_scenario(env, ScenarioConfig(seed=41, calls=1500, reps=12, teams=2))
    total = len(produced.records)
    worker = WorkerProc(env, tmp_path, "before").start()
    try:
        wait_for(worker.ready, 90, "worker ready")
        wait_for(lambda: progress(worker) >= total // 3, 300, "a third processed", every=0.05)
        worker.kill()
        ends: dict[int, int] = {}
        for partition, offset in produced.placed:
            ends[partition] = max(ends.get(partition, 0), offset + 1)
        # The broker refuses the commit until the killed member's session has expired.
        deadline = time.monotonic() + 60
        while True:
            try:
                _commit(kafka_bootstrap, env["ISALES_APP_ID"], env["ISALES_CALLS_TOPIC"], ends)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        worker = WorkerProc(env, tmp_path, "after").start()
        wait_for(worker.ready, 120, "restarted worker ready")
        wait_for(lambda: progress(worker) == total, 300, f"all {total} records processed")
        samples = parse_metrics(worker.get("/metrics")[1])
        check_counters(samples, produced.truth)
        assert samples["isales_offset_rewinds_total"], "the worker had to seek back"
        assert sum(samples["isales_offset_rewinds_total"].values()) >= 1
    finally:
        worker.stop()


def test_sigkill_inside_large_batches_spanning_partitions(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A fetch of up to 2,000 records spans all four partitions, interleaved, and is handled
    as one batch: a worker chewing a backlog spends nearly all its time inside one, so kills
    at random moments of the backlog land mid-batch. Whatever part of a batch reached the
    changelog, the restart finishes it exactly."""
    env = isolated_env(kafka_bootstrap, ISALES_BATCH_MAX_EVENTS="2000")
    produced = produce_scenario(
        env, ScenarioConfig(seed=77, calls=4000, reps=16, teams=2, duplicate_rate=0.05)
    )
    total = len(produced.records)
    assert len({partition for partition, _offset in produced.placed}) == 4
    rng = random.Random(77)
    kills = []
    worker = WorkerProc(env, tmp_path, "batch-0", worker_id="b0").start()
    try:
        wait_for(worker.ready, 90, "first worker ready")
        for n in range(4):
            start = progress(worker)
            target = start + int((total - start) * rng.uniform(0.05, 0.3))

            def reached(w: WorkerProc = worker, t: int = target) -> bool:
                return progress(w) >= t

            wait_for(reached, 300, f"{target} records processed", every=0.02)
            # A moment later, not at the scrape: inside whatever batch is being handled.
            time.sleep(rng.uniform(0.0, 0.3))
            worker.kill()
            kills.append(target)
            worker = WorkerProc(env, tmp_path, f"batch-{n + 1}", worker_id="b0").start()
            wait_for(worker.ready, 120, "restarted worker ready")
        wait_for(lambda: progress(worker) == total, 300, f"all {total} records processed")
        s = settings_for(env)
        wait_all_final(kafka_bootstrap, s.kpi_calls_topic, produced.truth)
        check_counters(parse_metrics(worker.get("/metrics")[1]), produced.truth)
        latest = latest_by_key(read_topic(kafka_bootstrap, s.kpi_calls_topic))
        check_kpi_topic(latest, produced.truth, final=True)
    except AssertionError as exc:
        raise AssertionError(f"{exc} (kills after {kills}); log:\n{worker.log_tail()}") from None
    finally:
        worker.stop()
