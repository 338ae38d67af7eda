"""A replay's progress: a bar per partition on a terminal, or, when the output is a log or a
pipe, one plain line per stage every `--progress-every` seconds (records applied of how many,
records/s over that interval, time left). A bar drawn into a file renders once, at the end,
with nothing to read from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)


@dataclass(frozen=True, slots=True)
class Counts:
    """One partition: records applied since the replay began, of how many."""

    done: int
    total: int


class Reporter(Protocol):
    def __enter__(self) -> Reporter: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def start(self, stage: str, now_s: float) -> None:
        """The stage's worker started (its rate counts from here)."""
        ...

    def update(
        self, stage: str, source: str, parts: Mapping[int, Counts], now_s: float
    ) -> None: ...


def left(remaining: int, rate: float) -> str:
    if remaining <= 0:
        return "0:00:00"
    if rate <= 0:
        return "unknown"
    return str(timedelta(seconds=round(remaining / rate)))


class Lines:
    """Plain lines, one per stage and interval."""

    def __init__(self, console: Console, every_s: float) -> None:
        self.console = console
        self.every_s = every_s
        self.last: dict[str, tuple[float, int]] = {}
        """Stage -> (time, records applied) at its last line (or its start)."""

    def __enter__(self) -> Lines:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass

    def start(self, stage: str, now_s: float) -> None:
        self.last[stage] = (now_s, 0)

    def update(self, stage: str, source: str, parts: Mapping[int, Counts], now_s: float) -> None:
        then, before = self.last.get(stage, (now_s, 0))
        if now_s - then < self.every_s:
            return
        done = sum(c.done for c in parts.values())
        total = sum(c.total for c in parts.values())
        rate = (done - before) / (now_s - then)
        self.last[stage] = (now_s, done)
        self.console.print(
            f"{stage} {source}: {done:,} / {total:,} records, {rate:,.0f} records/s, "
            f"{left(total - done, rate)} left",
            markup=False,
            highlight=False,
            crop=False,
            soft_wrap=True,
        )


class Bars:
    """rich's bars, a task per partition."""

    COLUMNS = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8} records/s"),
        TimeRemainingColumn(),
    )

    def __init__(self, console: Console) -> None:
        self.progress = Progress(*self.COLUMNS, console=console)
        self.tasks: dict[tuple[str, int], TaskID] = {}
        self.seen: dict[tuple[str, int], tuple[float, int]] = {}

    def __enter__(self) -> Bars:
        self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()

    def start(self, stage: str, now_s: float) -> None:
        pass

    def update(self, stage: str, source: str, parts: Mapping[int, Counts], now_s: float) -> None:
        for part, counts in sorted(parts.items()):
            key = (stage, part)
            if key not in self.tasks:
                self.tasks[key] = self.progress.add_task(
                    f"{stage} {source}[{part}]", total=counts.total, rate="-"
                )
            before = self.seen.get(key)
            rate = "-"
            if before is not None and now_s > before[0]:
                rate = f"{(counts.done - before[1]) / (now_s - before[0]):,.0f}"
            self.seen[key] = (now_s, counts.done)
            self.progress.update(
                self.tasks[key],
                completed=min(counts.done, counts.total),
                total=counts.total,
                rate=rate,
            )


def reporter(console: Console, every_s: float) -> Reporter:
    return Bars(console) if console.is_terminal else Lines(console, every_s)
