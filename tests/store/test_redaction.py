"""Redaction inside the store, on every backend: nothing matched is ever written, the counts add
up, a re-sent event is still a duplicate, and the raw stored row holds no original text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from preflog.redact import Redactor
from preflog.store import open_store
from preflog.store.base import Store
from preflog.store.sql import SQLStore
from preflog.store.sqlite import SQLiteStore
from tests import factories as f

SECRET = "sk-abcdefghijklmnopqrstuvwxyz012345"


def _raw_bodies(store: Store, project: str) -> str:
    """Every stored body of ``project`` as the database holds it (not through the read API)."""
    assert isinstance(store, SQLStore)
    with store.connection("test") as tx:
        rows: list[Any] = tx.all("SELECT body FROM events WHERE project = ?", (project,))
    return "\n".join(r[0] for r in rows)


def test_redaction_is_applied_before_storing(store: Store, project: str) -> None:
    store.redactor = Redactor.from_names(["email", "phone", "secrets"], {"ticket": r"TCK-\d+"})
    inf = f.inference(
        prompt="I am ann@example.com, call +1 555 123 4567",
        outputs=(f"your key is {SECRET}", "see TCK-991"),
        system="contact bob@example.org",
        metadata={"note": "from carol@example.net"},
        user_id="ann-1",
    )
    pref = f.preference(inf["request_id"], rationale="ann@example.com preferred it")
    results = store.append([inf, pref], project=project)
    assert [r.status for r in results] == ["stored", "stored"]
    raw = _raw_bodies(store, project)
    for original in ("ann@example.com", "555 123 4567", SECRET, "TCK-991", "bob@example.org", "carol@"):
        assert original not in raw
    view = store.get_request(inf["request_id"], project=project)
    assert view.inference is not None
    event = view.inference.event
    assert event["prompt"] == "I am [REDACTED:email], call [REDACTED:phone]"
    assert event["candidates"][0]["output"] == "your key is [REDACTED:secret]"
    assert event["candidates"][1]["output"] == "see [REDACTED:ticket]"
    assert event["user_id"] == "ann-1"  # identifiers are kept: erasure by user needs them
    assert view.preferences[0].event["rationale"] == "[REDACTED:email] preferred it"
    assert store.redaction_counts() == {"email": 4, "phone": 1, "secret": 1, "ticket": 1}


def test_a_resent_event_is_still_a_duplicate(store: Store, project: str) -> None:
    store.redactor = Redactor.from_names(["all"])
    inf = f.inference(prompt="mail ann@example.com")
    first = store.append([inf], project=project)
    again = store.append([dict(inf)], project=project)
    sdk_path = store.append([dict(inf)], project=project, validated=True)
    assert first[0].status == "stored"
    assert again[0].status == "duplicate" and sdk_path[0].status == "duplicate"
    assert again[0].position == first[0].position


def test_off_by_default(store: Store, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFLOG_REDACT", raising=False)
    monkeypatch.delenv("PREFLOG_REDACT_PATTERNS", raising=False)
    store.redactor = Redactor()
    inf = f.inference(prompt="mail ann@example.com")
    store.append([inf], project=project)
    assert "ann@example.com" in _raw_bodies(store, project)
    assert store.redaction_counts() == {}


def test_open_store_reads_the_environment_and_stores_do_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``open_store`` is the edge that reads ``PREFLOG_REDACT``; a store built with arguments
    redacts what its ``redactor=`` says, whatever the environment."""
    monkeypatch.setenv("PREFLOG_REDACT", "email")
    inf = f.inference(prompt="mail ann@example.com")
    with open_store(str(tmp_path / "edge.db")) as edge:
        edge.append([inf], project="p")
        assert "ann@example.com" not in _raw_bodies(edge, "p")
        assert edge.redaction_counts() == {"email": 1}
    with SQLiteStore(tmp_path / "plain.db") as plain:
        plain.append([inf], project="p")
        assert "ann@example.com" in _raw_bodies(plain, "p")
    with SQLiteStore(tmp_path / "given.db", redactor=Redactor.from_names(["email"])) as given:
        given.append([inf], project="p")
        assert "ann@example.com" not in _raw_bodies(given, "p")
