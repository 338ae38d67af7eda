"""Each vendor's documented webhook signature, checked with the standard library's HMAC and
`cryptography`'s ECDSA: no hand-made crypto. Every check is constant-time where it compares."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

Params = Mapping[str, Sequence[str]]
"""A form's fields, each with every value it was sent with (Twilio repeats some, e.g. Digits)."""


def form_params(body: bytes) -> Params | None:
    """A form-encoded body's fields; None when it is not UTF-8 text."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    return params


def twilio_signature(auth_token: str, url: str, params: Params) -> str:
    """Twilio's X-Twilio-Signature of a URL and form fields, as twilio-python's
    RequestValidator.compute_signature makes it: the URL exactly as given, then each field name
    (sorted) followed by each of its distinct values (sorted), HMAC-SHA1 with the auth token,
    base64."""
    data = url + "".join(
        name + value for name in sorted(params) for value in sorted(set(params[name]))
    )
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _twilio_urls(url: str) -> list[str]:
    """The URL with and without its port, as Twilio's validators try it: a proxy, a load
    balancer or a tunnel may show `https://host:443/...` where Twilio signed `https://host/...`,
    or the other way round. Otherwise the URL is used exactly as given (never re-encoded)."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    prefix = userinfo + at
    host, colon, port = hostport.rpartition(":")  # "[::1]" has no digits after its last ":"
    if colon and port.isdigit():
        without = urlunsplit(parts._replace(netloc=prefix + host))
        return [without, url]
    default = "443" if parts.scheme == "https" else "80"
    with_port = urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}"))
    return [url, with_port]


def twilio(auth_token: str, url: str, body: bytes, signature: str) -> bool:
    """Twilio's signature over a request, checked as twilio-python's RequestValidator.validate
    does: a JSON body is signed through the `bodySHA256` query parameter (its SHA-256, hex)
    and the URL alone; a form body through its fields; the URL with or without its port."""
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    if "bodySHA256" in query:
        given_hash = query["bodySHA256"][0]
        if not hmac.compare_digest(hashlib.sha256(body).hexdigest(), given_hash):
            return False
        params: Params | None = {}
    else:
        params = form_params(body)
    if params is None:
        return False
    return any(
        hmac.compare_digest(twilio_signature(auth_token, variant, params), signature)
        for variant in _twilio_urls(url)
    )


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


HUBSPOT_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
"""The escapes HubSpot's "Validating requests" page says to decode in the URI before checking
a v3 signature (and only these); its official libraries sign the URI as given."""
_HUBSPOT_ESCAPE = re.compile("|".join(HUBSPOT_DECODED), re.IGNORECASE)


def hubspot_uri_decoded(uri: str) -> str:
    return _HUBSPOT_ESCAPE.sub(lambda m: HUBSPOT_DECODED[m.group(0).upper()], uri)


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
    """HubSpot's X-HubSpot-Signature-v3: base64(HMAC-SHA256(app secret, method + URI + body +
    X-HubSpot-Request-Timestamp)); a timestamp more than 5 minutes off is refused. The URI is
    tried as received (what HubSpot's libraries sign) and with the documented escapes decoded."""
    if not timestamp.isdigit() or abs(now_ms - int(timestamp)) > tolerance_ms:
        return False
    for variant in dict.fromkeys((uri, hubspot_uri_decoded(uri))):
        data = method.encode() + variant.encode() + body + timestamp.encode()
        digest = hmac.new(client_secret.encode(), data, hashlib.sha256).digest()
        if hmac.compare_digest(base64.b64encode(digest).decode(), signature):
            return True
    return False


def hubspot_legacy(
    client_secret: str, version: str, method: str, uri: str, body: bytes, signature: str
) -> bool:
    """HubSpot's older X-HubSpot-Signature (hex SHA-256, no HMAC, no timestamp): v1 over the
    secret and the body (webhook subscriptions), v2 over the secret, method, URI and body
    (workflow webhook actions, CRM cards)."""
    if version == "v1":
        data = client_secret.encode() + body
    elif version == "v2":
        data = client_secret.encode() + method.encode() + uri.encode() + body
    else:
        return False
    return hmac.compare_digest(hashlib.sha256(data).hexdigest(), signature.lower())


def aircall(token: str, payload: bytes) -> bool:
    """Aircall puts the webhook's token in every payload (`token`): compared, constant-time."""
    try:
        given = orjson.loads(payload).get("token")
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return isinstance(given, str) and hmac.compare_digest(given.encode(), token.encode())
