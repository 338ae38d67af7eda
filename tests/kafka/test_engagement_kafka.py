"""Relationship, reach and target fit through a real broker and six workers (calls, e-mail,
CRM attribution, web, engagement, reach): a seeded scenario across the four sources, shuffled,
with duplicates and malformed records, and a SIGKILL of every stage mid-stream, checked against
the README-derived truth in `tests/truth/engagement.py` on /metrics, kpi.engagement, kpi.segments
and the dead-letter topic."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from stream_app.demo.traffic import Produced, produce
from stream_app.kafka.topics import ensure_topics
from tests.helpers.checks import progress, settled
from tests.helpers.scenarios import engagement_env, settings_for
from tests.helpers.support import (
    Samples,
    WorkerProc,
    latest_by_key,
    metric_sum,
    promtool_check_metrics,
    read_topic,
    wait_for,
)
from tests.truth.engagement import (
    DAY,
    NOT_WINNING,
    SEGMENTS,
    Truth,
    band,
    fit,
    message_key,
    scenario,
    truth,
)

pytestmark = pytest.mark.kafka

SOURCES = ("calls", "email", "crm", "web")
PIPELINE = {"calls": "calls", "email": "email", "crm": "crm-attribution", "web": "web"}
MALFORMED = 4


@dataclass
class Run:
    truth: Truth
    now_ms: int
    samples: Samples
    text: str
    engagement: dict[bytes, Any]
    segments: dict[bytes, Any]
    dead: int


def _produce(env: dict[str, str], seed: int) -> tuple[Truth, dict[str, int]]:
    s = settings_for(env)
    asyncio.run(ensure_topics(s))
    sc = scenario(seed, 90, int(time.time() * 1000) - 20 * DAY)
    rng = random.Random(seed)
    topics = {
        "calls": s.calls_topic,
        "email": s.email_topic,
        "crm": s.crm_topic,
        "web": s.web_topic,
    }
    counts = {}
    for source in SOURCES:
        events = list(sc.events[source])
        records = [Produced(message_key(source, e), orjson.dumps(e), "event") for e in events]
        records += [
            Produced(r.key, r.value, "duplicate") for r in rng.sample(records, len(records) // 10)
        ]
        if source == "web":
            records += [Produced(b"lead-x", b"{not json", "malformed")] * MALFORMED
        rng.shuffle(records)
        options = {"bootstrap_servers": s.kafka_bootstrap_servers}
        asyncio.run(produce(options, topics[source], records))
        counts[source] = len(records)
    return truth(sc), counts


def _at_least(w: WorkerProc, n: int) -> Callable[[], bool]:
    return lambda: progress(w) >= n


def _exactly(w: WorkerProc, n: int) -> Callable[[], bool]:
    return lambda: progress(w) == n


def _settled(w: WorkerProc) -> Callable[[], bool]:
    return lambda: settled(w)


@pytest.fixture(scope="module")
def run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    logs = tmp_path_factory.mktemp("engagement")
    env = engagement_env(kafka_bootstrap, logs)
    want, counts = _produce(env, seed=3)
    workers = {
        name: WorkerProc(env, logs, f"{name}-0", name).start()
        for name in ("calls", "email", "crm-attribution", "web", "engagement", "reach")
    }
    try:
        for w in workers.values():
            wait_for(w.ready, 120, f"{w.pipeline} ready")
        # SIGKILL every stage once while records flow through it: the tapped sources, the web
        # stage, then the engagement and reach stages.
        for n, name in enumerate(
            ("calls", "email", "crm-attribution", "web", "engagement", "reach")
        ):
            wait_for(_at_least(workers[name], 50), 300, f"{name} under way", 0.05)
            workers[name].kill()
            workers[name] = WorkerProc(env, logs, f"{name}-{n + 1}", name).start()
            wait_for(workers[name].ready, 120, f"{name} ready again")
        for source in SOURCES:
            w = workers[PIPELINE[source]]
            wait_for(_exactly(w, counts[source]), 300, f"{source} consumed")
        for name in ("engagement", "reach"):
            wait_for(_settled(workers[name]), 300, f"{name} settled", every=0.2)
        time.sleep(3)  # a refresh of leads per band and kpi.segments
        now = int(time.time() * 1000)
        reach = workers["reach"]
        s = settings_for(env)
        yield Run(
            want,
            now,
            reach.scrape(),
            reach.get("/metrics")[1],
            latest_by_key(read_topic(kafka_bootstrap, s.kpi_engagement_topic)),
            latest_by_key(read_topic(kafka_bootstrap, s.kpi_segments_topic)),
            int(metric_sum(workers["web"].scrape(), "isales_dead_letter_events_total")),
        )
    finally:
        for w in workers.values():
            w.stop()


def test_touchpoints_per_rep_channel_and_kind(run: Run) -> None:
    want = run.truth.touchpoints
    assert sum(want.values()) > 500
    got = {
        (dict(k)["rep"], dict(k)["channel"], dict(k)["kind"]): v
        for k, v in run.samples["isales_reach_touchpoints_total"].items()
        if v
    }
    assert got == dict(want)


def test_handoffs_by_band_at_handoff_and_their_outcomes(run: Run) -> None:
    want = run.truth.handoff_bands
    assert {b for _, _, b in want} >= {"cold", "warming", "warm"}
    suffix = {"handoffs": "", "accepted": "_accepted", "won": "_won", "lost": "_lost"}
    for status, end in suffix.items():
        series = run.samples[f"isales_reach_handoffs{end}_total"]
        got = {(dict(k)["rep"], dict(k)["band"]): v for k, v in series.items() if v}
        assert got == {(r, b): n for (r, st, b), n in want.items() if st == status}, status


def test_segment_counts_touchpoints_impressions_and_bands(run: Run) -> None:
    t, samples = run.truth, run.samples
    for segment in SEGMENTS:
        for status in ("targeted", "touched"):
            got = metric_sum(samples, "isales_reach_segment_leads", segment=segment, stage=status)
            assert got == t.segments[(segment, status)], (segment, status)
        got = metric_sum(samples, "isales_reach_segment_leads", segment=segment, stage="engaged")
        assert got == t.engaged(segment, run.now_ms)
        for name in ("handoffs", "accepted", "won"):
            got = metric_sum(samples, f"isales_reach_segment_{name}_total", segment=segment)
            assert got == t.segments[(segment, name)], (segment, name)
        bands = t.bands_now(segment, run.now_ms)
        for b in ("cold", "warming", "warm", "hot"):
            got = metric_sum(samples, "isales_reach_leads_by_band", segment=segment, band=b)
            assert got == bands[b], (segment, b)
    got_touches = {
        (dict(k)["segment"], dict(k)["channel"]): v
        for k, v in samples["isales_reach_segment_touchpoints_total"].items()
        # A lead counted in `unknown` until its CRM segment came leaves a 0 there: withdrawn.
        if v
    }
    assert got_touches == dict(t.segment_touches)
    got_imp = {
        (dict(k)["segment"], dict(k)["campaign"]): v
        for k, v in samples["isales_reach_ad_impressions_total"].items()
        if v
    }
    assert got_imp == dict(t.impressions)


def test_target_fit_flags_the_segment_that_engages_but_never_wins(run: Run) -> None:
    want = fit(run.truth, run.now_ms)
    assert want[NOT_WINNING][1] and not any(f for s, (_, f) in want.items() if s != NOT_WINNING)
    for segment, (index, flag) in want.items():
        got = metric_sum(run.samples, "isales_reach_segment_engages_not_winning", segment=segment)
        assert got == (1 if flag else 0), segment
        assert index is not None
        got_index = metric_sum(run.samples, "isales_reach_segment_fit_index", segment=segment)
        assert got_index == pytest.approx(index, rel=1e-12)
        record = run.segments[orjson.dumps({"kpi": "segments", "segment": segment})]
        assert record["engages_not_winning"] is flag
        assert record["fit_index"] == pytest.approx(index, rel=1e-12)
        assert record["targeted"] == run.truth.segments[(segment, "targeted")]


def test_calibration_table_on_kpi_segments(run: Run) -> None:
    record = run.segments[orjson.dumps({"kpi": "score_calibration"})]
    want = run.truth.handoff_bands
    for row in record["bands"]:
        b = row["band"]
        n = sum(v for (_, st, bb), v in want.items() if st == "handoffs" and bb == b)
        won = sum(v for (_, st, bb), v in want.items() if st == "won" and bb == b)
        assert (row["handoffs"], row["won"]) == (n, won), b
        assert row["win_rate"] == (won / n if n else None)


def test_per_lead_scores_on_kpi_engagement(run: Run) -> None:
    t = run.truth
    assert len(run.engagement) == len(t.segment_of)
    for lead, value in t.scores.items():
        record = run.engagement[lead.encode()]
        assert record["score"] == pytest.approx(value, rel=1e-12, abs=1e-12), lead
        assert record["band"] == band(value)
        assert record["segment"] == t.segment_of[lead]
        assert record["owner_rep_id"] == t.owner_of.get(lead)


def test_malformed_web_records_are_dead_lettered(run: Run) -> None:
    assert run.dead == MALFORMED


def test_no_lead_or_opportunity_id_in_any_label(run: Run) -> None:
    for name, series in run.samples.items():
        for labels in series:
            for _, value in labels:
                assert not value.startswith(("lead-", "opp-", "msg-", "call-")), (name, value)
    promtool_check_metrics(run.text)


def test_records_match_their_json_schema_models(run: Run) -> None:
    from schemas.kpi import EngagementKpi, ScoreCalibrationKpi, SegmentKpi

    for value in run.engagement.values():
        EngagementKpi.model_validate(value)
    kinds = {v["kpi"] for v in run.segments.values()}
    assert kinds == {"segments", "score_calibration"}
    for value in run.segments.values():
        model = SegmentKpi if value["kpi"] == "segments" else ScoreCalibrationKpi
        model.model_validate(value)
