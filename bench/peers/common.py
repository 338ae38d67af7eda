"""What every peer shares: the event time of a call event, and a progress file."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any


def event_ms(value: Any) -> int:
    """`occurred_at` as epoch ms (the scenarios write epoch ms or ISO-8601 with an offset)."""
    stamp = value.get("occurred_at") if isinstance(value, dict) else None
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        return stamp
    if isinstance(stamp, str):
        try:
            return int(datetime.fromisoformat(stamp).timestamp() * 1000)
        except ValueError:
            return 0
    return 0


def talk(value: Any) -> float:
    seconds = value.get("talk_seconds") if isinstance(value, dict) else None
    return float(seconds) if isinstance(seconds, int | float) else 0.0


class Progress:
    """Records seen so far, written to a file the benchmark polls, ten times a second from a
    thread of its own (a write per record would be the benchmark; a write only on records
    would never report the last ones)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.n = 0
        threading.Thread(target=self._report, daemon=True).start()

    def add(self, n: int = 1) -> None:
        self.n += n

    def _report(self) -> None:
        while True:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(str(self.n))
            os.replace(tmp, self.path)
            time.sleep(0.1)
