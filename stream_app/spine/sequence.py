"""Resume from our own state, not from Kafka's committed offsets.

Faust's fetcher can drop a record around a rebalance (it marks the offset read while the
delivery was cancelled by a flow suspension) and later commit past it. Each partition's state
records the last offset it applied, so the worker checks every record against it: a record
beyond the next expected offset means something was skipped, and the worker seeks back. What
decides exactness is then the changelog, never the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["process", "skip", "rewind", "accept_hole"]

REWIND_PATIENCE = 5_000
"""Records skipped after a rewind before concluding the seek did not take."""
MAX_REWINDS = 5
"""Rewinds to one offset before accepting it as a real hole (transaction markers, compaction)."""


@dataclass
class OffsetSequencer:
    waiting_for: dict[int, int] = field(default_factory=dict)
    skipped: dict[int, int] = field(default_factory=dict)
    attempts: dict[tuple[int, int], int] = field(default_factory=dict)
    rewinds: int = 0
    holes: int = 0

    def reset(self) -> None:
        """After an assignment change nothing pending applies any more."""
        self.waiting_for.clear()
        self.skipped.clear()

    def check(self, partition: int, offset: int, expected: int) -> Action:
        """`expected`: the next offset the partition's state has not applied."""
        if offset <= expected:
            if offset == expected:
                self.waiting_for.pop(partition, None)
            return "process"  # the expected record, or a replay the engine will skip
        if self.waiting_for.get(partition) == expected:
            self.skipped[partition] += 1
            if self.skipped[partition] < REWIND_PATIENCE:
                return "skip"  # records fetched before the seek took effect
        tries = self.attempts.get((partition, expected), 0) + 1
        if tries > MAX_REWINDS:
            self.waiting_for.pop(partition, None)
            self.holes += 1
            return "accept_hole"
        self.attempts[(partition, expected)] = tries
        self.waiting_for[partition] = expected
        self.skipped[partition] = 0
        self.rewinds += 1
        return "rewind"
