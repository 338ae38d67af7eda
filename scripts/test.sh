#!/usr/bin/env bash
# The whole test suite, set-up included: lint, types, the docs build, then pytest (unit,
# property and the integration tests against a real Kafka broker and promtool).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The documentation site, strictly: a broken link, reference or anchor fails the build.
.venv/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html
exec .venv/bin/python -m pytest "$@"
