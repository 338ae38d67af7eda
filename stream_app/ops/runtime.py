"""Interpreter settings for a long-running worker.

CPython's cycle collector, at its defaults (700, 10, 10), ran a full collection about once a
second while a calls worker took 5,000 events/s: each batch's entity states live until the
batch's changelog hand-over, long enough to be promoted, so the old generation kept growing by
the quarter that triggers a full pass. Each pass took 55-85 ms on the event loop and found ~20
objects (the state is trees of dicts and lists, freed by reference counting, not cycles):
2.3 s of a benchmark run went to collection. At (50,000, 50, 1,000) the same run spent 0.2-0.3 s
in it, with 4 full passes instead of 27 (`bench.throughput --calls 20000`, 2026-12-04).
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 50, 1_000)


def tune_gc() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
