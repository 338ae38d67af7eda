"""The people directory (ISALES_PEOPLE_FILE): validation, reading an edited file without a
restart, and the normalisers and the HubSpot object stage mapping vendor identities through it
(the rules: docs/vendors, "People directory")."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from stream_app.adapters import Canonical
from stream_app.adapters.normaliser import NormaliserFamily
from stream_app.adapters.people import DirectoryFile, read
from stream_app.spine.clock import FakeClock

PEOPLE: dict[str, Any] = {
    "people": [
        {
            "id": "rep-aiko",
            "name": "Aiko Tanaka",
            "team": "team-tokyo",
            "aircall": ["456"],
            "twilio": ["tw-rep-0"],
            "hubspot": ["52550153"],
            "sendgrid": ["aiko-sg"],
        },
        {"id": "rep-ben", "name": "Ben", "team": "team-tokyo", "aircall": ["457"]},
    ]
}


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "people.yml"
    path.write_text(yaml.safe_dump(content) if not isinstance(content, str) else content)
    return path


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"people": [PEOPLE["people"][0], PEOPLE["people"][0]]}, "listed twice"),
        (
            {"people": [PEOPLE["people"][0], {**PEOPLE["people"][1], "aircall": ["456"]}]},
            "both",
        ),
        ({"people": [{**PEOPLE["people"][1], "id": "ben@example.com"}]}, "people.0.id"),
        ({"people": [{**PEOPLE["people"][1], "phone": "+15550000000"}]}, "people.0.phone"),
        ("people: [", "people.yml"),
    ],
)
def test_a_bad_file_is_refused_with_a_readable_reason(
    tmp_path: Path, content: Any, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason) as refused:
        read(write(tmp_path, content))
    assert "+15550000000" not in str(refused.value)


def test_each_vendor_identity_is_its_person_and_the_rest_unmapped(tmp_path: Path) -> None:
    directory = read(write(tmp_path, PEOPLE))
    for vendor, identity in (
        ("aircall", "456"),
        ("twilio", "tw-rep-0"),
        ("hubspot", "52550153"),
        ("sendgrid", "aiko-sg"),
    ):
        who = directory.who(vendor, identity)  # type: ignore[arg-type]
        assert (who.rep, who.team, who.mapped) == ("rep-aiko", "team-tokyo", True)
    stranger = directory.who("aircall", "999")
    assert (stranger.rep, stranger.team, stranger.mapped) == ("unmapped-aircall", "unmapped", False)
    assert directory.who("aircall", None).rep == "unmapped-aircall"
    assert directory.names["rep-aiko"] == "Aiko Tanaka"


def test_an_edit_is_read_without_a_restart_and_a_bad_one_keeps_the_last(tmp_path: Path) -> None:
    path = write(tmp_path, PEOPLE)
    clock = FakeClock(0)
    directory = DirectoryFile(path, clock.now_ms, check_every_ms=1_000)
    assert directory.get().who("aircall", "789").rep == "unmapped-aircall"
    aiko = {**PEOPLE["people"][0], "aircall": ["456", "789"]}
    time.sleep(0.01)  # a new modification time
    write(tmp_path, {"people": [aiko, PEOPLE["people"][1]]})
    assert directory.get().who("aircall", "789").rep == "unmapped-aircall"  # not checked yet
    clock.advance(1_000)
    assert directory.get().who("aircall", "789").rep == "rep-aiko"
    time.sleep(0.01)
    write(tmp_path, "people: [{id: has spaces}]")
    clock.advance(1_000)
    assert directory.get().who("aircall", "789").rep == "rep-aiko"  # the last good version


def envelope(vendor: str, body: bytes, query: str = "") -> bytes:
    return orjson.dumps(
        {
            "request_id": "r1",
            "vendor": vendor,
            "received_at": 1_796_100_000_000,
            "query": query,
            "body": body.decode(),
        }
    )


def test_the_normaliser_names_the_person_and_counts_who_is_missing(tmp_path: Path) -> None:
    from stream_app.adapters.normaliser import Envelope

    family = NormaliserFamily(DirectoryFile(write(tmp_path, PEOPLE), FakeClock(0).now_ms))
    call = {
        "resource": "call",
        "event": "call.created",
        "timestamp": 1796000000,
        "token": "t",
        "data": {
            "id": 1,
            "direction": "outbound",
            "started_at": 1796000000,
            "user": {"id": 456},
            "teams": [{"id": 9}],
        },
    }
    known = Envelope.model_validate_json(envelope("aircall", orjson.dumps(call)))
    ((role, key, value),) = family.emit(None, {}, known)
    event = orjson.loads(value)
    assert (role, key, event["rep_id"], event["team_id"]) == (
        "calls",
        b"rep-aiko",
        "rep-aiko",
        "team-tokyo",
    )
    assert family.tally(known) is None
    call["data"]["user"] = {"id": 999}  # type: ignore[index]
    stranger = Envelope.model_validate_json(envelope("aircall", orjson.dumps(call)))
    ((_, key, value),) = family.emit(None, {}, stranger)
    assert key == b"unmapped-aircall" and b"999" not in value.replace(b'"id":1', b"")
    assert family.tally(stranger) == {"unmapped|aircall": 1}
    # Without a directory: the vendor's own ids, as before.
    plain = NormaliserFamily()
    ((_, key, _),) = plain.emit(None, {}, known)
    assert key == b"aircall-456"
    assert isinstance(known.mapped[0], Canonical) and known.mapped[0].person == "456"


def test_a_missing_identity_is_logged_once_and_never_an_address(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from stream_app.adapters.normaliser import Envelope

    family = NormaliserFamily(DirectoryFile(write(tmp_path, PEOPLE), FakeClock(0).now_ms))
    form = (
        b"CallSid=CA1&CallStatus=ringing&Direction=outbound-api"
        b"&Timestamp=Mon%2C+30+Nov+2026+00%3A53%3A40+%2B0000"
    )
    for rep in ("tw-rep-9", "tw-rep-9", "someone@example.com"):
        query = f"rep_id={rep}&team_id=t&started_at=1796000000000"
        event = Envelope.model_validate_json(envelope("twilio", form, query))
        family.emit(None, {}, event)
    said = [r.getMessage() for r in caplog.records if "people directory" in r.getMessage()]
    assert len(said) == 2
    assert "tw-rep-9" in said[0] and "example.com" not in " ".join(said)
