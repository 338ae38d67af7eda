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
from typing import TYPE_CHECKING

from stream_app import kafka_local

if TYPE_CHECKING:
    from stream_app.settings import Settings


def _settings() -> Settings:
    from stream_app.settings import Settings

    return Settings()


def cmd_worker(_: argparse.Namespace) -> int:
    from stream_app.app import Service, Worker

    settings = _settings()
    service = Service(settings)
    worker = Worker(service.app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
    return 0


def cmd_kafka(args: argparse.Namespace) -> int:
    broker = kafka_local.LocalKafka(Path(args.dir) if args.dir else kafka_local.default_home())
    if args.action == "fetch":
        print(kafka_local.fetch(quiet=False))
    elif args.action == "start":
        print(broker.start(port=args.port))
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


def cmd_demo(args: argparse.Namespace) -> int:
    from stream_app import demo
    from stream_app.kafka_config import aiokafka_options
    from stream_app.topics import ensure_topics

    settings = _settings()
    asyncio.run(ensure_topics(settings))
    options = aiokafka_options(settings)
    if args.scenario:
        records = demo.scenario(
            demo.ScenarioConfig(seed=args.seed, calls=args.calls), settings.max_payload_bytes
        )
        asyncio.run(demo.produce(options, settings.calls_topic, records))
        print(f"produced {len(records)} records to {settings.calls_topic}")
        return 0
    sent = asyncio.run(
        demo.produce_live(
            options,
            settings.calls_topic,
            args.rate,
            args.seed,
            settings.business_timezone,
            settings.max_payload_bytes,
            args.duration,
        )
    )
    print(f"produced {sent} records")
    return 0


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
    bootstrap = broker.start(port=args.kafka_port)
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    example_targets = Path(__file__).resolve().parent.parent / "deploy" / "targets.yml"
    if "ISALES_TARGETS_FILE" not in os.environ and example_targets.exists():
        # The demo floor's pacing against the example targets (edit it while running).
        os.environ["ISALES_TARGETS_FILE"] = str(example_targets)
    settings = _settings()
    worker = subprocess.Popen([sys.executable, "-m", "stream_app", "worker"], env=os.environ.copy())
    url = f"http://{settings.metrics_host}:{settings.metrics_port}"
    print(
        f"Kafka:   {bootstrap}\nMetrics: {url}/metrics\nReady:   {url}/readyz\n"
        f"KPI topics: {settings.kpi_calls_topic}, {settings.kpi_pacing_topic}\n"
        f"Targets: {settings.targets_file or 'none'}   (Ctrl-C stops everything)",
        flush=True,
    )
    demo = subprocess.Popen(
        [sys.executable, "-m", "stream_app", "demo", "--rate", str(args.rate)],
        env=os.environ.copy(),
    )
    try:
        while worker.poll() is None and demo.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in (demo, worker):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in (demo, worker):
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

    sub.add_parser("worker", help="run the KPI worker (settings from ISALES_* env vars)")

    kafka = sub.add_parser("kafka", help="a local single-node Kafka without Docker")
    kafka.add_argument("action", choices=["fetch", "start", "stop", "status"])
    kafka.add_argument("--port", type=int, default=None, help="broker port (default: a free one)")
    kafka.add_argument("--dir", default=None, help="state folder (default: the user cache)")

    sub.add_parser("topics", help="create the service's topics if missing")

    demo = sub.add_parser("demo", help="produce demo call traffic")
    demo.add_argument("--rate", type=float, default=20.0, help="events per second (live mode)")
    demo.add_argument("--duration", type=float, default=None, help="seconds (live mode)")
    demo.add_argument("--scenario", action="store_true", help="produce a fixed seeded scenario")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--calls", type=int, default=5000)

    schemas = sub.add_parser("schemas", help="regenerate the JSON Schema files in schemas/")
    schemas.add_argument("--check", action="store_true", help="fail if they are stale")

    up = sub.add_parser("up", help="local broker + worker + demo traffic; prints the metrics URL")
    up.add_argument("--rate", type=float, default=20.0)
    up.add_argument("--kafka-port", type=int, default=None)
    up.add_argument("--keep-kafka", action="store_true")

    args = parser.parse_args(argv)
    handlers = {
        "worker": cmd_worker,
        "kafka": cmd_kafka,
        "topics": cmd_topics,
        "demo": cmd_demo,
        "schemas": cmd_schemas,
        "up": cmd_up,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
