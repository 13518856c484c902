"""The Hugging Face YAML front matter of the dataset card: one ``configs:`` entry whose
``data_files`` name each split's files, so ``datasets.load_dataset(out_dir)`` loads exactly the
compiled splits and never guesses (without it, it would read ``manifest.json`` and side files such
as ``dataset_info.json`` as data too).

A compile grouped by user gets the ``default`` config (every group's files, split by split) and one
config per group, ``user-<url-quoted user id>`` (``user-_no_user`` for requests without one):
``load_dataset(out_dir, "user-alice")``.

Empty files are left out: ``datasets`` refuses a split with no rows ("corresponds to no data"), so
a compile whose test split is empty loads as train only. When every file is empty the train file
stays listed, and ``load_dataset`` fails on it rather than reading the manifest as data.

A name or path is written bare when it is plainly safe YAML (letters, digits, ``_ . / % -``, not a
YAML keyword such as ``yes``), else as a JSON string, which is a valid YAML double-quoted scalar
whatever the user id holds.

>>> from preflog.formats.base import DataFile
>>> print(front_matter([DataFile("train.jsonl", 3, 10, "x"), DataFile("test.jsonl", 1, 5, "y")]))
---
configs:
- config_name: default
  data_files:
  - split: test
    path: test.jsonl
  - split: train
    path: train.jsonl
---
<BLANKLINE>
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Final

from preflog.formats.base import DataFile

DATA_SUFFIXES: Final = (".jsonl", ".parquet")
DEFAULT_CONFIG: Final = "default"
GROUP_PREFIX: Final = "user-"
_BARE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./%-]*")
# YAML 1.1 reads these bare words as booleans or null, not strings
_KEYWORDS: Final = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def scalar(text: str) -> str:
    """``text`` as a YAML scalar: bare when plainly safe, else a JSON (double-quoted) string.

    >>> scalar("train.jsonl"), scalar("user-a b"), scalar("no")
    ('train.jsonl', '"user-a b"', '"no"')
    """
    if _BARE.fullmatch(text) and text.lower() not in _KEYWORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _split_files(files: Sequence[DataFile]) -> dict[str, list[str]]:
    """Split name (the file's stem) → its files, in name order."""
    splits: dict[str, list[str]] = defaultdict(list)
    for f in sorted(files, key=lambda f: f.name):
        splits[PurePosixPath(f.name).stem].append(f.name)
    return dict(sorted(splits.items()))


def configs(files: Sequence[DataFile]) -> dict[str, dict[str, list[str]]]:
    """Config name → split → data files, as the front matter declares them.

    >>> from preflog.formats.base import DataFile
    >>> a, b = DataFile("users/a/train.jsonl", 2, 1, ""), DataFile("users/b/train.jsonl", 1, 1, "")
    >>> declared = configs([a, b])
    >>> declared["default"], declared["user-b"]
    ({'train': ['users/a/train.jsonl', 'users/b/train.jsonl']}, {'train': ['users/b/train.jsonl']})
    """
    data = [f for f in files if PurePosixPath(f.name).suffix in DATA_SUFFIXES]
    kept = [f for f in data if f.rows > 0] or [f for f in data if PurePosixPath(f.name).stem == "train"][:1]
    out = {DEFAULT_CONFIG: _split_files(kept)}
    groups: dict[str, list[DataFile]] = defaultdict(list)
    for f in kept:
        parent = PurePosixPath(f.name).parent
        if parent.parent.name == "users" and len(parent.parts) == 2:
            groups[GROUP_PREFIX + parent.name].append(f)
    for name, group in sorted(groups.items()):
        out[name] = _split_files(group)
    return out


def front_matter(files: Sequence[DataFile]) -> str:
    """The card's YAML block (``---`` to ``---``), ending with a blank line."""
    declared = configs(files)
    if not declared[DEFAULT_CONFIG]:
        return ""
    lines = ["---", "configs:"]
    for name, splits in declared.items():
        lines += [f"- config_name: {scalar(name)}", "  data_files:"]
        for split, paths in splits.items():
            lines.append(f"  - split: {scalar(split)}")
            if len(paths) == 1:
                lines.append(f"    path: {scalar(paths[0])}")
            else:
                lines.append("    path:")
                lines += [f"    - {scalar(p)}" for p in paths]
    lines += ["---", ""]
    return "\n".join(lines)


def load_hint(files: Sequence[DataFile]) -> str:
    """The card's sentence on loading the files with ``datasets``.

    >>> from preflog.formats.base import DataFile
    >>> print(load_hint([DataFile("train.jsonl", 3, 10, "x"), DataFile("test.jsonl", 0, 0, "")]))
    Load it with `datasets.load_dataset(DIR)`: splits train (test.jsonl is empty, so not listed).
    """
    declared = configs(files)
    splits = ", ".join(declared[DEFAULT_CONFIG])
    text = f"Load it with `datasets.load_dataset(DIR)`: splits {splits}"
    groups = len(declared) - 1
    if groups:
        text += f" of every user; one user alone is the config `user-<url-quoted user id>` ({groups} configs)"
    listed = {path for splits in declared.values() for paths in splits.values() for path in paths}
    empty = [f.name for f in files if PurePosixPath(f.name).suffix in DATA_SUFFIXES and f.name not in listed]
    if empty:
        text += f" ({', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty, so not listed)"
    return text + "."


__all__ = ["DATA_SUFFIXES", "configs", "front_matter", "load_hint", "scalar"]
