"""The vendors' own signature test vectors, sent over HTTP to the gateway's checks (the same
`Gateway.verifier` the webhook endpoint calls, behind a local aiohttp server so the
request-target arrives exactly as a vendor sends it): each is accepted, and the same request with
one byte changed is refused. Rotation: the previous secret is accepted during its overlap and
refused after it, and the counter says which secret verified.

Sources (vectors copied verbatim):
- twilio/twilio-python tests/unit/test_request_validator.py
  @ b9b32ef0b0e2c280510715c70a3d5c1cd6cec774
- twilio/twilio-node spec/validation.spec.js @ 0addf39e10959cbc66df66e3f4ee095ed93cfc11
- twilio/twilio-java src/test/java/com/twilio/security/RequestValidatorTest.java
  @ 8f00f28a3fe1629d6fae66507ad9af30f7698f58
- sendgrid/sendgrid-python test/unit/test_eventwebhook.py @ 1dcc378bb90ed0d043c9dcfd239eb4c0b5501a81
- HubSpot/hubspot-api-python tests/spec/utils/test_signature.py
  @ f31fa724a3fa28a322c45681d318b8a1030f943d
- HubSpot/hubspot-api-ruby spec/helpers/signature_spec.rb @ 39214e71b924260de274ef9dba41b8ae54c27327
- HubSpot/hubspot-api-nodejs test/unit/signature.spec.ts @ 7737bd20fc9fd123dd5ce9836b4a3bc2517d7ecc
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from prometheus_client import generate_latest
from yarl import URL

from stream_app.gateway.app import Gateway
from stream_app.settings import Settings
from stream_app.spine.clock import FakeClock

# ---- Twilio --------------------------------------------------------------------------------

TOKEN = "12345"  # noqa: S105 - the vendors' published test token
URI = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
FORM = urlencode(PARAMS).encode()
BODY = b'{"property": "value", "boolean": true}'
BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
EMPTY_HASH = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


@dataclass(frozen=True)
class Vector:
    source: str
    url: str
    body: bytes
    signature: str


TWILIO = [
    Vector("python test_validation", URI, FORM, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    Vector(
        "python removes port on https",
        "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
        FORM,
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
    ),
    Vector(
        "python removes port on http",
        "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
        FORM,
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
    ),
    Vector("python adds port on https", URI, FORM, "kvajT1Ptam85bY51eRf/AJRuM3w="),
    Vector(
        "python adds port on http",
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        FORM,
        "0ZXoZLH/DfblKGATFgpif+LLRf4=",
    ),
    Vector(
        "python body hash",
        f"{URI}&bodySHA256={BODY_HASH}",
        BODY,
        "a9nBmqA0ju/hNViExpshrM61xv4=",
    ),
    Vector(
        "python duplicate params (MultiDict, QueryDict)",
        URI,
        b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234",
        "IK+Dwps556ElfBT0I3Rgjkr1wJU=",
    ),
    Vector(
        "node empty body with :443",
        f"{URI}&bodySHA256={EMPTY_HASH}",
        b"{}",
        "Ldidvp12m26NI7eqEvxnEpkd9Hc=",
    ),
    Vector(
        "node only the sha param",
        f"https://mycompany.com/myapp.php?bodySHA256={BODY_HASH}",
        BODY,
        "y77kIzt2vzLz71DgmJGsen2scGs=",
    ),
    Vector(
        "node array param",
        URI,
        urlencode(
            [
                ("MessagingBinding.Address", "+1415xxxxxxx"),
                ("MessagingBinding.Address", "+1325xxxxxxx"),
            ]
        ).encode(),
        "83O6e2vORAoJHUNzJjDWN1jz+BA=",
    ),
    Vector(
        "node credentials",
        "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2",
        FORM,
        "CukzLTc1tT5dXEDIHm/tKBanW10=",
    ),
    Vector(
        "node credentials with :443",
        "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2",
        FORM,
        "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=",
    ),
    Vector(
        "java url-encoded query params",
        "https://mycompany.com/myapp.php?foo=hello%20world&bar=test%2Bvalue",
        FORM,
        "er2tvAP1Wx+iuTTE2BPgvEaN1cs=",
    ),
    Vector(
        "java empty params",
        URI,
        b"",
        "zYQTYrRWXE7LtzbG4PfP7/bkkGo=",
    ),
    Vector(
        "java no query params",
        "https://mycompany.com/myapp.php",
        FORM,
        "1xaxFBvyzXYvWplzNOSs28HWO94=",
    ),
    Vector(
        "java empty parameter values",
        URI,
        b"Digits=&CallSid=CA1234567890ABCDE&EmptyParam=",
        "9HHp/OqQMEwdrVebHDdA/+tqjX8=",
    ),
    Vector(
        "java key sorting",
        URI,
        b"Zebra=last&Alpha=first&Beta=second&Gamma=third",
        "enveUe73ZTVLAekHxez3Qx6JuuQ=",
    ),
    Vector(
        "java case-sensitive keys",
        URI,
        b"callSid=lowercase&CallSid=uppercase&CALLSID=allcaps",
        "jDK7WKT8wiNrwggd4ceTv4e1MJ4=",
    ),
]


class Verifier:
    """The gateway's checks for one vendor behind a local server: POST anything, get back what
    the webhook endpoint would answer before writing to Kafka (200, 401 or 403)."""

    def __init__(self, settings: Settings, vendor: str, clock: FakeClock | None = None) -> None:
        self.gateway = Gateway(settings, clock or FakeClock(0))
        self.vendor = vendor

    async def handle(self, request: web.Request) -> web.Response:
        check = self.gateway.verifier(self.vendor)
        assert check is not None
        verdict = check(request, await request.read())
        return web.Response(status=401 if verdict is None else 200 if verdict else 403)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST to the local server with `url`'s path and query exactly as written."""
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        server = TestServer(app)
        await server.start_server()
        try:
            parts = urlsplit(url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            address = URL(f"http://127.0.0.1:{server.port}{target}", encoded=True)
            async with (
                ClientSession() as session,
                session.post(address, data=body, headers=headers) as response,
            ):
                return response.status
        finally:
            await server.close()

    def verified(self) -> dict[tuple[str, str], float]:
        found = {}
        for family in self.gateway.registry.collect():
            for sample in family.samples:
                if sample.name == "isales_gateway_signatures_verified_total":
                    found[(sample.labels["vendor"], sample.labels["secret"])] = sample.value
        return found


def public_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def twilio_status(vector: Vector, signature: str, body: bytes, **extra: Any) -> int:
    settings = Settings(twilio_auth_token=TOKEN, gateway_public_url=public_url(vector.url), **extra)
    headers = {"X-Twilio-Signature": signature}
    headers["Content-Type"] = (
        "application/json" if "bodySHA256" in vector.url else "application/x-www-form-urlencoded"
    )
    return asyncio.run(Verifier(settings, "twilio").post(vector.url, body, headers))


@pytest.mark.parametrize("vector", TWILIO, ids=lambda v: v.source)
def test_twilio_vectors_are_accepted_over_http(vector: Vector) -> None:
    assert twilio_status(vector, vector.signature, vector.body) == 200


@pytest.mark.parametrize("vector", TWILIO, ids=lambda v: v.source)
def test_twilio_vectors_with_one_byte_changed_are_refused(vector: Vector) -> None:
    changed = (vector.body[:-1] + bytes([vector.body[-1] ^ 1])) if vector.body else b"x"
    assert twilio_status(vector, vector.signature, changed) == 403
    flipped = ("A" if vector.signature[0] != "A" else "B") + vector.signature[1:]
    assert twilio_status(vector, flipped, vector.body) == 403


def test_twilio_without_a_signature_is_401() -> None:
    settings = Settings(twilio_auth_token=TOKEN, gateway_public_url="https://mycompany.com")
    status = asyncio.run(Verifier(settings, "twilio").post(URI, FORM, {}))
    assert status == 401


# ---- SendGrid ------------------------------------------------------------------------------

SENDGRID_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62g"
    "w+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
)
SENDGRID_SIGNATURE = (
    "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluL"
    "tEZtM="
)
SENDGRID_TIMESTAMP = "1600112502"
SENDGRID_PAYLOAD = (
    json.dumps(
        [
            {
                "email": "hello@world.com",
                "event": "dropped",
                "reason": "Bounced Address",
                "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-"
                "5F5FC76C-9.0",
                "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                "timestamp": 1600112492,
            }
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    + "\r\n"
).encode()


def sendgrid_status(key: str, signature: str, stamp: str, payload: bytes, **extra: Any) -> int:
    settings = Settings(sendgrid_verification_key=key, **extra)
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }
    verifier = Verifier(settings, "sendgrid")
    return asyncio.run(verifier.post("/webhooks/sendgrid", payload, headers))


def test_sendgrid_vector_is_accepted_and_changes_refused() -> None:
    assert (
        sendgrid_status(SENDGRID_KEY, SENDGRID_SIGNATURE, SENDGRID_TIMESTAMP, SENDGRID_PAYLOAD)
        == 200
    )
    assert (
        sendgrid_status(SENDGRID_KEY, SENDGRID_SIGNATURE, SENDGRID_TIMESTAMP, SENDGRID_PAYLOAD[:-2])
        == 403
    )
    assert sendgrid_status(SENDGRID_KEY, SENDGRID_SIGNATURE, "1600112503", SENDGRID_PAYLOAD) == 403
    other_key = (
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REnt"
        "lo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA=="
    )
    assert (
        sendgrid_status(other_key, SENDGRID_SIGNATURE, SENDGRID_TIMESTAMP, SENDGRID_PAYLOAD) == 403
    )


# ---- HubSpot -------------------------------------------------------------------------------

HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"  # noqa: S105 - the SDKs' test secret
HUBSPOT_URL = "https://www.example.com/webhook_uri"
HUBSPOT_BODY = b"{'example_field':'example_value'}"


def hubspot_status(
    headers: dict[str, str], body: bytes = HUBSPOT_BODY, now_ms: int = 0, **extra: Any
) -> int:
    settings = Settings(
        hubspot_client_secret=HUBSPOT_SECRET, gateway_public_url="https://www.example.com", **extra
    )
    verifier = Verifier(settings, "hubspot", FakeClock(now_ms))
    return asyncio.run(verifier.post(HUBSPOT_URL, body, headers))


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        ("1693657560000", "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y="),  # python
        ("1700000300000", "RnbPH7+UMKVkbV32P8bz450N4M56aPmcru1+D3kSDtw="),  # ruby
    ],
)
def test_hubspot_v3_vectors(timestamp: str, signature: str) -> None:
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}
    now = int(timestamp) + 60_000
    assert hubspot_status(headers, now_ms=now) == 200
    assert hubspot_status(headers, HUBSPOT_BODY + b" ", now_ms=now) == 403
    # Older than HubSpot's five minutes (its SDKs refuse it too).
    assert hubspot_status(headers, now_ms=int(timestamp) + 301_000) == 403


@pytest.mark.parametrize(
    ("version", "signature", "body"),
    [
        (
            "v1",
            "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750",
            HUBSPOT_BODY,
        ),  # python
        (
            "v2",
            "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383",
            HUBSPOT_BODY,
        ),  # python
        (
            "v2",
            "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900",
            b'{"example_field":"example_value"}',
        ),  # node
    ],
)
def test_hubspot_legacy_vectors_only_when_enabled(
    version: str, signature: str, body: bytes
) -> None:
    headers = {"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": version}
    assert hubspot_status(headers, body, hubspot_legacy_signatures=True) == 200
    assert hubspot_status(headers, body + b" ", hubspot_legacy_signatures=True) == 403
    # Off by default: no timestamp, so a captured request could be replayed.
    assert hubspot_status(headers, body) == 401


# ---- rotation ------------------------------------------------------------------------------


def test_a_rotation_accepts_both_secrets_during_its_overlap_then_only_the_new() -> None:
    vector = TWILIO[0]
    until = "2026-12-31T00:00:00Z"
    during, after = 1_798_000_000_000, 1_798_700_000_000  # 2026-12-23, 2026-12-31T19:33Z
    rotated = Settings(
        twilio_auth_token="new-token",  # noqa: S106
        twilio_auth_token_previous=TOKEN,
        twilio_auth_token_previous_until=until,
        gateway_public_url=public_url(vector.url),
    )
    headers = {
        "X-Twilio-Signature": vector.signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    verifier = Verifier(rotated, "twilio", FakeClock(during))
    assert asyncio.run(verifier.post(vector.url, vector.body, headers)) == 200
    assert verifier.verified() == {("twilio", "previous"): 1.0}
    verifier = Verifier(rotated, "twilio", FakeClock(after))
    assert asyncio.run(verifier.post(vector.url, vector.body, headers)) == 403
    # The new secret, during and after the overlap (signed here by Twilio's documented rule:
    # the URL, then each field name and value sorted by name; HMAC-SHA1; base64).
    data = vector.url + "".join(k + PARAMS[k] for k in sorted(PARAMS))
    good = base64.b64encode(hmac.new(b"new-token", data.encode(), hashlib.sha1).digest()).decode()
    for now in (during, after):
        verifier = Verifier(rotated, "twilio", FakeClock(now))
        headers["X-Twilio-Signature"] = good
        assert asyncio.run(verifier.post(vector.url, vector.body, headers)) == 200
        assert verifier.verified() == {("twilio", "current"): 1.0}


def test_the_counter_is_in_the_gateways_exposition() -> None:
    settings = Settings(twilio_auth_token=TOKEN, gateway_public_url="https://mycompany.com")
    verifier = Verifier(settings, "twilio")
    headers = {"X-Twilio-Signature": TWILIO[0].signature}
    assert asyncio.run(verifier.post(URI, FORM, headers)) == 200
    text = generate_latest(verifier.gateway.registry).decode()
    assert 'isales_gateway_signatures_verified_total{secret="current",vendor="twilio"} 1.0' in text
