#!/usr/bin/env bash
# The whole test suite, set-up included: lint, types, then pytest (unit, property and the
# integration tests against a real Kafka broker and promtool).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
