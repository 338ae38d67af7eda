#!/usr/bin/env bash
# Set-up on a fresh machine, idempotent: a venv with the locked dependencies and the project,
# Debian's promtool, and the Apache Kafka broker jars (through Maven, cached in
# ~/.cache/isales-kpi). Needs Python 3.11, Java 17+ and Maven.
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
# The tested set, exactly: every package pinned with its hashes in requirements.lock (refreshed
# by scripts/lock.sh), then the project itself on top without resolving anything again.
pip=(.venv/bin/python -m pip -q --disable-pip-version-check)
"${pip[@]}" install 'pip==26.3'
"${pip[@]}" install --require-hashes -r requirements.lock
# setuptools warns on every editable install; its output is shown only when the install fails.
log=$(mktemp)
"${pip[@]}" install --no-deps --no-build-isolation -e . >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
rm -f "$log"

# Debian packages the tests drive for real: Prometheus + promtool (rules, end-to-end),
# Alertmanager (`up`'s ops stack), Chromium (the board in a browser) and docker-compose 1.29
# (parses the compose file; no Docker engine is needed for that).
packages=()
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || packages+=(docker-compose)
command -v prometheus-alertmanager >/dev/null 2>&1 || packages+=(prometheus-alertmanager)
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
# A Japanese font, so the board's Japanese screenshots show the words, not empty boxes.
{ command -v fc-list >/dev/null 2>&1 && fc-list :lang=ja | grep -q .; } || packages+=(fonts-ipafont-gothic)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
fi

.venv/bin/stream-app kafka fetch >/dev/null
# The docs site the board serves at /docs/ (the alerts' runbook links open there).
.venv/bin/stream-app docs >/dev/null
echo "bootstrap: ready ($(.venv/bin/python --version), $(promtool --version 2>&1 | head -1))"
