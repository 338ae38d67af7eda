"""The vendors' webhook signatures (algorithms as each vendor documents them; the expected
values are computed here from those descriptions, independently of the gateway's code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from stream_app.gateway import signatures

URL = "https://hooks.example.com/webhooks/twilio?rep_id=rep-a&team_id=t"
PARAMS = {"CallSid": "CA1", "CallStatus": "ringing", "From": "+15550000000", "To": "+15551111111"}


def twilio_doc_signature(token: str, url: str, params: dict[str, str]) -> str:
    # Twilio: take the full URL, append each POST parameter's name and value, sorted
    # alphabetically by name; HMAC-SHA1 with the auth token; base64.
    s = url
    for name in sorted(params):
        s += name + params[name]
    return base64.b64encode(hmac.new(token.encode(), s.encode(), hashlib.sha1).digest()).decode()


def test_twilio() -> None:
    good = twilio_doc_signature("secret-token", URL, PARAMS)
    form = urlencode(PARAMS).encode()
    assert signatures.twilio("secret-token", URL, form, good)
    assert not signatures.twilio("other-token", URL, form, good)
    changed = urlencode(PARAMS | {"CallStatus": "completed"}).encode()
    assert not signatures.twilio("secret-token", URL, changed, good)
    assert not signatures.twilio("secret-token", URL.replace("rep-a", "rep-b"), form, good)


def test_sendgrid() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    payload, stamp = orjson.dumps([{"event": "open", "sg_event_id": "e1"}]), "1796000000"
    signature = base64.b64encode(
        private.sign(stamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    ).decode()
    assert signatures.sendgrid(public, signature, stamp, payload)
    assert not signatures.sendgrid(public, signature, "1796000001", payload)
    assert not signatures.sendgrid(public, signature, stamp, payload + b" ")
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    other_key = base64.b64encode(
        other.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    assert not signatures.sendgrid(other_key, signature, stamp, payload)
    assert not signatures.sendgrid(public, "not base64!", stamp, payload)
    assert not signatures.sendgrid("garbage", signature, stamp, payload)


def test_hubspot_v3_and_its_timestamp_tolerance() -> None:
    body, stamp, uri = b'[{"eventId": 1}]', "1796000000000", "https://hooks.example.com/h"
    mac = hmac.new(b"app-secret", b"POST" + uri.encode() + body + stamp.encode(), hashlib.sha256)
    good = base64.b64encode(mac.digest()).decode()
    now = 1_796_000_060_000
    assert signatures.hubspot_v3("app-secret", "POST", uri, body, stamp, good, now)
    assert not signatures.hubspot_v3("app-secret", "POST", uri, body + b" ", stamp, good, now)
    assert not signatures.hubspot_v3("app-secret", "POST", uri, body, stamp, good, now + 300_001)


def test_aircall_token() -> None:
    payload = orjson.dumps({"resource": "call", "token": "tok-1", "data": {}})
    assert signatures.aircall("tok-1", payload)
    assert not signatures.aircall("tok-2", payload)
    assert not signatures.aircall("tok-1", b"[1, 2]")
    assert not signatures.aircall("tok-1", b"not json")
