"""The gateway benchmark, once at a tiny size, so it keeps working (its figures are not checked:
a benchmark is not a timed test). It fails by itself when a request answered 200 is missing
from its topic or one was never answered 200."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.support import ROOT

pytestmark = pytest.mark.kafka


def test_bench_gateway_runs_with_an_outage_and_loses_nothing() -> None:
    args = ["--requests", "1500", "--clients", "8", "--outage", "2", "--outage-after", "0.3"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.gateway", *args, "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "lost 0," in done.stdout
