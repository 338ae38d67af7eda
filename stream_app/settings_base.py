"""What every settings class shares: the environment contract (prefix ISALES_, frozen, unknown
variables ignored) and list parsing. Apart from `settings.py` so family settings can use it."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

CONFIG = SettingsConfigDict(env_prefix="ISALES_", frozen=True, extra="ignore")


def split_list(value: object) -> object:
    """`a,b,c` from an environment variable as a tuple."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value
