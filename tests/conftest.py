"""Fixtures. The Kafka broker is real: KAFKA_BOOTSTRAP_SERVERS if set, else testcontainers'
Kafka when a Docker engine answers, else the project's own launcher. No broker is a failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream_app.kafka.local_broker import LocalKafka


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    errors = []
    if _docker_answers():
        try:
            from testcontainers.kafka import KafkaContainer

            with KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft() as container:
                yield container.get_bootstrap_server()
            return
        except Exception as exc:
            errors.append(f"testcontainers: {exc!r}")
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"))
    try:
        bootstrap = broker.start()
    except Exception as exc:
        errors.append(f"local launcher: {exc!r}")
        pytest.fail("no Kafka broker could be had: " + "; ".join(errors), pytrace=False)
    try:
        yield bootstrap
    finally:
        broker.stop()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
