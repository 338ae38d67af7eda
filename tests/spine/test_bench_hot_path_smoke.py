"""bench.hot_path kept working (CI runs it once at a tiny size; its figures are not tested)."""

from __future__ import annotations

import math

import pytest

from bench.hot_path import reach_records, run
from bench.throughput import touch_records
from stream_app.families.calls.demo import ScenarioConfig, scenario
from stream_app.families.email.demo import EmailScenarioConfig, email_scenario
from stream_app.settings import Settings


@pytest.mark.parametrize("pipeline", ["calls", "email", "engagement", "reach"])
def test_the_hot_path_benchmark_runs_each_pipeline(pipeline: str) -> None:
    if pipeline == "email":
        records = email_scenario(EmailScenarioConfig(seed=100))[:400]
    elif pipeline == "engagement":
        records = touch_records(300, seed=1)
    elif pipeline == "reach":
        records = reach_records(touch_records(300, seed=1), single=False)
    else:
        records = scenario(ScenarioConfig(seed=100, calls=100, malformed=5))
    decode_us, total_us = run(records, Settings(), 50, pipeline)
    assert math.isfinite(total_us) and 0 < decode_us < total_us
