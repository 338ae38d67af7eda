"""The people directory (`ISALES_PEOPLE_FILE`, e.g. deploy/people.yml): each rep once, with a
display name, a team and their identity in each vendor, so one person is one `rep` label across
Aircall, Twilio, HubSpot and the e-mail platform.

The normalisers map every vendor identity through it; one that is not in it becomes
`unmapped-<vendor>` (never the raw vendor id) and is counted
(`isales_vendor_unmapped_events_total`). The file is read again when it changes, without a
restart; an edit that does not validate is refused with its reason in the log, and the last good
version stays in force. A changed mapping applies from then on: KPIs already counted keep the
rep they were counted for until a replay re-attributes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.common import LabelId

log = logging.getLogger(__name__)

Vendor = Literal["aircall", "twilio", "hubspot", "sendgrid"]
VENDORS: tuple[Vendor, ...] = ("aircall", "twilio", "hubspot", "sendgrid")
UNMAPPED_TEAM = "unmapped"


class Person(BaseModel):
    """One rep, as the targets file and the boards name them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: LabelId = Field(description="The rep id: the `rep` label everywhere.")
    name: str = Field(min_length=1, max_length=100, description="Display name on the boards.")
    team: LabelId = Field(description="The rep's team: the `team` label everywhere.")
    aircall: tuple[str, ...] = Field(default=(), description="Aircall user ids.")
    twilio: tuple[str, ...] = Field(
        default=(),
        description="The `rep_id` the team's code puts on Twilio's callback URLs for this rep "
        "(or the rep's Twilio Client identity, if that is what it puts there).",
    )
    hubspot: tuple[str, ...] = Field(default=(), description="HubSpot owner ids.")
    sendgrid: tuple[str, ...] = Field(
        default=(), description="The `owner_rep_id` custom argument on this rep's e-mails."
    )


class People(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    people: tuple[Person, ...]

    @model_validator(mode="after")
    def _each_once(self) -> People:
        seen: set[str] = set()
        owner: dict[tuple[str, str], str] = {}
        for person in self.people:
            if person.id in seen:
                raise ValueError(f"rep {person.id!r} is listed twice")
            seen.add(person.id)
            for vendor in VENDORS:
                for identity in getattr(person, vendor):
                    other = owner.setdefault((vendor, identity), person.id)
                    if other != person.id:
                        raise ValueError(
                            f"one {vendor} identity is given to both {other!r} and {person.id!r}"
                        )
        return self


@dataclass(frozen=True, slots=True)
class Who:
    rep: str
    team: str
    mapped: bool


class Directory:
    """Vendor identity -> the person, from one validated version of the file."""

    def __init__(self, people: People) -> None:
        self.by_identity: dict[tuple[str, str], Person] = {
            (vendor, identity): person
            for person in people.people
            for vendor in VENDORS
            for identity in getattr(person, vendor)
        }
        self.names = {person.id: person.name for person in people.people}

    def who(self, vendor: Vendor, identity: str | None) -> Who:
        person = self.by_identity.get((vendor, identity)) if identity else None
        if person is None:
            return Who(f"unmapped-{vendor}", UNMAPPED_TEAM, mapped=False)
        return Who(person.id, person.team, mapped=True)


def read(path: Path) -> Directory:
    """The directory of a file; ValueError with a readable reason if it does not validate."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Directory(People.model_validate(raw))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{path}: {where + ': ' if where else ''}{first['msg']}") from exc


class DirectoryFile:
    """The directory of a file, read again when the file changes (looked at most every
    `check_every_ms`, by the injected clock); a bad edit keeps the last good version."""

    def __init__(self, path: Path, now_ms: Callable[[], int], check_every_ms: int = 2_000) -> None:
        self.path = path
        self.now_ms = now_ms
        self.check_every_ms = check_every_ms
        self._stamp = self._stat()
        self._checked = now_ms()
        self.current = read(path)  # refused at start if invalid: a bad file is a bad setting

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def get(self) -> Directory:
        now = self.now_ms()
        if now - self._checked >= self.check_every_ms:
            self._checked = now
            stamp = self._stat()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self.current = read(self.path)
                    log.info("people directory reloaded from %s", self.path)
                except ValueError as exc:
                    log.error("people directory edit refused, the last version stays: %s", exc)
        return self.current
