"""Implicit signals as weak preferences (#11.4): thumbs up/down and accept-after-regenerate become
pairs with source kind ``implicit`` only when asked; explicit judgments outrank them; KTO is as it
was. On real stores (SQLite, and PostgreSQL through ``any_store``)."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pytest

import preflog.compile.implicit as implicit
from preflog.cli import main
from preflog.errors import ConfigError
from preflog.store import Store
from tests import factories as f
from tests.compile.helpers import all_rows, append_all, compile_rows

GOOD, BAD = "Paris is the capital of France.", "I think it is Lyon."


def _at(minute: int) -> str:
    return f"2026-11-26T10:{minute:02d}:00Z"


def _signal(rid: str, cid: str, kind: str, minute: int) -> dict[str, Any]:
    return f.signal(rid, cid, kind, occurred_at=_at(minute), user_id="u-1")


def _request(*signals: tuple[str, str, int]) -> list[dict[str, Any]]:
    inf = f.inference(models=("alpha", "beta"), outputs=(GOOD, BAD))
    inf["prompt"] = f"What is the capital of France? ({inf['request_id']})"  # no two alike
    rid = inf["request_id"]
    return [inf, *(_signal(rid, cid, kind, minute) for cid, kind, minute in signals)]


def test_docstring_examples_of_the_rules() -> None:
    result = doctest.testmod(implicit)
    assert result.attempted >= 8 and result.failed == 0


def test_thumbs_up_and_down_on_siblings_make_a_pair_only_when_asked(
    any_store: Store, project: str, tmp_path: Path
) -> None:
    append_all(any_store, _request(("c0", "thumbs_up", 2), ("c1", "thumbs_down", 3)), project)
    off, rows = compile_rows(any_store, project, tmp_path / "off")
    assert off.counts_out["items"] == 0 and off.drops["unpaired_only"] == 2
    on, rows = compile_rows(any_store, project, tmp_path / "on", implicit_pairs=("thumbs",))
    assert [(r["chosen"], r["rejected"]) for r in all_rows(rows)] == [(GOOD, BAD)]
    assert on.counts_out["by_source"] == {"implicit": 1}
    assert "unpaired_only" not in on.drops  # both thumbs went into the pair
    assert on.options["implicit_pairs"] == ["thumbs"]


def test_accept_after_regenerate_is_a_pair(store: Store, project: str, tmp_path: Path) -> None:
    events = _request(("c1", "regenerate", 2), ("c0", "copy", 4))  # saw c1, regenerated, copied c0
    events += _request(("c0", "copy", 1), ("c1", "regenerate", 2))  # the copy came first: nothing
    events += _request(("c1", "regenerate", 2), ("c0", "copy", 3), ("c1", "copy", 5))  # both accepted
    events += _request(("c1", "regenerate", 2), ("c0", "conversion", 3))  # not an accept by default
    append_all(store, events, project)
    m, rows = compile_rows(store, project, tmp_path / "a", implicit_pairs=("regenerate",))
    assert [(r["chosen"], r["rejected"]) for r in all_rows(rows)] == [(GOOD, BAD)]
    assert m.drops["signal_not_used"] == 2 + 3 + 2
    wider, _ = compile_rows(
        store, project, tmp_path / "b", implicit_pairs=("regenerate",), implicit_accept=("copy", "conversion")
    )
    assert wider.counts_out["items"] == 2
    off, _ = compile_rows(store, project, tmp_path / "c")
    assert off.counts_out["items"] == 0 and off.drops["signal_not_used"] == 9


def test_minimum_evidence(store: Store, project: str, tmp_path: Path) -> None:
    append_all(store, _request(("c0", "thumbs_up", 1), ("c1", "thumbs_down", 2)), project)
    strong = _request(("c0", "thumbs_up", 1), ("c0", "thumbs_up", 2), ("c1", "thumbs_down", 3))
    strong += [_signal(strong[0]["request_id"], "c1", "thumbs_down", 4)]
    append_all(store, strong, project)
    one, _ = compile_rows(store, project, tmp_path / "one", implicit_pairs=("thumbs",))
    two, _ = compile_rows(
        store, project, tmp_path / "two", implicit_pairs=("thumbs",), implicit_min_evidence=2
    )
    assert (one.counts_out["items"], two.counts_out["items"]) == (2, 1)
    assert two.drops["unpaired_only"] == 2  # the lone pair of thumbs stays a pair of labels


def test_an_explicit_judgment_outranks_the_weak_pair(store: Store, project: str, tmp_path: Path) -> None:
    events = _request(("c0", "thumbs_up", 1), ("c1", "thumbs_down", 2))
    events.append(f.preference(events[0]["request_id"], "c1", "c0"))  # an annotator disagrees
    append_all(store, events, project)
    m, rows = compile_rows(store, project, tmp_path / "x", implicit_pairs=("thumbs",))
    assert [(r["chosen"], r["rejected"]) for r in all_rows(rows)] == [(BAD, GOOD)]
    assert m.drops["implicit_superseded"] == 1 and m.counts_out["by_source"] == {"human": 1}


def test_retracted_signals_and_kto_as_before(store: Store, project: str, tmp_path: Path) -> None:
    events = _request(("c0", "thumbs_up", 1), ("c1", "thumbs_down", 2))
    events.append(f.retraction(events[0]["request_id"], events[1]["event_id"]))
    append_all(store, events, project)
    m, _ = compile_rows(store, project, tmp_path / "r", implicit_pairs=("thumbs",))
    assert m.counts_out["items"] == 0 and m.drops["retracted"] == 1
    plain, kto = compile_rows(store, project, tmp_path / "k1", "trl-kto")
    asked, kto_asked = compile_rows(store, project, tmp_path / "k2", "trl-kto", implicit_pairs=("thumbs",))
    assert kto == kto_asked and plain.drops == asked.drops  # unpaired formats take thumbs as labels
    assert [r["label"] for r in all_rows(kto)] == [False]


def test_bad_policy_is_a_clear_error(store: Store, project: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="implicit_pairs"):
        compile_rows(store, project, tmp_path / "e", implicit_pairs=("dwell",))
    with pytest.raises(ConfigError, match="implicit_accept"):
        compile_rows(store, project, tmp_path / "e", implicit_accept=("regenerate",))
    with pytest.raises(ConfigError, match="implicit_min_evidence"):
        compile_rows(store, project, tmp_path / "e", implicit_min_evidence=0)


def test_cli_compile_with_implicit_pairs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from preflog.store import open_store

    db = tmp_path / "cli.db"
    with open_store(str(db)) as s:
        append_all(s, _request(("c1", "regenerate", 1), ("c0", "copy", 2)), "p")
    argv = ["--db", str(db), "--project", "p", "compile", "--format", "trl"]
    assert main([*argv, "--out", str(tmp_path / "o"), "--implicit-pairs", "regenerate", "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["counts_out"]["by_source"] == {"implicit": 1}
    assert (
        main(
            [
                *argv,
                "--out",
                str(tmp_path / "o2"),
                "--implicit-pairs",
                "thumbs",
                "--implicit-min-evidence",
                "0",
            ]
        )
        == 2
    )
    assert "--implicit-min-evidence: must be at least 1" in capsys.readouterr().err
