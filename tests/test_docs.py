"""Docs that cannot drift: every CLI command and option is in docs/cli.md, every event field in
docs/events.md, and every JSON example in docs/events.md is a valid event."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator

import pytest

from preflog.cli import build_parser
from preflog.cli.common import DB_HELP, PROJECT_HELP
from preflog.events import (
    CANDIDATE_FIELDS,
    ENVELOPE_FIELDS,
    EVENT_TYPES,
    PAYLOAD_FIELDS,
    Limits,
    validate_event,
)
from tests.conftest import ROOT

CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
EVENTS_DOC = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def commands(
    parser: argparse.ArgumentParser, prefix: str = "preflog"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command, nested ones too, as (``preflog keys create``, its parser)."""
    for name, sub in _subparsers(parser).items():
        yield f"{prefix} {name}", sub
        yield from commands(sub, f"{prefix} {name}")


COMMANDS = dict(commands(build_parser()))


def section(doc: str, command: str) -> str:
    """The text under the heading ``## `preflog X``` (or ``###``) up to the next heading of its level."""
    match = re.search(rf"^(#+) `{re.escape(command)}`\s*$", doc, re.MULTILINE)
    assert match, f"docs/cli.md has no heading `{command}`"
    level = len(match.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(doc, match.end())
    return doc[match.end() : end.start() if end else len(doc)]


def test_core_commands_exist() -> None:
    assert {"preflog log", "preflog show", "preflog stats", "preflog schema", "preflog demo"} <= set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_and_option_is_documented(command: str) -> None:
    """The global --db and --project, accepted after every command too, are documented once under
    "Global options"; a command's own --project (keys list: a filter) is documented with it."""
    text = section(CLI_DOC, command)
    for action in COMMANDS[command]._actions:
        if action.help in (DB_HELP, PROJECT_HELP):
            continue
        longs = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
        if longs:
            assert any(f"`{o}" in text for o in longs), f"{command}: {longs[0]} is not in docs/cli.md"


def test_global_options_and_env_are_documented() -> None:
    for needle in ("--db", "--project", "PREFLOG_DB", "PREFLOG_PROJECT", "sqlite:///"):
        assert needle in CLI_DOC


def test_every_event_field_is_documented() -> None:
    for etype in EVENT_TYPES:
        assert f"## {etype}" in EVENTS_DOC
        for name in (*ENVELOPE_FIELDS, *PAYLOAD_FIELDS[etype]):
            assert f"`{name}`" in EVENTS_DOC, f"{etype}.{name} is not in docs/events.md"
    for name in CANDIDATE_FIELDS:
        assert f"`candidates[].{name}`" in EVENTS_DOC


def test_every_limit_and_its_env_var_is_documented() -> None:
    for name, default in Limits().__dict__.items():
        row = next((line for line in EVENTS_DOC.splitlines() if line.startswith(f"| `{name}`")), "")
        assert f"`PREFLOG_{name.upper()}`" in row and str(default) in row, name


def test_json_examples_in_events_doc_are_valid_events() -> None:
    blocks = re.findall(r"```json\n(.*?)```", EVENTS_DOC, re.DOTALL)
    events = [json.loads(block) for block in blocks]
    assert {e["type"] for e in events} == set(EVENT_TYPES)
    for event in events:
        validate_event(event)


def test_every_screenshot_the_docs_show_exists() -> None:
    """Each image docs/ and the README show is one the browser tests take (make screenshots)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    shown = {m for page in pages for m in re.findall(r"screenshots/([\w.-]+\.png)", page.read_text())}
    assert shown and all((ROOT / "docs" / "screenshots" / name).is_file() for name in shown), shown
    taken = set(
        re.findall(r'shoot\(\w+, "([\w-]+)"', (ROOT / "tests" / "ui" / "test_browser.py").read_text())
    )
    assert {name.removesuffix(".png") for name in shown} <= taken


def test_ui_docs_make_keys_in_the_store_make_run_serves() -> None:
    """docs/ui.md's keys create names the store and project of make run, where signing in works."""
    makefile = (ROOT / "Makefile").read_text()
    demo_db = re.search(r"^DEMO_DB \?= (\S+)", makefile, re.MULTILINE)
    assert demo_db and f"--db {demo_db.group(1)} serve --demo" in makefile.replace(
        "$(DEMO_DB)", demo_db.group(1)
    )
    ui_doc = (ROOT / "docs" / "ui.md").read_text()
    creates = re.findall(r"preflog (.*?keys create.*)", ui_doc)
    assert creates
    for command in creates:
        assert f"--db {demo_db.group(1)}" in command and "--project demo" in command, command
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin" in readme and "examples/events.ndjson" in readme
