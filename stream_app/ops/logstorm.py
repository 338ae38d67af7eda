"""Logs a person can read during an outage: a state change once, not an error per retry.

With the broker down, aiokafka logs "Unable connect to node" and "Unable to update metadata"
on every retry: 62,950 lines in a 20 s outage here. This filter, on the root handlers, turns
connectivity errors into three lines (unreachable, still unreachable every few minutes,
reachable again) and lets any other repeated message through once per interval with a count
of what it held back. Records are judged by their format string, never their arguments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from stream_app.spine.clock import Clock

log = logging.getLogger("stream_app.kafka")

_CONNECTIVITY = (
    "Unable connect to node",
    "Unable to update metadata",
    "Failed fetch messages",
    "Group Coordinator Request failed",
    "Heartbeat send request failed",
    "Error sending HeartbeatRequest",
    "Marking the coordinator dead",
    "Unable to request metadata",
    "NodeNotReadyError",
    "KafkaConnectionError",
    "Connect call failed",
)
_NOISY = ("aiokafka", "faust", "mode", "kafka")
QUIET_FOR_RECOVERY_MS = 5_000
"""No connectivity error for this long after an outage means the broker answers again:
aiokafka retries every few milliseconds while it does not."""


@dataclass
class _Seen:
    first_ms: int
    suppressed: int = 0


@dataclass
class LogStorm(logging.Filter):
    clock: Clock
    interval_ms: int = 300_000
    outage_since_ms: int | None = None
    last_error_ms: int = 0
    outage_suppressed: int = 0
    reported_ms: int = 0
    seen: dict[tuple[str, str], _Seen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        logging.Filter.__init__(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(_NOISY):
            return True
        template = str(record.msg)
        now = self.clock.now_ms()
        if _is_connectivity(record, template):
            return self._outage(record, now)
        return self._repeat(record, template, now)

    def _outage(self, record: logging.LogRecord, now: int) -> bool:
        self.last_error_ms = now
        if self.outage_since_ms is None:
            self.outage_since_ms = self.reported_ms = now
            record.msg = f"Kafka unreachable; further connection errors are held back: {record.msg}"
            return True
        self.outage_suppressed += 1
        if now - self.reported_ms < self.interval_ms:
            return False
        self.reported_ms = now
        record.msg = (
            f"Kafka still unreachable after {(now - self.outage_since_ms) // 1000} s "
            f"({self.outage_suppressed} connection errors held back): {record.msg}"
        )
        return True

    def _repeat(self, record: logging.LogRecord, template: str, now: int) -> bool:
        key = (record.name, template)
        seen = self.seen.get(key)
        if seen is None or now - seen.first_ms >= self.interval_ms:
            held = 0 if seen is None else seen.suppressed
            self.seen[key] = _Seen(now)
            if held:
                record.msg = f"{record.msg} ({held} more like this in the last interval)"
            return True
        seen.suppressed += 1
        return False

    def tick(self) -> None:
        """Called from the worker's timer: ends an outage once the errors stopped."""
        now = self.clock.now_ms()
        if self.outage_since_ms is None or now - self.last_error_ms < QUIET_FOR_RECOVERY_MS:
            return
        lasted = (self.last_error_ms - self.outage_since_ms) // 1000
        log.warning(
            "Kafka reachable again after about %d s (%d connection errors held back)",
            lasted,
            self.outage_suppressed,
        )
        self.outage_since_ms = None
        self.outage_suppressed = 0
        if len(self.seen) > 1_000:  # templates are few; this only bounds a pathological case
            self.seen.clear()

    def install(self, logger: logging.Logger) -> None:
        for handler in logger.handlers:
            handler.addFilter(self)


def _is_connectivity(record: logging.LogRecord, template: str) -> bool:
    if any(marker in template for marker in _CONNECTIVITY):
        return True
    # Some messages carry the error only in their arguments ("... %r", exc).
    args = record.args if isinstance(record.args, tuple) else ()
    return any(
        isinstance(arg, BaseException) and type(arg).__name__ in _CONNECTIVITY for arg in args
    )
