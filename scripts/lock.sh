#!/usr/bin/env bash
# Refresh the lock files from pyproject.toml and bench/peers/requirements.in, install the new set
# and run what guards it: the private-internals test (faust, mode, aiokafka) and the crash tests.
# Commit requirements.lock, requirements-runtime.lock and bench/peers/requirements.lock only
# when this passes.
#   bash scripts/lock.sh            # newest versions the ranges allow
#   bash scripts/lock.sh -P NAME    # upgrade one package only (uv's --upgrade-package)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/uv ] || bash scripts/bootstrap.sh
upgrade=(--upgrade)
[ $# -gt 0 ] && upgrade=("$@")
common=(--generate-hashes --universal --python-version 3.11 --quiet "${upgrade[@]}")
.venv/bin/uv pip compile pyproject.toml --extra dev --extra bench --extra docs \
  "${common[@]}" -o requirements.lock
# The image's set: the runtime dependencies only, at the versions of the full lock.
.venv/bin/uv pip compile pyproject.toml -c requirements.lock --generate-hashes --universal \
  --python-version 3.11 --quiet -o requirements-runtime.lock
.venv/bin/uv pip compile bench/peers/requirements.in "${common[@]}" -o bench/peers/requirements.lock
bash scripts/bootstrap.sh
.venv/bin/python -m pytest -p no:cacheprovider tests/spine/test_internals.py \
  tests/kafka/test_crash_kafka.py tests/kafka/test_hubspot_crash_kafka.py tests/kafka/test_scale_kafka.py
