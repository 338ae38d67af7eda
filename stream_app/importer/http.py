"""One GET of a vendor's REST API, as the vendors document their limits: a 429 waits what the
answer says (`Retry-After`, Aircall's `X-AircallApi-Reset`, HubSpot's interval header), a 5xx
or a dropped connection is retried with exponential backoff, and anything else that is not a
200 stops the import with the vendor's own words.

HubSpot's daily limit is not waited out: its 429 names the `DAILY` policy, and waiting until
midnight in a terminal helps nobody. The import stops there (its checkpoint kept) and says so.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class ImportStopped(Exception):
    """The import cannot go on now; its checkpoint says where it stopped."""


class DailyLimit(ImportStopped):
    """HubSpot's daily request limit is spent: run the import again tomorrow to resume."""


def retry_after_s(headers: Mapping[str, str], now_s: float) -> float | None:
    """How long a 429 asks to wait, from the headers the vendors document: `Retry-After`
    (seconds or an HTTP date; RFC 9110), Aircall's `X-AircallApi-Reset` (the Unix time the
    window resets), HubSpot's `X-HubSpot-RateLimit-Interval-Milliseconds` (the window)."""
    value = headers.get("Retry-After")
    if value:
        if value.strip().isdigit():
            return float(value.strip())
        try:
            return max(email.utils.parsedate_to_datetime(value).timestamp() - now_s, 0.0)
        except (TypeError, ValueError):
            pass
    reset = headers.get("X-AircallApi-Reset")
    if reset and reset.strip().isdigit():
        return max(float(reset) - now_s, 0.0) + 1.0
    interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval and interval.strip().isdigit():
        return int(interval) / 1000
    return None


def spent_s(headers: Mapping[str, str], now_s: float) -> float | None:
    """After a 200 that used a rate window's last request (`X-AircallApi-Remaining` or
    `X-HubSpot-RateLimit-Remaining` at 0): how long until the next window, so the next request
    is not a 429."""
    for remaining in ("X-AircallApi-Remaining", "X-HubSpot-RateLimit-Remaining"):
        if headers.get(remaining, "").strip() == "0":
            return retry_after_s(headers, now_s)
    return None


class Api:
    """GETs against one vendor's API with its credentials, retries and rate-limit waits."""

    def __init__(
        self,
        vendor: str,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        retries: int,
        backoff_max_s: float,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.retries = retries
        self.backoff_max_s = backoff_max_s
        self.sleep = sleep
        self.clock = clock
        self.requests = 0
        self.pages = 0
        """Answers taken (200s): the pages read."""
        self.waited_s = 0.0
        self.rate_limited = 0
        self.retried = 0

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.base_url + path_or_url

    async def get(self, path_or_url: str, params: Mapping[str, str] | None = None) -> Any:
        """The JSON body of a 200, after as many waits and retries as the answers ask for."""
        url = self.url(path_or_url)
        failures = 0
        while True:
            self.requests += 1
            headers: Mapping[str, str] = {}
            try:
                async with self.session.get(url, params=params) as response:
                    body = await response.read()
                    status, headers = response.status, response.headers
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, body = 0, str(exc).encode()
            if status == 200:
                try:
                    page = orjson.loads(body)
                except orjson.JSONDecodeError as exc:
                    raise ImportStopped(f"{self.vendor}: {url} answered 200 without JSON") from exc
                self.pages += 1
                if (pause := spent_s(headers, self.clock())) is not None:
                    # The window's last request: wait for the next window rather than a 429.
                    await self._wait(pause, f"rate limit window spent: waiting {pause:.1f} s")
                return page
            if status == 429:
                self.rate_limited += 1
                if b'"DAILY"' in body:
                    raise DailyLimit(f"{self.vendor}: the daily API limit is spent ({_said(body)})")
                wait = retry_after_s(headers, self.clock())
                if wait is None:
                    failures += 1
                    wait = self._backoff(failures)
                await self._wait(wait, f"rate limited (429): waiting {wait:.1f} s")
                continue
            if status == 0 or status >= 500:
                failures += 1
                if failures > self.retries:
                    what = f"HTTP {status}" if status else "no answer"
                    raise ImportStopped(
                        f"{self.vendor}: {url} failed {failures} times ({what}: {_said(body)})"
                    )
                self.retried += 1
                wait = self._backoff(failures)
                await self._wait(
                    wait, f"HTTP {status or 'error'}: retry {failures} in {wait:.1f} s"
                )
                continue
            hint = " (check the credentials)" if status in (401, 403) else ""
            raise ImportStopped(f"{self.vendor}: {url} answered {status}{hint}: {_said(body)}")

    def _backoff(self, failures: int) -> float:
        # Full jitter (AWS architecture blog, "Exponential Backoff and Jitter").
        return float(random.uniform(0, min(self.backoff_max_s, 0.5 * 2**failures)))

    async def _wait(self, seconds: float, why: str) -> None:
        log.info("%s: %s", self.vendor, why)
        self.waited_s += seconds
        await self.sleep(seconds)


def _said(body: bytes) -> str:
    """What the vendor said, cut short (an error body never carries personal data we asked
    for, but it is not ours to print at length)."""
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return text[:300] or "no body"
