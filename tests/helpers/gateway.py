"""`stream-app gateway` as a subprocess, and each vendor's request signed as the vendor signs it
(the documented algorithms, written here from the vendors' docs, not from the gateway's code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from stream_app.kafka.local_broker import free_port
from tests.helpers.support import ROOT, wait_for

TWILIO_TOKEN = "twilio-auth-token"  # noqa: S105 - test secrets
AIRCALL_TOKEN = "aircall-token"  # noqa: S105
HUBSPOT_SECRET = "hubspot-client-secret"  # noqa: S105


@dataclass
class Gateway:
    url: str
    env: dict[str, str]
    private: ec.EllipticCurvePrivateKey
    proc: subprocess.Popen[bytes]
    log: Path

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.url + path, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:  # noqa: S310
            return str(response.read().decode())

    # ---- signatures as each vendor makes them ---------------------------------------------

    def twilio_headers(self, path: str, form: bytes) -> dict[str, str]:
        params = dict(parse_qsl(form.decode(), keep_blank_values=True))
        data = self.url + path + "".join(k + params[k] for k in sorted(params))
        digest = hmac.new(TWILIO_TOKEN.encode(), data.encode(), hashlib.sha1).digest()
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": base64.b64encode(digest).decode(),
        }

    def sendgrid_headers(self, body: bytes) -> dict[str, str]:
        stamp = str(int(time.time()))
        signature = self.private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        }

    def hubspot_headers(self, path: str, body: bytes) -> dict[str, str]:
        stamp = str(int(time.time() * 1000))
        data = b"POST" + (self.url + path).encode() + body + stamp.encode()
        digest = hmac.new(HUBSPOT_SECRET.encode(), data, hashlib.sha256).digest()
        return {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
            "X-HubSpot-Request-Timestamp": stamp,
        }

    def signed(self, vendor: str, path: str, body: bytes) -> dict[str, str]:
        """Headers for a request as the vendor would send it (Aircall's token is in the body)."""
        if vendor == "twilio":
            return self.twilio_headers(path, body)
        if vendor == "sendgrid":
            return self.sendgrid_headers(body)
        if vendor == "hubspot":
            return self.hubspot_headers(path, body)
        return {"Content-Type": "application/json"}


def verification_key(private: ec.EllipticCurvePrivateKey) -> str:
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@contextmanager
def running_gateway(env: dict[str, str], log_dir: Path, **overrides: str) -> Iterator[Gateway]:
    private = ec.generate_private_key(ec.SECP256R1())
    port = free_port()
    env = {
        **env,
        "ISALES_GATEWAY_PORT": str(port),
        "ISALES_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "ISALES_SENDGRID_VERIFICATION_KEY": verification_key(private),
        "ISALES_AIRCALL_WEBHOOK_TOKEN": AIRCALL_TOKEN,
        "ISALES_HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
        **overrides,
    }
    log_path = log_dir / "gateway.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stream_app", "gateway"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        gw = Gateway(f"http://127.0.0.1:{port}", env, private, proc, log_path)

        def up() -> bool:
            try:
                with urllib.request.urlopen(gw.url + "/healthz", timeout=2):  # noqa: S310
                    return True
            except OSError:
                assert proc.poll() is None, "gateway exited"
                return False

        try:
            wait_for(up, 90, "gateway listening")
            yield gw
        finally:
            proc.terminate()
            proc.wait(30)
