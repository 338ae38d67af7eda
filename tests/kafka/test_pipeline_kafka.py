"""A seeded scenario through a real broker and worker: /metrics, kpi.calls and the dead-letter
topic all equal the ground truth computed from what was produced."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from schemas.kpi import CallWindowKpi
from stream_app.families.calls.demo import ScenarioConfig
from tests.helpers.checks import (
    check_counters,
    check_kpi_topic,
    check_window_gauges,
    processed,
    wait_all_final,
)
from tests.helpers.scenarios import ScenarioRun, produce_scenario, settings_for
from tests.helpers.support import WorkerProc, isolated_env, latest_by_key, read_topic, wait_for

pytestmark = pytest.mark.kafka

CONFIG = ScenarioConfig(seed=11, calls=5000, reps=12, teams=2, duplicate_rate=0.06, malformed=64)


@dataclass
class Run:
    env: dict[str, str]
    produced: ScenarioRun
    worker: WorkerProc
    metrics_text: str


@pytest.fixture(scope="module")
def run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    env = isolated_env(kafka_bootstrap)
    produced = produce_scenario(env, CONFIG)
    worker = WorkerProc(env, tmp_path_factory.mktemp("logs"), "worker").start()
    try:
        wait_for(worker.ready, 90, "worker ready")
        total = len(produced.records)
        wait_for(lambda: processed(worker.scrape()) == total, 300, f"all {total} records processed")
        s = settings_for(env)
        wait_all_final(kafka_bootstrap, s.kpi_calls_topic, produced.truth)
        yield Run(env, produced, worker, worker.get("/metrics")[1])
    finally:
        worker.stop()


def test_scenario_has_what_acceptance_asks(run: Run) -> None:
    records = run.produced.records
    kinds = Counter(r.kind for r in records)
    events = kinds["event"]
    calls = {orjson.loads(r.value)["call_id"] for r in records if r.kind == "event"}
    reps = {orjson.loads(r.value)["rep_id"] for r in records if r.kind == "event"}
    teams = {orjson.loads(r.value)["team_id"] for r in records if r.kind == "event"}
    assert len(calls) >= 5000 and len(reps) >= 10 and len(teams) >= 2
    assert kinds["duplicate"] >= 0.05 * events
    assert kinds["malformed"] >= 50
    truth = run.produced.truth
    assert truth.late_events > 0, "some events must be late beyond grace"
    within = sum(1 for r in records if r.kind == "event" and 0 < r.delay_ms <= 120_000)
    assert within > 0, "some events must arrive late but within grace"


def test_metrics_equal_truth(run: Run) -> None:
    from tests.helpers.support import parse_metrics

    samples = parse_metrics(run.metrics_text)
    check_counters(samples, run.produced.truth)
    s = settings_for(run.env)
    assert check_window_gauges(samples, run.produced.truth, s.business_timezone, s.windows) > 0


def test_kpi_topic_equals_truth(run: Run, kafka_bootstrap: str) -> None:
    s = settings_for(run.env)
    records = read_topic(kafka_bootstrap, s.kpi_calls_topic)
    latest = latest_by_key(records)
    check_kpi_topic(latest, run.produced.truth, final=True)
    for value in list(latest.values())[:200]:
        CallWindowKpi.model_validate(value)
    key = next(iter(latest))
    assert set(orjson.loads(key)) == {"kpi", "rep_id", "window", "window_start_ms"}


def test_dead_letter_topic_has_every_malformed_record(run: Run, kafka_bootstrap: str) -> None:
    s = settings_for(run.env)
    dead = read_topic(kafka_bootstrap, s.dlq_topic)
    by_source = {}
    for record in dead:
        assert record.headers["source.topic"] == s.calls_topic
        assert record.headers["dlq.reason"], "a readable reason"
        source = (int(record.headers["source.partition"]), int(record.headers["source.offset"]))
        by_source[source] = record
    expected = run.produced.malformed
    assert set(by_source) == set(expected)
    for at, produced in expected.items():
        assert by_source[at].value == produced.value, "original bytes kept"
        assert by_source[at].headers["dlq.reason.class"] == produced.reason_class
    from tests.helpers.support import metric_sum, parse_metrics

    samples = parse_metrics(run.metrics_text)
    for reason, n in run.produced.dlq_reasons.items():
        assert metric_sum(samples, "isales_dead_letter_events_total", reason=reason) == n


def test_late_topic_has_every_late_event(run: Run, kafka_bootstrap: str) -> None:
    s = settings_for(run.env)
    late = read_topic(kafka_bootstrap, s.late_topic)
    sources = {(r.headers["source.partition"], r.headers["source.offset"]) for r in late}
    assert len(sources) == run.produced.truth.late_events + run.produced.truth.expired
    assert all(r.headers["late.windows"] for r in late)


def test_kpi_topic_is_compacted(run: Run, kafka_bootstrap: str) -> None:
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    s = settings_for(run.env)

    async def describe() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            result = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, s.kpi_calls_topic)]
            )
            entries = result[0].resources[0][4]
            return {e[0]: e[1] for e in entries}
        finally:
            await admin.close()

    assert asyncio.run(describe())["cleanup.policy"] == "compact,delete"


def test_every_created_topic_has_its_explicit_retention_on_the_broker(
    run: Run, kafka_bootstrap: str
) -> None:
    """The personal-data map's promise: no topic the service creates keeps the broker's
    default retention (docs/operations/personal-data.md)."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from stream_app.kafka.topics import topic_specs

    s = settings_for(run.env)
    wanted = {t.name: t.topic_configs for t in topic_specs(s)}

    async def describe() -> dict[str, dict[str, str]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in wanted]
            out = {}
            for result in await admin.describe_configs(resources):
                for _err, _msg, _type, name, entries in result.resources:
                    out[name] = {e[0]: e[1] for e in entries}
            return out
        finally:
            await admin.close()

    found = asyncio.run(describe())
    assert found.keys() == wanted.keys()
    for name, config in wanted.items():
        assert found[name]["retention.ms"] == config["retention.ms"], name
    assert int(found[s.dlq_topic]["retention.ms"]) == 14 * 86_400_000  # the documented default
    assert int(found[s.calls_topic]["retention.ms"]) == 30 * 86_400_000


def test_promtool_accepts_a_real_scrape(run: Run, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package 'prometheus'); .ci/run installs it"
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=run.metrics_text.encode(),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_health_endpoints(run: Run) -> None:
    assert run.worker.get("/healthz")[0] == 200
    status, body = run.worker.get("/readyz")
    assert status == 200 and orjson.loads(body)["partitions"] == [0, 1, 2, 3]


def test_no_personal_data_in_labels(run: Run) -> None:
    from tests.helpers.support import parse_metrics

    for series in parse_metrics(run.metrics_text).values():
        for labels in series:
            for _name, value in labels:
                assert "@" not in value and "call-" not in value


def test_a_scrape_can_ask_for_some_metrics_only(run: Run) -> None:
    """`?name[]=` (prometheus_client's convention): only the named series, the same values."""
    from tests.helpers.support import parse_metrics

    full = parse_metrics(run.metrics_text)
    names = ["isales_calls_dials_total", "isales_calls_window_connect_rate"]
    status, body = run.worker.get("/metrics?name[]=" + "&name[]=".join(names))
    assert status == 200
    some = parse_metrics(body)
    assert set(some) == set(names)
    assert some == {name: full[name] for name in names}
    assert len(some["isales_calls_dials_total"]) >= 10  # one series a rep


def test_the_up_console_reads_its_figures_from_a_worker(run: Run) -> None:
    """The console asks for its five series only; they equal the whole scrape's."""
    from stream_app.ops.console import read
    from tests.helpers.support import parse_metrics

    full = parse_metrics(run.metrics_text)

    def total(name: str) -> float:
        return sum(full[name].values())

    status = read("calls", [run.worker.url.removeprefix("http://")])
    assert status.ready
    assert status.applied == total("isales_events_applied_total") > 0
    assert status.dead == total("isales_dead_letter_events_total") > 0
    assert status.late == total("isales_late_events_total") > 0
    assert status.lag == total("isales_consumer_lag_messages")
    assert status.watermark == max(full["isales_watermark_timestamp_seconds"].values())
