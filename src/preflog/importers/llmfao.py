"""The LLMFAO crowd comparisons (github.com/dustalov/llmfao, CC BY 4.0) as Chatbot Arena rows.

LLMFAO ships the votes (``crowd-comparisons.csv``: ``id`` (pair), ``worker``, ``winner`` in
``left | right | tie``, ``left``/``right`` model names) apart from the texts
(``pairs-crowd.jsonl``: ``id``, ``text`` (the prompt), ``result_x``/``result_y``). ``left`` is
``model_x``, whose output is ``result_x``, and it was shown first — so it becomes ``model_a``:

========================  =============================================
arena field               from
========================  =============================================
``question_id``           pair ``id`` (a string)
``model_a``/``model_b``   ``left``/``right``
``winner``                ``left`` → ``model_a``, ``right`` → ``model_b``, ``tie`` → ``tie``
``judge``                 ``worker`` (a string)
``conversation_a``        ``[user: text, assistant: result_x]``
``conversation_b``        ``[user: text, assistant: result_y]``
``turn``                  1
========================  =============================================

There is no timestamp. A missing output is an empty string: an empty answer, imported as such
(289 of the 2,139 pairs have one). Every vote of a pair gives the same conversations, so importing
the rows gives one request per pair, judged by each worker: ``preflog import llmfao DIR`` reads the
folder straight (:func:`llmfao_rows`, row numbers are the CSV's line numbers), and the arena rows
written to a file import the same with ``preflog import arena``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from preflog.errors import ConfigError

COMPARISONS: Final = "crowd-comparisons.csv"
PAIRS: Final = "pairs-crowd.jsonl"
WINNERS: Final = {"left": "model_a", "right": "model_b", "tie": "tie"}


def load_pairs(path: Path) -> dict[str, dict[str, Any]]:
    """``pairs-crowd.jsonl`` by pair id (as a string)."""
    pairs: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                pair = json.loads(line)
                pairs[str(pair["id"])] = pair
    return pairs


def vote_to_arena_row(vote: dict[str, str], pair: dict[str, Any]) -> dict[str, Any]:
    """One crowd vote (a CSV row) and its pair → one arena battle row."""
    prompt = {"role": "user", "content": str(pair["text"])}
    return {
        "question_id": str(vote["id"]),
        "model_a": vote["left"],
        "model_b": vote["right"],
        "winner": WINNERS[vote["winner"]],
        "judge": str(vote["worker"]),
        "conversation_a": [prompt, {"role": "assistant", "content": pair.get("result_x") or ""}],
        "conversation_b": [dict(prompt), {"role": "assistant", "content": pair.get("result_y") or ""}],
        "turn": 1,
    }


def llmfao_to_arena_rows(data_dir: Path | str) -> Iterator[dict[str, Any]]:
    """Every crowd vote of the LLMFAO folder ``data_dir`` as an arena row, in the CSV's order."""
    for _, row, _ in llmfao_rows(data_dir):
        yield row


def llmfao_rows(path: Path | str) -> Iterator[tuple[int, dict[str, Any], None]]:
    """``(CSV line number, arena row, None)`` for every crowd vote of the LLMFAO folder ``path``
    (or of the folder of ``crowd-comparisons.csv`` when given that file): the rows that
    :func:`preflog.importers.import_file` reads for the ``llmfao`` format."""
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    try:
        pairs = load_pairs(folder / PAIRS)
        with (folder / COMPARISONS).open(newline="", encoding="utf-8") as fh:
            for number, vote in enumerate(csv.DictReader(fh), start=2):
                pair = pairs.get(str(vote["id"]))
                if pair is None:
                    raise ConfigError(f"{folder / COMPARISONS}:{number}: pair {vote['id']} not in {PAIRS}")
                if vote["winner"] not in WINNERS:
                    raise ConfigError(f"{folder / COMPARISONS}:{number}: unknown winner {vote['winner']!r}")
                yield number, vote_to_arena_row(vote, pair), None
    except OSError as exc:
        raise ConfigError(f"cannot read the LLMFAO data in {folder}: {exc}") from exc
