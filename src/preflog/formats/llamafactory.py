"""LLaMA-Factory preference datasets (``ranking: true``), two shapes, each written with its
``dataset_info.json`` entry (one per data file, named after it: ``train.jsonl`` → ``"train"``):

- ``llamafactory`` — *sharegpt*: ``{"conversations": [{"from": "human" | "gpt" | "observation",
  "value": ...}], "system": str, "chosen": {"from": "gpt", "value": ...}, "rejected": {...}}``;
  entry ``{"file_name", "formatting": "sharegpt", "ranking": true, "columns": {"messages":
  "conversations", "system": "system", "chosen": "chosen", "rejected": "rejected"}}``.
- ``llamafactory-alpaca`` — *alpaca*: ``{"instruction": the last user turn, "input": "",
  "system": str, "history": [[user, assistant], ...], "chosen": str, "rejected": str}``; entry
  ``{"file_name", "ranking": true, "columns": {"prompt": "instruction", "query": "input",
  "system": "system", "history": "history", "chosen": "chosen", "rejected": "rejected"}}``.

``system`` is ``""`` when there is none. LLaMA-Factory wants turns to alternate (human first):
consecutive turns of one side are joined with a blank line, and ``tool`` turns are
``observation`` (sharegpt) or part of the user side (alpaca).

>>> from preflog.records import Pair
>>> p = Pair(prompt="2+2?", system=None, chosen="4", rejected="5", request_id="r1",
...          chosen_id="a", rejected_id="b", chosen_model="m1", rejected_model="m2")
>>> sharegpt_row(p)["conversations"], alpaca_row(p)["instruction"]
([{'from': 'human', 'value': '2+2?'}], '2+2?')
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import PurePosixPath
from typing import Any, Final

from preflog.formats._readback import read_pair
from preflog.formats.base import DataFile, FormatSpec, Row, register_format, text_reply
from preflog.records import Message, Pair, Prompt, as_messages

_SHAREGPT_ROLE: Final = {"user": "human", "assistant": "gpt", "tool": "observation", "system": "human"}
_ROLE_OF: Final = {"human": "user", "gpt": "assistant", "observation": "tool", "function_call": "assistant"}


def _turns(prompt: Prompt, system: str | None) -> tuple[str, list[Message]]:
    """``(system, messages)`` with the system prompt taken out and consecutive same-side turns joined."""
    messages = as_messages(prompt, system)
    text = ""
    if messages and messages[0]["role"] == "system":
        text, messages = messages[0]["content"], messages[1:]
    merged: list[Message] = []
    for m in messages:
        role = "assistant" if m["role"] == "assistant" else ("tool" if m["role"] == "tool" else "user")
        if merged and merged[-1]["role"] == role:
            merged[-1] = {"role": role, "content": merged[-1]["content"] + "\n\n" + m["content"]}
        else:
            merged.append({"role": role, "content": m["content"]})
    return text, merged


# ---------------------------------------------------------------------------------------------- sharegpt


def sharegpt_row(pair: Pair) -> Row:
    system, messages = _turns(pair.prompt, pair.system)
    return {
        "conversations": [{"from": _SHAREGPT_ROLE[m["role"]], "value": m["content"]} for m in messages],
        "system": system,
        "chosen": {"from": "gpt", "value": text_reply(pair.chosen, "llamafactory")},
        "rejected": {"from": "gpt", "value": text_reply(pair.rejected, "llamafactory")},
    }


def write_sharegpt(pairs: Sequence[Pair]) -> Iterator[Row]:
    return (sharegpt_row(p) for p in pairs)


def _value(item: Any, key: str) -> str:
    if isinstance(item, dict) and isinstance(item.get("value"), str):
        return str(item["value"])
    if isinstance(item, str):
        return item
    raise ValueError(f"{key}: must be a message {{from, value}}")


def sharegpt_pair(row: Row) -> Pair:
    turns = row.get("conversations")
    if not isinstance(turns, list):
        raise ValueError("conversations: must be a list of {from, value}")
    messages: list[Message] = [
        {"role": _ROLE_OF.get(str(t.get("from")), "user"), "content": _value(t, "conversations")}
        for t in turns
        if isinstance(t, dict)
    ]
    system = row.get("system")
    return read_pair(
        messages,
        system if isinstance(system, str) and system else None,
        _value(row.get("chosen"), "chosen"),
        _value(row.get("rejected"), "rejected"),
    )


def read_sharegpt(rows: Iterable[Row]) -> Iterator[Pair]:
    return (sharegpt_pair(row) for row in rows)


# ---------------------------------------------------------------------------------------------- alpaca


def alpaca_row(pair: Pair) -> Row:
    system, messages = _turns(pair.prompt, pair.system)
    if messages and messages[-1]["role"] != "assistant":
        *earlier, last = messages
        instruction = last["content"]
    else:  # a prompt ending with an assistant turn: nothing left to instruct
        earlier, instruction = messages, ""
    history: list[list[str]] = []
    pending: str | None = None
    for m in earlier:
        if m["role"] == "assistant":
            history.append([pending or "", m["content"]])
            pending = None
        else:
            pending = m["content"] if pending is None else pending + "\n\n" + m["content"]
    if pending is not None:
        instruction = pending + "\n\n" + instruction
    return {
        "instruction": instruction,
        "input": "",
        "system": system,
        "history": history,
        "chosen": text_reply(pair.chosen, "llamafactory-alpaca"),
        "rejected": text_reply(pair.rejected, "llamafactory-alpaca"),
    }


def write_alpaca(pairs: Sequence[Pair]) -> Iterator[Row]:
    return (alpaca_row(p) for p in pairs)


def alpaca_pair(row: Row) -> Pair:
    instruction, query = row.get("instruction"), row.get("input")
    if not isinstance(instruction, str):
        raise ValueError("instruction: must be a string")
    text = f"{instruction}\n{query}" if isinstance(query, str) and query else instruction
    messages: list[Message] = []
    for turn in row.get("history") or []:
        if isinstance(turn, list | tuple) and len(turn) == 2:
            messages += [
                {"role": "user", "content": str(turn[0])},
                {"role": "assistant", "content": str(turn[1])},
            ]
    system = row.get("system")
    chosen, rejected = row.get("chosen"), row.get("rejected")
    if not isinstance(chosen, str) or not isinstance(rejected, str):
        raise ValueError("chosen and rejected: must be strings")
    prompt: Prompt = [*messages, {"role": "user", "content": text}] if messages else text
    return read_pair(prompt, system if isinstance(system, str) and system else None, chosen, rejected)


def read_alpaca(rows: Iterable[Row]) -> Iterator[Pair]:
    return (alpaca_pair(row) for row in rows)


# ------------------------------------------------------------------------------------------ dataset_info.json

SHAREGPT_COLUMNS: Final = {
    "messages": "conversations",
    "system": "system",
    "chosen": "chosen",
    "rejected": "rejected",
}
ALPACA_COLUMNS: Final = {
    "prompt": "instruction",
    "query": "input",
    "system": "system",
    "history": "history",
    "chosen": "chosen",
    "rejected": "rejected",
}


def dataset_info(files: Sequence[DataFile], *, sharegpt: bool) -> dict[str, Any]:
    """The ``dataset_info.json`` entries of the data files written, by file stem."""
    info: dict[str, Any] = {}
    for f in files:
        entry: dict[str, Any] = {"file_name": f.name}
        if sharegpt:
            entry["formatting"] = "sharegpt"
        entry["ranking"] = True
        entry["columns"] = dict(SHAREGPT_COLUMNS if sharegpt else ALPACA_COLUMNS)
        info[str(PurePosixPath(f.name).with_suffix("")).replace("/", "_")] = entry
    return info


def _info_file(files: Sequence[DataFile], *, sharegpt: bool) -> dict[str, str]:
    text = json.dumps(dataset_info(files, sharegpt=sharegpt), indent=2, ensure_ascii=False) + "\n"
    return {"dataset_info.json": text}


def sharegpt_info(files: Sequence[DataFile]) -> dict[str, str]:
    return _info_file(files, sharegpt=True)


def alpaca_info(files: Sequence[DataFile]) -> dict[str, str]:
    return _info_file(files, sharegpt=False)


SHAREGPT: Final = register_format(
    FormatSpec(
        name="llamafactory",
        kind="pairs",
        write_rows=write_sharegpt,
        read_rows=read_sharegpt,
        description="LLaMA-Factory preference data, sharegpt: conversations, system, chosen, rejected "
        "(+ dataset_info.json)",
        extra_files=sharegpt_info,
    )
)
ALPACA: Final = register_format(
    FormatSpec(
        name="llamafactory-alpaca",
        kind="pairs",
        write_rows=write_alpaca,
        read_rows=read_alpaca,
        description="LLaMA-Factory preference data, alpaca: instruction, input, system, history, chosen, "
        "rejected (+ dataset_info.json)",
        extra_files=alpaca_info,
    )
)
