"""Email engagement: per-message state and the send-cohort facts it contributes.

A message's state keeps the first time each thing happened to it (delivered, first human open,
first machine open, first click, ...). Taking minimums makes the merge order-free and idempotent,
so an open before its delivery or a click with no open is just another event.

Facts are named `<metric>|<dimension>|<value>`: every message counts once under its variant,
segment, send weekday, send hour and owner team. Totals per campaign are then the send-cohort
figures of every dimension; only the variant facts go into event-time windows (activity per
campaign and variant), which keeps window state small.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.common import to_ms
from schemas.email import BounceType, EmailEvent, EmailEventType
from stream_app.spine.business_time import WEEKDAYS
from stream_app.spine.family_protocol import (
    Delta,
    DerivedSpec,
    Emit,
    Fact,
    Facts,
    MetricSpec,
    State,
    fact_deltas,
    fact_key,
    newer,
)
from stream_app.spine.windows import QUARTER_MS

NO_TEAM = "none"

CACHE_MAX = 50_000
"""Entries of each per-event lookup cache before it starts over (they are pure: a cleared
cache only costs the recomputation)."""

# (state field, event types that set it); each keeps the earliest occurrence.
_FIRST: dict[EmailEventType, str] = {
    EmailEventType.sent: "sent",
    EmailEventType.delivered: "dlv",
    EmailEventType.deferred: "df",
    EmailEventType.dropped: "dr",
    EmailEventType.unsubscribe: "un",
    EmailEventType.spam_report: "sp",
    EmailEventType.click: "ck",
}

# Read once: on Python 3.11 a member read from its enum class is a Python-level call.
_OPENS = (EmailEventType.open, EmailEventType.click)
_BOUNCE, _HARD = EmailEventType.bounce, BounceType.hard

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("sent", "sent", "Messages sent.", "sent_at"),
    MetricSpec("delivered", "delivered", "Messages delivered.", "delivered event"),
    MetricSpec("bounced_hard", "bounced_hard", "Messages that bounced hard.", "first bounce"),
    MetricSpec(
        "bounced_soft",
        "bounced_soft",
        "Messages that bounced soft only (a hard bounce outranks it).",
        "first bounce",
    ),
    MetricSpec("deferred", "deferred", "Messages deferred at least once.", "first deferral"),
    MetricSpec("dropped", "dropped", "Messages the platform dropped.", "drop"),
    MetricSpec(
        "human_opens",
        "human_opens",
        "Messages opened by a person at least once (a click implies one).",
        "first human open",
    ),
    MetricSpec(
        "machine_opens",
        "machine_opens",
        "Messages opened by a machine or privacy proxy at least once.",
        "first machine open",
    ),
    MetricSpec(
        "machine_only",
        "machine_only",
        "Messages with machine opens and no human open.",
        "first machine open",
    ),
    MetricSpec("clicks", "clicks", "Messages with at least one click.", "first click"),
    MetricSpec("unsubscribes", "unsubscribes", "Messages that led to an unsubscribe.", "event"),
    MetricSpec("spam_reports", "spam_reports", "Messages reported as spam.", "event"),
)


def fact_name(metric: str, dimension: str, value: str) -> str:
    """The key of "one message counted under `dimension` = `value`"."""
    return fact_key(metric, dimension, value)


def split_fact(key: str) -> tuple[str, str, str]:
    """(metric, dimension, value) of an email fact key."""
    fact = Fact.parse(key)
    dimension, value = fact.parts
    return fact.metric, dimension, value


_PLAIN = (
    ("sent", "sent"),
    ("dlv", "delivered"),
    ("df", "deferred"),
    ("dr", "dropped"),
    ("un", "unsubscribes"),
    ("sp", "spam_reports"),
    ("ck", "clicks"),
    ("ho", "human_opens"),
    ("mo", "machine_opens"),
    ("bh", "bounced_hard"),
)
"""(state field, metric) of the facts a message's earliest occurrence of something is."""


def _dims_of(state: State) -> tuple[Any, ...]:
    """What a message's dimensions (`EmailFamily.dimensions`) are a function of."""
    return state["v"], state["seg"], state["team"], state["sent_at"]


def _earlier(current: int | None, candidate: int) -> int:
    return candidate if current is None else min(current, candidate)


class EmailFamily:
    name: str = "email"
    key_field: str = "campaign_id"
    model: type[EmailEvent] = EmailEvent
    metrics: tuple[MetricSpec, ...] = METRICS
    derived: tuple[DerivedSpec, ...] = ()  # rates are the email records' own (kpis.rates)

    def __init__(self, tz: str) -> None:
        self.tz = ZoneInfo(tz)
        self._send_times: dict[int, tuple[str, str]] = {}
        self._names: dict[tuple[tuple[str, str], ...], dict[str, tuple[str, ...]]] = {}
        self._windowed: dict[str, bool] = {}
        self._names_by: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}

    def partition_key(self, event: EmailEvent) -> str:
        return event.campaign_id

    def group(self, event: EmailEvent) -> str:
        return event.campaign_id

    def event_id(self, event: EmailEvent) -> str:
        return event.event_id

    def entity(self, event: EmailEvent) -> str:
        return event.message_id

    def occurred_ms(self, event: EmailEvent) -> int:
        return to_ms(event.occurred_at)

    def entity_time(self, event: EmailEvent) -> int:
        return to_ms(event.sent_at)

    def check_time(self, event: EmailEvent) -> list[int]:
        return [to_ms(event.occurred_at), to_ms(event.sent_at)]

    def merge(self, state: State | None, event: EmailEvent) -> State:
        """First occurrence of everything; the message's attributes from its newest event (by
        occurred_at, then event_id), so the result depends only on the set of events."""
        new: State = dict(state) if state else {}
        at = to_ms(event.occurred_at)
        tag = [at, event.event_id]
        current = new.get("tag")
        if newer(tag, current):
            new.update(
                tag=tag,
                v=event.variant,
                seg=event.segment,
                team=event.owner_team_id or NO_TEAM,
                sent_at=to_ms(event.sent_at),
            )
        kind = event.type
        field = _FIRST.get(kind)
        if field is not None:
            new[field] = _earlier(new.get(field), at)
        if kind in _OPENS:
            # A click implies an open; it is human unless the platform flags it.
            field = "mo" if event.machine_open else "ho"
            new[field] = _earlier(new.get(field), at)
        if kind is _BOUNCE:
            field = "bh" if event.bounce_type is _HARD else "bs"
            new[field] = _earlier(new.get(field), at)
        return new

    def message_facts(self, state: State) -> dict[str, int]:
        """metric -> the moment it happened, for one message."""
        out: dict[str, int] = {}
        for field, metric in _PLAIN:
            if field in state:
                out[metric] = state[field]
        if "bs" in state and "bh" not in state:
            out["bounced_soft"] = state["bs"]
        if "mo" in state and "ho" not in state:
            out["machine_only"] = state["mo"]
        return out

    def dimensions(self, state: State) -> dict[str, str]:
        weekday, hour = self._local_send_time(state["sent_at"])
        return {
            "variant": state["v"],
            "segment": state["seg"],
            "send_weekday": weekday,
            "send_hour": hour,
            "team": state["team"],
        }

    def _local_send_time(self, sent_at: int) -> tuple[str, str]:
        """Weekday and hour of a send in the business zone, looked up per quarter hour of
        UTC (today's offsets are whole quarter hours): one zone conversion per quarter hour
        of sends, not two per event. A quarter hour that holds a local hour's edge anyway (an
        old offset such as Amsterdam's +0:19:32) is not cached."""
        bucket = sent_at // QUARTER_MS
        cached = self._send_times.get(bucket)
        if cached is not None:
            return cached
        first = self._convert(bucket * QUARTER_MS)
        if first != self._convert((bucket + 1) * QUARTER_MS - 1):
            return self._convert(sent_at)
        if len(self._send_times) >= CACHE_MAX:
            self._send_times.clear()
        self._send_times[bucket] = first
        return first

    def _convert(self, at_ms: int) -> tuple[str, str]:
        sent = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(self.tz)
        return WEEKDAYS[sent.weekday()], f"{sent.hour:02d}"

    def facts(self, state: State) -> Facts:
        if "tag" not in state:
            return {}
        names = self._names_of(state)
        return {
            name: (at, 1)
            for metric, at in self.message_facts(state).items()
            for name in names[metric]
        }

    def state_deltas(self, old: State | None, new: State) -> list[Delta]:
        """`fact_deltas(facts(old), facts(new))` (FamilyDeltas) without the ~25 facts of each
        side: a message's first event adds each of its facts; after that its dimensions
        rarely change (only a newer event's attributes replace them), so only the metrics
        whose time changed are expanded into their keys."""
        if "tag" not in new:
            return fact_deltas(self.facts(old) if old else {}, self.facts(new))
        after = self.message_facts(new)
        names = self._names_of(new)
        if not old or "tag" not in old:
            added = sorted((name, at) for m, at in after.items() for name in names[m])
            return [Delta(name, at, 1) for name, at in added]
        if _dims_of(old) != _dims_of(new):
            return fact_deltas(self.facts(old), self.facts(new))
        before = self.message_facts(old)
        changed = [m for m, at in after.items() if before.get(m) != at]
        changed += [m for m in before if m not in after]
        if not changed:
            return []
        deltas: list[Delta] = []
        for name, metric in sorted((name, m) for m in changed for name in names[m]):
            was, now = before.get(metric), after.get(metric)
            if was is not None:
                deltas.append(Delta(name, was, -1))
            if now is not None:
                deltas.append(Delta(name, now, 1))
        return deltas

    def _names_of(self, state: State) -> dict[str, tuple[str, ...]]:
        """`_fact_names` of a message's dimensions, found by what they are made of."""
        weekday, hour = self._local_send_time(state["sent_at"])
        key = (state["v"], state["seg"], weekday, hour, state["team"])
        names = self._names_by.get(key)
        if names is None:
            names = self._fact_names(tuple(self.dimensions(state).items()))
            if len(self._names_by) >= CACHE_MAX:
                self._names_by.clear()
            self._names_by[key] = names
        return names

    def _fact_names(self, dims: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, ...]]:
        """metric -> its fact keys under one message's dimensions; messages of a campaign
        share a handful of dimension sets, so the keys are built once per set."""
        names = self._names.get(dims)
        if names is None:
            names = {
                spec.fact: tuple(fact_name(spec.fact, d, v) for d, v in dims) for spec in METRICS
            }
            if len(self._names) >= CACHE_MAX:
                self._names.clear()
            self._names[dims] = names
        return names

    def labels(self, state: State) -> Mapping[str, Any]:
        return {}

    def emit(self, old: State | None, new: State, event: Any) -> list[Emit]:
        return []

    def windowed(self, fact: str) -> bool:
        known = self._windowed.get(fact)
        if known is None:
            # machine_only is withdrawn when a human open arrives, possibly hours later; as
            # window activity that would be a "late" correction of a closed window, so it is
            # cohort-only.
            metric, dimension, _ = split_fact(fact)
            known = dimension == "variant" and metric != "machine_only"
            if len(self._windowed) >= CACHE_MAX:
                self._windowed.clear()
            self._windowed[fact] = known
        return known
