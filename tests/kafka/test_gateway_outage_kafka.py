"""The gateway across a broker outage, on a broker of the test's own: requests in flight while
the broker is down are answered 503 (the vendor retries), and once it is back the gateway takes
requests again. aiokafka's idempotent producer stops for good after such an outage
(OutOfOrderSequenceNumber on every send, aio-libs/aiokafka#1017); the gateway replaces it.
Every request answered 200 is on its topic. (The same under 20,000 requests: bench/gateway.py.)"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from stream_app.kafka.local_broker import LocalKafka
from tests.helpers.gateway import Gateway, running_gateway
from tests.helpers.scenarios import settings_for
from tests.helpers.support import isolated_env, metric_sum, parse_metrics, read_topic, wait_for

pytestmark = pytest.mark.kafka


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    broker = LocalKafka(tmp_path / "broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def batch(n: int) -> bytes:
    return orjson.dumps(
        [{"event": "delivered", "sg_event_id": f"outage-{n}", "sg_message_id": "m"}]
    )


def test_requests_are_taken_again_after_the_broker_comes_back(
    own_broker: LocalKafka, tmp_path: Path
) -> None:
    bootstrap = own_broker.bootstrap()
    assert bootstrap is not None
    env = isolated_env(bootstrap, ISALES_GATEWAY_PRODUCE_TIMEOUT_SECONDS="2")
    with running_gateway(env, tmp_path) as gw:
        answers: dict[int, int] = {}
        statuses: Counter[int] = Counter()
        stop = threading.Event()
        counter = iter(range(10**9))
        lock = threading.Lock()

        def client(gw: Gateway) -> None:
            while not stop.is_set():
                with lock:
                    n = next(counter)
                body = batch(n)
                status = gw.post("/webhooks/sendgrid", body, gw.sendgrid_headers(body))
                with lock:
                    answers[n] = status
                    statuses[status] += 1

        clients = [threading.Thread(target=client, args=(gw,), daemon=True) for _ in range(12)]
        for c in clients:
            c.start()
        wait_for(lambda: statuses[200] >= 200, 60, "requests answered before the outage")
        own_broker.stop()
        time.sleep(8)
        own_broker.start()
        with lock:
            before = statuses[200]
        # Not a timing assertion: the gateway must take requests again at all.
        wait_for(lambda: statuses[200] >= before + 300, 120, "requests answered after the outage")
        stop.set()
        for c in clients:
            c.join(60)
        samples = parse_metrics(gw.metrics())
        s = settings_for(gw.env)
        on_topic = Counter(
            orjson.loads(r.value or b"")["body"]
            for r in read_topic(bootstrap, s.vendor_sendgrid_topic)
        )
    assert statuses[503] > 0  # the outage was seen
    taken = [n for n, status in answers.items() if status == 200]
    assert all(on_topic[batch(n).decode()] >= 1 for n in taken)  # nothing answered 200 is lost
    assert metric_sum(samples, "isales_gateway_produce_failures_total") == statuses[503]
