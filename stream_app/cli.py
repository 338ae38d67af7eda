"""`stream-app`: the worker, the local broker, demo traffic and the one-command demo."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.common import from_ms
from stream_app import kafka_local, registry

if TYPE_CHECKING:
    from stream_app.settings import Settings


def _settings() -> Settings:
    from pydantic import ValidationError

    from stream_app.config_errors import describe
    from stream_app.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        print(f"stream-app: {describe(exc)}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_worker(args: argparse.Namespace) -> int:
    from stream_app.service import Service, Worker

    settings = _settings()
    service = Service(settings, pipeline=args.pipeline)
    worker = Worker(service, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
    return 0


def cmd_kafka(args: argparse.Namespace) -> int:
    broker = kafka_local.LocalKafka(Path(args.dir) if args.dir else kafka_local.default_home())
    if args.action == "fetch":
        print(kafka_local.fetch(quiet=False))
    elif args.action == "start":
        print(broker.start(port=args.port, fresh=args.fresh))
    elif args.action == "stop":
        print("stopped" if broker.stop() else "not running")
    elif args.action == "status":
        bootstrap = broker.bootstrap()
        if broker.running():
            print(f"running {bootstrap} pid {broker.pid()}")
        else:
            print("not running")
            return 1
    return 0


def cmd_topics(_: argparse.Namespace) -> int:
    from stream_app.topics import ensure_topics

    asyncio.run(ensure_topics(_settings()))
    return 0


def cmd_gateway(_: argparse.Namespace) -> int:
    """The vendors' webhooks to their vendor topics (README, "Vendor events in")."""
    from stream_app.gateway.app import run
    from stream_app.topics import ensure_topics

    settings = _settings()
    asyncio.run(ensure_topics(settings))
    run(settings)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from stream_app import demo
    from stream_app.clock import SystemClock
    from stream_app.kafka_config import aiokafka_options
    from stream_app.topics import ensure_topics

    settings = _settings()
    asyncio.run(ensure_topics(settings))
    options = aiokafka_options(settings)
    clock = SystemClock()
    now = from_ms(clock.now_ms())
    if args.email:
        from datetime import timedelta
        from zoneinfo import ZoneInfo

        from stream_app.families.email.demo import EmailScenarioConfig, email_scenario

        # Sends over the last few days, so every event is in the past and the A/B is settled.
        today = now.astimezone(ZoneInfo(settings.business_timezone)).date()
        cfg = EmailScenarioConfig(
            seed=args.seed,
            start_date=(today - timedelta(days=3)).isoformat(),
            tz=settings.business_timezone,
        )
        records = email_scenario(cfg)
        asyncio.run(demo.produce(options, settings.email_topic, records))
        print(f"produced {len(records)} email records to {settings.email_topic}")
        return 0
    if args.crm:
        from datetime import timedelta
        from zoneinfo import ZoneInfo

        from stream_app.families.crm.demo import CrmScenarioConfig, crm_scenario, past_only

        # Handoffs over the last four weeks; outcomes follow (some still to come).
        today = now.astimezone(ZoneInfo(settings.business_timezone)).date()
        start = today - timedelta(days=today.weekday() + 28)
        crm_cfg = CrmScenarioConfig(
            seed=args.seed, start_date=start.isoformat(), tz=settings.business_timezone
        )
        # Deals that close in the future have not closed yet (and would be dead-lettered).
        records = past_only(crm_scenario(crm_cfg), clock.now_ms())
        asyncio.run(demo.produce(options, settings.crm_topic, records))
        print(f"produced {len(records)} CRM records to {settings.crm_topic}")
        return 0
    from stream_app.families.calls.demo import ScenarioConfig, live_records, scenario

    if args.scenario:
        calls = scenario(
            ScenarioConfig(seed=args.seed, calls=args.calls), settings.max_payload_bytes
        )
        asyncio.run(demo.produce(options, settings.calls_topic, calls))
        print(f"produced {len(calls)} records to {settings.calls_topic}")
        return 0
    from stream_app.families.crm.demo import crm_follow_up
    from stream_app.families.engagement.demo import web_follow_up

    def follow_up(rng: Any, call: Any, team: str, ended_ms: int) -> list[Any]:
        return [
            *crm_follow_up(rng, call, team, ended_ms),
            *web_follow_up(rng, call, team, ended_ms),
        ]

    # Live calls, the handoffs some conversations become minutes later, and the leads' visits
    # to the website after a good conversation.
    stream = live_records(
        args.rate,
        args.seed,
        clock.now_ms(),
        settings.business_timezone,
        settings.max_payload_bytes,
        follow_up=follow_up,
    )
    topics = {None: settings.calls_topic, "crm": settings.crm_topic, "web": settings.web_topic}
    sent = asyncio.run(demo.produce_live(options, topics, stream, args.duration, clock))
    print(f"produced {sent} records")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from stream_app.replay import main_replay

    return main_replay(_settings(), args.pipeline, args.app_id, args.topic_suffix, args.timeout)


def cmd_diff_kpis(args: argparse.Namespace) -> int:
    from stream_app.kafka_config import aiokafka_options
    from stream_app.kpi_diff import VOLATILE, diff, latest, report

    options = aiokafka_options(_settings())
    ignore = VOLATILE + tuple(f for f in (args.ignore or "").split(",") if f)
    result = diff(latest(options, args.left), latest(options, args.right), ignore)
    print(report(result, args.left, args.right))
    return 0 if result.same else 1


def cmd_schemas(args: argparse.Namespace) -> int:
    from schemas.generate import write_all

    changed = write_all(check=args.check)
    if args.check and changed:
        print("stale JSON Schema files: " + ", ".join(changed), file=sys.stderr)
        return 1
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Local broker + worker + live demo traffic, until Ctrl-C."""
    broker = kafka_local.LocalKafka(kafka_local.default_home())
    print("starting Kafka (the first run fetches the broker jars with Maven) ...", flush=True)
    bootstrap = broker.start(port=args.kafka_port, fresh=args.fresh)
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    example_targets = Path(__file__).resolve().parent.parent / "deploy" / "targets.yml"
    if "ISALES_TARGETS_FILE" not in os.environ and example_targets.exists():
        # The demo floor's pacing against the example targets (edit it while running).
        os.environ["ISALES_TARGETS_FILE"] = str(example_targets)
    example_engagement = example_targets.parent / "engagement.yml"
    if "ISALES_ENGAGEMENT_FILE" not in os.environ and example_engagement.exists():
        os.environ["ISALES_ENGAGEMENT_FILE"] = str(example_engagement)
    settings = _settings()
    worker = subprocess.Popen([sys.executable, "-m", "stream_app", "worker"], env=os.environ.copy())
    pipelines = [
        subprocess.Popen(
            [sys.executable, "-m", "stream_app", "worker", "--pipeline", name],
            env=os.environ.copy(),
        )
        for name in ("email", "crm-attribution", "crm", "web", "engagement", "reach")
    ]
    url = f"http://{settings.metrics_host}:{settings.metrics_port}"
    email_url = f"http://{settings.metrics_host}:{settings.email_metrics_port}"
    print(
        f"Kafka:   {bootstrap}\nMetrics: {url}/metrics\nReady:   {url}/readyz\n"
        f"Email metrics: {email_url}/metrics (a seeded A/B scenario of the last days)\n"
        f"CRM metrics: http://{settings.metrics_host}:{settings.crm_metrics_port}/metrics "
        "(handoffs and outcomes of the last weeks)\n"
        f"Reach metrics: http://{settings.metrics_host}:{settings.reach_metrics_port}/metrics "
        "(touchpoints, score at handoff, target fit; scores per lead on "
        f"{settings.kpi_engagement_topic})\n"
        f"KPI topics: {settings.kpi_calls_topic}, {settings.kpi_pacing_topic}\n"
        f"Targets: {settings.targets_file or 'none'}   (Ctrl-C stops everything)",
        flush=True,
    )
    demo = subprocess.Popen(
        [sys.executable, "-m", "stream_app", "demo", "--rate", str(args.rate)],
        env=os.environ.copy(),
    )
    seeded = [
        subprocess.Popen([sys.executable, "-m", "stream_app", "demo", flag], env=os.environ.copy())
        for flag in ("--email", "--crm")
    ]

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM (a service manager, `timeout`) stops everything too, not just this process.
    signal.signal(signal.SIGTERM, interrupt)
    try:
        while all(p.poll() is None for p in (worker, *pipelines, demo)):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        procs = (*seeded, demo, *pipelines, worker)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not args.keep_kafka:
            broker.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stream-app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    worker = sub.add_parser("worker", help="run a KPI worker (settings from ISALES_* env vars)")
    worker.add_argument(
        "--pipeline",
        choices=registry.names(),
        default="calls",
        help="what to count, one process each: calls (ISALES_METRICS_PORT), email "
        "(ISALES_EMAIL_METRICS_PORT), crm-attribution (joins CRM events to the handing-over rep; "
        "ISALES_CRM_ATTRIBUTION_METRICS_PORT), crm (handoff and outcome KPIs; "
        "ISALES_CRM_METRICS_PORT)",
    )

    kafka = sub.add_parser("kafka", help="a local single-node Kafka without Docker")
    kafka.add_argument("action", choices=["fetch", "start", "stop", "status"])
    kafka.add_argument("--port", type=int, default=None, help="broker port (default: a free one)")
    kafka.add_argument("--dir", default=None, help="state folder (default: the user cache)")
    kafka.add_argument(
        "--fresh",
        action="store_true",
        help="start: wipe the folder's cluster first (default: restart it with its data)",
    )

    sub.add_parser("topics", help="create the service's topics if missing")
    sub.add_parser(
        "gateway",
        help="receive Twilio, Aircall, SendGrid and HubSpot webhooks into their vendor topics",
    )

    demo = sub.add_parser("demo", help="produce demo call (or email) traffic")
    demo.add_argument("--rate", type=float, default=20.0, help="events per second (live mode)")
    demo.add_argument("--duration", type=float, default=None, help="seconds (live mode)")
    demo.add_argument("--scenario", action="store_true", help="produce a fixed seeded scenario")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--calls", type=int, default=5000)
    demo.add_argument(
        "--email", action="store_true", help="produce a seeded email A/B scenario and exit"
    )
    demo.add_argument(
        "--crm", action="store_true", help="produce a seeded CRM scenario (handoffs, wins) and exit"
    )

    replay = sub.add_parser(
        "replay",
        help="rebuild pipelines' state and KPI records from the start of their sources, under a "
        "new app id (new consumer group and changelogs); exit 0 once caught up",
    )
    replay.add_argument(
        "--pipeline",
        action="append",
        choices=registry.names(),
        required=True,
        help="repeat for chained stages (crm-attribution and crm)",
    )
    replay.add_argument("--app-id", default=None, help="default: <ISALES_APP_ID>-replay-<time>")
    replay.add_argument(
        "--topic-suffix",
        default=None,
        help="write every output topic under <name><suffix> instead (to diff-kpis them)",
    )
    replay.add_argument("--timeout", type=float, default=24 * 3600.0, help="seconds")

    diff_kpis = sub.add_parser(
        "diff-kpis",
        help="compare the latest record per key of two KPI topics; exit 1 if they differ",
    )
    diff_kpis.add_argument("left")
    diff_kpis.add_argument("right")
    diff_kpis.add_argument(
        "--ignore", default=None, help="more fields to ignore, comma-separated (e.g. final)"
    )

    schemas = sub.add_parser("schemas", help="regenerate the JSON Schema files in schemas/")
    schemas.add_argument("--check", action="store_true", help="fail if they are stale")

    up = sub.add_parser("up", help="local broker + worker + demo traffic; prints the metrics URL")
    up.add_argument("--rate", type=float, default=20.0)
    up.add_argument("--kafka-port", type=int, default=None)
    up.add_argument("--keep-kafka", action="store_true")
    up.add_argument(
        "--fresh", action="store_true", help="wipe the local broker's data first (a new cluster)"
    )

    args = parser.parse_args(argv)
    from aiokafka.errors import KafkaConnectionError

    handlers = {
        "worker": cmd_worker,
        "kafka": cmd_kafka,
        "topics": cmd_topics,
        "gateway": cmd_gateway,
        "demo": cmd_demo,
        "schemas": cmd_schemas,
        "replay": cmd_replay,
        "diff-kpis": cmd_diff_kpis,
        "up": cmd_up,
    }
    try:
        return handlers[args.command](args)
    except KafkaConnectionError as exc:
        servers = os.environ.get("ISALES_KAFKA_BOOTSTRAP_SERVERS") or os.environ.get(
            "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"
        )
        print(f"stream-app: cannot reach Kafka at {servers}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
