"""`stream-app gateway` against a real broker: a signed request is answered 200 only once its
envelope is on the vendor topic, exactly as sent; a missing signature is 401, a wrong one 403,
an unknown vendor 404, an oversized body 413, and none of those is on any topic. Then the
normaliser turns what the gateway wrote into call events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import orjson
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers.checks import progress
from tests.helpers.gateway import AIRCALL_TOKEN as AIRCALL
from tests.helpers.gateway import HUBSPOT_SECRET, Gateway, running_gateway
from tests.helpers.gateway import TWILIO_TOKEN as TOKEN
from tests.helpers.scenarios import settings_for
from tests.helpers.support import (
    WorkerProc,
    isolated_env,
    metric_sum,
    parse_metrics,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    env = isolated_env(kafka_bootstrap)
    log_dir = tmp_path_factory.mktemp("gateway")
    with running_gateway(env, log_dir, ISALES_GATEWAY_MAX_BODY_BYTES="200000") as gw:
        yield gw


def twilio_request(gw: Gateway, sid: str, status: str, sign: str | None) -> int:
    query = urlencode({"rep_id": "gw-rep", "team_id": "gw-team", "started_at": "1796000000000"})
    path = f"/webhooks/twilio?{query}"
    params = {
        "CallSid": sid,
        "CallStatus": status,
        "Direction": "outbound-api",
        "Timestamp": "Mon, 30 Nov 2026 00:53:40 +0000",
    }
    data = gw.url + path + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign == "good":
        headers["X-Twilio-Signature"] = base64.b64encode(digest).decode()
    elif sign == "bad":
        headers["X-Twilio-Signature"] = base64.b64encode(digest[::-1]).decode()
    return gw.post(path, urlencode(params).encode(), headers)


def test_signed_requests_land_on_their_topic_and_bad_ones_nowhere(gateway: Gateway) -> None:
    gw = gateway
    assert twilio_request(gw, "CAgood1", "initiated", "good") == 200
    assert twilio_request(gw, "CAgood2", "ringing", "good") == 200
    assert twilio_request(gw, "CAnosig", "ringing", None) == 401
    assert twilio_request(gw, "CAbadsig", "ringing", "bad") == 403
    batch = orjson.dumps([{"event": "delivered", "sg_event_id": "e1"}])
    stamp = "1796000000"
    sig = gw.private.sign(stamp.encode() + batch, ec.ECDSA(hashes.SHA256()))
    good_headers = {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }
    assert gw.post("/webhooks/sendgrid", batch, good_headers) == 200
    assert gw.post("/webhooks/sendgrid", batch + b" ", good_headers) == 403
    call = {"resource": "call", "event": "call.created", "token": AIRCALL, "data": {"id": 1}}
    assert gw.post("/webhooks/aircall", orjson.dumps(call), {}) == 200
    assert gw.post("/webhooks/aircall", orjson.dumps(call | {"token": "nope"}), {}) == 403
    hubspot = orjson.dumps([{"subscriptionType": "deal.creation", "objectId": 1}])
    assert (
        gw.post("/webhooks/hubspot", hubspot, gw.hubspot_headers("/webhooks/hubspot", hubspot))
        == 200
    )
    stale = gw.hubspot_headers("/webhooks/hubspot", hubspot)
    old = str(int(time.time() * 1000) - 301_000)  # past HubSpot's 5 minutes, signed correctly
    data = b"POST" + (gw.url + "/webhooks/hubspot").encode() + hubspot + old.encode()
    digest = hmac.new(HUBSPOT_SECRET.encode(), data, hashlib.sha256).digest()
    stale |= {
        "X-HubSpot-Request-Timestamp": old,
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
    }
    assert gw.post("/webhooks/hubspot", hubspot, stale) == 403
    assert gw.post("/webhooks/hubspot", hubspot, {}) == 401
    assert gw.post("/webhooks/salesforce", b"{}", {}) == 404
    assert gw.post("/webhooks/sendgrid", b"x" * 300_000, good_headers) == 413

    s = settings_for(gw.env)
    bootstrap = s.kafka_bootstrap_servers
    twilio = [orjson.loads(r.value or b"") for r in read_topic(bootstrap, s.vendor_twilio_topic)]
    assert sorted(e["body"].split("&")[0] for e in twilio) == ["CallSid=CAgood1", "CallSid=CAgood2"]
    assert all(e["query"].startswith("rep_id=gw-rep") for e in twilio)
    sendgrid = read_topic(bootstrap, s.vendor_sendgrid_topic)
    assert [orjson.loads(r.value or b"")["body"].encode() for r in sendgrid] == [batch]  # as sent
    aircall = read_topic(bootstrap, s.vendor_aircall_topic)
    assert len(aircall) == 1

    samples = parse_metrics(gw.metrics())
    counted = {
        ("twilio", "200"): 2,
        ("twilio", "401"): 1,
        ("twilio", "403"): 1,
        ("sendgrid", "200"): 1,
        ("sendgrid", "403"): 1,
        ("sendgrid", "413"): 1,
        ("aircall", "200"): 1,
        ("aircall", "403"): 1,
        ("hubspot", "200"): 1,
        ("hubspot", "401"): 1,
        ("hubspot", "403"): 1,
        ("unknown", "404"): 1,
    }
    for (vendor, status), n in counted.items():
        got = metric_sum(samples, "isales_gateway_requests_total", vendor=vendor, status=status)
        assert got == n, (vendor, status)
    log = gw.log.read_text()
    assert len(read_topic(bootstrap, s.vendor_hubspot_topic)) == 1
    for secret in (TOKEN, AIRCALL, HUBSPOT_SECRET):
        assert secret not in log  # secrets are never logged


def test_what_the_gateway_wrote_becomes_call_events(gateway: Gateway, tmp_path: Path) -> None:
    gw = gateway
    before = read_topic(gw.env["KAFKA_BOOTSTRAP_SERVERS"], gw.env["ISALES_VENDOR_TWILIO_TOPIC"])
    for status in ("initiated", "ringing"):
        assert twilio_request(gw, "CAflow", status, "good") == 200
    normaliser = WorkerProc(gw.env, tmp_path, "normalise-twilio", "normalise-twilio").start()
    try:
        wait_for(normaliser.ready, 120, "normaliser ready")
        total = len(before) + 2
        wait_for(lambda: progress(normaliser) == total, 120, "envelopes normalised")
    finally:
        normaliser.stop()
    bootstrap, topic = gw.env["KAFKA_BOOTSTRAP_SERVERS"], gw.env["ISALES_CALLS_TOPIC"]
    calls = [orjson.loads(r.value or b"") for r in read_topic(bootstrap, topic)]
    ids = {c["event_id"] for c in calls}
    assert {"twilio:CAflow:initiated", "twilio:CAflow:ringing"} <= ids
    assert all(c["rep_id"] == "gw-rep" for c in calls)
