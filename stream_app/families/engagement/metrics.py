"""Prometheus exposition and `kpi.segments` of the reach stage, read from state.

Counts (touchpoints, handoffs per band, segment totals) come from the windows and totals at
scrape time, like every family's. How warm a segment's leads are *now* is a function of the
time asked: a lead's score after its newest touch only decays, so each lead is kept as one
number, its anchor log2(score) + score_at / half-life, and at time t its score is
2^(anchor - t / half-life). `SegmentIndex` rebuilds the sorted anchors of each segment from the
state every ISALES_ENGAGEMENT_REFRESH_SECONDS; a scrape then counts leads per band by bisection.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from schemas.common import from_ms
from stream_app.families.engagement.config import EngagementConfig
from stream_app.families.engagement.kpis import SegmentCounts, SegmentFit, calibration, segment_fit
from stream_app.families.engagement.reach import DECIDED
from stream_app.families.engagement.score import BANDS, Band
from stream_app.spine.collector import StateCollector, group_first, rank_into
from stream_app.spine.family_protocol import Fact
from stream_app.spine.labels import Candidates

if TYPE_CHECKING:
    from stream_app.spine.pipeline import Context
    from stream_app.spine.store import Value

SEGMENTS = "segments"  # output role of kpi.segments
REP, SEG = "rep:", "seg:"
KINDS = ("outreach", "response", "machine")


def split_group(group: str) -> tuple[str, str]:
    """`rep:a` -> ("rep", "a")."""
    kind, _, name = group.partition(":")
    return kind, name


class SegmentIndex:
    """Each owned segment's lead anchors, sorted, rebuilt from state now and then (the
    pipeline's extra: it runs in the worker's timer, under the state lock)."""

    def __init__(self, ctx: Context, config: EngagementConfig, refresh_seconds: float) -> None:
        self.ctx = ctx
        self.config = config
        self.refresh_ms = refresh_seconds * 1000
        self.anchors: dict[str, list[float]] = {}
        self._refreshed_ms: float = -math.inf
        self._sent: dict[bytes, bytes] = {}
        self.collector: ReachCollector | None = None

    def collectors(self) -> list[Collector]:
        return []

    def start(self) -> None:
        pass

    def refresh(self) -> None:
        owned = self.ctx.owned()
        half_life = self.config.half_life_ms
        anchors: dict[str, list[float]] = defaultdict(list)
        prefix = "e/" + SEG
        # Only the lead statuses are decoded, not the touches (most of the entities).
        for key, value in self.ctx.engine.store.items(prefix):
            if value.get("p") not in owned:
                continue
            state = value["s"]
            if state.get("kind") != "lead" or state.get("moved"):
                continue
            segment = key[len(prefix) :].split("/", 1)[0]
            score, at = state.get("score", 0.0), state.get("score_at")
            anchor = -math.inf if not score or at is None else math.log2(score) + at / half_life
            anchors[segment].append(anchor)
        for values in anchors.values():
            values.sort()
        self.anchors = dict(anchors)

    def bands(self, segment: str, now_ms: int) -> dict[Band, int]:
        """Leads of the segment per band at `now_ms`."""
        values = self.anchors.get(segment, [])
        shift = now_ms / self.config.half_life_ms
        b = self.config.bands
        above = {
            name: len(values) - bisect.bisect_left(values, math.log2(limit) + shift)
            for name, limit in (("warming", b.warming), ("warm", b.warm), ("hot", b.hot))
        }
        return {
            "cold": len(values) - above["warming"],
            "warming": above["warming"] - above["warm"],
            "warm": above["warm"] - above["hot"],
            "hot": above["hot"],
        }

    def median(self, segment: str, now_ms: int) -> float | None:
        values = self.anchors.get(segment, [])
        if not values:
            return None
        shift = now_ms / self.config.half_life_ms
        mid = len(values) // 2

        def at(i: int) -> float:
            return 0.0 if values[i] == -math.inf else math.pow(2.0, values[i] - shift)

        return at(mid) if len(values) % 2 else (at(mid - 1) + at(mid)) / 2

    async def tick(self) -> None:
        now = self.ctx.clock.now_ms()
        if now - self._refreshed_ms < self.refresh_ms:
            return
        self._refreshed_ms = now
        self.refresh()
        if self.collector is None:
            return
        topic = self.ctx.outputs[SEGMENTS].topic
        pending = []
        for key, body in self.collector.segment_records(now):
            if self._sent.get(key) == body:
                continue
            self._sent[key] = body
            stamped = orjson.dumps({**orjson.loads(body), "evaluated_at": from_ms(now).isoformat()})
            pending.append(await self.ctx.produce(topic, key, stamped))
        for fut in pending:
            await fut


class ReachCollector(StateCollector):
    def __init__(self, *args: Any, config: EngagementConfig, index: SegmentIndex, **kw: Any):
        super().__init__(*args, **kw)
        self.config = config
        self.index = index
        index.collector = self

    def _labels(self, value: Value) -> tuple[str, str]:
        return self.guard("rep", split_group(value["g"])[1]), self.guard(
            "team", value.get("team", "")
        )

    def label_candidates(self, parts: set[int]) -> Candidates:
        ranks: Candidates = {"rep": {}, "team": {}, "segment": {}, "channel": {}, "campaign": {}}
        for _, totals in self.engine.all_totals(parts):
            first = group_first(totals)
            kind, name = split_group(totals["g"])
            rank_into(ranks["rep" if kind == "rep" else "segment"], name, first)
            if kind == "rep":
                rank_into(ranks["team"], totals.get("team", ""), first)
            for key in totals["c"]:
                fact = Fact.parse(key)
                if fact.metric in ("touches", "lead_touches"):
                    rank_into(ranks["channel"], fact.parts[0], first)
                elif fact.metric == "impressions":
                    rank_into(ranks["campaign"], fact.parts[0], first)
        return ranks

    # ---- segment view -------------------------------------------------------------------------

    def segment_totals(self, parts: set[int]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for _, totals in self.engine.all_totals(parts):
            kind, name = split_group(totals["g"])
            if kind == "seg":
                out[name] = totals["c"]
        return out

    def fits(self, now_ms: int, parts: set[int]) -> list[SegmentFit]:
        counts = {}
        for segment, c in self.segment_totals(parts).items():
            bands = self.index.bands(segment, now_ms)
            counts[segment] = SegmentCounts(
                targeted=c.get("lead_targeted", 0),
                touched=c.get("lead_touched", 0),
                engaged=bands["warm"] + bands["hot"],
                handoffs=c.get("lead_handoffs", 0),
                accepted=c.get("lead_accepted", 0),
                won=c.get("lead_won", 0),
            )
        return segment_fit(counts, self.config.target_fit)

    def band_outcomes(self, parts: set[int]) -> dict[str, dict[Band, dict[str, int]]]:
        """rep group -> band -> handoffs, accepted, rejected, won, lost (all time)."""
        out: dict[str, dict[Band, dict[str, int]]] = {}
        for _, totals in self.engine.all_totals(parts):
            if not totals["g"].startswith(REP):
                continue
            rows: dict[Band, dict[str, int]] = {}
            for key, n in totals["c"].items():
                fact = Fact.parse(key)
                if fact.metric in ("handoffs", *DECIDED):
                    band: Band = fact.parts[0]  # type: ignore[assignment]
                    row = rows.setdefault(band, {})
                    row[fact.metric] = row.get(fact.metric, 0) + n
            out[totals["g"]] = rows
        return out

    def segment_records(self, now_ms: int) -> list[tuple[bytes, bytes]]:
        """kpi.segments: a record per segment, and the score's calibration over every rep."""
        parts = self.ctx_parts()
        out = []
        totals = self.segment_totals(parts)
        for fit in self.fits(now_ms, parts):
            c = fit.counts
            seg_counts = totals.get(fit.segment, {})
            touches = {
                Fact.parse(k).parts[0]: n
                for k, n in seg_counts.items()
                if k.startswith("lead_touches|")
            }
            body = {
                "schema_version": 1,
                "kpi": "segments",
                "segment": fit.segment,
                "targeted": c.targeted,
                "touched": c.touched,
                "engaged": c.engaged,
                "handoffs": c.handoffs,
                "accepted": c.accepted,
                "won": c.won,
                "engaged_share": fit.engaged_share,
                "win_rate": fit.win_rate,
                "target_share": fit.target_share,
                "win_share": fit.win_share,
                "fit_index": fit.fit_index,
                "engages_not_winning": fit.engages_not_winning,
                "leads_by_band": self.index.bands(fit.segment, now_ms),
                "median_score": self.index.median(fit.segment, now_ms),
                "touches": dict(sorted(touches.items())),
            }
            key = orjson.dumps({"kpi": "segments", "segment": fit.segment})
            out.append((key, orjson.dumps(body)))
        summed: dict[Band, tuple[int, int, int]] = {}
        for rows in self.band_outcomes(parts).values():
            for band, row in rows.items():
                n, a, w = summed.get(band, (0, 0, 0))
                summed[band] = (
                    n + row.get("handoffs", 0),
                    a + row.get("accepted", 0),
                    w + row.get("won", 0),
                )
        table = [
            {
                "band": row.band,
                "handoffs": row.handoffs,
                "accepted": row.accepted,
                "won": row.won,
                "acceptance_rate": row.acceptance_rate,
                "win_rate": row.win_rate,
            }
            for row in calibration(summed)
        ]
        body = {"schema_version": 1, "kpi": "score_calibration", "bands": table}
        out.append((orjson.dumps({"kpi": "score_calibration"}), orjson.dumps(body)))
        return out

    def ctx_parts(self) -> set[int]:
        return self.owned()

    # ---- exposition ---------------------------------------------------------------------------

    def family_series(self, parts: set[int]) -> Iterator[Any]:
        yield from self._reps(parts)
        yield from self._rep_windows(parts)
        yield from self._segments(parts)

    def _reps(self, parts: set[int]) -> Iterator[Any]:
        p = self.prefix
        touch = CounterMetricFamily(
            f"{p}_touchpoints",
            "Touches of leads credited to the rep who made or owns them, by channel and kind "
            "(outreach: a dial or a delivery; response: the lead answered, opened, visited; "
            "machine: no person). All time.",
            labels=["rep", "team", "channel", "kind"],
        )
        bands = {
            name: CounterMetricFamily(
                f"{p}_handoffs{suffix}",
                f"Handoffs by the lead's band at the moment of handoff{text}. All time.",
                labels=["rep", "team", "band"],
            )
            for name, suffix, text in (
                ("handoffs", "", ""),
                ("accepted", "_accepted", ", accepted by field sales"),
                ("rejected", "_rejected", ", rejected by field sales"),
                ("won", "_won", ", won"),
                ("lost", "_lost", ", lost"),
            )
        }
        for _, totals in self.engine.all_totals(parts):
            if not totals["g"].startswith(REP):
                continue
            rep, team = self._labels(totals)
            per: dict[tuple[str, ...], int] = defaultdict(int)
            for key, n in totals["c"].items():
                fact = Fact.parse(key)
                if fact.metric == "touches":
                    channel, kind = fact.parts
                    per[("t", self.guard("channel", channel), kind)] += n
                elif fact.metric in bands:
                    per[("b", fact.metric, fact.parts[0])] += n
            for (what, a, b), n in sorted(per.items()):
                if what == "t":
                    touch.add_metric([rep, team, a, b], n)
                else:
                    bands[a].add_metric([rep, team, b], n)
        yield touch
        yield from bands.values()

    def _rep_windows(self, parts: set[int]) -> Iterator[Any]:
        rows = self.rep_window_rows(parts, skip=lambda value: not value["g"].startswith(REP))
        p = self.prefix
        touch = GaugeMetricFamily(
            f"{p}_window_touchpoints",
            "Touchpoints in the event-time window, by channel and kind.",
            labels=["rep", "team", "channel", "kind", "window", "position"],
        )
        handoffs = GaugeMetricFamily(
            f"{p}_window_handoffs",
            "Handoffs in the event-time window by the lead's band at handoff.",
            labels=["rep", "team", "band", "window", "position"],
        )
        for (rep, team, window, position), counts in sorted(rows.items()):
            per: dict[tuple[str, ...], int] = defaultdict(int)
            for key, n in counts.items():
                fact = Fact.parse(key)
                if fact.metric == "touches":
                    per[("t", self.guard("channel", fact.parts[0]), fact.parts[1])] += n
                elif fact.metric == "handoffs":
                    per[("h", fact.parts[0], "")] += n
            for (what, a, b), n in sorted(per.items()):
                if what == "t":
                    touch.add_metric([rep, team, a, b, window, position], n)
                else:
                    handoffs.add_metric([rep, team, a, window, position], n)
        yield touch
        yield handoffs

    def _segments(self, parts: set[int]) -> Iterator[Any]:
        p = self.prefix
        now = self.clock.now_ms()
        leads = GaugeMetricFamily(
            f"{p}_segment_leads",
            "Leads of the segment: targeted (seen on any source), touched (a response), engaged "
            "(band warm or hot now).",
            labels=["segment", "stage"],
        )
        outcomes = {
            name: CounterMetricFamily(
                f"{p}_segment_{name}",
                f"Opportunities of the segment's leads: {text}.",
                labels=["segment"],
            )
            for name, text in (
                ("handoffs", "handed over"),
                ("accepted", "accepted"),
                ("won", "won"),
            )
        }
        touches = CounterMetricFamily(
            f"{p}_segment_touchpoints",
            "Touchpoints (outreach and response) of the segment's leads, by channel.",
            labels=["segment", "channel"],
        )
        impressions = CounterMetricFamily(
            f"{p}_ad_impressions",
            "Ad impressions (counts per campaign and segment).",
            labels=["segment", "campaign"],
        )
        fit_g = GaugeMetricFamily(
            f"{p}_segment_fit_index",
            "Win share / target share of the segment; absent while undefined.",
            labels=["segment"],
        )
        win_g = GaugeMetricFamily(
            f"{p}_segment_win_rate", "Won / handoffs of the segment.", labels=["segment"]
        )
        share_g = GaugeMetricFamily(
            f"{p}_segment_engaged_share", "Engaged / targeted leads.", labels=["segment"]
        )
        flag = GaugeMetricFamily(
            f"{p}_segment_engages_not_winning",
            "1 while the segment engages at least as well as the org but wins below "
            "win_rate_fraction of the org's win rate (over min_handoffs).",
            labels=["segment"],
        )
        bands = GaugeMetricFamily(
            f"{p}_leads_by_band",
            "Leads of the segment per score band now.",
            labels=["segment", "band"],
        )
        median = GaugeMetricFamily(
            f"{p}_median_score",
            "Median engagement score of the segment's leads now.",
            labels=["segment"],
        )
        totals = self.segment_totals(parts)
        merged: dict[str, dict[str, Any]] = {}
        for fit in self.fits(now, parts):
            seg = self.guard("segment", fit.segment)
            row = merged.setdefault(seg, {"counts": SegmentCounts(), "bands": {}, "c": {}})
            row["counts"] = row["counts"] + fit.counts
            for band, n in self.index.bands(fit.segment, now).items():
                row["bands"][band] = row["bands"].get(band, 0) + n
            for key, n in totals.get(fit.segment, {}).items():
                row["c"][key] = row["c"].get(key, 0) + n
            row["fit"] = fit if seg == fit.segment else None
            row["median"] = self.index.median(fit.segment, now) if seg == fit.segment else None
        for seg, row in sorted(merged.items()):
            c = row["counts"]
            for status, n in (
                ("targeted", c.targeted),
                ("touched", c.touched),
                ("engaged", c.engaged),
            ):
                leads.add_metric([seg, status], n)
            for name, n in (("handoffs", c.handoffs), ("accepted", c.accepted), ("won", c.won)):
                outcomes[name].add_metric([seg], n)
            per: dict[tuple[str, str], int] = defaultdict(int)
            for key, n in row["c"].items():
                fact = Fact.parse(key)
                if fact.metric == "lead_touches":
                    per[("t", self.guard("channel", fact.parts[0]))] += n
                elif fact.metric == "impressions":
                    per[("i", self.guard("campaign", fact.parts[0]))] += n
            for (what, label), n in sorted(per.items()):
                (touches if what == "t" else impressions).add_metric([seg, label], n)
            for band in BANDS:
                bands.add_metric([seg, band], row["bands"].get(band, 0))
            row_fit: SegmentFit | None = row.get("fit")
            if row_fit is None:
                continue  # the folded `other` row: rates of a sum are not any segment's
            for gauge, value in (
                (fit_g, row_fit.fit_index),
                (win_g, row_fit.win_rate),
                (share_g, row_fit.engaged_share),
                (median, row["median"]),
            ):
                if value is not None:
                    gauge.add_metric([seg], value)
            flag.add_metric([seg], 1 if row_fit.engages_not_winning else 0)
        yield leads
        yield from outcomes.values()
        yield from (touches, impressions, fit_g, win_g, share_g, flag, bands, median)
