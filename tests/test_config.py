"""The configuration table: one place for every ``PREFLOG_*`` name, its docs generated from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from preflog import config
from preflog.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_docs_table_is_generated_from_the_config_table() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert config.markdown_table() in text


def test_every_variable_the_code_reads_is_in_the_table() -> None:
    names: set[str] = set()
    for path in (ROOT / "src" / "preflog").rglob("*.py"):
        names |= set(re.findall(r"\"(PREFLOG_[A-Z_]+)\"", path.read_text(encoding="utf-8")))
    assert names - set(config.SETTINGS) == set()


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("PREFLOG_MAX_TAGS", "7", 7),
        ("PREFLOG_RATE_LIMIT", "2.5", 2.5),
        ("PREFLOG_RATE_LIMIT", "off", None),
        ("PREFLOG_PG_TIMEOUT", "0.5", 0.5),
        ("PREFLOG_SQLITE_SYNCHRONOUS", " full ", "FULL"),
        ("PREFLOG_DB", "", "./preflog.db"),
        ("PREFLOG_URL", "", None),
    ],
)
def test_values_parse(name: str, text: str, expected: object) -> None:
    assert config.get(name, {name: text}) == expected


@pytest.mark.parametrize(
    ("name", "text"), [("PREFLOG_MAX_TAGS", "many"), ("PREFLOG_WORKERS", "0"), ("PREFLOG_PG_TIMEOUT", "-1")]
)
def test_a_bad_value_names_the_variable(name: str, text: str) -> None:
    with pytest.raises(ConfigError, match=name):
        config.get(name, {name: text})
