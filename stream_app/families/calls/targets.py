"""The targets file: what each rep and team should do per business day or week, and the business
calendar pacing is measured against. YAML, validated by pydantic, reloaded while running.

A rep's target for a KPI is the first one set among: the rep's own entry, the team's
`defaults`, the file's `defaults`. A team's target is the sum over its reps (PromQL sums them),
so a team of five at 40 dials is 200, and a new hire counts from their first dial.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stream_app.spine.business_time import WEEKDAYS, BusinessCalendar
from stream_app.spine.clock import Clock

log = logging.getLogger(__name__)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
NonNegative = Annotated[float, Field(ge=0)]


class Targets(BaseModel):
    """Targets of one rep. Unset fields fall back to the team's, then the file's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dials_per_day: NonNegative | None = None
    connects_per_day: NonNegative | None = None
    talk_minutes_per_day: NonNegative | None = None
    handoffs_per_week: NonNegative | None = None
    email_open_rate_floor: Annotated[float, Field(ge=0, le=1)] | None = None

    def over(self, fallback: Targets) -> Targets:
        return fallback.model_copy(update=self.model_dump(exclude_none=True))


class TeamTargets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: Targets = Targets()
    reps: dict[str, Targets] = {}


def _minute_of_day(value: object) -> object:
    if not isinstance(value, str):
        return value
    hh, sep, mm = value.partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or len(mm) != 2:
        raise ValueError(f"expected HH:MM, got {value!r}")
    minute = int(hh) * 60 + int(mm)
    if int(mm) >= 60 or minute > 1440:
        raise ValueError(f"{value!r} is not a time of day (00:00 to 24:00)")
    return minute


class Hours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: int = 9 * 60
    end: int = 18 * 60

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        return _minute_of_day(value)


class Calendar(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str | None = None
    """Defaults to the service's ISALES_BUSINESS_TIMEZONE; if set, it must be the same, because
    the day windows pacing reads are cut at that zone's midnight."""
    workdays: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    hours: Hours = Hours()
    holidays: tuple[date, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class TargetsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    calendar: Calendar = Calendar()
    defaults: Targets = Targets()
    teams: dict[str, TeamTargets] = {}

    def for_rep(self, rep: str, team: str) -> Targets:
        team_targets = self.teams.get(team)
        if team_targets is None:
            return self.defaults
        merged = team_targets.defaults.over(self.defaults)
        own = team_targets.reps.get(rep)
        return merged if own is None else own.over(merged)

    def business_calendar(self, service_tz: str) -> BusinessCalendar:
        cal = self.calendar
        return BusinessCalendar(
            tz=ZoneInfo(cal.timezone or service_tz),
            workdays=frozenset(WEEKDAYS.index(d) + 1 for d in cal.workdays),
            start_minute=cal.hours.start,
            end_minute=cal.hours.end,
            holidays=frozenset(cal.holidays),
        )


class TargetsError(ValueError):
    pass


def parse(text: str, service_tz: str) -> TargetsFile:
    """The file's content as targets, or TargetsError saying exactly what is wrong."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TargetsError(f"not valid YAML: {exc}") from exc
    try:
        parsed = TargetsFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise TargetsError(problems) from exc
    cal = parsed.calendar
    if cal.hours.end <= cal.hours.start:
        raise TargetsError("calendar.hours: end must be after start")
    if cal.timezone is not None and cal.timezone != service_tz:
        raise TargetsError(
            f"calendar.timezone {cal.timezone!r} differs from ISALES_BUSINESS_TIMEZONE "
            f"{service_tz!r}; day windows are cut at the service's midnight, so they must agree"
        )
    return parsed


@dataclass(frozen=True, slots=True)
class _Stamp:
    mtime_ns: int
    size: int
    inode: int


class TargetsStore:
    """The targets in force. A reload that fails keeps the previous targets and is counted."""

    def __init__(self, path: Path | None, service_tz: str, clock: Clock) -> None:
        self.path = path
        self.service_tz = service_tz
        self.clock = clock
        # Without a file (or until a good one loads): no targets, the default calendar
        # (Mon-Fri 09:00-18:00 in the service's zone), so business-hours gating still works.
        self.current = TargetsFile()
        self.calendar = self.current.business_calendar(service_tz)
        self.reloads = {"ok": 0, "error": 0}
        self.loaded_at_ms: int | None = None
        self.last_error: str | None = None
        self._stamp: _Stamp | None = None

    def _stat(self) -> _Stamp | None:
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return _Stamp(st.st_mtime_ns, st.st_size, st.st_ino)

    def maybe_reload(self, force: bool = False) -> bool:
        """Reload when the file changed (or when forced, e.g. on SIGHUP). True if reloaded."""
        if self.path is None:
            return False
        stamp = self._stat()
        if not force and stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            text = self.path.read_text(encoding="utf-8")
            parsed = parse(text, self.service_tz)
        except (OSError, UnicodeDecodeError, TargetsError) as exc:
            self.reloads["error"] += 1
            self.last_error = str(exc)
            kept = "previous targets stay in force" if self.reloads["ok"] else "no targets yet"
            log.error("targets file %s rejected (%s): %s", self.path, kept, exc)
            return False
        self.current = parsed
        self.calendar = parsed.business_calendar(self.service_tz)
        self.reloads["ok"] += 1
        self.loaded_at_ms = self.clock.now_ms()
        self.last_error = None
        log.info("targets loaded from %s (%d teams)", self.path, len(parsed.teams))
        return True
