"""The throughput benchmark, once at a tiny size with its peers, so it keeps working from a fresh
clone (its figures are not checked: a benchmark is not a timed test). The peers' virtualenv is
built from scratch from its lock, as on a machine that never ran the benchmark. At this size a
stage may count every record before its first progress sample; that is a rate it cannot
measure, not a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from bench import report
from tests.helpers.support import ROOT

pytestmark = pytest.mark.kafka


def test_bench_throughput_with_peers_runs_from_a_fresh_state_and_leaves_the_checkout_clean(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    peers_venv = tmp_path / "peers-venv"
    before = set(os.listdir(ROOT))
    results = tmp_path / "results"
    results.mkdir()
    args = ["--calls", "60", "--repeat", "1", "--latency-samples", "2", "--peers"]
    args += ["--json", str(results / "calls.json")]
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
        env={
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "BENCH_PEERS_VENV": str(peers_venv),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    rows = [orjson.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 1 and rows[0]["records"] > 60  # a call is several events
    assert "calls: median of 1 runs" in done.stdout
    # Both peers ran from the venv built here (a rate or NaN: at this size either may be).
    assert {"quix_eps", "bytewax_eps"} <= rows[0].keys(), rows[0]
    assert (peers_venv / "bin" / "python").exists()
    # The JSON beside the text, and the docs' table made from it.
    document = orjson.loads((results / "calls.json").read_bytes())
    assert document["pipeline"] == "calls" and document["runs"] == rows
    assert document["machine"]["cores"] == os.cpu_count()
    page = report.markdown(results)
    assert "## calls" in page and "--peers" in page and "| median |" in page
    # The bare Faust agent's data directory once landed in the working directory.
    assert set(os.listdir(ROOT)) - before == set()
