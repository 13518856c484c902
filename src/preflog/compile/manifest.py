"""Step 8 of a compile, the paperwork: ``manifest.json`` (what was read, what came out, what was
dropped and why, file digests, the event-position watermark for the next incremental compile) and
the dataset card ``README.md`` that says the same in words. The only moment recorded is the
manifest's ``created_at``, which follows ``SOURCE_DATE_EPOCH`` when it is set (the reproducible-
builds convention): the data files and the card are byte-identical for the same events and options,
and with ``SOURCE_DATE_EPOCH`` the manifest is too."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from preflog import __version__
from preflog.compile.card import front_matter, load_hint
from preflog.errors import ConfigError
from preflog.formats.base import DataFile

MANIFEST_NAME: Final = "manifest.json"
CARD_NAME: Final = "README.md"

#: Every reason an item can be dropped, with its unit, for the card and docs/datasets.md.
DROP_REASONS: Final[dict[str, str]] = {
    "filtered_source": "judgment from a source kind not asked for (--source)",
    "filtered_criterion": "judgment for a criterion not asked for (--criterion)",
    "filtered_time": "judgment outside --since/--until",
    "filtered_user": "judgment on a request of a user not asked for (--user)",
    "filtered_model": "item with no output from a model asked for (--model)",
    "signal_not_used": "implicit signal other than thumbs (copy, regenerate, ...): no rule uses it "
    "(see --implicit-pairs)",
    "implicit_superseded": "weak pair from implicit signals on a candidate pair an explicit judgment decides",
    "retracted": "judgment withdrawn by a retraction",
    "erased": "judgment on erased content (privacy erasure)",
    "orphan": "judgment whose inference has not arrived (it joins in a later compile)",
    "unknown_candidate": "vote or label naming a candidate the inference does not have",
    "below_min_margin": "reward-score pair whose gap is under --min-margin",
    "tie": "candidate pair judged a tie (ties never become pairs)",
    "no_majority": "candidate pair (or label) with as many votes each way",
    "low_agreement": "candidate pair (or label) whose majority is under --min-agreement",
    "not_unanimous": "candidate pair (or label) with dissent under --aggregate unanimous",
    "missing_prompt": "item whose inference has no prompt",
    "empty_output": "item with an empty reply, under --drop-empty",
    "identical_outputs": "pair whose chosen and rejected replies are the same",
    "unsupported_tool_calls": "item with tool calls or tool turns, which the format cannot carry",
    "unsupported_continuation": "item with a multi-message reply, which the format cannot carry",
    "unsupported_refusal": "item with a refusal, which the format cannot carry",
    "unsupported_last_turn": "item whose prompt does not end with a user turn, which the format requires",
    "unsupported_role": "item with a prompt turn the format has no role for",
    "unpaired_only": "thumbs or both-bad label, usable only by unpaired formats",
    "paired_only": "pair, not used by an unpaired format (see --unpaired-from-pairs)",
    "duplicate": "item identical (prompt, texts) to an earlier one",
    "compiled_before": "item unchanged since the --since-manifest watermark",
    "max_per_prompt": "over --max-per-prompt",
    "max_per_user": "over --max-per-user",
    "balance_position": "dropped to balance chosen-shown-first against chosen-shown-second",
    "balance_length": "dropped to balance chosen-longer against chosen-shorter",
}


@dataclass
class Manifest:
    """What a compile did; written as ``manifest.json`` next to the data."""

    format: str
    kind: str
    project: str
    watermark: int
    previous_watermark: int | None
    options: dict[str, Any]
    counts_in: dict[str, Any]
    counts_out: dict[str, Any]
    drops: dict[str, int]
    files: list[DataFile] = field(default_factory=list)
    preflog_version: str = __version__
    created_at: str | None = None
    engine: str | None = None  # an engine's own path, or its fallback to the pipeline and why

    def to_dict(self) -> dict[str, Any]:
        engine = {"engine": self.engine} if self.engine is not None else {}
        return {
            **engine,
            "preflog_version": self.preflog_version,
            "created_at": self.created_at,
            "format": self.format,
            "kind": self.kind,
            "project": self.project,
            "watermark": {"position": self.watermark, "previous": self.previous_watermark},
            "options": self.options,
            "counts_in": self.counts_in,
            "counts_out": self.counts_out,
            "drops": dict(sorted(self.drops.items())),
            "files": [f.to_dict() for f in self.files],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            format=str(data["format"]),
            kind=str(data["kind"]),
            project=str(data["project"]),
            watermark=int(data["watermark"]["position"]),
            previous_watermark=data["watermark"].get("previous"),
            options=dict(data.get("options", {})),
            counts_in=dict(data.get("counts_in", {})),
            counts_out=dict(data.get("counts_out", {})),
            drops={str(k): int(v) for k, v in data.get("drops", {}).items()},
            files=[
                DataFile(f["name"], int(f["rows"]), int(f["bytes"]), str(f["sha256"])) for f in data["files"]
            ],
            preflog_version=str(data.get("preflog_version", "")),
            created_at=data.get("created_at"),
            engine=data.get("engine"),
        )

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


def created_at() -> str:
    """Now as RFC 3339 UTC to the second, or ``SOURCE_DATE_EPOCH`` (seconds since the epoch) when
    set, so a build that pins it gets a byte-identical manifest too."""
    fixed = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    try:
        seconds = int(fixed) if fixed else time.time()
    except ValueError as exc:
        raise ConfigError(f"SOURCE_DATE_EPOCH: not an integer number of seconds: {fixed!r}") from exc
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def load_manifest(path: Path | str) -> Manifest:
    """A manifest from its file, or from the directory holding ``manifest.json``."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Manifest.from_dict(data)
    except FileNotFoundError as exc:
        raise ConfigError(f"no manifest at {path}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a preflog manifest ({exc})") from exc


def render_card(m: Manifest) -> str:
    """The dataset card: Hugging Face front matter (see :mod:`preflog.compile.card`), then the
    manifest's figures in words."""
    unit = "preference pairs" if m.kind == "pairs" else "unpaired (KTO) examples"
    out = m.counts_out
    lines = [
        front_matter(m.files) + f"# {m.project}: {m.format} dataset",
        "",
        f"Compiled by preflog {m.preflog_version} from project `{m.project}`, events up to position "
        f"{m.watermark}"
        + (
            f" (incremental: only what changed after position {m.previous_watermark})."
            if m.previous_watermark
            else "."
        ),
        "",
        f"**{out.get('items', 0)} {unit}**: "
        + ", ".join(f"{n} in {s}" for s, n in out.get("by_split", {}).items())
        + ".",
        "",
        "## Where the items come from",
        "",
    ]
    read = m.counts_in.get("events", {})
    lines.append("Events read: " + (", ".join(f"{n} {t}" for t, n in sorted(read.items())) or "none") + ".")
    by_source = out.get("by_source", {})
    if by_source:
        lines.append(
            "Judge kinds behind the items: " + ", ".join(f"{k} {n}" for k, n in by_source.items()) + "."
        )
    lines += ["", "## What was dropped and why", ""]
    if m.drops:
        lines += ["| reason | count | meaning |", "|---|---:|---|"]
        lines += [f"| {r} | {n} | {DROP_REASONS.get(r, '')} |" for r, n in sorted(m.drops.items())]
    else:
        lines.append("Nothing was dropped.")
    lines += ["", "## Options", "", "```json", json.dumps(m.options, indent=2, ensure_ascii=False), "```", ""]
    lines += ["## Files", "", "| file | rows | bytes | SHA-256 |", "|---|---:|---:|---|"]
    lines += [f"| {f.name} | {f.rows} | {f.bytes} | `{f.sha256}` |" for f in m.files]
    lines += ["", load_hint(m.files)]
    lines += [
        "",
        "Every pair's texts are the exact outputs that were shown; no prompt is in both splits (the split "
        "is a hash of the normalized prompt). Recompiling the same events with the same options gives the "
        "same bytes.",
        "",
    ]
    return "\n".join(lines)
