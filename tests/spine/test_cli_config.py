"""A bad setting is one line naming the variable, and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from stream_app.ops.config_errors import describe
from stream_app.settings import Settings
from tests.helpers.support import ROOT


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"ISALES_GRACE_SECONDS": "-5"}, "invalid setting ISALES_GRACE_SECONDS=-5: must be ≥ 0"),
        ({"ISALES_PARTITIONS": "four"}, "invalid setting ISALES_PARTITIONS=four: must be a whole"),
        ({"ISALES_BUSINESS_TIMEZONE": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
    ],
)
def test_the_worker_refuses_a_bad_setting_in_one_line(env: dict[str, str], line: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stream_app", "worker"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert line in lines[0]


def test_a_secret_is_never_echoed() -> None:
    env = {"ISALES_METRICS_AUTH_TOKEN": "hunter2", "ISALES_KAFKA_SASL_PASSWORD": "hunter2"}
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({"kafka_sasl_password": ["not", "a", "string"]})
    text = describe(caught.value, env)
    assert text.startswith("invalid setting ISALES_KAFKA_SASL_PASSWORD=***")
    assert "hunter2" not in text
