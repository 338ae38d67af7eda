#!/usr/bin/env bash
# Set-up on a fresh machine, idempotent: a venv with the project, Debian's promtool, and the
# Apache Kafka broker jars (through Maven, cached in ~/.cache/isales-kpi). Needs Python 3.11,
# Java 17+ and Maven.
set -euo pipefail
cd "$(dirname "$0")/.."

python=""
for candidate in "${PYTHON:-}" python3.11 python3; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    python="$candidate"; break
  fi
done
[ -n "$python" ] || { echo "Python 3.11 is required" >&2; exit 1; }

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

# Debian packages the tests drive for real: Prometheus + promtool (rules, end-to-end),
# Alertmanager (`up`'s ops stack), Chromium (the board in a browser) and docker-compose 1.29
# (parses the compose file; no Docker engine is needed for that).
packages=()
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || packages+=(docker-compose)
command -v prometheus-alertmanager >/dev/null 2>&1 || packages+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
fi

.venv/bin/stream-app kafka fetch >/dev/null
echo "bootstrap: ready ($(.venv/bin/python --version), $(promtool --version 2>&1 | head -1))"
