"""The fault suite: what a reliability probe broke, reproduced against a real broker.

Poison and hostile records mixed into good traffic all reach the DLQ with their provenance
and the good KPIs stay exact; a broker stopped and a broker SIGKILLed mid-stream lose nothing
and count nothing twice while `/metrics` keeps answering; a broker that comes back empty stops
the worker with one clear line; a restart keeps every admitted rep's series; only the pages we
mean are served. Sizes are bounded for CI; ISALES_FAULT_HOSTILE_RECORDS scales the flood.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from stream_app.families.calls.demo import ScenarioConfig
from stream_app.kafka.local_broker import LocalKafka
from tests.helpers.checks import check_counters, check_kpi_topic, progress, wait_all_final
from tests.helpers.hostile import KINDS, Bad
from tests.helpers.scenarios import ScenarioRun, produce_mixed, settings_for
from tests.helpers.support import (
    Consumed,
    Samples,
    WorkerProc,
    isolated_env,
    latest_by_key,
    metric_sum,
    parse_metrics,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.kafka

HOSTILE = int(os.environ.get("ISALES_FAULT_HOSTILE_RECORDS", "6000"))


def expected_dlq(run: ScenarioRun, bad: dict[tuple[int, int], Bad]) -> dict[tuple[int, int], str]:
    """Where every record the README says is bad sits, and its class."""
    want = {at: r.reason_class or "" for at, r in run.malformed.items()}
    want.update({at: r.reason_class for at, r in bad.items()})
    return want


def check_dlq(bootstrap: str, topic: str, want: dict[tuple[int, int], str]) -> list[Consumed]:
    dead = read_topic(bootstrap, topic)
    got: dict[tuple[int, int], str] = {}
    for r in dead:
        at = (int(r.headers["source.partition"]), int(r.headers["source.offset"]))
        got[at] = r.headers["dlq.reason.class"]
        reason = r.headers["dlq.reason"]
        assert "@" not in reason and "4155550" not in reason and "jane" not in reason, reason
    assert set(got) == set(want), (
        f"{len(set(want) - set(got))} bad records missing from the DLQ, "
        f"{len(set(got) - set(want))} good ones on it"
    )
    wrong = [(at, got[at], want[at]) for at in want if got[at] != want[at]]
    assert not wrong, f"reason classes (at, got, README says): {wrong[:10]}"
    return dead


def no_crash(worker: WorkerProc) -> None:
    log = worker.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "crashed" not in log, worker.log_tail(80)


def test_poison_and_hostile_records_never_stall_a_pipeline(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Year-1 and year-9999 timestamps (a crash loop before), ~1 MB records (a crash loop on
    the DLQ copy before), personal-data ids and every other hostile kind, in a west-of-UTC
    zone, mixed into a scenario: all on the DLQ under the README's class, good KPIs exact."""
    env = isolated_env(kafka_bootstrap, ISALES_BUSINESS_TIMEZONE="America/Los_Angeles")
    cfg = ScenarioConfig(seed=61, calls=1200, reps=10, teams=2, tz="America/Los_Angeles")
    run, bad = produce_mixed(env, cfg, HOSTILE, seed=62)
    assert {r.reason_class for r in bad.values()} == set(KINDS.values())
    total = len(run.records) + len(bad)
    worker = WorkerProc(env, tmp_path, "worker").start()
    try:
        wait_for(worker.ready, 90, "worker ready")
        started = time.monotonic()
        wait_for(lambda: progress(worker) == total, 600, f"all {total} records handled")
        drain_s = time.monotonic() - started
        s = settings_for(env)
        samples = parse_metrics(worker.get("/metrics")[1])
        check_counters(samples, run.truth)
        want = expected_dlq(run, bad)
        for reason, n in Counter(want.values()).items():
            assert metric_sum(samples, "isales_dead_letter_events_total", reason=reason) == n
        dead = check_dlq(kafka_bootstrap, s.dlq_topic, want)
        cut = [r for r in dead if r.headers.get("dlq.truncated") == "true"]
        assert len(cut) == 3, "every ~1 MB record's copy cut to the limit, with its sizes"
        for r in cut:
            sent = bad[(int(r.headers["source.partition"]), int(r.headers["source.offset"]))]
            assert sent.value is not None and r.value is not None
            assert int(r.headers["dlq.original_value_bytes"]) == len(sent.value) > 1_000_000
            assert len(r.value) + len(r.key or b"") == s.dlq_max_record_bytes
            assert sent.value.startswith(r.value) and r.key == sent.key
        assert metric_sum(samples, "isales_offset_rewinds_total") == 0, "no crash, no seek back"
        no_crash(worker)
        wait_all_final(kafka_bootstrap, s.kpi_calls_topic, run.truth)
        check_kpi_topic(
            latest_by_key(read_topic(kafka_bootstrap, s.kpi_calls_topic)), run.truth, final=True
        )
        print(f"\n{len(bad)} hostile + {len(run.records)} good records drained in {drain_s:.1f} s")
    finally:
        worker.stop()


# ---- the broker misbehaving: a broker of the test's own -------------------------------------


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    broker = LocalKafka(tmp_path / "broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def timed_scrape(worker: WorkerProc) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(worker.url + "/metrics", timeout=30) as response:  # noqa: S310
        assert response.status == 200
        response.read()
    return time.monotonic() - started


def scrape_through(worker: WorkerProc, seconds: float) -> list[float]:
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        times.append(timed_scrape(worker))
        time.sleep(0.5)
    return times


def test_broker_stopped_then_sigkilled_mid_stream(own_broker: LocalKafka, tmp_path: Path) -> None:
    bootstrap = own_broker.bootstrap()
    assert bootstrap is not None
    env = isolated_env(bootstrap, ISALES_SHUTDOWN_TIMEOUT_SECONDS="5")
    run, _ = produce_mixed(env, ScenarioConfig(seed=71, calls=3000, reps=12, teams=2), 0, seed=0)
    total = len(run.records)
    worker = WorkerProc(env, tmp_path, "worker").start()
    scrapes: list[float] = []
    try:
        wait_for(worker.ready, 90, "worker ready")
        wait_for(lambda: progress(worker) >= total // 3, 300, "a third", every=0.05)
        own_broker.stop()
        scrapes += scrape_through(worker, 20)
        own_broker.start()
        wait_for(lambda: progress(worker) >= 2 * total // 3, 300, "two thirds", every=0.05)
        own_broker.kill()
        scrapes += scrape_through(worker, 10)
        own_broker.start()
        wait_for(lambda: progress(worker) == total, 300, f"all {total} records")
        s = settings_for(env)
        check_counters(parse_metrics(worker.get("/metrics")[1]), run.truth)
        check_dlq(bootstrap, s.dlq_topic, expected_dlq(run, {}))
        wait_all_final(bootstrap, s.kpi_calls_topic, run.truth)
        latest = latest_by_key(read_topic(bootstrap, s.kpi_calls_topic))
        check_kpi_topic(latest, run.truth, final=True)
        # Every scrape answered, none waited on the broker (before: 31.7 s, worker marked down).
        assert max(scrapes) < 2.0, sorted(scrapes)[-5:]
        lines = worker.log_path.read_text(errors="replace").splitlines()
        loud = [line for line in lines if "[ERROR]" in line or "[WARNING]" in line]
        assert len(loud) < 80, f"{len(loud)} error/warning lines; last:\n" + "\n".join(loud[-20:])
        # One line per outage; the second may fall inside the first's reconnection.
        assert 1 <= sum("Kafka unreachable" in line for line in lines) <= 2
        wait_for(
            lambda: "Kafka reachable again" in worker.log_path.read_text(errors="replace"),
            30,
            "the recovery line",
        )
        print(
            f"\nscrapes during outages: n={len(scrapes)} max={max(scrapes):.3f}s "
            f"median={sorted(scrapes)[len(scrapes) // 2]:.3f}s; {len(loud)} error/warning lines"
        )
        # With the broker gone, SIGTERM still ends the worker within its shutdown timeout.
        own_broker.stop()
        assert worker.proc is not None
        started = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        worker.proc.wait(timeout=30)
        assert time.monotonic() - started < 5 + 5
    finally:
        worker.stop()


def test_a_broker_back_empty_stops_the_worker_with_one_clear_line(
    own_broker: LocalKafka, tmp_path: Path
) -> None:
    bootstrap = own_broker.bootstrap()
    assert bootstrap is not None
    env = isolated_env(bootstrap, ISALES_CLUSTER_CHECK_INTERVAL_SECONDS="2")
    run, _ = produce_mixed(env, ScenarioConfig(seed=81, calls=600, reps=6, teams=2), 0, seed=0)
    worker = WorkerProc(env, tmp_path, "worker").start()
    try:
        wait_for(worker.ready, 90, "worker ready")
        wait_for(lambda: progress(worker) == len(run.records), 300, "all records")
        own_broker.stop()
        own_broker.start(port=int(bootstrap.rsplit(":", 1)[1]), fresh=True)
        assert worker.proc is not None
        worker.proc.wait(timeout=120)
        assert worker.proc.returncode == 3
        lines = worker.log_path.read_text(errors="replace").splitlines()
        critical = [line for line in lines if "[CRITICAL]" in line]
        assert len(critical) == 1, critical
        assert "lost records this pipeline already counted" in critical[0]
        assert sum("[ERROR]" in line for line in lines) < 20
    finally:
        worker.stop()


# ---- labels and pages ------------------------------------------------------------------------


def test_admitted_reps_keep_their_series_across_a_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = isolated_env(kafka_bootstrap, ISALES_LABEL_CAP_REP="25")
    run, _ = produce_mixed(env, ScenarioConfig(seed=91, calls=1500, reps=60, teams=3), 0, seed=0)
    total = len(run.records)

    def admitted(worker: WorkerProc) -> set[str]:
        samples = worker.scrape()
        reps = {dict(labels)["rep"] for labels in samples["isales_calls_dials_total"]}
        return reps - {"other"}

    worker = WorkerProc(env, tmp_path, "before").start()
    try:
        wait_for(worker.ready, 90, "worker ready")
        wait_for(lambda: progress(worker) == total, 300, "all records")
        before = admitted(worker)
        assert len(before) == 25
        worker.kill()
        worker = WorkerProc(env, tmp_path, "after").start()
        wait_for(worker.ready, 120, "restarted worker ready")
        wait_for(lambda: progress(worker) == total, 120, "state recovered")
        assert admitted(worker) == before
        samples = worker.scrape()
        assert metric_sum(samples, "isales_label_overflow_total", label="rep") == 60 - 25
        check_counters_folded(samples, run, before)
    finally:
        worker.stop()


def check_counters_folded(samples: Samples, run: ScenarioRun, admitted: set[str]) -> None:
    """Admitted reps exact, everyone else summed into `other`: nothing lost in folding."""
    want_other = sum(
        f.get("dials", 0) for rep, f in run.truth.totals.items() if rep not in admitted
    )
    assert metric_sum(samples, "isales_calls_dials_total", rep="other") == want_other
    for rep in admitted:
        want = run.truth.totals[rep].get("dials", 0)
        assert metric_sum(samples, "isales_calls_dials_total", rep=rep) == want


def test_only_our_pages_are_served_and_metrics_can_want_a_token(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = isolated_env(kafka_bootstrap, ISALES_METRICS_AUTH_TOKEN="t0ken")  # noqa: S106
    produce_mixed(env, ScenarioConfig(seed=95, calls=100, reps=3, teams=1), 0, seed=0)
    worker = WorkerProc(env, tmp_path, "worker").start()
    try:
        wait_for(worker.ready, 90, "worker ready")
        status, _ = worker.get("/metrics")
        assert status == 401
        request = urllib.request.Request(  # noqa: S310
            worker.url + "/metrics", headers={"Authorization": "Bearer t0ken"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            assert response.status == 200 and b"isales_calls_dials_total" in response.read()
        for path in (
            "/table/",
            "/table/calls-state/",
            "/table/calls-state/p%2F0/",
            "/router/",
            "/router/calls-state/p%2F0/",
            "/graph/",
            "/stats/",
            "/assignment/",
        ):
            assert worker.get(path)[0] == 404, path
        assert worker.get("/healthz")[0] == 200 and worker.get("/readyz")[0] == 200
        body = worker.get("/")[1]
        assert orjson.loads(body) == {"status": "OK"}
    finally:
        worker.stop()
