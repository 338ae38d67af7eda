"""Benchmark (not a test): what state costs per entity, and how long a restart takes with it.

For each pipeline, one worker reads N records that each make a new entity: N calls (one
`initiated` event each), N e-mail messages (one delivery each), N opportunities (one handoff each,
the attribution stage, which holds them for 180 days) or N leads (one touch each, the engagement
stage, 180 days). Once it has counted them all: its resident set (VmRSS) and peak (VmHWM), then a
restart with the default RocksDB store, timed until it answers /readyz again with every entity
loaded. Each size runs on a fresh consumer group against its own local broker.

    python -m bench.state_size --sizes 10000,100000,1000000 --json docs/benchmarks/state.json

A worker's entities are served from memory (RocksDB is the restart copy), so RSS grows with
them; the per-entity figure is (RSS at N - RSS at the smallest size) / (N - smallest N).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.throughput import machine, progress_of
from stream_app.demo.traffic import Produced, produce
from stream_app.kafka.local_broker import LocalKafka
from stream_app.kafka.topics import ensure_topics
from tests.helpers.scenarios import settings_for
from tests.helpers.support import WorkerProc, http_get, isolated_env, metric_sum, wait_for

REPS = 50


def _iso(at: datetime) -> str:
    return at.isoformat()


def calls(n: int, now: datetime) -> list[Produced]:
    out = []
    for i in range(n):
        at = _iso(now - timedelta(seconds=i % 3600))
        rep = f"rep-{i % REPS}"
        body = {
            "event_id": f"c{i}-init",
            "occurred_at": at,
            "call_id": f"call-{i}",
            "rep_id": rep,
            "team_id": f"team-{i % 5}",
            "direction": "outbound",
            "status": "initiated",
            "started_at": at,
        }
        out.append(Produced(rep.encode(), orjson.dumps(body), "event"))
    return out


def emails(n: int, now: datetime) -> list[Produced]:
    out = []
    for i in range(n):
        sent = now - timedelta(days=1, seconds=i % 86_400)
        campaign = f"camp-{i % 20}"
        body = {
            "event_id": f"m{i}-delivered",
            "occurred_at": _iso(sent + timedelta(seconds=30)),
            "type": "delivered",
            "message_id": f"msg-{i}",
            "campaign_id": campaign,
            "variant": "AB"[i % 2],
            "subject_id": f"s{i % 3}",
            "segment": f"seg-{i % 7}",
            "lead_id": f"lead-{i}",
            "owner_rep_id": f"rep-{i % REPS}",
            "sent_at": _iso(sent),
        }
        out.append(Produced(campaign.encode(), orjson.dumps(body), "event"))
    return out


def opportunities(n: int, now: datetime) -> list[Produced]:
    out = []
    for i in range(n):
        opp = f"opp-{i}"
        body = {
            "event_id": f"h{i}",
            "occurred_at": _iso(now - timedelta(days=i % 60, seconds=i % 3600)),
            "type": "handoff",
            "opportunity_id": opp,
            "lead_id": f"lead-{i}",
            "rep_id": f"rep-{i % REPS}",
            "team_id": f"team-{i % 5}",
            "segment": {"industry": "saas", "size_band": "smb"},
            "discovery": {
                "budget": {"status": "answered"},
                "authority": {"status": "asked_declined"},
                "need": {"status": "answered"},
                "timeline": {"status": "not_asked"},
            },
        }
        out.append(Produced(opp.encode(), orjson.dumps(body), "event"))
    return out


def leads(n: int, now: datetime) -> list[Produced]:
    out = []
    for i in range(n):
        lead = f"lead-{i}"
        at = int((now - timedelta(days=i % 60, seconds=i % 3600)).timestamp() * 1000)
        body = {
            "event_id": f"t{i}@src",
            "touch_id": f"web:t{i}",
            "occurred_at": at,
            "lead_id": lead,
            "type": "page_view",
            "channel": "web",
            "segment": f"seg-{i % 7}",
            "rep_id": f"rep-{i % REPS}",
        }
        out.append(Produced(lead.encode(), orjson.dumps(body), "event"))
    return out


# pipeline -> (entity, records, the settings field naming its source topic)
PIPELINES: dict[str, tuple[str, Callable[[int, datetime], list[Produced]], str]] = {
    "calls": ("call", calls, "calls_topic"),
    "email": ("e-mail message", emails, "email_topic"),
    "crm-attribution": ("opportunity", opportunities, "crm_topic"),
    "engagement": ("lead", leads, "touches_topic"),
}


def memory_mb(worker: WorkerProc) -> tuple[float, float]:
    """(VmRSS, VmHWM) of the worker, MB."""
    assert worker.proc is not None
    fields = {}
    for line in Path(f"/proc/{worker.proc.pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def measure(pipeline: str, n: int, tmp: Path) -> dict[str, Any]:
    entity, make, topic_field = PIPELINES[pipeline]
    broker = LocalKafka(tmp / f"kafka-{pipeline}-{n}")
    bootstrap = broker.start()
    try:
        env = isolated_env(
            bootstrap,
            ISALES_IDLE_TIMEOUT_SECONDS="30",
            ISALES_KPI_UPDATE_INTERVAL_SECONDS="1",
            # Every record is inside the dedupe horizons as shipped; history is not live here.
            ISALES_LIVE_LAG_SECONDS="900",
            ISALES_DATA_DIR=str(tmp / f"state-{pipeline}-{n}"),
        )
        s = settings_for(env)
        asyncio.run(ensure_topics(s))
        records = make(n, datetime.now(UTC))
        asyncio.run(produce({"bootstrap_servers": bootstrap}, getattr(s, topic_field), records))
        worker = WorkerProc(env, tmp, f"{pipeline}-{n}", pipeline, worker_id="state-bench")
        worker.start()
        started = time.perf_counter()
        wait_for(worker.ready, 300, "worker ready")

        def counted() -> bool:
            seen = progress_of(worker)
            return seen is not None and seen[0] >= n

        wait_for(counted, 3600, f"{n} {entity}s counted", every=0.5)
        load_s = time.perf_counter() - started
        time.sleep(2.0)  # the last state writes flushed
        rss, peak = memory_mb(worker)
        dead = metric_sum(worker.scrape(), "isales_dead_letter_events_total")
        assert dead == 0, f"{dead} records dead-lettered: the generator is wrong"
        worker.stop()
        again = worker  # the same worker id, port and state folder: a restart
        restart_at = time.perf_counter()
        again.start()

        def back() -> bool:
            assert again.alive(), again.log_tail()
            status, _ = http_get(again.url + "/readyz")
            seen = progress_of(again) if status == 200 else None
            return seen is not None and seen[0] >= n

        wait_for(back, 3600, "restarted with every entity", every=0.2)
        restart_s = time.perf_counter() - restart_at
        rss_after, _ = memory_mb(again)
        again.stop()
        return {
            "pipeline": pipeline,
            "entity": entity,
            "entities": n,
            "load_s": round(load_s, 1),
            "rss_mb": round(rss, 1),
            "peak_rss_mb": round(peak, 1),
            "restart_s": round(restart_s, 1),
            "rss_after_restart_mb": round(rss_after, 1),
        }
    finally:
        broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="entities per run, comma-separated")
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--json", default=None, help="also write the table as JSON here")
    args = parser.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="isales-state-bench-"))
    rows = []
    for pipeline in args.pipelines.split(","):
        for n in sizes:
            try:
                row = measure(pipeline, n, tmp)
            except BaseException:
                print(f"bench: the workers' logs are kept in {tmp}", file=sys.stderr)
                raise
            rows.append(row)
            print(orjson.dumps(row).decode(), flush=True)
            # A million entities leave gigabytes of broker log and state behind.
            for left in tmp.glob(f"*-{pipeline}-{n}"):
                shutil.rmtree(left, ignore_errors=True)
        mine = [r for r in rows if r["pipeline"] == pipeline]
        if len(mine) > 1:
            small, big = mine[0], mine[-1]
            per = (
                (big["rss_mb"] - small["rss_mb"])
                * 1024
                * 1024
                / (big["entities"] - small["entities"])
            )
            for r in mine:
                r["bytes_per_entity"] = round(per)
            print(f"{pipeline}: ~{per:,.0f} bytes of RSS per {PIPELINES[pipeline][0]}", flush=True)
    if args.json:
        doc = {
            "kind": "state_size",
            "date": datetime.now(UTC).isoformat(timespec="minutes"),
            "command": "python -m bench.state_size " + " ".join(sys.argv[1:]),
            "machine": machine(),
            "runs": rows,
        }
        Path(args.json).write_text(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
