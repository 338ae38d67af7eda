"""A scripted set of HubSpot deals and contacts as HubSpot's webhooks deliver them (subscription
events batched across objects, retried), with the CRM truth counted from the script itself
(README, "HubSpot" and "CRM KPIs"), for the real-broker tests."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

SDRS = {"52550153": "hs-sdr-0", "52550154": "hs-sdr-1"}  # HubSpot owner ids -> reps
AE = "61114422"
OWNERS = {
    **{owner: {"rep": rep, "team": "hs-team"} for owner, rep in SDRS.items()},
    AE: {"rep": "hs-ae", "team": "field"},
}
PORTAL = 62515


@dataclass
class Deals:
    bodies: list[bytes] = field(default_factory=list)
    """Request bodies (retries included), shuffled."""
    links: list[bytes] = field(default_factory=list)
    """The deal-to-contact associations, to post once the bodies are in."""
    bad: list[bytes] = field(default_factory=list)
    crm: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rep, kpi) -> count
    won_amount: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rep, cur) -> cents
    discovery: Counter[tuple[str, str, str]] = field(default_factory=Counter)


def deals(rng: random.Random, now: int, count: int = 12, batches: int = 15) -> Deals:
    """`count` deals, each created by one of two SDRs (owner, first stage, discovery answers),
    reassigned to an AE two minutes later; a third accepted and open, a third lost, a third
    won (amounts set before or after the win, one repriced after it). Their contacts are
    created and assigned. Events are batched across deals, batches shuffled and retried; the
    deal-to-contact associations, which complete each handoff, come last (HubSpot sends them
    on their own subscription). One request of nothing but a bad amount: the DLQ. Deal and
    contact ids are 981 + n and 5000 + n; the truth is counted here, from the script."""
    sc = Deals()
    events: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []

    def hs(kind: str, object_id: int, at: int, **extra: Any) -> dict[str, Any]:
        return {
            "eventId": rng.randrange(1, 10**9),
            "subscriptionId": 1,
            "portalId": PORTAL,
            "appId": 7,
            "occurredAt": at,
            "subscriptionType": kind,
            "attemptNumber": 0,
            "objectId": object_id,
            **extra,
        }

    def prop(deal: int, name: str, value: str, at: int) -> None:
        events.append(hs("deal.propertyChange", deal, at, propertyName=name, propertyValue=value))

    for n in range(count):
        deal, contact = 981 + n, 5000 + n
        owner = list(SDRS)[n % 2]
        rep = SDRS[owner]
        t0 = now - 5 * 3_600_000 + n * min(600_000, 4 * 3_600_000 // count)  # all in the past
        events.append(hs("contact.creation", contact, t0 - 3_600_000))
        events.append(
            hs(
                "contact.propertyChange",
                contact,
                t0 - 3_500_000,
                propertyName="hubspot_owner_id",
                propertyValue=owner,
            )
        )
        events.append(hs("deal.creation", deal, t0))
        prop(deal, "hubspot_owner_id", owner, t0)
        prop(deal, "dealstage", "appointmentscheduled", t0)
        prop(deal, "isales_budget", "50k", t0 - 60_000)
        prop(deal, "isales_need", "unknown", t0 - 60_000)
        if n % 2:
            prop(deal, "isales_authority", "declined", t0 - 60_000)
        prop(deal, "isales_timeline", "Q3", t0 + 300_000)  # after the handoff: not counted
        prop(deal, "hubspot_owner_id", AE, t0 + 120_000)
        sc.crm[(rep, "handoffs")] += 1
        sc.discovery[(rep, "budget", "answered")] += 1
        sc.discovery[(rep, "need", "asked_unknown")] += 1
        sc.discovery[(rep, "authority", "asked_declined" if n % 2 else "not_asked")] += 1
        sc.discovery[(rep, "timeline", "not_asked")] += 1
        if n % 3 != 1:
            prop(deal, "dealstage", "qualifiedtobuy", t0 + 600_000)
            sc.crm[(rep, "accepted")] += 1
        if n % 3 == 0:
            cents = 100_050 + n * 100  # 1000.50 + n
            currency = "EUR" if n % 2 else "USD"  # USD: the portal's (no deal_currency_code)
            if currency == "EUR":
                prop(deal, "deal_currency_code", "EUR", t0)
            prop(deal, "amount", f"{cents // 100}.{cents % 100:02d}", t0 + 1_800_000)
            if n == 3:
                prop(deal, "amount", "5000", t0 + 3_000_000)  # repriced after the win
                cents = 500_000
            prop(deal, "dealstage", "closedwon", t0 + 2_400_000)
            sc.crm[(rep, "won")] += 1
            sc.won_amount[(rep, currency)] += cents
        elif n % 3 == 1:
            prop(deal, "dealstage", "closedlost", t0 + 2_400_000)
            sc.crm[(rep, "lost")] += 1
        links.append(
            hs(
                "deal.associationChange",
                deal,
                t0 + 1_000,
                associationType="DEAL_TO_CONTACT",
                fromObjectId=deal,
                toObjectId=contact,
                associationRemoved=False,
            )
        )
    rng.shuffle(events)
    cuts = sorted(rng.sample(range(1, len(events)), batches - 1))
    for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True):
        for _ in range(rng.choice([1, 1, 2])):  # a retry: the same body again
            sc.bodies.append(orjson.dumps(events[a:b]))
    for link in links:
        for _ in range(rng.choice([1, 2])):
            sc.links.append(orjson.dumps([link]))
    rng.shuffle(sc.links)
    bad = {**hs("deal.propertyChange", 999, now), "propertyName": "amount"}
    sc.bad.append(orjson.dumps([bad | {"propertyValue": "twelve"}]))
    return sc
