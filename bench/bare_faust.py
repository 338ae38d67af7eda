"""A Faust agent that only counts records: the framework's own ceiling on this machine.

python -m bench.bare_faust <bootstrap> <topic> <progress-file>
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

import faust

from stream_app.kafka.local_broker import free_port
from stream_app.service import QuietWorker


def main() -> None:
    bootstrap, topic_name, progress = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    app_id = f"bare-{uuid.uuid4().hex[:6]}"
    app = faust.App(
        app_id,
        # Beside the progress file (the run's temporary directory): Faust's default is
        # `<app id>-data` in the working directory, which littered the checkout.
        datadir=str(progress.parent / f"{app_id}-data"),
        broker=f"kafka://{bootstrap}",
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        topic_disable_leader=True,
        broker_session_timeout=6,
        web_enabled=False,
        web_bind="127.0.0.1",
        web_port=free_port(),  # Faust binds its web port even when disabled
    )
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
    count = 0

    @app.agent(topic)
    async def counter(stream: Any) -> None:
        nonlocal count
        async for _event in stream.events():
            count += 1

    @app.timer(interval=0.1)  # type: ignore[untyped-decorator]
    async def report() -> None:
        progress.write_text(str(count))  # noqa: ASYNC240 - a few bytes, ten times a second

    QuietWorker(
        app, loglevel=os.environ.get("BARE_LOGLEVEL", "WARNING"), quiet=True
    ).execute_from_commandline()


if __name__ == "__main__":
    main()
