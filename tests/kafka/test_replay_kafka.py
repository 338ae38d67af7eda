"""`stream-app replay` rebuilds the state from the start of the source and reproduces the live
KPI topic; `stream-app diff-kpis` says so (and says so when they differ)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_app.families.calls.demo import ScenarioConfig
from tests.helpers.checks import check_kpi_topic, progress, wait_all_final
from tests.helpers.scenarios import produce_scenario, settings_for
from tests.helpers.support import (
    ROOT,
    WorkerProc,
    cli,
    isolated_env,
    latest_by_key,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize("processes", [1, 2])
def test_replay_reproduces_the_live_kpi_topic(
    kafka_bootstrap: str, tmp_path: Path, processes: int
) -> None:
    """`--processes 2`: two workers of one group share the replay (a backfill on more cores)
    and follow it to the end together."""
    before = set(ROOT.glob("*-data"))
    env = isolated_env(kafka_bootstrap)
    run = produce_scenario(env, ScenarioConfig(seed=29, calls=800, reps=6, teams=2))
    s = settings_for(env)
    live = WorkerProc(env, tmp_path, "live").start()
    try:
        wait_for(live.ready, 90, "live worker ready")
        wait_for(lambda: progress(live) == len(run.records), 300, "live run done")
        wait_all_final(kafka_bootstrap, s.kpi_calls_topic, run.truth)
    finally:
        live.stop()
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
