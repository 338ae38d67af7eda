"""Each vendor's documented webhook signature, checked with the standard library's HMAC and
`cryptography`'s ECDSA: no hand-made crypto. Every check is constant-time where it compares."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def twilio(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(auth token, the full URL Twilio called,
    query included, then every POST parameter's name and value, sorted by name))."""
    data = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), signature)


def sendgrid(public_key: str, signature: str, timestamp: str, payload: bytes) -> bool:
    """SendGrid's signed Event Webhook: an ECDSA (P-256, SHA-256) signature, base64 DER in
    X-Twilio-Email-Event-Webhook-Signature, over the X-...-Timestamp header followed by the raw
    body; the verification key is the base64 DER public key from SendGrid's settings."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key))
        raw_signature = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(raw_signature, timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def hubspot_v3(
    client_secret: str,
    method: str,
    uri: str,
    body: bytes,
    timestamp: str,
    signature: str,
    now_ms: int,
    tolerance_ms: int = 300_000,
) -> bool:
    """HubSpot's X-HubSpot-Signature-v3: base64(HMAC-SHA256(app secret, method + full URI +
    body + X-HubSpot-Request-Timestamp)); a timestamp older than 5 minutes is refused."""
    if not timestamp.isdigit() or abs(now_ms - int(timestamp)) > tolerance_ms:
        return False
    data = method.encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(client_secret.encode(), data, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), signature)


def aircall(token: str, payload: bytes) -> bool:
    """Aircall puts the webhook's token in every payload (`token`): compared, constant-time."""
    try:
        given = orjson.loads(payload).get("token")
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return isinstance(given, str) and hmac.compare_digest(given.encode(), token.encode())
