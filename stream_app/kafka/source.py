"""The source topic as the worker's consumer sees it: which partitions are ours, where each
ends, where the consumer stands, and how to seek back.

Faust's consumer does the work; this names the few calls the worker makes and keeps the
earliest offsets it had to ask for (each request costs ~1.5 s on Faust's consumer thread).
"""

from __future__ import annotations

import logging
from typing import Any

import faust

log = logging.getLogger(__name__)


class Source:
    def __init__(self, app: Any, topic: str) -> None:
        self.app = app
        self.topic = topic
        self._beginning: dict[int, int] = {}

    def tp(self, partition: int) -> Any:
        return faust.types.TP(self.topic, partition)

    def assigned(self) -> set[int]:
        return {tp.partition for tp in self.app.consumer.assignment() if tp.topic == self.topic}

    def highwater(self, partition: int) -> int | None:
        """The partition's end offset as the consumer last heard it (None: not yet)."""
        try:
            hw = self.app.consumer.highwater(self.tp(partition))
        except Exception:
            return None
        return None if hw is None else int(hw)

    async def beginning(self, partition: int, owned: set[int]) -> int:
        """Where a partition without state starts: its earliest offset (retention may have
        deleted the first records). One request covers every owned partition."""
        if partition not in self._beginning:
            tps = {self.tp(p) for p in owned | {partition}}
            earliest = await self.app.consumer.earliest_offsets(*tps)
            for tp in tps:
                self._beginning.setdefault(tp.partition, int(earliest.get(tp) or 0))
        return self._beginning[partition]

    async def position(self, partition: int) -> int | None:
        position = await self.app.consumer.position(self.tp(partition))
        return None if position is None else int(position)

    async def seek(self, partition: int, expected: int, seen: int) -> None:
        log.warning(
            "offset gap on %s[%d]: state expects %d, consumer is at %d; seeking back",
            self.topic,
            partition,
            expected,
            seen,
        )
        # seek_wait runs in the consumer's own thread and resets Faust's read offset; plain
        # seek() pokes aiokafka from this thread and was seen not to take.
        await self.app.consumer.seek_wait({self.tp(partition): expected})
