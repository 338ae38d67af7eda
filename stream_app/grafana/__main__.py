"""`python -m stream_app.grafana`: regenerate the checked-in Grafana boards."""

import sys

from stream_app.grafana import OUT_DIR, write

for path in write(OUT_DIR):
    sys.stdout.write(f"{path}\n")
