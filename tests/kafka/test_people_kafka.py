"""One person across four vendors is one rep: the scripted vendor day of test_vendors_kafka,
through the signed gateway, the normalisers, the HubSpot object stage and the calls, e-mail and
CRM workers, with a people directory (ISALES_PEOPLE_FILE) that lists one person by their Twilio
callback rep_id, Aircall user id, HubSpot owner id and SendGrid owner. Every KPI of theirs lands
under the one rep id; the identities the file does not list land under `unmapped-<vendor>`
(never the vendor's own id) and are counted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import yaml

from tests.helpers.checks import progress, settled
from tests.helpers.gateway import running_gateway
from tests.helpers.hubspot_script import SDRS
from tests.helpers.scenarios import settings_for
from tests.helpers.support import (
    Samples,
    WorkerProc,
    isolated_env,
    metric_sum,
    read_topic,
    wait_for,
)
from tests.kafka.test_vendors_kafka import VENDORS, Script, post, script

pytestmark = pytest.mark.kafka

ONE = "rep-one"
SDR_OWNER = next(owner for owner, rep in SDRS.items() if rep == "hs-sdr-0")
PEOPLE = {
    "people": [
        {
            "id": ONE,
            "name": "Aiko Tanaka",
            "team": "team-one",
            "twilio": ["tw-rep-0"],
            "aircall": ["456"],
            "hubspot": [SDR_OWNER],
            "sendgrid": ["aiko-sg"],
        }
    ]
}


def with_email_owner(sc: Script) -> None:
    """The script's SendGrid events, each sent by the person (custom arg owner_rep_id)."""
    for request in sc.requests:
        if request.vendor == "sendgrid" and request.forged is None:
            batch: Any = orjson.loads(request.body)
            if isinstance(batch, list):
                for event in batch:
                    if isinstance(event, dict):
                        event |= {"owner_rep_id": "aiko-sg", "owner_team_id": "sg-team"}
                request.body = orjson.dumps(batch)


@dataclass
class Run:
    script: Script
    calls: Samples
    crm: Samples
    unmapped: dict[str, float]
    email_owners: set[str]


@pytest.fixture(scope="module")
def run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    logs = tmp_path_factory.mktemp("people")
    people = logs / "people.yml"
    people.write_text(yaml.safe_dump(PEOPLE))
    env = isolated_env(
        kafka_bootstrap,
        ISALES_EMAIL_CAMPAIGN_IDLE_HOURS="720",
        ISALES_PEOPLE_FILE=str(people),
    )
    sc = script(11)
    with_email_owner(sc)
    with running_gateway(env, logs) as gw:
        normalisers = tuple(f"normalise-{v}" for v in VENDORS)
        stages = ("hubspot-objects", "crm-attribution", "crm", "calls", "email")
        workers = {n: WorkerProc(gw.env, logs, n, n).start() for n in (*normalisers, *stages)}
        try:
            for w in workers.values():
                wait_for(w.ready, 180, f"{w.pipeline} ready")
            taken = {v: 0 for v in VENDORS}
            for request in sc.requests:
                taken[request.vendor] += post(gw, request) == 200

            def normalised(vendor: str) -> bool:
                return progress(workers[f"normalise-{vendor}"]) == taken[vendor]

            wait_for(lambda: normalised("hubspot"), 300, "hubspot normalised")
            wait_for(lambda: settled(workers["hubspot-objects"]), 300, "deals settled")
            for request in sc.later:
                taken[request.vendor] += post(gw, request) == 200
            for vendor in VENDORS:
                wait_for(lambda v=vendor: normalised(v), 300, f"{vendor} normalised")  # type: ignore[misc]
            for name in stages:
                wait_for(lambda w=workers[name]: settled(w), 300, f"{name} settled", every=0.2)  # type: ignore[misc]
            unmapped = {
                v: metric_sum(
                    workers[f"normalise-{v}"].scrape(),
                    "isales_vendor_unmapped_events_total",
                    vendor=v,
                )
                for v in VENDORS
            }
            email_topic = settings_for(env).email_topic
            owners = {
                str(orjson.loads(r.value or b"{}").get("owner_rep_id"))
                for r in read_topic(kafka_bootstrap, email_topic)
            }
            yield Run(sc, workers["calls"].scrape(), workers["crm"].scrape(), unmapped, owners)
        finally:
            for w in workers.values():
                w.stop()


def reps(samples: Samples, metric: str) -> set[str]:
    return {dict(labels)["rep"] for labels in samples.get(metric, {})}


def test_the_persons_calls_from_twilio_and_aircall_are_one_rep(run: Run) -> None:
    sc = run.script
    for name, truth in (
        ("dials", sc.dials),
        ("connects", sc.connects),
        ("machine_answers", sc.machines),
        ("talk_seconds", sc.talk),
    ):
        want = truth["tw-rep-0"] + truth["aircall-456"]
        assert metric_sum(run.calls, f"isales_calls_{name}_total", rep=ONE) == want, name
        others = sum(n for rep, n in truth.items() if rep not in ("tw-rep-0", "aircall-456"))
        got = metric_sum(run.calls, f"isales_calls_{name}_total", rep="unmapped-twilio")
        assert got == others, name
    assert metric_sum(run.calls, "isales_calls_dials_total", team="team-one") == (
        sc.dials["tw-rep-0"] + sc.dials["aircall-456"]
    )
    # No vendor identity reached a label.
    assert reps(run.calls, "isales_calls_dials_total") == {ONE, "unmapped-twilio"}


def test_the_persons_handoffs_and_wins_from_hubspot_are_the_same_rep(run: Run) -> None:
    sc = run.script
    for kpi in ("handoffs", "accepted", "won", "lost"):
        got = metric_sum(run.crm, f"isales_crm_{kpi}_total", rep=ONE)
        assert got == sc.crm[("hs-sdr-0", kpi)], kpi
        other = metric_sum(run.crm, f"isales_crm_{kpi}_total", rep="unmapped-hubspot")
        assert other == sc.crm[("hs-sdr-1", kpi)], kpi
    assert not reps(run.crm, "isales_crm_handoffs_total") & set(SDRS.values())


def test_the_persons_emails_carry_the_rep(run: Run) -> None:
    assert run.email_owners == {ONE}


def test_identities_not_in_the_directory_are_counted(run: Run) -> None:
    # Twilio's other reps' callbacks; every Aircall call is the listed user's, every e-mail
    # the listed owner's.
    assert run.unmapped["twilio"] > 0
    assert run.unmapped["aircall"] == 0 and run.unmapped["sendgrid"] == 0
