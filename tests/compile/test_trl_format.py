"""The TRL format modules: rows written from records read back to the same texts, one shape per
file, the registry, and the shared JSONL/Parquet writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflog.errors import ValidationError
from preflog.formats import available_formats, get_format
from preflog.formats.base import read_rows_file, write_rows_file
from preflog.records import Pair, Unpaired, normalized_prompt

CHAT = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "2+2?"},
]


def pair(
    prompt: str | list[dict[str, str]] = "2+2?", system: str | None = None, margin: float | None = None
) -> Pair:
    return Pair(prompt, system, "4", "5", "r1", "a", "b", "m1", "m2", margin=margin, sources=("human",))


def unpaired(prompt: str | list[dict[str, str]] = "2+2?", system: str | None = None) -> Unpaired:
    return Unpaired(prompt, system, "4", True, "r1", "a", "m1", "end_user", "thumbs_up")


def test_registry_has_the_trl_formats() -> None:
    assert {"trl", "trl-kto", "trl-reward"} <= set(available_formats())
    assert get_format("trl-kto").kind == "unpaired" and get_format("trl-reward").kind == "pairs"


@pytest.mark.parametrize("name", ["trl", "trl-reward"])
@pytest.mark.parametrize(
    "items",
    [[pair(), pair("3+3?", margin=0.5)], [pair(CHAT, "Be brief."), pair("3+3?")]],
    ids=["standard", "conversational"],
)
def test_pairs_round_trip(name: str, items: list[Pair], tmp_path: Path) -> None:
    spec = get_format(name)
    assert spec.read_rows is not None
    info = write_rows_file(tmp_path / "train.jsonl", spec.write_rows(items))
    rows = list(read_rows_file(tmp_path / "train.jsonl"))
    assert info.rows == 2 and len({type(r["prompt"]) for r in rows}) == 1  # one type per column
    back = list(spec.read_rows(rows))
    for original, got in zip(items, back, strict=True):
        assert (got.chosen, got.rejected) == (original.chosen, original.rejected)
        assert normalized_prompt(got.prompt, got.system) == normalized_prompt(
            original.prompt, original.system
        )
        if name == "trl-reward":
            assert got.margin == original.margin
    if name == "trl-reward":
        assert [r["margin"] for r in rows] == [p.margin or 0.0 for p in items]


def test_kto_round_trip(tmp_path: Path) -> None:
    spec = get_format("trl-kto")
    assert spec.read_rows is not None
    items = [unpaired(CHAT), unpaired("x")]
    rows = list(spec.write_rows(items))
    assert rows[1] == {
        "prompt": [{"role": "user", "content": "x"}],
        "completion": [{"role": "assistant", "content": "4"}],
        "label": True,
    }
    back = list(spec.read_rows(rows))
    assert [b.completion for b in back] == ["4", "4"] and back[0].prompt == CHAT
    with pytest.raises(ValidationError, match="label"):
        list(spec.read_rows([{"prompt": "x", "completion": "y", "label": "yes"}]))


def test_implicit_prompt_rows_are_read() -> None:
    spec = get_format("trl")
    assert spec.read_rows is not None
    row = {
        "chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
        "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "B"}],
    }
    (got,) = spec.read_rows([row])
    assert got.prompt == [{"role": "user", "content": "Q"}] and (got.chosen, got.rejected) == ("A", "B")


def test_records_round_trip_as_dicts() -> None:
    for record in (pair(CHAT, "sys", 1.5), unpaired()):
        assert type(record).from_dict(record.to_dict()) == record
    assert pair().with_texts("p", None, "c", "r") == Pair(
        "p", None, "c", "r", "r1", "a", "b", "m1", "m2", sources=("human",)
    )
    with pytest.raises(ValueError, match="unknown"):
        Pair.from_dict({**pair().to_dict(), "extra": 1})


def test_parquet_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    spec = get_format("trl")
    info = write_rows_file(tmp_path / "train.parquet", spec.write_rows([pair(CHAT), pair()]), parquet=True)
    rows = list(read_rows_file(tmp_path / "train.parquet"))
    assert info.rows == 2 and rows[0]["prompt"] == CHAT
