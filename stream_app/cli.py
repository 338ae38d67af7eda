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
from stream_app import registry
from stream_app.board import DOCS_HTML, DOCS_SOURCE
from stream_app.kafka import local_broker

if TYPE_CHECKING:
    from stream_app.settings import Settings


def _settings() -> Settings:
    from pydantic import ValidationError

    from stream_app.ops.config_errors import describe
    from stream_app.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        print(f"stream-app: {describe(exc)}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_worker(args: argparse.Namespace) -> int:
    from stream_app.ops.runtime import tune_gc
    from stream_app.service import Service, Worker

    if args.processes > 1:
        from stream_app.ops.supervisor import run

        _settings()  # a configuration error is said once, here, not by every member
        return run(args.pipeline, args.processes)
    tune_gc()
    settings = _settings()
    service = Service(settings, pipeline=args.pipeline)
    worker = Worker(service, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
    return 0


def cmd_kafka(args: argparse.Namespace) -> int:
    broker = local_broker.LocalKafka(Path(args.dir) if args.dir else local_broker.default_home())
    if args.action == "fetch":
        print(local_broker.fetch(quiet=False))
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
    from stream_app.kafka.topics import ensure_topics

    drift = asyncio.run(ensure_topics(_settings()))
    for topic, have, want in drift:
        print(
            f"{topic}: retention.ms is {have}, the settings say {want}; the topic existed, "
            f"so it is left as it is (kafka-configs.sh --alter --entity-type topics "
            f"--entity-name {topic} --add-config retention.ms={want})"
        )
    return 0


def cmd_board(args: argparse.Namespace) -> int:
    from stream_app.board.server import run

    s = _settings()
    run(
        args.prometheus_url,
        args.host,
        args.port,
        Path(args.docs_dir),
        s.people_file,
        s.targets_file,
        s.business_timezone,
        s.grace_ms,
    )
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """Build the documentation site (what the board serves at /docs/)."""
    command = [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(DOCS_SOURCE), args.out]
    if args.strict:
        command[3:3] = ["-W", "--keep-going"]
    done = subprocess.run(command, check=False)
    if done.returncode == 0:
        print(f"docs: {Path(args.out).resolve()}/index.html")
    return done.returncode


def cmd_gateway(_: argparse.Namespace) -> int:
    """The vendors' webhooks to their vendor topics (README, "Vendor events in")."""
    from stream_app.gateway.app import run
    from stream_app.kafka.topics import ensure_topics

    settings = _settings()
    asyncio.run(ensure_topics(settings))
    run(settings)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from stream_app.demo import traffic as demo
    from stream_app.kafka.client_config import aiokafka_options
    from stream_app.kafka.topics import ensure_topics, wait_for_leaders
    from stream_app.spine.clock import SystemClock

    settings = _settings()
    asyncio.run(ensure_topics(settings))
    asyncio.run(wait_for_leaders(settings))
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


def cmd_erase(args: argparse.Namespace) -> int:
    from stream_app.kafka.erasures import run_erase

    leads = list(args.lead or [])
    if args.from_file:
        text = Path(args.from_file).read_text()
        leads += [line.strip() for line in text.splitlines() if line.strip()]
    if not leads:
        print("no lead given: --lead ID or --from-file F", file=sys.stderr)
        return 2
    return run_erase(_settings(), sorted(set(leads)), args.timeout)


def cmd_import(args: argparse.Namespace) -> int:
    from stream_app.importer.run import main_import

    return main_import(
        _settings(), args.vendor, args.since, args.until, args.fresh, args.progress_every
    )


def cmd_replay(args: argparse.Namespace) -> int:
    if args.cleanup:
        from rich.console import Console

        from stream_app.tools.replay_cleanup import cleanup

        if not args.app_id:
            print("stream-app replay --cleanup: which replay? --app-id ID", file=sys.stderr)
            return 2
        console = Console(soft_wrap=True, highlight=False)
        return cleanup(_settings(), args.app_id, args.topic_suffix, console)
    from stream_app.tools.replay import main_replay

    if not args.pipeline:
        print("stream-app replay: --pipeline P (repeatable) or --cleanup", file=sys.stderr)
        return 2
    if not args.progress_every > 0:
        print("stream-app replay: --progress-every wants seconds > 0", file=sys.stderr)
        return 2
    return main_replay(
        _settings(),
        args.pipeline,
        args.app_id,
        args.topic_suffix,
        args.timeout,
        args.processes,
        args.progress_every,
    )


def _processes(text: str) -> int:
    from stream_app.settings import MAX_PROCESSES

    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_PROCESSES:
        raise argparse.ArgumentTypeError(f"a whole number 1..{MAX_PROCESSES}, not {text!r}")
    return n


def cmd_diff_kpis(args: argparse.Namespace) -> int:
    from stream_app.kafka.client_config import aiokafka_options
    from stream_app.tools.kpi_diff import VOLATILE, diff, latest, report

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


UP_PIPELINES = ("calls", "email", "crm-attribution", "crm", "web", "engagement", "reach")
"""What `stream-app up` and docker-compose run (tests/ops/test_compose.py checks they agree)."""
UP_DEMO_RATE = 20.0
"""Live calls demo events/s (compose: demo --rate 20)."""
UP_SEEDED_DEMOS = ("--email", "--crm")
"""One-shot demo scenarios `up` produces beside the live calls demo (compose: demo-email,
demo-crm)."""


def cmd_up(args: argparse.Namespace) -> int:
    """Local broker + workers + the ops stack (Prometheus, Alertmanager) + live demo traffic,
    until Ctrl-C."""
    from stream_app.ops.console import StatusBoard
    from stream_app.ops.stack import OpsStack
    from stream_app.ops.supervisor import member_ports

    broker = local_broker.LocalKafka(local_broker.default_home())
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
    specs = {spec.name: spec for spec in registry.pipelines(settings)}
    host = settings.metrics_host
    targets = {
        name: [f"{host}:{port}" for port in member_ports(specs[name].port, args.processes)]
        for name in UP_PIPELINES
    }
    ops: OpsStack | None = None
    prometheus_url = args.prometheus_url
    if not args.no_ops and not prometheus_url:
        ops = OpsStack(
            root=settings.data_dir / "ops",
            targets=targets,
            prometheus_port=args.prometheus_port,
            alertmanager_port=args.alertmanager_port,
            rules=Path(args.alert_rules) if args.alert_rules else OpsStack.rules,
            docs_url=args.docs_url or f"http://127.0.0.1:{args.board_port}/docs",
        )
        missing = ops.missing()
        if missing:
            print(
                f"not starting the ops stack: {', '.join(missing)} not installed "
                "(scripts/bootstrap.sh installs them; --no-ops skips this)",
                flush=True,
            )
            ops = None
        else:
            ops.start()
            prometheus_url = ops.prometheus_url
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    opened: list[Any] = []

    def spawn(name: str, *command: str) -> subprocess.Popen[bytes]:
        """A child of `up`; its output (framework INFO lines) to logs/<name>.log unless
        --verbose."""
        out: Any = None
        if not args.verbose:
            out = (logs / f"{name}.log").open("ab")
            opened.append(out)
        return subprocess.Popen(
            [sys.executable, "-m", "stream_app", *command],
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
        )

    many = ("--processes", str(args.processes)) if args.processes > 1 else ()
    workers = [spawn(name, "worker", "--pipeline", name, *many) for name in UP_PIPELINES]
    board: subprocess.Popen[bytes] | None = None
    if prometheus_url:
        board = spawn(
            "board", "board", "--port", str(args.board_port), "--prometheus-url", prometheus_url
        )
    first = {name: addresses[0] for name, addresses in targets.items()}
    url = f"http://{first['calls']}"
    lines = [
        f"Kafka:   {bootstrap}",
        f"Metrics: {url}/metrics",
        f"Ready:   {url}/readyz",
        f"Email metrics: http://{first['email']}/metrics (a seeded A/B test of the last days)",
        f"CRM metrics: http://{first['crm']}/metrics (handoffs and outcomes of the last weeks)",
        f"Reach metrics: http://{first['reach']}/metrics (touchpoints, score at handoff, target "
        f"fit; scores per lead on {settings.kpi_engagement_topic})",
        f"KPI topics: {settings.kpi_calls_topic}, {settings.kpi_pacing_topic}",
        f"Targets: {settings.targets_file or 'none'}",
    ]
    if ops is not None:
        ready = ops.wait_ready()
        lines += [
            f"Prometheus:   {ops.prometheus_url} (alerts: {ops.prometheus_url}/alerts)"
            + ("" if ready else " NOT READY: see its log"),
            f"Alertmanager: {ops.alertmanager_url}",
            f"Ops logs and data: {ops.root}",
        ]
    elif prometheus_url:
        lines.append(f"Prometheus:   {prometheus_url} (yours: scrape the metrics URLs above)")
    if board is not None:
        lines.insert(0, f"Board:   http://127.0.0.1:{args.board_port}/   <- open this first")
    if not args.verbose:
        lines.append(f"Logs:    {logs}/<process>.log (--verbose: here instead)")
    print("\n".join([*lines, "(Ctrl-C stops everything)"]), flush=True)
    demo = spawn("demo", "demo", "--rate", str(args.rate))
    seeded = [spawn(f"demo{flag[1:]}", "demo", flag) for flag in UP_SEEDED_DEMOS]

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM (a service manager, `timeout`) stops everything too, not just this process.
    signal.signal(signal.SIGTERM, interrupt)
    try:
        if args.verbose:
            while all(p.poll() is None for p in (*workers, demo)):
                time.sleep(0.5)
        else:
            StatusBoard(targets).run(lambda: all(p.poll() is None for p in (*workers, demo)))
    except KeyboardInterrupt:
        pass
    finally:
        procs = (*seeded, demo, *workers, *([board] if board else []))
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if ops is not None:
            ops.stop()
        if not args.keep_kafka:
            broker.stop()
        for out in opened:
            out.close()
        print("stopped: workers, demos, board, ops stack" + ("" if args.keep_kafka else ", Kafka"))
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
    worker.add_argument(
        "--processes",
        type=_processes,
        default=1,
        metavar="N",
        help="run N members of the pipeline's consumer group under one supervisor, one per "
        "core: member i is worker id <ISALES_WORKER_ID or pipeline>-<i> on the metrics port "
        "+ 100 x i",
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
        "new app id (new consumer group and changelogs), beside the live workers; exit 0 once "
        "caught up. --cleanup removes what a replay left",
    )
    replay.add_argument(
        "--pipeline",
        action="append",
        choices=registry.names(),
        default=None,
        help="repeat for chained stages (crm-attribution and crm)",
    )
    replay.add_argument(
        "--app-id",
        default=None,
        help="letters, digits, '.', '_', '-'; never the live ISALES_APP_ID (default: "
        "<ISALES_APP_ID>-replay-<time>)",
    )
    replay.add_argument(
        "--topic-suffix",
        default=None,
        help="write every output topic, the dead-letter and late topics included, under "
        "<name><suffix> instead (to diff-kpis them). Without it the KPI topics are rewritten in "
        "place (their keys are deterministic) and everything else the replay writes (dead-letter "
        "and late copies, topics between stages) goes to <name>.<app id>, never to a live topic",
    )
    replay.add_argument("--timeout", type=float, default=24 * 3600.0, help="seconds")
    replay.add_argument(
        "--processes",
        type=_processes,
        default=1,
        metavar="N",
        help="N worker processes per replayed pipeline (one consumer group), for a backfill "
        "on a machine with more cores",
    )
    replay.add_argument(
        "--progress-every",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="when the output is not a terminal (a log, a pipe): one progress line per "
        "pipeline this often (10)",
    )
    replay.add_argument(
        "--cleanup",
        action="store_true",
        help="with --app-id: remove the replay's consumer groups, changelog and renamed topics, "
        "state and log folders (from its manifest under ISALES_DATA_DIR/replays/, and the "
        "broker's groups and topics named for the app id), never a live one, nothing while its "
        "groups have members; exit 0 when nothing is left",
    )

    importing = sub.add_parser(
        "import",
        help="bring a vendor's history in from its REST API (Aircall calls, Twilio calls, "
        "HubSpot deals), counted once with the webhooks; resumable; exit 0 once the whole "
        "range is in",
    )
    importing.add_argument(
        "--vendor",
        action="append",
        choices=("aircall", "twilio", "hubspot"),
        required=True,
        help="repeat for several (calls of Aircall and Twilio are merged in event-time order)",
    )
    importing.add_argument(
        "--since", required=True, help="ISO 8601 date or time (UTC unless given), or <n>d ago"
    )
    importing.add_argument("--until", default=None, help="as --since; default: now")
    importing.add_argument(
        "--fresh", action="store_true", help="ignore a checkpoint of the same range and start over"
    )
    importing.add_argument(
        "--progress-every", type=float, default=10.0, metavar="S", help="seconds between lines"
    )

    erase = sub.add_parser(
        "erase",
        help="erase leads on request from everything the service controls, while it runs; "
        "exit 0 once every stage keyed by lead confirmed",
    )
    erase.add_argument("--lead", action="append", metavar="ID", help="a lead id (repeatable)")
    erase.add_argument("--from-file", metavar="F", help="a file of lead ids, one per line")
    erase.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the stages (120)"
    )

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

    board = sub.add_parser("board", help="the live board page, reading KPIs from Prometheus")
    board.add_argument("--prometheus-url", default="http://127.0.0.1:9090")
    board.add_argument("--host", default="127.0.0.1")
    board.add_argument("--port", type=int, default=9100)
    board.add_argument("--docs-dir", default=str(DOCS_HTML), help="the built docs served at /docs/")
    docs = sub.add_parser("docs", help="build the documentation site (served by the board)")
    docs.add_argument("--out", default=str(DOCS_HTML))
    docs.add_argument("--strict", action="store_true", help="warnings are errors (as CI)")

    up = sub.add_parser(
        "up", help="local broker, workers, Prometheus, Alertmanager and demo traffic; prints URLs"
    )
    up.add_argument("--rate", type=float, default=UP_DEMO_RATE)
    up.add_argument(
        "--processes",
        type=_processes,
        default=1,
        metavar="N",
        help="N worker processes per pipeline (`worker --processes N`), each scraped",
    )
    up.add_argument("--kafka-port", type=int, default=None)
    up.add_argument("--keep-kafka", action="store_true")
    up.add_argument(
        "--fresh", action="store_true", help="wipe the local broker's data first (a new cluster)"
    )
    up.add_argument("--no-ops", action="store_true", help="no local Prometheus and Alertmanager")
    up.add_argument("--board-port", type=int, default=9100)
    up.add_argument(
        "--docs-url",
        default=None,
        help="base URL of the docs for the alerts' runbook links (default: the board's /docs)",
    )
    up.add_argument(
        "--verbose", action="store_true", help="every process's log here, no status table"
    )
    up.add_argument(
        "--prometheus-url",
        default=None,
        help="an existing Prometheus to use instead of starting one (it scrapes the workers)",
    )
    up.add_argument("--prometheus-port", type=int, default=9090)
    up.add_argument("--alertmanager-port", type=int, default=9093)
    up.add_argument(
        "--alert-rules",
        default=None,
        help="a folder of Prometheus rule files instead of deploy/prometheus/rules",
    )

    args = parser.parse_args(argv)
    from aiokafka.errors import KafkaConnectionError

    handlers = {
        "worker": cmd_worker,
        "kafka": cmd_kafka,
        "topics": cmd_topics,
        "gateway": cmd_gateway,
        "board": cmd_board,
        "docs": cmd_docs,
        "demo": cmd_demo,
        "schemas": cmd_schemas,
        "replay": cmd_replay,
        "import": cmd_import,
        "erase": cmd_erase,
        "diff-kpis": cmd_diff_kpis,
        "up": cmd_up,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        # Ctrl-C (or `up` stopping its children) is how a demo or a replay ends: no traceback.
        return 130
    except KafkaConnectionError as exc:
        servers = os.environ.get("ISALES_KAFKA_BOOTSTRAP_SERVERS") or os.environ.get(
            "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"
        )
        print(f"stream-app: cannot reach Kafka at {servers}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
