"""Quix Streams peer: the calls topic, JSON, a 60 s tumbling event-time window per message key
(rep) counting events and summing talk seconds, emitted when final. Changelog topics on (its
default), as this project's worker keeps its state in changelogs.

    python -m bench.peers.quix_calls BOOTSTRAP TOPIC PROGRESS_FILE STATE_DIR
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

import orjson
from quixstreams import Application
from quixstreams.dataframe.windows import Count, Sum
from quixstreams.models.serializers import Deserializer

from bench.peers.common import Progress, event_ms, talk

GRACE_MS = 300_000


class LenientJSON(Deserializer):  # type: ignore[misc]
    """Malformed records become an empty object (skipped below) instead of stopping the app."""

    def __call__(self, value: bytes, ctx: Any) -> Any:
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}


def main() -> None:
    bootstrap, topic, progress_path, state_dir = sys.argv[1:5]
    progress = Progress(progress_path)
    app = Application(
        broker_address=bootstrap,
        consumer_group=f"bench-quix-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="ERROR",  # a warning per late record would be the benchmark
        on_message_processed=lambda *args: progress.add(),
    )
    source = app.topic(
        topic,
        value_deserializer=LenientJSON(),
        timestamp_extractor=lambda value, headers, ts, ts_type: event_ms(value) or ts,
    )
    sdf = app.dataframe(source)
    sdf = sdf.filter(lambda value: bool(value.get("event_id")))
    sdf = sdf.apply(lambda value: {"talk": talk(value)})
    # The worker's default grace (ISALES_GRACE_SECONDS=300), so both accept the same lateness.
    windows = sdf.tumbling_window(duration_ms=60_000, grace_ms=GRACE_MS)
    sdf = windows.agg(count=Count(), talk=Sum("talk")).final()
    app.run(sdf)


if __name__ == "__main__":
    main()
