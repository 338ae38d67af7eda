"""What a replay may write and what its cleanup may delete, from the definitions (docs/operations/
backfills.md): every topic a replay appends to is renamed, the live system's names are never
the replay's; and its progress as plain lines when the output is not a terminal."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from stream_app.settings import Settings
from stream_app.tools.replay_cleanup import scope
from stream_app.tools.replay_plan import plan
from stream_app.tools.replay_progress import Counts, Lines, left, reporter

KPI = {"kpi.calls", "kpi.pacing", "kpi.engagement", "kpi.segments", "kpi.handoffs"}


def settings(tmp_path: Path) -> Settings:
    return Settings(app_id="isales-kpi", data_dir=tmp_path)


def test_with_a_suffix_every_topic_written_is_renamed(tmp_path: Path) -> None:
    s = settings(tmp_path)
    p = plan(s, ["calls", "engagement"], "isales-kpi-r1", ".replay")
    assert p.renamed == {
        t: f"{t}.replay"
        for t in (
            "isales.dlq",
            "isales.late",
            "isales.erasure.audit",  # the replay's own confirmations
            "isales.touches",  # the calls tap's
            "isales.reach",
            "kpi.calls",
            "kpi.pacing",
            "kpi.engagement",
        )
    }
    assert p.env["ISALES_DLQ_TOPIC"] == "isales.dlq.replay"
    assert p.env["ISALES_APP_ID"] == "isales-kpi-r1"
    assert p.groups == ("isales-kpi-r1", "isales-kpi-r1-engagement")
    assert "isales-kpi-r1-calls-state-changelog" in p.internal_topics
    assert p.state_dirs == (tmp_path / "isales-kpi-r1", tmp_path / "isales-kpi-r1-engagement")
    assert p.log("calls") == tmp_path / "replays" / "isales-kpi-r1" / "calls.log"


def test_without_a_suffix_only_the_kpi_topics_are_written_in_place(tmp_path: Path) -> None:
    s = settings(tmp_path)
    p = plan(s, ["calls", "web", "crm-attribution"], "r2", None)
    assert not set(p.renamed) & KPI
    assert set(p.renamed) == {
        "isales.dlq",
        "isales.late",
        "isales.erasure.audit",
        "isales.touches",
        "isales.reach",
        "isales.crm.attributed",
    }
    assert all(new == f"{old}.r2" for old, new in p.renamed.items())
    assert "ISALES_ERASURE_TOPIC" not in p.env  # read by every stage from the live list


@pytest.mark.parametrize(
    ("app_id", "why"),
    [
        ("isales-kpi", "live ISALES_APP_ID"),
        ("isales-kpi-email", "live consumer group"),  # its calls group is live email's
        ("../x", "letters, digits"),
        (".", "letters, digits"),
        ("", "letters, digits"),
        ("a/b", "letters, digits"),
    ],
)
def test_app_ids_that_would_touch_the_live_system_are_refused(
    tmp_path: Path, app_id: str, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        plan(settings(tmp_path), ["calls"], app_id, None)
    with pytest.raises(ValueError, match=why):
        scope(settings(tmp_path), app_id, None)


def test_a_suffix_is_a_topic_name_and_never_makes_a_live_name(tmp_path: Path) -> None:
    s = settings(tmp_path)
    with pytest.raises(ValueError, match="suffix"):
        plan(s, ["calls"], "r3", "/x")
    odd = Settings(app_id="isales-kpi", data_dir=tmp_path, kpi_pacing_topic="kpi.calls.x")
    with pytest.raises(ValueError, match=r"live ones: kpi\.calls\.x"):
        plan(odd, ["calls"], "r3", ".x")


def test_cleanup_deletes_only_what_is_named_for_the_replay(tmp_path: Path) -> None:
    s = settings(tmp_path)
    mine = plan(s, ["calls"], "isales-kpi-r4", ".replay")
    mine.write_manifest(s)
    other = plan(s, ["email"], "isales-kpi-r4-b", ".replay")
    other.write_manifest(s)
    found = scope(s, "isales-kpi-r4", None)
    assert found.suffix == ".replay"  # from the manifest
    for name in ("kpi.calls.replay", "kpi.pacing.replay", "isales-kpi-r4-calls-state-changelog"):
        assert found.topic(name), name
    assert found.topic("isales.dlq.isales-kpi-r4")  # a no-suffix replay's name
    for name in (
        "kpi.calls",  # live
        "isales-kpi-calls-state-changelog",  # live's changelog
        "kpi.email.replay",  # the other replay's
        "isales.dlq.replay",  # both replays wrote it (the same suffix): kept, and said so
        "isales-kpi-r4-b-email-email-state-changelog",  # the other replay's (prefix r4-)
        "telephony.calls",
        "something.replay",  # the suffix, but not a name the replay uses
        "isales-kpi-r4-orders",  # the app id's prefix, but no topic Faust makes
    ):
        assert not found.topic(name), name
    assert found.shared["isales.dlq.replay"] == "isales-kpi-r4-b"
    assert found.topic("isales-kpi-r4-retired-retired-state-changelog")  # by its shape
    assert found.group("isales-kpi-r4") and found.group("isales-kpi-r4-email")
    assert not found.group("isales-kpi-r4-orders")
    assert not found.group("isales-kpi") and not found.group("isales-kpi-email")
    assert not found.group("isales-kpi-r4-b-email")
    assert tmp_path / "isales-kpi-r4" in found.folders
    assert tmp_path / "replays" / "isales-kpi-r4" in found.folders
    assert all(f.name.startswith("isales-kpi-r4") for f in found.folders)
    manifest = json.loads((tmp_path / "replays" / "isales-kpi-r4" / "manifest.json").read_text())
    assert manifest["renamed"]["kpi.calls"] == "kpi.calls.replay"
    assert manifest["state_dirs"] == [str(tmp_path / "isales-kpi-r4")]


def test_cleaning_up_an_old_app_id_spares_the_live_one_it_prefixes(tmp_path: Path) -> None:
    """After promoting a replay (ISALES_APP_ID=isales-kpi-replay-1), the old id's names are a
    prefix of the live ones."""
    s = Settings(app_id="isales-kpi-replay-1", data_dir=tmp_path)
    found = scope(s, "isales-kpi", None)
    assert found.topic("isales-kpi-calls-state-changelog")
    assert found.group("isales-kpi-email")
    assert not found.topic("isales-kpi-replay-1-calls-state-changelog")
    assert not found.group("isales-kpi-replay-1") and not found.group("isales-kpi-replay-1-crm")


def test_plain_progress_lines_have_the_interval_rate_and_are_not_cut() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, soft_wrap=True)
    assert not console.is_terminal and isinstance(reporter(console, 10), Lines)
    lines = Lines(console, every_s=10)
    lines.start("crm-attribution", 0.0)
    source = "a-very-long-source-topic-name-that-goes-past-eighty-columns.events"
    parts = {0: Counts(1_000, 40_000), 1: Counts(3_000, 40_000)}
    lines.update("crm-attribution", source, parts, 5.0)  # not yet an interval
    lines.update("crm-attribution", source, parts, 10.0)
    parts = {0: Counts(11_000, 40_000), 1: Counts(13_000, 40_000)}
    lines.update("crm-attribution", source, parts, 20.0)
    printed = out.getvalue().splitlines()
    assert printed == [
        f"crm-attribution {source}: 4,000 / 80,000 records, 400 records/s, 0:03:10 left",
        f"crm-attribution {source}: 24,000 / 80,000 records, 2,000 records/s, 0:00:28 left",
    ]


def test_time_left() -> None:
    assert left(0, 0.0) == "0:00:00"
    assert left(100, 0.0) == "unknown"
    assert left(3_600, 1.0) == "1:00:00"
