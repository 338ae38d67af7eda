"""Configuration errors as one line that names the variable, not a 22-line traceback."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr, ValidationError

from stream_app.settings import Settings

_CONSTRAINTS = {
    "greater_than_equal": ("ge", "must be ≥ {}"),
    "greater_than": ("gt", "must be > {}"),
    "less_than_equal": ("le", "must be ≤ {}"),
    "less_than": ("lt", "must be < {}"),
}
_PLAIN = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
    "missing": "is required",
}


def _env_name(field: str, env: Mapping[str, str]) -> str:
    info = Settings.model_fields.get(field)
    names = [f"ISALES_{field.upper()}"]
    alias = getattr(info, "validation_alias", None) if info is not None else None
    if alias is not None and hasattr(alias, "choices"):
        names = [str(c) for c in alias.choices]
    return next((n for n in names if n in env), names[0])


def _explain(error: Mapping[str, Any]) -> str:
    kind = str(error["type"])
    ctx = error.get("ctx") or {}
    if kind in _CONSTRAINTS:
        key, text = _CONSTRAINTS[kind]
        bound = ctx.get(key)
        return text.format(f"{bound:g}" if isinstance(bound, float) else bound)
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def describe(exc: ValidationError, env: Mapping[str, str] | None = None) -> str:
    """`invalid setting ISALES_GRACE_SECONDS=-5: must be ≥ 0`, for the first error."""
    env = os.environ if env is None else env
    error = exc.errors(include_url=False)[0]
    loc = [str(p) for p in error["loc"]]
    more = len(exc.errors()) - 1
    tail = f" (and {more} more)" if more else ""
    if not loc:
        return f"invalid settings: {_explain(error)}{tail}"
    field = loc[0].lower().removeprefix("isales_")
    name = _env_name(field, env)
    info = Settings.model_fields.get(field)
    secret = info is not None and "SecretStr" in str(info.annotation)
    value = "***" if secret else env.get(name, error.get("input", ""))
    if isinstance(value, SecretStr):
        value = "***"
    return f"invalid setting {name}={value}: {_explain(error)}{tail}"
