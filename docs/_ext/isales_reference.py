"""Sphinx extension: writes reference/configuration.md from the settings model and
reference/metrics.md from the metrics catalogs and benchmarks.md from docs/benchmarks/*.json
at every build.

The page is generated, never edited: each settings mixin is a section (its docstring the intro),
each field an entry with the environment variable(s) it is read from, its type, its default and
its description (`Field(description=...)` in the settings code). `configuration_markdown()` is the
whole page as a string, so tests can check it without running Sphinx.
"""

from __future__ import annotations

import inspect
import json
import re
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic.fields import FieldInfo

from stream_app.adapters.settings import VendorSettings
from stream_app.families.calls.settings import CallsSettings
from stream_app.families.crm.settings import CrmSettings
from stream_app.families.email.settings import EmailSettings
from stream_app.families.engagement.settings import EngagementSettings
from stream_app.gateway.settings import GatewaySettings
from stream_app.importer.settings import ImportSettings
from stream_app.settings import Settings, SpineSettings

PAGE = Path("reference") / "configuration.md"
"""Where the page goes, relative to the docs source folder."""

GROUPS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("Spine", SpineSettings),
    ("Calls", CallsSettings),
    ("E-mail", EmailSettings),
    ("CRM", CrmSettings),
    ("Engagement", EngagementSettings),
    ("Vendors", VendorSettings),
    ("Gateway", GatewaySettings),
    ("Import", ImportSettings),
)
"""The page's sections, in order: one per settings mixin of `Settings`."""

DEFAULT_TEXT = {
    "data_dir": "`$XDG_STATE_HOME/isales-kpi`, else `~/.local/state/isales-kpi`",
}
"""Defaults that depend on the machine, said in words rather than as the build machine's value."""

HIDDEN_DEFAULT = "set, not shown (secret)"
"""What a secret's default says when there is one: never its value."""

OUTSIDE_SETTINGS: tuple[tuple[str, str, str, str], ...] = (
    (
        "ISALES_KAFKA_HOME",
        "`stream-app up`, `stream-app kafka start` (`stream_app/kafka/local_broker.py`)",
        "`$ISALES_CACHE_DIR/broker`",
        "Folder of the local Kafka broker they run: its config, data, log, pid and port files.",
    ),
    (
        "ISALES_CACHE_DIR",
        "`stream-app up`, `stream-app kafka start` (`stream_app/kafka/local_broker.py`)",
        "`$XDG_CACHE_HOME/isales-kpi`, else `~/.cache/isales-kpi`",
        "Where the local broker's jars are kept (fetched once with Maven); also holds the "
        "broker's default folder.",
    ),
    (
        "ISALES_KAFKA_VERSION",
        "`stream-app up`, `stream-app kafka start` (`stream_app/kafka/local_broker.py`)",
        "`4.1.1`",
        "Kafka version of the local broker's jars.",
    ),
    (
        "KAFKA_BOOTSTRAP_SERVERS",
        "the benchmarks (`bench/`) and the test suite (`tests/conftest.py`)",
        "unset",
        "The broker they use. Unset: the benchmarks start a local broker; the tests use "
        "testcontainers' Kafka when a Docker engine answers, else the local broker. (The "
        "service reads it too, as the other name of `ISALES_KAFKA_BOOTSTRAP_SERVERS`.)",
    ),
    (
        "ISALES_FAULT_HOSTILE_RECORDS",
        "the test suite (`tests/kafka/test_faults_kafka.py`)",
        "`6000`",
        "Hostile records of the poison-flood fault test; `100000` runs the full flood.",
    ),
)
"""Environment variables read with `os.environ` outside the settings model: name, who reads it,
default, what it does. Written by hand (kept complete by tests/spine/test_settings_reference.py)."""

_ENV_NAME = re.compile(r"\b(?:ISALES|KAFKA)_[A-Z0-9_]*[A-Z0-9]\b")
_CODE_SPAN = re.compile(r"`[^`]+`")
_SPECIAL = re.compile(r"([\\`*_<>\[\]{}|#~$&!])")


def _escape_plain(text: str) -> str:
    out = []
    pos = 0
    for match in _ENV_NAME.finditer(text):
        out.append(_SPECIAL.sub(r"\\\1", text[pos : match.start()]))
        out.append(f"`{match.group(0)}`")
        pos = match.end()
    out.append(_SPECIAL.sub(r"\\\1", text[pos:]))
    return "".join(out)


def _escape(text: str) -> str:
    """Text from the settings code as Markdown: `code spans` stay, environment variable names
    become code, and every other character MyST could read as markup is escaped."""
    out = []
    pos = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_escape_plain(text[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_escape_plain(text[pos:]))
    return "".join(out)


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    """Markdown for a table cell: a `|` would end the cell."""
    return text.replace("|", "\\|")


def env_names(name: str, field: FieldInfo, model: type[BaseModel] = Settings) -> list[str]:
    """The environment variables the field is read from: its validation alias(es) if it has
    any (pydantic-settings then ignores the prefix), else the prefix and the field's name."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, str):
        return [alias]
    if field.alias is not None:
        return [field.alias]
    prefix = str(model.model_config.get("env_prefix", ""))
    return [f"{prefix}{name}".upper()]


def _strip_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def is_secret(field: FieldInfo) -> bool:
    return _strip_none(field.annotation) is SecretStr


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _bounds(field: FieldInfo) -> list[str]:
    marks = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    out = []
    for meta in field.metadata:
        for attr, mark in marks.items():
            bound = getattr(meta, attr, None)
            if isinstance(bound, int | float):
                out.append(f"{mark} {_number(bound)}")
        pattern = getattr(meta, "pattern", None)
        if pattern is not None:
            out.append(f"matching {_code(str(pattern))}")
    return out


def type_text(field: FieldInfo) -> str:
    """Human-readable type, with the bounds the field enforces."""
    annotation = _strip_none(field.annotation)
    origin = get_origin(annotation)
    if annotation is SecretStr:
        kind = "secret"
    elif origin is Literal:
        kind = "one of: " + ", ".join(_code(str(arg)) for arg in get_args(annotation))
    elif origin in (tuple, list, set, frozenset):
        kind = "list (comma-separated)"
    elif origin is dict or annotation is dict:
        kind = "JSON object"
    elif annotation is Path:
        kind = "path"
    elif isinstance(annotation, type):
        kind = annotation.__name__
    else:
        kind = str(annotation)
    return ", ".join([kind, *_bounds(field)])


def _value_text(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return _code("true" if value else "false")
    if isinstance(value, float):
        return _code(_number(value))
    if isinstance(value, tuple | list):
        return _code(",".join(str(item) for item in value)) if value else "empty"
    if isinstance(value, dict):
        plain = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in value.items()}
        return _code(json.dumps(plain))
    if isinstance(value, str) and value == "":
        return "empty"
    return _code(str(value))


def default_text(name: str, field: FieldInfo) -> str:
    """The default as the page shows it: a secret's is never shown, None is "unset"."""
    if field.is_required():
        return "required"
    if is_secret(field):
        return "unset" if field.get_default(call_default_factory=True) is None else HIDDEN_DEFAULT
    if name in DEFAULT_TEXT:
        return DEFAULT_TEXT[name]
    return _value_text(field.get_default(call_default_factory=True))


def _intro(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def section_markdown(title: str, model: type[BaseModel]) -> str:
    """One mixin's section: its docstring, then one definition-list entry per field."""
    lines = [f"## {title}", ""]
    intro = _intro(model)
    if intro:
        lines += [_escape(" ".join(intro.split())), ""]
    for name, field in model.model_fields.items():
        names = ", ".join(_code(env) for env in env_names(name, field, model))
        description = field.description or ""
        lines += [
            names,
            f": {type_text(field)}; default {default_text(name, field)}",
            "",
            f"  {_escape(description)}",
            "",
        ]
    return "\n".join(lines)


def _outside_markdown() -> str:
    lines = [
        "## Read outside the settings",
        "",
        "These are read directly from the environment by the tools named, not by the settings "
        "above: a typo in them is not reported either.",
        "",
        "| variable | read by | default | what it does |",
        "| --- | --- | --- | --- |",
    ]
    for name, reader, default, text in OUTSIDE_SETTINGS:
        row = [_code(name), reader, default, _escape(text)]
        lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def configuration_markdown() -> str:
    """The whole configuration page, Markdown (MyST)."""
    grouped = [name for _, model in GROUPS for name in model.model_fields]
    mixins = {model for _, model in GROUPS}
    if sorted(grouped) != sorted(Settings.model_fields) or mixins != set(Settings.__bases__):
        raise RuntimeError(
            "docs/_ext/isales_reference.py: GROUPS must list each settings mixin of Settings "
            f"once; Settings is {[base.__name__ for base in Settings.__bases__]}"
        )
    prefix = str(Settings.model_config.get("env_prefix", ""))
    head = [
        "% Generated by docs/_ext/isales_reference.py from the settings classes at every build:",
        "% edit their Field descriptions, not this file.",
        "",
        "# Configuration",
        "",
        f"Every setting is an environment variable, `{prefix}` and the setting's name in capitals "
        "(a setting that also has another name lists both). This page is generated from the "
        "settings classes (`stream_app/settings.py` and each part's `settings.py`) when the "
        "docs are built.",
        "",
        "- Settings are read once, at start. A list is comma-separated (`1h,1d`); a JSON object "
        "is JSON. Times and sizes say their unit in the name (`_SECONDS`, `_HOURS`, `_BYTES`).",
        "- A value the service cannot use stops it at once with one line naming the variable "
        "and exit status 2 (`stream-app: invalid setting ISALES_GRACE_SECONDS=-5: must be ≥ 0`); "
        "secrets are shown as `***` there and are never logged.",
        f"- Any other variable starting `{prefix}` is ignored, except those "
        "[read outside the settings](#read-outside-the-settings): check the spelling of a "
        "setting that seems to have no effect.",
        "",
    ]
    sections = [section_markdown(title, model) for title, model in GROUPS]
    return "\n".join(head) + "\n" + "\n".join(sections) + "\n" + _outside_markdown()


def write_reference(srcdir: Path) -> Path:
    """Write the page under the docs source folder; only when it changed, so an unchanged page
    does not make Sphinx read it again."""
    path = srcdir / PAGE
    text = configuration_markdown()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path


METRICS_PAGE = Path("reference") / "metrics.md"


def write_metrics_reference(srcdir: Path) -> Path:
    """The metrics page, from the metrics catalogs (stream_app.tools.metrics_reference)."""
    from stream_app.tools.metrics_reference import markdown

    path = srcdir / METRICS_PAGE
    text = markdown()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def write_benchmarks(srcdir: Path) -> Path:
    """The benchmarks page, from docs/benchmarks/*.json (bench.report)."""
    from bench.report import markdown

    path = srcdir / "benchmarks.md"
    text = markdown(srcdir / "benchmarks")
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def on_builder_inited(app: Any) -> None:
    write_reference(Path(app.srcdir))
    write_metrics_reference(Path(app.srcdir))
    write_benchmarks(Path(app.srcdir))


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", on_builder_inited)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
