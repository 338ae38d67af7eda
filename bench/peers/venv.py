"""The peers' own virtualenv (`.venv-peers`, never tracked): built from `requirements.lock` beside
this file, and built again when the lock, the interpreter or its Python version differs from the
one that built it. A venv names its interpreter by absolute path, so one copied from another
machine, or left by another Python, is rebuilt rather than trusted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = Path(__file__).with_name("requirements.lock")


def venv_dir() -> Path:
    """Where the peers' venv lives: `BENCH_PEERS_VENV` if set (a test builds one from scratch
    there), else `.venv-peers` in the checkout."""
    return Path(os.environ.get("BENCH_PEERS_VENV", ROOT / ".venv-peers"))


def wanted_marker() -> dict[str, str]:
    """What the venv must have been built from to be reused."""
    return {
        "lock": LOCK.read_text(),
        "python": sys.version,
        "base_prefix": sys.base_prefix,
    }


def is_current(venv: Path) -> bool:
    python = venv / "bin" / "python"
    marker = venv / ".installed.json"
    if not python.exists() or not marker.exists():
        return False
    try:
        built_from = json.loads(marker.read_text())
    except ValueError:
        return False
    return bool(built_from == wanted_marker())


def peers_python() -> Path:
    """The peers' interpreter, the venv (re)built first when it is missing or stale."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    if not is_current(venv):
        # --clear: a stale venv's bin/ may name another machine's interpreter.
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "--require-hashes",
                "-r",
                str(LOCK),
            ],
            check=True,
        )
        (venv / ".installed.json").write_text(json.dumps(wanted_marker()))
    return python
