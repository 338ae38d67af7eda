"""`stream-app replay` rebuilds the state from the start of the source and reproduces the live
KPI topic; `stream-app diff-kpis` says so (and says so when they differ)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from stream_app import registry
from stream_app.cli import UP_PIPELINES
from stream_app.families.calls.demo import ScenarioConfig
from stream_app.kafka.local_broker import free_port
from stream_app.kafka.topics import topic_kinds
from stream_app.settings import Settings
from tests.helpers.checks import check_kpi_topic, progress, wait_all_final
from tests.helpers.scenarios import ScenarioRun, produce_scenario, settings_for
from tests.helpers.support import (
    PORT_SETTINGS,
    ROOT,
    WorkerProc,
    cli,
    end_offsets,
    http_get,
    isolated_env,
    latest_by_key,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.kafka


def live_run(
    bootstrap: str, env: dict[str, str], tmp_path: Path, cfg: ScenarioConfig
) -> tuple[ScenarioRun, Settings]:
    """The scenario counted by a live calls worker to its final windows, then stopped."""
    run = produce_scenario(env, cfg)
    s = settings_for(env)
    live = WorkerProc(env, tmp_path, "live").start()
    try:
        wait_for(live.ready, 90, "live worker ready")
        wait_for(lambda: progress(live) == len(run.records), 300, "live run done")
        wait_all_final(bootstrap, s.kpi_calls_topic, run.truth)
    finally:
        live.stop()
    return run, s


@pytest.mark.parametrize("processes", [1, 2])
def test_replay_reproduces_the_live_kpi_topic(
    kafka_bootstrap: str, tmp_path: Path, processes: int
) -> None:
    """`--processes 2`: two workers of one group share the replay (a backfill on more cores)
    and follow it to the end together."""
    before = set(ROOT.glob("*-data"))
    env = isolated_env(kafka_bootstrap)
    run, s = live_run(
        kafka_bootstrap, env, tmp_path, ScenarioConfig(seed=29, calls=800, reps=6, teams=2)
    )
    replayed = cli(
        env,
        *("replay", "--pipeline", "calls", "--topic-suffix", ".replay", "--timeout", "400"),
        *(("--processes", str(processes)) if processes > 1 else ()),
    )
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    assert "done: state rebuilt under ISALES_APP_ID=" in replayed.stderr
    again = latest_by_key(read_topic(kafka_bootstrap, s.kpi_calls_topic + ".replay"))
    check_kpi_topic(again, run.truth, final=True)
    same = cli(env, "diff-kpis", s.kpi_calls_topic, s.kpi_calls_topic + ".replay")
    assert same.returncode == 0, same.stdout
    assert "the same latest records" in same.stdout
    other = cli(env, "diff-kpis", s.kpi_calls_topic, s.kpi_pacing_topic)  # no targets: empty
    assert other.returncode == 1 and "keys only in" in other.stdout
    # Workers keep their state under ISALES_DATA_DIR, never in the folder they start in.
    assert set(ROOT.glob("*-data")) == before


def _copies(bootstrap: str, topic: str) -> list[tuple[str, ...]]:
    """The dead-letter or late copies on a topic: the source record each copies and why,
    sorted, with repeats (a topic holding each twice is not the same)."""
    why = ("source.partition", "source.offset", "dlq.reason.class", "late.reason")
    return sorted(tuple(r.headers.get(h, "") for h in why) for r in read_topic(bootstrap, topic))


def _broker(bootstrap: str) -> tuple[set[str], set[str]]:
    """Every topic and consumer group on the broker."""

    async def run() -> tuple[set[str], set[str]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            topics = set(await admin.list_topics())
            groups = {str(g[0]) for g in await admin.list_consumer_groups()}
            return topics, groups
        finally:
            await admin.close()

    return asyncio.run(run())


def _live_names(s: Settings) -> tuple[set[str], set[str]]:
    """The live system's topics and consumer groups, from the definitions: every topic the
    service creates, and each pipeline's group `<app id>[-<pipeline>]` and Faust changelog."""
    return set(topic_kinds(s)), {spec.app_id for spec in registry.pipelines(s)}


def _app_id(output: str) -> str:
    found = re.search(r"under app id (\S+)", output)
    assert found, output
    return found.group(1)


def _nothing_left(bootstrap: str, s: Settings, app: str, suffix: str | None) -> None:
    """No topic or group carries the replay's app id or its renamed names, its folders are
    gone, and every live topic is still there."""
    topics, groups = _broker(bootstrap)
    live_topics, _ = _live_names(s)
    renamed = {f"{t}{suffix}" for t in live_topics} if suffix else set()
    renamed |= {f"{t}.{app}" for t in live_topics}
    assert not [t for t in topics if app in t or t in renamed]
    assert not [g for g in groups if app in g]
    assert not [p for p in s.data_dir.iterdir() if app in p.name]
    assert not (s.data_dir / "replays" / app).exists()
    assert live_topics <= topics
    assert f"{s.app_id}-calls-state-changelog" in topics
    assert s.app_id in groups  # the live worker's group, kept with its offsets


def test_a_replay_writes_no_live_topic_logs_and_progresses_and_cleans_up(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Dead-letter and late copies are appended, not keyed: a replay sends them to renamed
    topics (with the suffix, or `.<app id>` without one), and the live ones keep their end
    offsets. The worker's output is in the log whose path is printed with its metrics URL;
    progress written to a pipe is plain lines with real rates. `--cleanup` removes the
    replay's groups, changelogs, renamed topics and folders, and refuses a live app id."""
    env = isolated_env(kafka_bootstrap)
    # Once the live run is stopped all its copies are out: side records go before the state
    # that counts them.
    run, s = live_run(
        kafka_bootstrap, env, tmp_path, ScenarioConfig(seed=31, calls=4000, reps=8, teams=2)
    )
    copies = {t: _copies(kafka_bootstrap, t) for t in (s.dlq_topic, s.late_topic)}
    assert len(copies[s.dlq_topic]) == len(run.malformed) > 0
    assert len(copies[s.late_topic]) > 0, "the scenario must have late events"
    # The engagement tap's touches too (none here: these calls name no lead).
    appended = (s.dlq_topic, s.late_topic, s.touches_topic)
    before = {t: end_offsets(kafka_bootstrap, t) for t in appended}
    assert all(before.values())

    replayed = cli(
        env,
        *("replay", "--pipeline", "calls", "--topic-suffix", ".replay"),
        *("--progress-every", "1", "--timeout", "400"),
    )
    out = replayed.stderr
    assert replayed.returncode == 0, out[-3000:]
    app = _app_id(out)
    assert {t: end_offsets(kafka_bootstrap, t) for t in before} == before
    for topic, records in copies.items():
        assert _copies(kafka_bootstrap, f"{topic}.replay") == records
    log = s.data_dir / "replays" / app / "calls.log"
    assert re.search(
        rf"calls: log {re.escape(str(log))}; metrics http://127\.0\.0\.1:\d+/metrics", out
    )
    assert "[INFO]" in log.read_text(), "the worker's own log lines"
    rates = re.findall(
        rf"^calls {re.escape(s.calls_topic)}: [\d,]+ / ([\d,]+) records, ([\d,]+) records/s",
        out,
        re.MULTILINE,
    )
    assert rates and int(rates[-1][0].replace(",", "")) == len(run.records), out[-3000:]
    assert any(int(rate.replace(",", "")) > 0 for _, rate in rates), out[-3000:]
    manifest = orjson.loads((s.data_dir / "replays" / app / "manifest.json").read_bytes())
    assert manifest["renamed"][s.dlq_topic] == f"{s.dlq_topic}.replay"
    assert manifest["renamed"][s.kpi_calls_topic] == f"{s.kpi_calls_topic}.replay"

    refused = cli(env, "replay", "--cleanup", "--app-id", s.app_id)
    assert refused.returncode == 2 and "live ISALES_APP_ID" in refused.stdout
    cleaned = cli(env, "replay", "--cleanup", "--app-id", app)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert f"removed consumer group {app}" in cleaned.stdout
    assert f"removed topic {s.dlq_topic}.replay" in cleaned.stdout
    assert f"removed topic {app}-calls-state-changelog" in cleaned.stdout
    _nothing_left(kafka_bootstrap, s, app, ".replay")

    # Without a suffix: the KPI topic rewritten in place, what is appended under `.<app id>`.
    refused = cli(env, "replay", "--pipeline", "calls", "--app-id", s.app_id)
    assert refused.returncode == 2 and "live ISALES_APP_ID" in refused.stderr
    again = f"{s.app_id}.again"
    replayed = cli(env, "replay", "--pipeline", "calls", "--app-id", again, "--timeout", "400")
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    assert {t: end_offsets(kafka_bootstrap, t) for t in before} == before
    for topic, records in copies.items():
        assert _copies(kafka_bootstrap, f"{topic}.{again}") == records
    assert f"{s.touches_topic}.{again}" in _broker(kafka_bootstrap)[0]  # the tap's, renamed
    check_kpi_topic(
        latest_by_key(read_topic(kafka_bootstrap, s.kpi_calls_topic)), run.truth, final=True
    )
    cleaned = cli(env, "replay", "--cleanup", "--app-id", again)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    _nothing_left(kafka_bootstrap, s, again, None)


def test_a_worker_that_exits_early_is_reported_with_its_log(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A replay worker that dies (here: an engagement file that does not parse) ends the
    replay with 1, its exit code, its log's path and the log's last lines."""
    bad = tmp_path / "engagement.yml"
    bad.write_text("weights: [1, 2\n")
    env = isolated_env(kafka_bootstrap, ISALES_ENGAGEMENT_FILE=str(bad))
    replayed = cli(env, "replay", "--pipeline", "engagement", "--timeout", "120", timeout=200)
    assert replayed.returncode == 1
    app = _app_id(replayed.stderr)
    log = settings_for(env).data_dir / "replays" / app / "engagement.log"
    assert f"engagement: the replay worker exited 1; its log: {log}" in replayed.stderr
    assert "ParserError" in replayed.stderr.split("last lines:", 1)[1]
    assert log.exists()
    cleaned = cli(env, "replay", "--cleanup", "--app-id", app)
    assert cleaned.returncode == 0, cleaned.stdout


def test_a_replay_of_every_pipeline_beside_a_running_up(tmp_path: Path) -> None:
    """Every pipeline `up` runs, the relationship stages included, replayed at once with a
    suffix beside a running `stream-app up --no-ops` (its own broker and state folder, live
    demo traffic still flowing into calls, CRM and web): exit 0, every stage on a port of its
    own, the live workers still ready, the chained stages (crm, engagement, reach) fed by the
    replay's own renamed topics, and `--cleanup` leaves nothing of it.

    `up` rather than hand-started workers: it is the running system a user has, and its port
    variables (ISALES_*_METRICS_PORT, set here to free ports as tests/ops/test_up.py does, so
    the test does not depend on 9108-9114 being free on a shared machine) are what a replay
    inherits; without Prometheus, Alertmanager and the board it fits in about two minutes."""
    env = {
        **os.environ,
        "ISALES_KAFKA_HOME": str(tmp_path / "kafka"),
        "ISALES_DATA_DIR": str(tmp_path / "state"),
        **{variable: str(free_port()) for variable in PORT_SETTINGS.values()},
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    up_log = tmp_path / "up.log"
    command = [sys.executable, "-m", "stream_app", "up", "--no-ops", "--rate", "20"]
    command += ["--kafka-port", str(free_port())]
    with up_log.open("wb") as out:
        up = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def printed() -> str:
        assert up.poll() is None, up_log.read_text(errors="replace")[-3000:]
        return up_log.read_text(errors="replace")

    try:
        wait_for(lambda: "pipelines ready" in printed(), 240, "every live pipeline ready")
        found = re.search(r"^Kafka:\s+(\S+)", printed(), re.MULTILINE)
        assert found, printed()
        bootstrap = found.group(1)
        logs = tmp_path / "state" / "logs"

        def seeded() -> bool:
            paths = [logs / f"{name}.log" for name in ("demo-email", "demo-crm")]
            return all(p.exists() and "produced" in p.read_text(errors="replace") for p in paths)

        wait_for(seeded, 120, "the seeded e-mail and CRM scenarios produced")
        replay_env = {**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        s = settings_for(replay_env)
        replayed = cli(
            replay_env,
            "replay",
            *(arg for name in UP_PIPELINES for arg in ("--pipeline", name)),
            *("--topic-suffix", ".replay", "--progress-every", "5", "--timeout", "300"),
            timeout=400,
        )
        assert replayed.returncode == 0, replayed.stderr[-4000:]
        app = _app_id(replayed.stderr)
        stages = dict(
            re.findall(
                r"^(\S+): log \S+; metrics http://127\.0\.0\.1:(\d+)/metrics",
                replayed.stderr,
                re.MULTILINE,
            )
        )
        assert set(stages) == set(UP_PIPELINES)
        live_ports = {env[variable] for variable in PORT_SETTINGS.values()}
        assert len(set(stages.values())) == len(stages) and not set(stages.values()) & live_ports
        for name, variable in PORT_SETTINGS.items():
            status, _ = http_get(f"http://127.0.0.1:{env[variable]}/readyz")
            assert status == 200, f"live {name} no longer ready"
        for topic in (
            s.kpi_calls_topic,
            s.kpi_email_topic,
            s.kpi_handoffs_topic,
            s.kpi_engagement_topic,
            s.crm_attributed_topic,
            s.touches_topic,
            s.reach_topic,
        ):
            assert read_topic(bootstrap, f"{topic}.replay"), f"nothing on {topic}.replay"
        cleaned = cli(replay_env, "replay", "--cleanup", "--app-id", app)
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        # Named as another app id's leftovers, the running system is still not removed: its
        # groups have members (here: `up`'s app id, from a shell set to another one).
        before = _broker(bootstrap)
        elsewhere = {**replay_env, "ISALES_APP_ID": "other", "ISALES_SESSION_TIMEOUT_SECONDS": "1"}
        refused = cli(elsewhere, "replay", "--cleanup", "--app-id", s.app_id)
        assert refused.returncode == 1 and "nothing was removed" in refused.stdout
        assert _broker(bootstrap) == before
        topics, groups = _broker(bootstrap)
        assert not [t for t in topics if app in t or t.endswith(".replay")]
        assert not [g for g in groups if app in g]
        live_topics, _ = _live_names(s)
        assert live_topics <= topics
        assert {
            spec.app_id for spec in registry.pipelines(s) if spec.name in PORT_SETTINGS
        } <= groups
        assert not [p for p in (tmp_path / "state").iterdir() if app in p.name]
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(120)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait(30)
