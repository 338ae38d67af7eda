"""The configuration reference is generated from the settings model (docs/_ext/isales_reference.py
writes docs/reference/configuration.md at every docs build): every setting is described, every
name it is read from is on the page, no secret's default is ever shown, and the page the build
writes is `configuration_markdown()`."""

from __future__ import annotations

import importlib.util
import io
import re
import runpy
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from docutils import nodes  # type: ignore[import-untyped]
from docutils.core import publish_doctree  # type: ignore[import-untyped]
from myst_parser.parsers.docutils_ import Parser
from pydantic import AliasChoices, Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from stream_app.settings import Settings
from stream_app.settings_base import CONFIG
from tests.helpers.support import ROOT

DOCS = ROOT / "docs"
EXTENSION = DOCS / "_ext" / "isales_reference.py"


def load_extension() -> ModuleType:
    """docs/_ext is not a package: the extension is loaded from its file, as Sphinx finds it."""
    spec = importlib.util.spec_from_file_location("isales_reference_under_test", EXTENSION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ext() -> ModuleType:
    return load_extension()


@pytest.fixture(scope="module")
def page(ext: ModuleType) -> str:
    text: str = ext.configuration_markdown()
    return text


def accepted_names(name: str, field: FieldInfo) -> list[str]:
    """What pydantic-settings reads the field from: its validation alias(es), which replace the
    prefixed name, or else the prefix and the field's name."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, str):
        return [alias]
    return [f"{Settings.model_config.get('env_prefix', '')}{name}".upper()]


def doctree(markdown: str) -> tuple[Any, str]:
    """The page as MyST parses it (the site's extensions), and the warnings it gave."""
    warnings = io.StringIO()
    tree = publish_doctree(
        markdown,
        parser=Parser(),
        settings_overrides={
            "myst_enable_extensions": ["colon_fence", "deflist"],
            "myst_heading_anchors": 3,
            "warning_stream": warnings,
            "report_level": 2,
            "halt_level": 5,
        },
    )
    return tree, warnings.getvalue()


def entries(markdown: str) -> dict[str, tuple[str, str]]:
    """Each entry of the rendered page: its term (the variable names) -> (the type-and-default
    line, the description), as a reader sees them."""
    tree, _ = doctree(markdown)
    out = {}
    for item in tree.findall(nodes.definition_list_item):
        term = item.next_node(nodes.term).astext()
        paragraphs = list(item.next_node(nodes.definition).findall(nodes.paragraph))
        assert len(paragraphs) == 2, term
        out[term] = (paragraphs[0].astext(), paragraphs[1].astext())
    return out


def test_every_setting_has_a_description() -> None:
    missing = [
        name
        for name, field in Settings.model_fields.items()
        if not (field.description and field.description.strip())
    ]
    assert missing == []


def test_every_name_a_setting_is_read_from_is_on_the_page(page: str) -> None:
    shown = entries(page)
    assert len(shown) == len(Settings.model_fields)
    for name, field in Settings.model_fields.items():
        term = ", ".join(accepted_names(name, field))
        assert term in shown, f"{name}: no entry {term!r}"
        assert shown[term][1] == (field.description or "").replace("`", ""), name


def test_both_names_of_an_aliased_setting_really_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `accepted_names` says pydantic-settings does, it does."""
    checked = 0
    for name, field in Settings.model_fields.items():
        if field.validation_alias is None or field.annotation is not str:
            continue
        for env in accepted_names(name, field):
            with monkeypatch.context() as patch:
                for other in accepted_names(name, field):
                    patch.delenv(other, raising=False)
                patch.setenv(env, "probe.example:1")
                assert getattr(Settings(), name) == "probe.example:1", env
            checked += 1
    assert checked >= 2
    monkeypatch.setenv("ISALES_APP_ID", "probe-app")
    assert Settings().app_id == "probe-app"


def test_secret_defaults_are_never_shown(ext: ModuleType, page: str) -> None:
    shown = entries(page)
    secrets = [name for name, field in Settings.model_fields.items() if ext.is_secret(field)]
    assert len(secrets) >= 8
    for name in secrets:
        field = Settings.model_fields[name]
        meta, _ = shown[", ".join(accepted_names(name, field))]
        assert meta in ("secret; default unset", f"secret; default {ext.HIDDEN_DEFAULT}"), name

    class Probe(BaseSettings):
        model_config = CONFIG
        token: SecretStr = Field(default=SecretStr("hunter2-probe"), description="A secret.")
        maybe: SecretStr | None = Field(
            default_factory=lambda: SecretStr("factory-probe"), description="Another."
        )
        unset: SecretStr | None = Field(default=None, description="Not set.")

    section: str = ext.section_markdown("Probe", Probe)
    assert "hunter2-probe" not in section
    assert "factory-probe" not in section
    assert "**********" not in section  # SecretStr's own str()
    probe = entries(section)
    assert probe["ISALES_TOKEN"][0] == f"secret; default {ext.HIDDEN_DEFAULT}"
    assert probe["ISALES_MAYBE"][0] == f"secret; default {ext.HIDDEN_DEFAULT}"
    assert probe["ISALES_UNSET"][0] == "secret; default unset"


def test_the_page_renders_cleanly_in_myst(page: str) -> None:
    tree, warnings = doctree(page)
    assert warnings == ""
    # Raw HTML would be a description's `<...>` read as a tag, and vanish from the page.
    assert list(tree.findall(nodes.raw)) == []
    assert tree.next_node(nodes.title).astext() == "Configuration"
    titles = [section.next_node(nodes.title).astext() for section in tree.findall(nodes.section)]
    assert titles == [
        "Spine",
        "Calls",
        "E-mail",
        "CRM",
        "Engagement",
        "Vendors",
        "Gateway",
        "Import",
        "Read outside the settings",
    ]


def test_no_build_machine_path_is_on_the_page(page: str) -> None:
    home = str(Path.home())
    if len(home) > 1:
        assert home not in page


def test_variables_read_outside_the_settings_are_on_the_page(page: str) -> None:
    """Every ISALES_* or KAFKA_* name the code reads from os.environ itself is documented too."""
    read = re.compile(r"environ|getenv")
    name = re.compile(r"[\"']((?:ISALES|KAFKA)_[A-Z0-9_]*[A-Z0-9])[\"']")
    found = set()
    for folder in ("stream_app", "bench", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if read.search(line):
                    found.update(name.findall(line))
    assert {"ISALES_KAFKA_HOME", "ISALES_CACHE_DIR", "KAFKA_BOOTSTRAP_SERVERS"} <= found
    assert [env for env in sorted(found) if f"`{env}`" not in page] == []


def test_the_build_writes_this_page(ext: ModuleType, page: str, tmp_path: Path) -> None:
    hooks: list[tuple[str, Any]] = []
    app = SimpleNamespace(connect=lambda event, hook: hooks.append((event, hook)))
    ext.setup(app)
    assert [event for event, _ in hooks] == ["builder-inited"]
    _, hook = hooks[0]
    hook(SimpleNamespace(srcdir=str(tmp_path)))
    written = tmp_path / "reference" / "configuration.md"
    assert written.read_text(encoding="utf-8") == page


def test_the_docs_build_runs_the_extension_and_git_ignores_its_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # conf.py adds docs/_ext and the root
    conf = runpy.run_path(str(DOCS / "conf.py"))
    assert "isales_reference" in conf["extensions"]
    assert str(EXTENSION.parent) in sys.path
    ignored = (DOCS / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "reference/configuration.md" in ignored
