"""Benchmark (not a test): worker events/s and produce-to-metric latency, beside a raw aiokafka
consume-and-decode baseline, a bare Faust agent and (with --peers) Quix Streams and Bytewax, all run
in the same invocation on the same records.

    .venv/bin/python -m bench.throughput --calls 20000 --repeat 3 --peers

    .venv/bin/python -m bench.throughput --calls 20000 --repeat 3
    .venv/bin/python -m bench.throughput --pipeline email --repeat 3 --peers  # 20,000 messages
    .venv/bin/python -m bench.throughput --pipeline crm --repeat 3 --peers    # 2,200 handoffs
    .venv/bin/python -m bench.throughput --pipeline crm --handoffs 10000 --repeat 3 --peers
    .venv/bin/python -m bench.throughput --pipeline engagement --calls 20000 --repeat 3
    (touches through the engagement and reach stages)

Uses KAFKA_BOOTSTRAP_SERVERS if set, else starts the project's local broker in a temp folder.
Machines here have 2 noisy cores: read the medians and the ratio, not single runs.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.peers.venv import peers_python
from schemas.common import from_ms
from stream_app.demo.traffic import Produced, produce
from stream_app.families.calls.demo import ScenarioConfig, scenario
from stream_app.families.calls.family import CallsFamily
from stream_app.families.crm.attribution import AttributionFamily
from stream_app.families.crm.demo import CrmScenarioConfig, crm_scenario
from stream_app.families.email.demo import EmailScenarioConfig, email_scenario
from stream_app.families.email.family import EmailFamily
from stream_app.families.engagement.config import EngagementConfig
from stream_app.families.engagement.lead import LeadFamily
from stream_app.kafka.local_broker import LocalKafka
from stream_app.kafka.topics import ensure_topics
from stream_app.spine.clock import SystemClock
from stream_app.spine.decode import Accepted, decode
from tests.helpers.checks import processed
from tests.helpers.scenarios import settings_for
from tests.helpers.support import (
    ROOT,
    WorkerProc,
    http_get,
    isolated_env,
    metric_sum,
    parse_metrics,
    wait_for,
)


async def baseline(bootstrap: str, topic: str, total: int, family: Any) -> float:
    """Raw aiokafka: consume every record and validate it with the same decode()."""
    clock = SystemClock()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    await consumer.start()
    seen = ok = 0
    started = None
    try:
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            if started is None and batch:
                started = time.perf_counter()
            for messages in batch.values():
                for m in messages:
                    seen += 1
                    result = decode(
                        m.value,
                        m.key,
                        family,
                        max_bytes=65_536,
                        now_ms=clock.now_ms(),
                        max_future_ms=300_000,
                    )
                    ok += isinstance(result, Accepted)
    finally:
        await consumer.stop()
    assert started is not None
    return total / (time.perf_counter() - started)


def bare_faust_rate(bootstrap: str, topic: str, total: int, tmp: Path) -> float:
    """Records/s of a Faust agent that does nothing but count them."""
    progress = tmp / f"bare-{uuid.uuid4().hex[:6]}"
    cmd = [sys.executable, "-m", "bench.bare_faust", bootstrap, topic, str(progress)]
    return progress_rate(cmd, progress, total)


def quix_rate(bootstrap: str, topic: str, total: int, tmp: Path) -> float:
    progress = tmp / f"quix-{uuid.uuid4().hex[:6]}"
    state = tmp / f"quix-state-{uuid.uuid4().hex[:6]}"
    cmd = [str(peers_python()), "-m", "bench.peers.quix_calls", bootstrap, topic, str(progress)]
    return progress_rate([*cmd, str(state)], progress, total)


def bytewax_rate(bootstrap: str, topic: str, total: int, tmp: Path) -> float:
    progress = tmp / f"bytewax-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "BENCH_BOOTSTRAP": bootstrap,
        "BENCH_TOPIC": topic,
        "BENCH_PROGRESS": str(progress),
    }
    cmd = [str(peers_python()), "-m", "bytewax.run", "bench.peers.bytewax_calls:flow"]
    return progress_rate(cmd, progress, total, env)


def rate_between(records: int, seconds: float) -> float:
    """Records/s between two progress samples; NaN (printed as such) when every record came
    before the first sample: a run too small to measure, not a crash of the benchmark."""
    return records / seconds if seconds > 0 else math.nan


def progress_rate(
    cmd: list[str], progress: Path, total: int, env: dict[str, str] | None = None
) -> float:
    """Records/s of a process that writes its count to `progress`, from its first counted
    record to the last (start-up and group join excluded, as for the worker)."""
    progress.write_text("0")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        first = None
        n, now = 0, time.perf_counter()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and n < total:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[2:4]} exited with {proc.returncode}")
            n = int(progress.read_text() or 0)
            now = time.perf_counter()
            if first is None and n > 0:
                first = (now, n)
            time.sleep(0.1)
        assert first is not None
        return rate_between(n - first[1], now - first[0])
    finally:
        proc.terminate()
        proc.wait(30)


PROGRESS_SERIES = (
    "isales_events_applied_total",
    "isales_duplicate_events_total",
    "isales_dead_letter_events_total",
    "isales_expired_events_total",
    "isales_consumer_lag_messages",
)
PROGRESS_POLL_S = 0.1
"""As often as the peers' progress files are read: a worker's last record was seen up to 1 s
late when it was scraped whole once a second (~7% of a calls run, a third of a CRM run)."""


def progress_of(worker: WorkerProc) -> tuple[int, float] | None:
    """(records handled, consumer lag) over the worker's members, from a scrape of those
    series only (`?name[]=`: the worker builds no KPI series for it), or None while one does
    not answer."""
    query = "/metrics?" + "&".join(f"name[]={n}" for n in PROGRESS_SERIES)
    handled, lag = 0, 0.0
    for url in worker.member_urls:
        status, body = http_get(url + query)
        if status != 200:
            return None
        samples = parse_metrics(body)
        handled += processed(samples)
        lag += metric_sum(samples, "isales_consumer_lag_messages")
    return handled, lag


def worker_rate(
    env: dict[str, str], total: int, logs: Path, pipeline: str = "calls", processes: int = 1
) -> tuple[float, WorkerProc, float]:
    """Records/s from the first counted record to the last, the worker, and when (perf_counter)
    it had counted its first record. `processes`: `worker --processes N`, every member ready
    and holding partitions before the records count."""
    name = f"bench-{uuid.uuid4().hex[:6]}"
    worker = WorkerProc(env, logs, name, pipeline, processes=processes).start()

    def members_ready() -> bool:
        assert worker.alive(), worker.log_tail()
        answers = [http_get(url + "/readyz") for url in worker.member_urls]
        return all(
            status == 200 and bool(orjson.loads(body).get("partitions")) for status, body in answers
        )

    wait_for(members_ready, 180, "worker ready")
    first = None
    while True:
        seen = progress_of(worker)
        n = 0 if seen is None else seen[0]
        now = time.perf_counter()
        if first is None and n > 0:
            first = (now, n)
        if n >= total:
            break
        time.sleep(PROGRESS_POLL_S)
    assert first is not None
    return rate_between(total - first[1], now - first[0]), worker, first[0]


def settled_at(worker: WorkerProc, quiet_s: float = 0.5, timeout_s: float = 600) -> float:
    """When (perf_counter) a stage whose input count is not known up front (the CRM KPI stage
    reads what attribution sends) last counted a record, once it has no lag and has counted
    nothing more for `quiet_s`."""
    deadline = time.monotonic() + timeout_s
    last_n, last_at = -1, time.perf_counter()
    while time.monotonic() < deadline:
        seen = progress_of(worker)
        now = time.perf_counter()
        if seen is not None:
            n, lag = seen
            if n != last_n:
                last_n, last_at = n, now
            elif n > 0 and lag == 0 and now - last_at >= quiet_s:
                return last_at
        time.sleep(PROGRESS_POLL_S)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {worker.url} to settle")


TOUCH_KINDS = (
    ("call_dial", "call"),
    ("call_connect", "call"),
    ("email_delivered", "email"),
    ("email_open_human", "email"),
    ("page_view", "web"),
    ("pricing_page_view", "web"),
)


def touch_records(n: int, seed: int) -> list[Produced]:
    """`n` touch records (the engagement stage's source) over n / 10 leads of 50 reps in the
    last two weeks, 5% of them sent twice."""
    rng = random.Random(seed)
    now = SystemClock().now_ms()
    out = []
    for i in range(n):
        lead = f"lead-{rng.randrange(max(n // 10, 1))}"
        kind, channel = rng.choice(TOUCH_KINDS)
        body = {
            "event_id": f"t{seed}-{i}",
            "touch_id": f"t{seed}-{i}",
            "occurred_at": now - rng.randrange(14 * 86_400_000),
            "lead_id": lead,
            "type": kind,
            "channel": channel,
            "segment": rng.choice(("saas:smb", "retail:smb", "saas:ent")),
            "rep_id": f"rep-{rng.randrange(50)}",
            "team_id": f"team-{rng.randrange(5)}",
        }
        record = Produced(lead.encode(), orjson.dumps(body), "event")
        out.append(record)
        if rng.random() < 0.05:
            out.append(Produced(record.key, record.value, "duplicate"))
    return out


def probe(
    pipeline: str, n: int, now_ms: int
) -> tuple[str, bytes, dict[str, Any], str, dict[str, str]]:
    """(topic setting, key, event, metric, labels): one live event and where it shows up."""
    if pipeline == "email":
        event = {
            "event_id": f"lat-{uuid.uuid4().hex}",
            "occurred_at": now_ms,
            "type": "delivered",
            "message_id": f"lat-{n}-{now_ms}",
            "campaign_id": "bench-latency",
            "variant": "A",
            "subject_id": "s",
            "segment": "smb",
            "lead_id": "lead-lat",
            "sent_at": now_ms,
        }
        labels = {"campaign": "bench-latency", "dimension": "variant"}
        return (
            "ISALES_EMAIL_TOPIC",
            b"bench-latency",
            event,
            "isales_email_cohort_delivered",
            labels,
        )
    if pipeline == "engagement":
        lead = f"lead-lat-{n}"
        event = {
            "event_id": f"lat-{uuid.uuid4().hex}",
            "touch_id": f"lat-{n}-{now_ms}",
            "occurred_at": now_ms,
            "lead_id": lead,
            "type": "page_view",
            "channel": "web",
            "rep_id": "rep-latency",
        }
        labels = {"rep": "rep-latency"}
        return (
            "ISALES_TOUCHES_TOPIC",
            lead.encode(),
            event,
            "isales_reach_touchpoints_total",
            labels,
        )
    if pipeline == "crm":
        opp = f"opp-lat-{n}-{now_ms}"
        event = {
            "event_id": f"lat-{uuid.uuid4().hex}",
            "occurred_at": now_ms,
            "type": "handoff",
            "opportunity_id": opp,
            "lead_id": f"lead-{opp}",
            "rep_id": "rep-latency",
            "team_id": "team-x",
            "segment": {"industry": "saas", "size_band": "smb"},
            "discovery": {"budget": {"status": "answered"}},
        }
        labels = {"rep": "rep-latency"}
        return "ISALES_CRM_TOPIC", opp.encode(), event, "isales_crm_handoffs_total", labels
    rep = "rep-latency"
    event = {
        "event_id": f"lat-{uuid.uuid4().hex}",
        "occurred_at": now_ms,
        "call_id": f"lat-{n}-{now_ms}",
        "rep_id": rep,
        "team_id": "team-x",
        "direction": "outbound",
        "status": "initiated",
        "started_at": from_ms(now_ms).isoformat(),
    }
    return "ISALES_CALLS_TOPIC", rep.encode(), event, "isales_calls_dials_total", {"rep": rep}


SCRAPE_S: list[float] = []
"""How long each probe scrape took (the worker renders it on its event loop)."""


def series_sum(worker: WorkerProc, metric: str, labels: dict[str, str], only: bool = True) -> float:
    """One metric's value summed over the series with these labels, read straight from the
    exposition text: parsing a whole scrape (~6,000 lines once the load's reps are there) took
    the probe ~130 ms a poll, which was most of the latency it reported. `only` asks the worker
    for that metric alone (`?name[]=`): rendering every series cost the worker ~20-30 ms a
    poll, a third of its time at a 50 ms poll, which Prometheus's 15 s scrapes never cost."""
    t0 = time.perf_counter()
    status, body = worker.get(f"/metrics?name[]={metric}" if only else "/metrics")
    SCRAPE_S.append(time.perf_counter() - t0)
    if status != 200:
        raise OSError(f"scrape of {worker.url} answered {status}")
    pairs = [f'{k}="{v}"' for k, v in labels.items()]
    total = 0.0
    for line in body.splitlines():
        if line.startswith(metric + "{") and all(pair in line for pair in pairs):
            total += float(line.rsplit(" ", 1)[1])
    return total


def call_event(rep: str, call: str, now_ms: int) -> dict[str, Any]:
    return {
        "event_id": f"{call}-1",
        "occurred_at": now_ms,
        "call_id": call,
        "rep_id": rep,
        "team_id": "team-x",
        "direction": "outbound",
        "status": "initiated",
        "started_at": from_ms(now_ms).isoformat(),
    }


async def latency_under_load(
    env: dict[str, str],
    worker: WorkerProc,
    rate: int,
    seconds: float,
    poll_s: float,
    only: bool = True,
) -> list[float]:
    """Produce-to-metric of probe events while live call events are offered at `rate`/s
    (stamped now, 100 reps): what a floor's burst after an outage feels like. The probe scrapes
    every `poll_s` from a thread, so the load keeps its pace meanwhile; a scrape renders every
    series on the worker's event loop (~20 ms after the backlog), so polling every 5 ms kept the
    worker busy rendering most of the time and measured that."""
    producer = AIOKafkaProducer(
        bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], acks="all", linger_ms=5
    )
    await producer.start()
    topic = env["ISALES_CALLS_TOPIC"]
    stop = asyncio.Event()

    async def load() -> None:
        n, started = 0, time.perf_counter()
        while not stop.is_set():
            due = int((time.perf_counter() - started) * rate)
            now = SystemClock().now_ms()
            for _ in range(due - n):
                rep = f"rep-load-{n % 100}"
                event = call_event(rep, f"load-{uuid.uuid4().hex[:12]}", now)
                await producer.send(topic, orjson.dumps(event), key=rep.encode())
                n += 1
            await asyncio.sleep(0.005)

    loader = asyncio.create_task(load())
    out = []
    try:
        await asyncio.sleep(1.0)  # the load reaches its rate before the first probe
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            topic_var, key, event, metric, labels = probe("calls", n, SystemClock().now_ms())
            before = await asyncio.to_thread(series_sum, worker, metric, labels, only)
            t0 = time.perf_counter()
            await producer.send_and_wait(env[topic_var], orjson.dumps(event), key=key)
            while await asyncio.to_thread(series_sum, worker, metric, labels, only) <= before:  # noqa: ASYNC110 - polling a scrape
                await asyncio.sleep(poll_s)
            out.append(time.perf_counter() - t0)
            n += 1
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await loader
        await producer.stop()
    return out


def peak_rss_mb(worker: WorkerProc) -> float:
    """The worker's peak resident set (VmHWM), MB."""
    assert worker.proc is not None
    for line in Path(f"/proc/{worker.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def latency(
    env: dict[str, str], worker: WorkerProc, samples: int, pipeline: str = "calls"
) -> list[float]:
    """Produce one live event, stamped now, and time until the (last) worker's /metrics shows
    it. For CRM that is two hops: attribution, then the KPI worker."""
    producer = AIOKafkaProducer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    await producer.start()
    out = []
    try:
        for n in range(samples):
            topic_var, key, event, metric, labels = probe(pipeline, n, SystemClock().now_ms())
            before = series_sum(worker, metric, labels)
            t0 = time.perf_counter()
            await producer.send_and_wait(env[topic_var], orjson.dumps(event), key=key)
            while series_sum(worker, metric, labels) <= before:  # noqa: ASYNC110 - polling a scrape
                await asyncio.sleep(0.005)
            out.append(time.perf_counter() - t0)
            await asyncio.sleep(0.2)
    finally:
        await producer.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument(
        "--handoffs",
        type=int,
        default=2_200,
        help="CRM: opportunities of the scenario (2,200: ~10,700 records, ~2 s of work)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-samples", type=int, default=20)
    parser.add_argument(
        "--pipeline", choices=["calls", "email", "crm", "engagement"], default="calls"
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also run Quix Streams and Bytewax (a window count) on the same topic (own venv)",
    )
    parser.add_argument("--load-rate", type=int, default=5_000, help="offered events/s")
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument(
        "--poll-ms",
        type=float,
        default=50.0,
        help="scrape interval of the under-load probe",
    )
    parser.add_argument(
        "--json",
        default=None,
        help="also write the runs and medians as JSON here (docs/benchmarks/<pipeline>.json "
        "is what the docs' benchmarks page is made from)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="calls: also measure `worker --processes N` on the same records (a consumer "
        "group of its own), reported as processes_eps and its scaling over one process",
    )
    parser.add_argument(
        "--probe-full-scrape",
        action="store_true",
        help="the under-load probe reads every series, not only the one it waits for",
    )
    args = parser.parse_args()

    broker = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    tmp = Path(tempfile.mkdtemp(prefix="isales-bench-"))
    if not bootstrap:
        broker = LocalKafka(tmp / "kafka")
        bootstrap = broker.start()
    rows: list[dict[str, Any]] = []
    try:
        for run in range(args.repeat):
            # The shipped KPI update interval (the test env's 0.5 s doubles the KPI sends).
            env = isolated_env(
                bootstrap,
                ISALES_IDLE_TIMEOUT_SECONDS="30",
                ISALES_KPI_UPDATE_INTERVAL_SECONDS="1",
            )
            s = settings_for(env)
            asyncio.run(ensure_topics(s))
            family: Any
            if args.pipeline == "email":
                records = email_scenario(EmailScenarioConfig(seed=100 + run))
                topic, family = s.email_topic, EmailFamily(s.business_timezone)
            elif args.pipeline == "crm":
                records = crm_scenario(CrmScenarioConfig(seed=100 + run, handoffs=args.handoffs))
                topic, family = s.crm_topic, AttributionFamily(s.crm_segment_by)
            elif args.pipeline == "engagement":
                records = touch_records(args.calls, seed=100 + run)
                topic, family = s.touches_topic, LeadFamily(EngagementConfig())
            else:
                records = scenario(ScenarioConfig(seed=100 + run, calls=args.calls, malformed=20))
                topic, family = s.calls_topic, CallsFamily(30)
            asyncio.run(produce({"bootstrap_servers": bootstrap}, topic, records))
            total = len(records)
            base = asyncio.run(baseline(bootstrap, topic, total, family))
            bare = bare_faust_rate(bootstrap, topic, total, tmp)
            peers: dict[str, float] = {}
            if args.peers:
                # The same records: the peers do the calls job's shape on the calls topic
                # (the e-mail and CRM workloads are calls-shaped enough for a window count).
                peers["quix_eps"] = quix_rate(bootstrap, topic, total, tmp)
                peers["bytewax_eps"] = bytewax_rate(bootstrap, topic, total, tmp)
            stages = []
            if args.pipeline == "engagement":
                # Both stages, as for CRM: touches in, until the reach stage has counted
                # every credit the engagement stage sent.
                reach = WorkerProc(env, tmp, f"bench-reach-{run}", "reach").start()
                wait_for(reach.ready, 120, "reach stage ready")
                _, worker, first_at = worker_rate(env, total, tmp, "engagement")
                rate = total / (settled_at(reach) - first_at)
                stages = [worker]
                worker = reach
            elif args.pipeline == "crm":
                # Both stages run; the rate is source records over the time from the
                # attribution stage's first counted record until the KPI stage has counted
                # everything it was sent (start-up excluded, as for the other workers; it was
                # most of the time at this size).
                crm = WorkerProc(env, tmp, f"bench-crm-{run}", "crm").start()
                wait_for(crm.ready, 120, "crm stage ready")
                _, worker, first_at = worker_rate(env, total, tmp, "crm-attribution")
                rate = total / (settled_at(crm) - first_at)
                stages = [worker]
                worker = crm
            else:
                rate, worker, _ = worker_rate(env, total, tmp, args.pipeline)
            loaded: list[float] = []
            try:
                lat = asyncio.run(latency(env, worker, args.latency_samples, args.pipeline))
                if args.pipeline == "calls":
                    SCRAPE_S.clear()
                    loaded = asyncio.run(
                        latency_under_load(
                            env,
                            worker,
                            args.load_rate,
                            args.load_seconds,
                            args.poll_ms / 1000,
                            only=not args.probe_full_scrape,
                        )
                    )
                rss = peak_rss_mb(worker)
            finally:
                worker.stop()
                for stage in stages:
                    stage.stop()
            scaled: dict[str, float] = {}
            if args.processes > 1 and args.pipeline == "calls":
                # The same records again, read by N members of a fresh group once the one
                # process has stopped (they would share the cores otherwise).
                many_env = {**env, "ISALES_APP_ID": env["ISALES_APP_ID"] + "-many"}
                many, group, _ = worker_rate(many_env, total, tmp, "calls", args.processes)
                group.stop()
                scaled = {"processes": args.processes, "processes_eps": many}
                scaled["scaling"] = many / rate
            row = {
                "run": run,
                "records": total,
                "baseline_eps": base,
                "bare_faust_eps": bare,
                "worker_eps": rate,
                "ratio": rate / base,
                "latency_p50_ms": statistics.median(lat) * 1000,
                "latency_max_ms": max(lat) * 1000,
                **peers,
                **scaled,
                "rss_mb": rss,
            }
            if args.peers:
                row["ratio_quix"] = rate / peers["quix_eps"]
            if loaded:
                ranked = sorted(loaded)
                row["load_p50_ms"] = statistics.median(ranked) * 1000
                row["load_p99_ms"] = ranked[min(len(ranked) - 1, int(len(ranked) * 0.99))] * 1000
                row["probe_scrape_ms"] = statistics.median(SCRAPE_S) * 1000
            rows.append(row)
            print(orjson.dumps(row).decode(), flush=True)
    except BaseException:
        print(f"bench: the workers' logs are kept in {tmp}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if broker is not None:
            broker.stop()
    keys = ("baseline_eps", "bare_faust_eps", "worker_eps", "ratio", "latency_p50_ms")
    med = {k: statistics.median(r[k] for r in rows) for k in keys}
    extra = [
        k
        for k in (
            "quix_eps",
            "bytewax_eps",
            "ratio_quix",
            "load_p50_ms",
            "load_p99_ms",
            "probe_scrape_ms",
            "rss_mb",
            "processes_eps",
            "scaling",
        )
        if k in rows[0]
    ]
    for k in extra:
        med[k] = statistics.median(r[k] for r in rows)
    print(
        f"{args.pipeline}: median of {len(rows)} runs: aiokafka consume+decode "
        f"{med['baseline_eps']:,.0f} events/s, bare Faust agent "
        f"{med['bare_faust_eps']:,.0f}, worker "
        f"{med['worker_eps']:,.0f} (worker/baseline {med['ratio']:.3f}), "
        f"produce-to-metric p50 {med['latency_p50_ms']:.0f} ms"
    )
    if extra:
        print("medians: " + ", ".join(f"{k} {med[k]:,.2f}" for k in extra))
    if args.json:
        Path(args.json).write_text(
            orjson.dumps(
                result_document(args.pipeline, rows, med), option=orjson.OPT_INDENT_2
            ).decode()
            + "\n"
        )
    return 0


def machine() -> dict[str, Any]:
    """What the figures were measured on: they mean little without it."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def result_document(
    pipeline: str, rows: list[dict[str, Any]], medians: dict[str, float]
) -> dict[str, Any]:
    return {
        "pipeline": pipeline,
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "command": "python -m bench.throughput " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "runs": rows,
        "medians": medians,
    }


if __name__ == "__main__":
    sys.exit(main())
