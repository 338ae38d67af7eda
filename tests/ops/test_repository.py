"""The clone is honest: no environment, cache or build output is tracked, and the environment the
tests run in is exactly the locked set (requirements.lock, refreshed by scripts/lock.sh)."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers.support import ROOT

# A directory that only an environment, a cache or a build makes.
GENERATED = re.compile(
    r"(^|/)(\.?venv[^/]*|site-packages|__pycache__|\.mypy_cache|\.ruff_cache|\.pytest_cache"
    r"|\.hypothesis|node_modules|build|dist|_build|[^/]+\.egg-info|[^/]+-data)/"
    r"|\.py[co]$"
)


def tracked() -> list[str]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.fail("the repository tests need a git checkout (CI runs on a fresh clone)")
    done = subprocess.run([git, "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_no_environment_cache_or_build_output_is_tracked() -> None:
    offenders = [path for path in tracked() if GENERATED.search(path)]
    assert offenders == [], offenders[:20]


def test_the_pattern_catches_what_it_must() -> None:
    for path in (
        ".venv-peers/bin/python",
        "bench/.venv/x.py",
        "lib/python3.11/site-packages/a.py",
        "stream_app/__pycache__/x.cpython-311.pyc",
        "docs/_build/html/index.html",
        "isales_kpi_stream.egg-info/PKG-INFO",
        "bare-calls-data/v1/tables",
    ):
        assert GENERATED.search(path), path
    for path in ("stream_app/spine/engine.py", "docs/index.md", "bench/peers/requirements.lock"):
        assert not GENERATED.search(path), path


@pytest.mark.parametrize("ignore_file", [".gitignore", ".dockerignore"])
def test_environments_are_ignored(ignore_file: str) -> None:
    lines = {line.strip().rstrip("/") for line in (ROOT / ignore_file).read_text().splitlines()}
    assert {".venv", ".venv-peers"} <= lines


def locked() -> dict[str, str]:
    """Name -> version of every requirement in requirements.lock that applies here."""
    pins: dict[str, str] = {}
    text = (ROOT / "requirements.lock").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line.split(" --hash", 1)[0])
        if requirement.marker is None or requirement.marker.evaluate():
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            pins[str(canonicalize_name(requirement.name))] = spec.version
    return pins


def test_the_environment_is_the_locked_set() -> None:
    pins = locked()
    assert {"faust-streaming", "mode-streaming", "aiokafka"} <= pins.keys()
    installed: dict[str, str] = {
        str(canonicalize_name(dist.metadata["Name"])): dist.version
        for dist in metadata.distributions()
    }
    differs = {
        name: (version, installed.get(name))
        for name, version in pins.items()
        if installed.get(name) != version
    }
    assert differs == {}, "installed differs from requirements.lock: run scripts/bootstrap.sh"


def test_the_libraries_whose_internals_we_use_are_pinned_exactly_as_locked() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    pins = locked()
    for name in ("faust-streaming", "mode-streaming", "aiokafka"):
        assert f'"{name}=={pins[name]}"' in pyproject, name
