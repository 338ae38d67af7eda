"""Live and replay are the same computation: one seeded history of each pipeline produced in
one burst, in chunks with pauses longer than the idle timeout, and at a live rate gives the
same latest record per key on every KPI topic and the same KPIs on /metrics (README, "How
exactness works": only a live partition is closed by the wall clock). Shipped defaults,
except the test-sized idle timeout the pauses must outlast."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stream_app.demo.traffic import Produced
from stream_app.families.calls.demo import ScenarioConfig, scenario
from stream_app.families.crm.demo import CrmScenarioConfig, crm_scenario
from stream_app.families.email.demo import Arm, EmailScenarioConfig, email_scenario
from stream_app.kafka.topics import ensure_topics
from tests.helpers.checks import settled
from tests.helpers.scenarios import produce_records, settings_for
from tests.helpers.support import (
    Samples,
    WorkerProc,
    isolated_env,
    latest_by_key,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.kafka

MODES = ("burst", "chunked", "live")
IDLE_S = 3.0
VOLATILE = {"emitted_at", "revision", "as_of"}
"""Fields that say when a record was sent, not what it counts."""
KPI_PREFIXES = ("isales_calls_", "isales_email_", "isales_crm_")
COUNTS = (
    "isales_events_applied_total",
    "isales_duplicate_events_total",
    "isales_late_events_total",
    "isales_expired_events_total",
    "isales_late_window_updates_total",
    "isales_dead_letter_events_total",
)


def env_for(bootstrap: str) -> dict[str, str]:
    env = isolated_env(bootstrap, ISALES_IDLE_TIMEOUT_SECONDS=str(IDLE_S))
    # Back to the shipped defaults the fixture's env changes for other tests.
    for name in ("ISALES_LIVE_LAG_SECONDS", "ISALES_GRACE_SECONDS"):
        env.pop(name, None)
    return env


def feed(env: dict[str, str], topic: str, records: list[Produced], mode: str) -> None:
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    batches: list[list[Produced]]
    if mode == "burst":
        batches = [records]
    elif mode == "chunked":
        third = len(records) // 3 + 1
        batches = [records[i : i + third] for i in range(0, len(records), third)]
    else:
        batches = [records[i : i + 100] for i in range(0, len(records), 100)]
    for n, batch in enumerate(batches):
        if n and mode == "chunked":
            time.sleep(IDLE_S + 3)  # a pause the idle timer sees: it must not close anything
        elif n:
            time.sleep(0.2)  # ~500 records/s
        asyncio.run(produce_records(bootstrap, topic, list(batch)))


def kpi_state(worker: WorkerProc, topics: list[str]) -> tuple[dict[str, Any], Samples]:
    bootstrap = worker.env["KAFKA_BOOTSTRAP_SERVERS"]
    records = {}
    for topic in topics:
        for key, value in latest_by_key(read_topic(bootstrap, topic)).items():
            records[f"{topic.rsplit('-', 1)[0]}|{key.decode()}"] = {
                k: v for k, v in value.items() if k not in VOLATILE
            }
    kept: Samples = {}
    for name, series in worker.scrape().items():
        if name.startswith(KPI_PREFIXES) or name in COUNTS:
            # Each run has its own topics: the `source` label names them, nothing else.
            kept[name] = {
                tuple(kv for kv in labels if kv[0] != "source"): v for labels, v in series.items()
            }
    return records, kept


def run_modes(
    bootstrap: str,
    tmp_path: Path,
    records: list[Produced],
    source: Callable[[dict[str, str]], str],
    topics: Callable[[dict[str, str]], list[str]],
    pipelines: tuple[str, ...],
) -> dict[str, tuple[dict[str, Any], Samples]]:
    envs = {mode: env_for(bootstrap) for mode in MODES}
    for env in envs.values():
        asyncio.run(ensure_topics(settings_for(env)))
    workers = {
        mode: [WorkerProc(env, tmp_path, f"{mode}-{p}", p).start() for p in pipelines]
        for mode, env in envs.items()
    }
    try:
        for group in workers.values():
            for worker in group:
                wait_for(worker.ready, 120, f"{worker.pipeline} worker ready")
        feeders = [
            threading.Thread(target=feed, args=(env, source(env), records, mode))
            for mode, env in envs.items()
        ]
        for thread in feeders:
            thread.start()
        for thread in feeders:
            thread.join()
        out = {}
        for mode, group in workers.items():
            for worker in group:

                def quiet(w: WorkerProc = worker) -> bool:
                    return settled(w, 1.5)

                wait_for(quiet, 300, f"{mode} {worker.pipeline} settled")
            time.sleep(1.5)  # the last changes reach the KPI topics on the next ticks
            out[mode] = kpi_state(group[-1], topics(envs[mode]))
        return out
    finally:
        for group in workers.values():
            for worker in group:
                worker.stop()


def same_everywhere(results: dict[str, tuple[dict[str, Any], Samples]]) -> None:
    (base_records, base_samples) = results["burst"]
    assert base_records, "the burst run published KPI records"
    for mode in MODES[1:]:
        records, samples = results[mode]
        differ = sorted(
            k for k in base_records.keys() | records.keys() if base_records.get(k) != records.get(k)
        )
        assert not differ, f"{mode}: {len(differ)} records differ from the burst, e.g. {differ[:3]}"
        assert samples == base_samples, f"{mode}: /metrics KPIs differ from the burst run"


def test_calls_burst_chunked_and_live_rate_give_the_same_kpis(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    records = scenario(ScenarioConfig(seed=17, calls=600, reps=8, teams=2, malformed=12))
    results = run_modes(
        kafka_bootstrap,
        tmp_path,
        records,
        lambda env: env["ISALES_CALLS_TOPIC"],
        lambda env: [env["ISALES_KPI_CALLS_TOPIC"]],
        ("calls",),
    )
    same_everywhere(results)


def test_email_burst_chunked_and_live_rate_give_the_same_kpis(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    cfg = EmailScenarioConfig(
        seed=19,
        campaigns={"spring": (Arm("A", 0.2, 0.02, 300), Arm("B", 0.3, 0.04, 300))},
        malformed=8,
    )
    results = run_modes(
        kafka_bootstrap,
        tmp_path,
        email_scenario(cfg),
        lambda env: env["ISALES_EMAIL_TOPIC"],
        lambda env: [env["ISALES_KPI_EMAIL_TOPIC"], env["ISALES_KPI_EMAIL_AB_TOPIC"]],
        ("email",),
    )
    same_everywhere(results)


def test_crm_burst_chunked_and_live_rate_give_the_same_kpis(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    cfg = CrmScenarioConfig(seed=23, handoffs=250, reps=6, business_days=10, malformed=8)
    results = run_modes(
        kafka_bootstrap,
        tmp_path,
        crm_scenario(cfg),
        lambda env: env["ISALES_CRM_TOPIC"],
        lambda env: [env["ISALES_KPI_HANDOFFS_TOPIC"], env["ISALES_KPI_OUTCOMES_TOPIC"]],
        ("crm-attribution", "crm"),
    )
    same_everywhere(results)
