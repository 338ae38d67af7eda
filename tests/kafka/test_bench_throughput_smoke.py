"""The throughput benchmark, once at a tiny size, so it keeps working (its figures are not
checked: a benchmark is not a timed test). At this size a stage may count every record before
its first progress sample; that is a rate it cannot measure, not a crash."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from tests.helpers.support import ROOT

pytestmark = pytest.mark.kafka


def test_bench_throughput_runs_at_a_tiny_size_and_leaves_the_checkout_clean(
    kafka_bootstrap: str,
) -> None:
    before = set(os.listdir(ROOT))
    args = ["--calls", "60", "--repeat", "1", "--latency-samples", "2"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.throughput",
            *args,
            "--load-rate",
            "50",
            "--load-seconds",
            "1",
        ],
        cwd=ROOT,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    rows = [orjson.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 1 and rows[0]["records"] > 60  # a call is several events
    assert "calls: median of 1 runs" in done.stdout
    # The bare Faust agent's data directory once landed in the working directory.
    assert set(os.listdir(ROOT)) - before == set()
