"""The spine: dedupe, event-time windows, watermarks and exact replay, over a key-value store.

Pure of Kafka and Faust: the store is a Protocol (a dict in unit tests, a changelogged Faust
table in the worker). Exactness after a crash rests on two facts:

* all keys an event touches live in one store whose changelog partition is the event's source
  partition, and writes to one partition reach the changelog in order, so what survives a crash
  is a prefix of the writes;
* every value carries the source offset that last wrote it (`o`). Writes are buffered
  (`WriteBack`) and flushed in a fixed order, windows and totals, then entities, then the
  partition record (`p/<n>`), before every offset commit. Replaying an event skips every key
  already at its offset; an entity keeps its recent events' effects (`effs`) so the partition
  record, the one write that may be missing, can be finished.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast

from pydantic import BaseModel

from stream_app.spine.clock import Clock
from stream_app.spine.erasure import lead_hash
from stream_app.spine.family_protocol import Delta, Emit, Facts, Family, State, fact_deltas
from stream_app.spine.store import (
    PartitionValue,
    StateStore,
    TotalsValue,
    Value,
    WindowValue,
    WriteBack,
    entity_key,
    new_partition_state,
    partition_key,
    totals_key,
    window_key,
)
from stream_app.spine.windows import QUARTER_MS, WindowSpec, is_closed, window_for

E = TypeVar("E", bound=BaseModel)

WINDOW_CACHE_MAX = 100_000
"""Cached window lookups (one per quarter hour, or per step, of event time) before the cache
starts over: a year of quarter hours is 35,040."""

SEEN_CAP = 64
"""Event ids remembered per entity; merging is idempotent, so this only bounds memory."""


Kind = Literal["applied", "duplicate", "replayed", "rejected", "expired", "erased"]


WindowAdd = tuple[Value | None, dict[str, int]]
"""(new, counts): the counts one event adds to a window; `new` is the window's first value
when the event opens it, None when it adds to the value in the store. A tuple, not a class:
an event makes several, and a dataclass's __init__ was ~4% of bench.hot_path."""


HISTORY_MS = 86_400_000
"""A late event this far (a day) or more behind its partition's newest event counts as history
(isales_late_history_events_total): the past arriving, which closed windows do not take back."""


@dataclass(slots=True)
class TotalsAdd:
    key: str
    counts: dict[str, int]
    occurred: int
    """The event time of the (first) event counted: the group's `first` if it creates it."""
    newest: int | None = None
    """A record of parts (`stream_app.spine.parts`): the newest event time counted."""


@dataclass(slots=True)
class PartCounts:
    """What the parts of a record (`stream_app.spine.parts`) did, counted per part as the
    partition record counts events: its counters read as if they had come one per record."""

    applied: int = 0
    dup: int = 0
    exp: int = 0
    er: int = 0
    late: int = 0
    late_h: int = 0
    late_w: dict[str, int] = field(default_factory=dict)
    tally: dict[str, int] = field(default_factory=dict)
    last: int | None = None
    """The event time of the last part applied (`last_ms`)."""
    newest: int | None = None
    """The watermark after the record."""


@dataclass(slots=True)
class Advance:
    """The partition record's step for an applied event (see Engine._advance)."""

    offset: int
    occurred: int
    lag: int | None
    late: tuple[str, ...]
    tally: Mapping[str, int] | None = None
    """The family's own per-partition counts for this event (Family.tally): a normaliser's
    ignored vendor events."""
    history: bool = False
    """A late event more than HISTORY_MS behind its partition's newest event: the past
    arriving (a backfill, seeded history), not a live event that missed its grace."""
    parts: PartCounts | None = None
    """A record of several events: the counters instead of one event's (`late`, `tally`
    and `history` are then unused)."""


@dataclass(slots=True)
class Plan:
    """What processing one record will write; computed first so side effects can be awaited.

    `writes` are whole values. An applied event's window, totals and partition changes are
    increments instead (`adds`, `totals`, `advance`), applied by `commit`: on a value only
    the write-back holds they change it in place, so an event costs no copy of every window
    it counts in, and a key touched by many events of a batch is copied once per flush."""

    kind: Kind
    partition: int
    writes: list[tuple[str, Value]] = field(default_factory=list)
    late_specs: tuple[str, ...] = ()
    emits: list[Emit] = field(default_factory=list)
    offset: int = -1
    labels: Mapping[str, str] = field(default_factory=dict)
    group: str = ""
    adds: dict[str, WindowAdd] = field(default_factory=dict)
    """Window key -> what the event adds to it."""
    totals: TotalsAdd | None = None
    advance: Advance | None = None
    facts: tuple[str, State, Facts] | None = None
    """(entity key, its new state, that state's facts): the next event of the entity finds
    them without computing the facts again."""
    window_labels: dict[str, Mapping[str, str]] | None = None
    """A record of several events: each window's labels, from the last part that added to
    it (`labels` then holds the totals')."""


class Engine(Generic[E]):
    def __init__(
        self,
        family: Family[E],
        store: StateStore,
        clock: Clock,
        *,
        specs: tuple[WindowSpec, ...],
        tz: str,
        grace_ms: int,
        window_retention_ms: int,
        dedupe_retention_ms: int,
        live_lag_ms: int = 900_000,
    ) -> None:
        self.family = family
        self.store = WriteBack(store)
        self.clock = clock
        self.specs = specs
        self.tz = tz
        self.grace_ms = grace_ms
        self.window_retention_ms = window_retention_ms
        self.dedupe_retention_ms = dedupe_retention_ms
        self.live_lag_ms = live_lag_ms
        self.open_windows: dict[int, set[str]] = {}
        # Totals keys per partition: scrapes read these and look the shown windows up by key,
        # never walking the windows (thousands, kept for retention) or the entities.
        self.totals_index: dict[int, set[str]] = {}
        self.dirty: set[str] = set()
        self.dirty_totals: set[str] = set()
        self.erased: set[str] = set()
        """Hashes of leads erased on request (`lead_hash`): set by the stage's erasure watch."""
        self.last_event_wall_ms: dict[int, int] = {}
        """Wall clock of the last record handled per partition: idle detection."""
        fixed = [spec.size_ms for spec in specs if not spec.is_day]
        self._step_ms = math.gcd(QUARTER_MS, *fixed)
        self._window_cache: dict[int, tuple[tuple[str, int, int, str], ...]] = {}
        self._known_facts: dict[str, tuple[State, Facts]] = {}
        # A family that can tell an event's fact changes from the two states directly
        # (FamilyDeltas) spares building both fact sets (an e-mail's are ~25 facts).
        self._state_deltas: Callable[[State | None, State], list[Delta]] | None = getattr(
            family, "state_deltas", None
        )
        # A family that counts something of its own per partition (FamilyTally: a normaliser's
        # ignored vendor events), kept with the partition's offset so it is exact as `applied`.
        self._tally: Callable[[E], Mapping[str, int] | None] | None = getattr(family, "tally", None)
        # A family that derives some records once per batch (FamilyBatch).
        self._end_batch: Callable[[], list[Emit]] | None = getattr(family, "end_batch", None)

    # ---- reading state ---------------------------------------------------------------------

    def partition_state(self, partition: int) -> PartitionValue | None:
        return cast(PartitionValue | None, self.store.get(partition_key(partition)))

    def next_offset(self, partition: int) -> int | None:
        """The next source offset the partition's state has not applied (None: no state)."""
        pst = self.partition_state(partition)
        return None if pst is None else pst["o"] + 1

    def window(self, group: str, spec: str, start_ms: int) -> WindowValue | None:
        return cast(WindowValue | None, self.store.get(window_key(group, spec, start_ms)))

    def totals(self, group: str) -> TotalsValue | None:
        return cast(TotalsValue | None, self.store.get(totals_key(group)))

    def quiet_ms(self, partition: int) -> int:
        """How long the partition has handled no record (by the wall clock; 0 when first
        asked about, which starts the count)."""
        now = self.clock.now_ms()
        return now - self.last_event_wall_ms.setdefault(partition, now)

    def touch(self, partition: int) -> None:
        """Count the partition as active now (a seek back is activity too)."""
        self.last_event_wall_ms[partition] = self.clock.now_ms()

    # ---- processing one record -------------------------------------------------------------

    def _partition_state(self, partition: int) -> Value:
        return self.store.get(partition_key(partition)) or new_partition_state(partition)

    def plan_reject(self, partition: int, offset: int, reason_class: str) -> Plan:
        pst = self._partition_state(partition)
        if pst["o"] >= offset:
            return Plan("replayed", partition)
        pst = {**pst, "o": offset, "dlq": {**pst["dlq"]}}
        pst["dlq"][reason_class] = pst["dlq"].get(reason_class, 0) + 1
        return Plan("rejected", partition, [(partition_key(partition), pst)])

    def plan(self, event: E, partition: int, offset: int) -> Plan:
        fam = self.family
        pst = self._partition_state(partition)
        if pst["o"] >= offset:
            return Plan("replayed", partition)
        entity_ms = fam.entity_time(event)
        if pst["wm"] is not None and entity_ms + self.dedupe_retention_ms <= pst["wm"]:
            # Past the dedupe horizon the entity's state may be gone (swept whenever the timer
            # ran): counting the event could count its entity again. Deciding by event time
            # alone makes the outcome the same however the sweeps fell: it counts nowhere.
            pst = {**pst, "o": offset, "exp": pst.get("exp", 0) + 1}
            expired = tuple(spec.name for spec in self.specs)
            return Plan("expired", partition, [(partition_key(partition), pst)], expired)
        group = fam.group(event)
        entity_id = fam.entity(event)
        if self.erased and lead_hash(entity_id) in self.erased:
            # A lead erased on request (stream-app erase): its events count nowhere again.
            pst = {**pst, "o": offset, "er": pst.get("er", 0) + 1}
            return Plan("erased", partition, [(partition_key(partition), pst)])
        ekey = entity_key(group, entity_id)
        est = self.store.get(ekey)
        occurred = fam.occurred_ms(event)
        if est is not None and est["o"] >= offset:
            # The entity's write survived a crash, the partition record did not: finish the
            # event. A later event may have written the entity, so only an offset it recorded
            # as applied was applied; any other event of this entity here was a duplicate.
            # An effect is [offset, late] ([offset, late, part] from a record of parts).
            effect = next((tuple(e[1]) for e in est["effs"] if e[0] == offset), None)
            if effect is not None:
                tally = self._tally(event) if self._tally is not None else None
                finish = self._advance(pst, offset, occurred, effect, tally)
                return Plan("applied", partition, [finish], effect)
        event_id = fam.event_id(event)
        if est is not None and event_id in est["seen"]:
            pst = {**pst, "o": offset, "dup": pst["dup"] + 1}
            return Plan("duplicate", partition, [(partition_key(partition), pst)])

        old_state: State | None = est["s"] if est is not None else None
        new_state = fam.merge(old_state, event)
        remembered: tuple[str, State, Facts] | None = None
        if self._state_deltas is not None:
            deltas = self._state_deltas(old_state, new_state)
        else:
            new_facts = fam.facts(new_state)
            deltas = fact_deltas(self._facts_of(ekey, old_state), new_facts)
            remembered = (ekey, new_state, new_facts)
        labels = fam.labels(new_state)
        late: set[str] = set()
        adds: dict[str, WindowAdd] = {}
        wkey_prefix = "w/" + group
        get = self.store.get
        wm = pst["wm"]
        window_cache, step_ms = self._window_cache, self._step_ms
        for delta in deltas:
            if not fam.windowed(delta.metric):
                continue
            # The cache's hit, inline: a call frame per fact was a visible share of plan().
            windows = window_cache.get(delta.ts_ms // step_ms)
            if windows is None:
                windows = self._windows_at(delta.ts_ms)
            for name, start_ms, end_ms, suffix in windows:
                wkey = wkey_prefix + suffix
                add = adds.get(wkey)
                if add is None:
                    current = get(wkey)
                    if current is not None and current["o"] >= offset:
                        continue  # applied before the crash
                    if (current is not None and current["final"]) or is_closed(
                        end_ms, self.grace_ms, wm
                    ):
                        late.add(name)
                        continue
                    new = None
                    if current is None:
                        new = _new_window(partition, group, name, start_ms, end_ms)
                    add = adds[wkey] = (new, {})
                counts = add[1]
                counts[delta.metric] = counts.get(delta.metric, 0) + delta.value
        totals_add = None
        if deltas:
            tkey = totals_key(group)
            totals = get(tkey)
            if totals is None or totals["o"] < offset:
                counts = {}
                for delta in deltas:
                    counts[delta.metric] = counts.get(delta.metric, 0) + delta.value
                totals_add = TotalsAdd(tkey, counts, occurred)
        late_specs = tuple(sorted(late))
        if est is None:
            seen, effs, last, entity_last = (
                [event_id],
                [[offset, list(late_specs)]],
                occurred,
                entity_ms,
            )
        else:
            seen = [*est["seen"], event_id][-SEEN_CAP:]
            effs = [*est["effs"], [offset, list(late_specs)]][-SEEN_CAP:]
            last = max(occurred, est["last"])
            entity_last = max(entity_ms, est.get("et", entity_ms))
        entity = {
            "o": offset,
            "p": partition,
            "s": new_state,
            "seen": seen,
            "last": last,
            "et": entity_last,
            "effs": effs,
        }
        return Plan(
            "applied",
            partition,
            [(ekey, entity)],
            late_specs,
            fam.emit(old_state, new_state, event),
            offset,
            labels,
            group,
            adds,
            totals_add,
            self._step(
                pst,
                offset,
                occurred,
                late_specs,
                self._tally(event) if self._tally is not None else None,
            ),
            remembered,
        )

    def plan_parts(self, parts: Sequence[E], partition: int, offset: int) -> Plan:
        """A record of several events of one group (`stream_app.spine.parts`), planned as if
        its parts had come as records in that order: each deduplicated, merged and counted on
        its own, the watermark moving between them; one plan, written as one event's is. After
        a crash a part whose entity was written finishes from its effect (`[offset, late,
        index]`); the others are planned again, and the windows and totals written before the
        crash skip them, as they skip an event's."""
        fam = self.family
        pst = self._partition_state(partition)
        if pst["o"] >= offset:
            return Plan("replayed", partition)
        wm, grace = pst["wm"], self.grace_ms
        counts = PartCounts()
        entities: dict[str, Value] = {}
        known: dict[str, Facts] = {}
        adds: dict[str, WindowAdd] = {}
        window_labels: dict[str, Mapping[str, str]] = {}
        late_all: set[str] = set()
        emits: list[Emit] = []
        group, totals = "", None
        totals_labels: Mapping[str, str] = {}
        totals_done: bool | None = None
        lag: int | None = pst.get("lag")
        get, window_cache, step_ms = self.store.get, self._window_cache, self._step_ms
        now = self.clock.now_ms()
        for index, event in enumerate(parts):
            entity_ms = fam.entity_time(event)
            if wm is not None and entity_ms + self.dedupe_retention_ms <= wm:
                counts.exp += 1
                late_all.update(spec.name for spec in self.specs)
                continue
            part_group, entity_id = fam.group(event), fam.entity(event)
            if group and part_group != group:
                raise ValueError("the parts of one record belong to one group")
            group = part_group
            if self.erased and lead_hash(entity_id) in self.erased:
                counts.er += 1
                continue
            ekey = entity_key(group, entity_id)
            occurred = fam.occurred_ms(event)
            est = entities.get(ekey)
            if est is None:
                est = get(ekey)
                if est is not None and est["o"] >= offset:
                    done = next(
                        (e[1] for e in est["effs"] if e[0] == offset and e[2:] == [index]), None
                    )
                    if done is not None:  # applied before the crash
                        wm, lag = self._count_part(
                            counts, event, occurred, wm, lag, tuple(done), now
                        )
                        late_all.update(done)
                        continue
            event_id = fam.event_id(event)
            if est is not None and event_id in est["seen"]:
                counts.dup += 1
                continue
            old_state: State | None = est["s"] if est is not None else None
            new_state = fam.merge(old_state, event)
            if self._state_deltas is not None:
                deltas = self._state_deltas(old_state, new_state)
            else:
                new_facts = fam.facts(new_state)
                before = known.get(ekey)
                if before is None:
                    before = self._facts_of(ekey, old_state)
                deltas = fact_deltas(before, new_facts)
                known[ekey] = new_facts
            labels = fam.labels(new_state)
            late: set[str] = set()
            prefix = "w/" + group
            for delta in deltas:
                if not fam.windowed(delta.metric):
                    continue
                windows = window_cache.get(delta.ts_ms // step_ms) or self._windows_at(delta.ts_ms)
                for name, start_ms, end_ms, suffix in windows:
                    wkey = prefix + suffix
                    add = adds.get(wkey)
                    if add is None:
                        current = get(wkey)
                        if current is not None and current["o"] >= offset:
                            continue  # applied before the crash
                        if (current is not None and current["final"]) or is_closed(
                            end_ms, grace, wm
                        ):
                            late.add(name)
                            continue
                        new = None
                        if current is None:
                            new = _new_window(partition, group, name, start_ms, end_ms)
                        add = adds[wkey] = (new, {})
                    elif is_closed(end_ms, grace, wm):
                        # Closed by an earlier part's event time, as the next record's would be.
                        # (plan()'s loop without this; one method for both cost the calls path
                        # 4% of its CPU per event, bench.hot_path 32.3 -> 33.6 µs.)
                        late.add(name)
                        continue
                    window_counts = add[1]
                    window_counts[delta.metric] = window_counts.get(delta.metric, 0) + delta.value
                    window_labels[wkey] = labels
            if deltas:
                if totals_done is None:
                    stored = get(totals_key(group))
                    totals_done = stored is not None and stored["o"] >= offset
                if not totals_done:
                    if totals is None:
                        totals = TotalsAdd(totals_key(group), {}, occurred, occurred)
                    for delta in deltas:
                        totals.counts[delta.metric] = (
                            totals.counts.get(delta.metric, 0) + delta.value
                        )
                    totals.newest = max(occurred, totals.newest or occurred)
                    totals_labels = labels
            late_specs = sorted(late)
            effect = [offset, late_specs, index]
            if est is None:
                seen, effs = [event_id], [effect]
                last, entity_last = occurred, entity_ms
            else:
                seen = [*est["seen"], event_id][-SEEN_CAP:]
                effs = [*est["effs"], effect][-SEEN_CAP:]
                last = max(occurred, est["last"])
                entity_last = max(entity_ms, est.get("et", entity_ms))
            entities[ekey] = {
                "o": offset,
                "p": partition,
                "s": new_state,
                "seen": seen,
                "last": last,
                "et": entity_last,
                "effs": effs,
            }
            emits.extend(fam.emit(old_state, new_state, event))
            wm, lag = self._count_part(counts, event, occurred, wm, lag, tuple(late_specs), now)
            late_all.update(late_specs)
        late_specs_all = tuple(sorted(late_all))
        counts.newest = wm
        advance = Advance(offset, counts.last or 0, lag, (), parts=counts)
        if not counts.applied:
            value = dict(pst)
            _apply_step(value, advance)
            kind: Kind = "duplicate" if counts.dup else "expired" if counts.exp else "erased"
            return Plan(kind, partition, [(partition_key(partition), value)], late_specs_all)
        return Plan(
            "applied",
            partition,
            list(entities.items()),
            late_specs_all,
            emits,
            offset,
            totals_labels,
            group,
            adds,
            totals,
            advance,
            window_labels=window_labels,
        )

    def _count_part(
        self,
        counts: PartCounts,
        event: Any,
        occurred: int,
        wm: int | None,
        lag: int | None,
        late: tuple[str, ...],
        now_ms: int,
    ) -> tuple[int, int | None]:
        """A part applied, counted as `_step` and `_apply_step` count an event: the
        watermark and the lag after it."""
        counts.applied += 1
        counts.last = occurred
        if late:
            counts.late += 1
            if wm is not None and occurred + HISTORY_MS <= wm:
                counts.late_h += 1
            _add_into(counts.late_w, dict.fromkeys(late, 1))
        if self._tally is not None:
            _add_into(counts.tally, self._tally(event) or {})
        if wm is None or occurred >= wm:
            return occurred, now_ms - occurred
        return wm, lag

    def _facts_of(self, ekey: str, state: State | None) -> Facts:
        """The facts an entity contributes now: remembered from its last event while that
        event's state object is still the one stored (an entity's events often come in one
        batch), else computed."""
        if state is None:
            return {}
        known = self._known_facts.get(ekey)
        if known is not None and known[0] is state:
            return known[1]
        return self.family.facts(state)

    def _windows_at(self, ts_ms: int) -> tuple[tuple[str, int, int, str], ...]:
        """(size name, start, end, key suffix) of the window of each size holding `ts_ms`.

        Every event needs these for each fact: looked up by the step all window edges and
        local midnights fall on (a quarter hour, or a window size that divides it), so a
        whole step shares its windows. Only a step whose first and last millisecond have the
        same windows is cached; one that holds an edge anyway (a zone whose midnight is off
        the quarter hour) is computed per timestamp."""
        bucket = ts_ms // self._step_ms
        cached = self._window_cache.get(bucket)
        if cached is not None:
            return cached
        first = self._compute_windows(bucket * self._step_ms)
        if first == self._compute_windows((bucket + 1) * self._step_ms - 1):
            if len(self._window_cache) >= WINDOW_CACHE_MAX:
                self._window_cache.clear()
            self._window_cache[bucket] = first
            return first
        return self._compute_windows(ts_ms)

    def _compute_windows(self, ts_ms: int) -> tuple[tuple[str, int, int, str], ...]:
        return tuple(
            (spec.name, win.start_ms, win.end_ms, f"/{spec.name}/{win.start_ms}")
            for spec in self.specs
            for win in (window_for(ts_ms, spec, self.tz),)
        )

    def _step(
        self,
        pst: Value,
        offset: int,
        occurred: int,
        late: tuple[str, ...],
        tally: Mapping[str, int] | None = None,
    ) -> Advance:
        wm = pst["wm"]
        # How far behind the wall clock the newest event arrived: small for a live stream,
        # days for a backfill. Only a live partition may have its windows closed by the wall
        # clock (effective_watermark); a backfill closes them by event time alone.
        lag = self.clock.now_ms() - occurred if wm is None or occurred >= wm else pst.get("lag")
        # Against the watermark, not the wall clock: a replay classifies the same.
        history = bool(late) and wm is not None and occurred + HISTORY_MS <= wm
        return Advance(offset, occurred, lag, late, tally, history)

    def _advance(
        self,
        pst: Value,
        offset: int,
        occurred: int,
        late: tuple[str, ...],
        tally: Mapping[str, int] | None = None,
    ) -> tuple[str, Value]:
        value = dict(pst)
        _apply_step(value, self._step(pst, offset, occurred, late, tally))
        return partition_key(pst["p"]), value

    def commit(self, plan: Plan) -> None:
        store, partition = self.store, plan.partition
        for key, value in plan.writes:
            store.put(key, value, partition)
            if key.startswith("w/"):
                self.open_windows.setdefault(partition, set()).add(key)
                self.dirty.add(key)
            if key.startswith("t/"):
                self.totals_index.setdefault(partition, set()).add(key)
                self.dirty_totals.add(key)
        if plan.kind == "applied":
            self._apply_adds(plan)
        self.touch(partition)
        store.maybe_flush()

    def _apply_adds(self, plan: Plan) -> None:
        store, partition, offset, labels = self.store, plan.partition, plan.offset, plan.labels
        window_labels = plan.window_labels
        if plan.adds:
            open_windows = self.open_windows.setdefault(partition, set())
            for key, (new, add_counts) in plan.adds.items():
                value = store.unflushed(key)
                if value is None:
                    value = new
                    if value is None:
                        stored = store.get(key)
                        assert stored is not None
                        value = {**stored, "c": dict(stored["c"])}
                    store.put(key, value, partition)
                    open_windows.add(key)
                value.update(labels if window_labels is None else window_labels[key])
                value["o"] = offset
                value["rev"] += 1
                counts = value["c"]
                for metric, n in add_counts.items():
                    counts[metric] = counts.get(metric, 0) + n
                self.dirty.add(key)
        if plan.totals is not None:
            t = plan.totals
            value = store.unflushed(t.key)
            if value is None:
                stored = store.get(t.key)
                if stored is None:
                    value = {"c": {}, "first": t.occurred, "last": t.occurred}
                else:
                    # `first`: the event time that created the group, fixed from then on;
                    # label admission ranks groups by it, so the same state admits the same
                    # labels before and after a restart (records older than the field rank
                    # first).
                    value = {**stored, "c": dict(stored["c"]), "first": stored.get("first", 0)}
                store.put(t.key, value, partition)
                self.totals_index.setdefault(partition, set()).add(t.key)
            # Labels a record leaves out (a team an e-mail credit does not name) keep their
            # last value, as a window's do.
            value["p"], value["g"] = partition, plan.group
            value.update(labels)
            value["o"] = offset
            counts = value["c"]
            for metric, n in t.counts.items():
                counts[metric] = counts.get(metric, 0) + n
            # `last`: the newest event time that changed the group, so metrics can retire
            # groups gone quiet (an email campaign) while the KPI topic keeps them.
            newest = t.occurred if t.newest is None else t.newest
            value["last"] = max(newest, value.get("last", newest))
            self.dirty_totals.add(t.key)
        if plan.advance is not None:
            pkey = partition_key(partition)
            value = store.unflushed(pkey)
            if value is None:
                value = dict(self._partition_state(partition))
                store.put(pkey, value, partition)
            _apply_step(value, plan.advance)
        if plan.facts is not None:
            ekey, state, facts = plan.facts
            self._known_facts[ekey] = (state, facts)

    def end_batch(self) -> list[Emit]:
        """The records the family derives once per batch (FamilyBatch), to send with the
        batch's other records; taken before `flush`."""
        return self._end_batch() if self._end_batch is not None else []

    def flush(self) -> int:
        """Hand buffered writes to the durable store; must run before offsets are committed."""
        # Bounded by what a flush holds; the states are the store's own objects until then.
        self._known_facts.clear()
        return self.store.flush()

    # ---- windows over time -----------------------------------------------------------------

    def watermark(self, partition: int) -> int | None:
        pst = self.partition_state(partition)
        return None if pst is None else pst["wm"]

    def live(self, partition: int) -> bool:
        """Whether the partition's newest event arrived within `live_lag_ms` of its event
        time: a live stream, not a backfill or a replay of history."""
        pst = self.partition_state(partition)
        lag = None if pst is None else pst.get("lag")
        return lag is not None and lag <= self.live_lag_ms

    def effective_watermark(self, partition: int, caught_up: bool, idle_ms: int) -> int | None:
        """The event-time watermark, or the wall clock once a live, caught-up partition has
        been idle: without it the last windows of a quiet live partition would never close.
        A partition fed history (a backfill, a replay, a paused export) closes its windows by
        event time alone, so the same events give the same windows however they were paced."""
        wm = self.watermark(partition)
        now = self.clock.now_ms()
        if caught_up and self.live(partition) and self.quiet_ms(partition) >= idle_ms:
            idle_wm = now - idle_ms
            return idle_wm if wm is None else max(wm, idle_wm)
        return wm

    def rebuild_index(self, partitions: set[int]) -> None:
        """After an assignment change: which windows are open here, and re-announce them."""
        self.open_windows = {p: set() for p in partitions}
        self.totals_index = {p: set() for p in partitions}
        for key, value in self.store.items():
            if value.get("p") not in partitions or not key.startswith(("w/", "t/")):
                continue
            if key.startswith("w/") and not value["final"]:
                self.open_windows[value["p"]].add(key)
                self.dirty.add(key)
            if key.startswith("t/"):
                self.totals_index[value["p"]].add(key)
                self.dirty_totals.add(key)  # re-announce: records may postdate a crash

    def due_windows(self, partition: int, watermark: int | None) -> list[tuple[str, Value]]:
        due = []
        for key in sorted(self.open_windows.get(partition, ())):
            value = self.store.get(key)
            if value is None or value["final"]:
                self.open_windows[partition].discard(key)
            elif is_closed(value["end"], self.grace_ms, watermark):
                due.append((key, value))
        return due

    def mark_final(self, key: str, value: Value) -> None:
        self.store.put(key, {**value, "final": True, "rev": value["rev"] + 1}, value["p"])
        self.open_windows.get(value["p"], set()).discard(key)
        self.dirty.discard(key)

    def take_dirty(self) -> list[tuple[str, Value]]:
        out = []
        for key in sorted(self.dirty):
            value = self.store.get(key)
            if value is not None and not value["final"]:
                out.append((key, value))
        self.dirty.clear()
        return out

    def take_dirty_totals(self) -> list[tuple[str, Value]]:
        """Totals changed since the last call (and all of them after an assignment)."""
        out = [(k, v) for k in sorted(self.dirty_totals) if (v := self.store.get(k)) is not None]
        self.dirty_totals.clear()
        return out

    def _expired(self, entity: Value, wm: int) -> bool:
        """Past the horizon every event of the entity is refused by plan() (its entity time is
        at most `et`), so the state can go at any moment without changing a count."""
        entity_ms: int = entity["et"] if "et" in entity else entity["last"]
        return entity_ms + self.dedupe_retention_ms <= wm

    def sweep(self, partitions: set[int]) -> int:
        """Delete closed windows past retention and entities past the dedupe horizon."""
        watermarks = {p: self.watermark(p) for p in partitions}
        doomed: list[tuple[str, int]] = []
        for key, value in self.store.items():
            part = value.get("p")
            if part not in partitions or watermarks.get(part) is None:
                continue
            wm = watermarks[part]
            assert wm is not None
            if key.startswith("w/"):
                if value["final"] and value["end"] + self.grace_ms + self.window_retention_ms <= wm:
                    doomed.append((key, part))
            elif key.startswith("e/") and self._expired(value, wm):
                doomed.append((key, part))
        for key, part in doomed:
            self.store.delete(key, part)
        return len(doomed)

    # ---- reading state ---------------------------------------------------------------------

    def all_totals(self, partitions: set[int]) -> Iterator[tuple[str, Value]]:
        """Totals records of the given partitions, by partition, then key. Every window's
        group has one (a window is only written with its totals, and sweeps keep totals)."""
        for part in sorted(partitions):
            for key in sorted(self.totals_index.get(part, ())):
                value = self.store.get(key)
                if value is not None:
                    yield key, value


def _apply_step(value: Value, step: Advance) -> None:
    """The partition record after an applied event, in place on a value only the caller
    holds."""
    if step.parts is not None:
        _apply_parts(value, step, step.parts)
        return
    wm = value["wm"]
    value["o"] = step.offset
    value["wm"] = step.occurred if wm is None else max(wm, step.occurred)
    value["applied"] += 1
    value["last_ms"] = step.occurred
    value["lag"] = step.lag
    if step.late:
        value["late"] += 1
        if step.history:
            value["late_h"] = value.get("late_h", 0) + 1
        # A copy: a duplicate's or a rejection's record shares it with the value before.
        value["late_w"] = _add_into(dict(value["late_w"]), dict.fromkeys(step.late, 1))
    if step.tally:
        # A copy, as late_w: the value before may share it.
        value["tally"] = _add_into(dict(value.get("tally") or {}), step.tally)


def _apply_parts(value: Value, step: Advance, counts: PartCounts) -> None:
    """The partition record after a record of several events, each part counted as
    `_apply_step` counts an event."""
    value["o"] = step.offset
    if counts.applied:
        value["wm"] = counts.newest
        value["applied"] += counts.applied
        value["last_ms"] = step.occurred
        value["lag"] = step.lag
    for name in ("dup", "exp", "er", "late", "late_h"):
        n = getattr(counts, name)
        if n:
            value[name] = value.get(name, 0) + n
    if counts.late_w:
        value["late_w"] = _add_into(dict(value["late_w"]), counts.late_w)
    if counts.tally:
        value["tally"] = _add_into(dict(value.get("tally") or {}), counts.tally)


def _add_into(into: dict[str, int], add: Mapping[str, int]) -> dict[str, int]:
    for name, n in add.items():
        into[name] = into.get(name, 0) + n
    return into


def _new_window(partition: int, group: str, name: str, start_ms: int, end_ms: int) -> Value:
    """A window's first value, before the event that opens it adds its counts."""
    return {
        "p": partition,
        "g": group,
        "spec": name,
        "start": start_ms,
        "end": end_ms,
        "c": {},
        "final": False,
        "rev": 0,
    }
