"""Readiness beyond "the consumer is up": a partition with records waiting that has not moved
for a while is stuck, whatever the reason (a poison record before its fix, a broker that
refuses writes, a seek that did not take), and a probe should say so."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StallWatch:
    timeout_ms: int
    since: dict[int, tuple[int, int]] = field(default_factory=dict)
    """partition -> (next offset when last seen to move, wall ms it was first seen there)."""

    def observe(self, partition: int, next_offset: int, highwater: int | None, now_ms: int) -> bool:
        """Whether the partition is stalled: records wait (next offset < high-water mark) and
        the next offset has not changed for `timeout_ms`."""
        seen = self.since.get(partition)
        if seen is None or seen[0] != next_offset:
            self.since[partition] = (next_offset, now_ms)
            return False
        waiting = highwater is not None and next_offset < highwater
        return waiting and now_ms - seen[1] >= self.timeout_ms

    def forget_except(self, partitions: set[int]) -> None:
        for part in set(self.since) - partitions:
            del self.since[part]
