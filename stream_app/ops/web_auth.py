"""Optional authentication of `/metrics`: a bearer token or HTTP basic credentials.

Prometheus sends either (`authorization:` or `basic_auth:` in a scrape config). Health and
readiness stay open: probes of an orchestrator carry no credentials, and they reveal nothing.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from pydantic import SecretStr


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def authorized(
    header: str | None,
    *,
    token: SecretStr | None,
    user: str | None,
    password: SecretStr | None,
) -> bool:
    """Whether an `Authorization` header satisfies what is configured (nothing: all pass)."""
    if token is None and user is None:
        return True
    if not header:
        return False
    scheme, _, credentials = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and token is not None:
        return _same(credentials.strip(), token.get_secret_value())
    if scheme == "basic" and user is not None and password is not None:
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        given_user, sep, given_password = decoded.partition(":")
        # Both compared, always: no early exit that times which half was wrong.
        ok_user = _same(given_user, user)
        ok_password = _same(given_password, password.get_secret_value())
        return bool(sep) and ok_user and ok_password
    return False


def challenge(token: SecretStr | None) -> str:
    return 'Bearer realm="isales"' if token is not None else 'Basic realm="isales"'
