"""``preflog compile`` and ``preflog verify``: one library call each
(:func:`preflog.compile.compile_dataset`, :func:`preflog.verify.verify_dataset`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from preflog.cli.common import open_store_for, require_events
from preflog.cli.progress import TerminalProgress
from preflog.compile.manifest import MANIFEST_NAME
from preflog.compile.options import AGGREGATES, CompileOptions
from preflog.events import SOURCE_KINDS
from preflog.verify import TRAINERS

if TYPE_CHECKING:
    from preflog.compile import Manifest
    from preflog.store import Store

    _Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

DEFAULTS = CompileOptions()  # the library's defaults are the flags' defaults


def register(sub: _Subparsers) -> None:
    _register_compile(sub)
    _register_verify(sub)


def _library_default(group: Any, flag: str, help: str, **kwargs: Any) -> None:
    """An option whose default is :class:`CompileOptions`' (one definition), said in its help."""
    default = getattr(DEFAULTS, flag.removeprefix("--").replace("-", "_"))
    group.add_argument(flag, default=default, help=f"{help} (default {default})", **kwargs)


def _register_compile(sub: _Subparsers) -> None:
    from preflog.formats import available_formats

    formats = available_formats()
    p = sub.add_parser(
        "compile",
        help="compile the project's events into a training dataset (see docs/datasets.md)",
        description="Join judgments to the outputs they judged, resolve them into preference pairs or "
        "unpaired examples, aggregate, deduplicate, sample and split, then write the dataset with "
        "manifest.json and a README.md card. The same events and options give the same bytes.",
    )
    p.add_argument("--format", "-f", required=True, choices=formats, help=", ".join(formats))
    p.add_argument(
        "--out",
        "-o",
        required=True,
        metavar="DIR",
        help="output directory: new, empty, or an earlier compile's (it holds manifest.json)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty directory that is not an earlier compile's",
    )
    p.add_argument("--parquet", action="store_true", help="write Parquet instead of JSONL")
    g = p.add_argument_group("resolve and aggregate")
    _library_default(g, "--aggregate", "how several judgments of one pair decide", choices=AGGREGATES)
    _library_default(g, "--min-agreement", "share of votes the majority needs", type=float, metavar="F")
    _library_default(g, "--min-margin", "score gap a reward-score pair needs", type=float, metavar="F")
    g.add_argument(
        "--unpaired-from-pairs",
        action="store_true",
        help="unpaired formats: also label each pair's chosen output good and its rejected output bad",
    )
    g.add_argument(
        "--drop-empty",
        action="store_true",
        help="drop items with an empty reply (by default an empty answer compiles like any other)",
    )
    _add_implicit(p)
    f = p.add_argument_group("filters (repeat a flag for several values)")
    f.add_argument("--source", action="append", default=[], choices=SOURCE_KINDS, help="judge kind")
    f.add_argument("--criterion", action="append", default=[], help="judgment criterion")
    f.add_argument("--model", action="append", default=[], help="keep items with an output of this model")
    f.add_argument("--user", action="append", default=[], help="keep requests of this user id")
    f.add_argument("--since", metavar="TIME", help="judgments at or after this RFC 3339 time")
    f.add_argument("--until", metavar="TIME", help="judgments before this RFC 3339 time")
    f.add_argument("--group-by", choices=("user",), help="one dataset per user (under users/)")
    s = p.add_argument_group("sample and split")
    s.add_argument("--max-per-prompt", type=int, metavar="N", help="at most N items per prompt")
    s.add_argument("--max-per-user", type=int, metavar="N", help="at most N items per user")
    s.add_argument("--prefer-low-margin", action="store_true", help="caps keep the smallest margins first")
    s.add_argument("--balance-position", action="store_true", help="chosen shown first as often as second")
    s.add_argument("--balance-length", action="store_true", help="chosen longer as often as shorter")
    _library_default(s, "--test-fraction", "share of prompts in test", type=float, metavar="F")
    _library_default(s, "--seed", "seed of every random choice", type=int)
    p.add_argument(
        "--since-manifest",
        metavar="PATH",
        help="incremental: only what is new since this manifest.json (or its directory)",
    )
    add_engine_options(p)
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(handler=cmd_compile)


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """``--engine``, ``--from-archive``, ``--archive-cache`` and the S3 options (docs/datasets.md)."""
    from preflog.cli.archive_cmds import add_s3_options

    e = p.add_argument_group("engine")
    e.add_argument(
        "--engine", choices=("local", "duckdb", "spark"), default="local", help="what reads the events"
    )
    e.add_argument("--from-archive", metavar="URI", help="read this Parquet archive instead of the store")
    e.add_argument(
        "--archive-cache", metavar="DIR", help="duckdb/spark on a store: its archive (default: <db>.archive)"
    )
    add_s3_options(e)


def engine_source(args: argparse.Namespace, store: Store | None) -> Store:
    """The events ``--engine`` and ``--from-archive`` name (the store when neither is given)."""
    from preflog.cli.archive_cmds import s3_options
    from preflog.engines import CACHED, compile_source, default_cache

    cache = args.archive_cache
    if cache is None and args.engine in CACHED and args.from_archive is None:
        cache = default_cache(str(args.db))
    return compile_source(
        store,
        project=args.project,
        engine=args.engine,
        from_archive=args.from_archive,
        s3=s3_options(args),
        cache=cache,
    )


def _add_implicit(p: argparse.ArgumentParser) -> None:
    from preflog.compile.options import IMPLICIT_RULES

    g = p.add_argument_group("implicit signals as weak pairs (pair formats; off by default)")
    g.add_argument(
        "--implicit-pairs",
        action="append",
        default=[],
        choices=IMPLICIT_RULES,
        metavar="RULE",
        help="thumbs: a liked candidate over a disliked one; regenerate: the candidate accepted after "
        "another was regenerated over that one (repeat for both)",
    )
    g.add_argument(
        "--implicit-accept",
        action="append",
        metavar="SIGNAL",
        help="signals that accept a candidate for the regenerate rule (default copy; repeat)",
    )
    g.add_argument(
        "--implicit-min-evidence",
        type=int,
        default=1,
        metavar="N",
        help="signals a weak pair needs: net thumbs each way, accepts after the regenerate (default 1)",
    )


def cmd_compile(args: argparse.Namespace) -> int:
    from preflog.compile import compile_dataset

    options = CompileOptions(
        aggregate=args.aggregate,
        min_agreement=args.min_agreement,
        min_margin=args.min_margin,
        sources=tuple(args.source),
        criteria=tuple(args.criterion),
        models=tuple(args.model),
        users=tuple(args.user),
        since=args.since,
        until=args.until,
        group_by=args.group_by,
        max_per_prompt=args.max_per_prompt,
        max_per_user=args.max_per_user,
        prefer_low_margin=args.prefer_low_margin,
        balance_position=args.balance_position,
        balance_length=args.balance_length,
        unpaired_from_pairs=args.unpaired_from_pairs,
        drop_empty=args.drop_empty,
        implicit_pairs=tuple(args.implicit_pairs),
        implicit_accept=tuple(args.implicit_accept or ("copy",)),
        implicit_min_evidence=args.implicit_min_evidence,
        test_fraction=args.test_fraction,
        seed=args.seed,
        parquet=args.parquet,
    )
    with open_store_for(args, create=False) as store, TerminalProgress("compile") as progress:
        require_events(store, args.project)
        source = engine_source(args, store)
        manifest = compile_dataset(
            source,
            project=args.project,
            out_dir=args.out,
            format=args.format,
            options=options,
            since_manifest=args.since_manifest,
            force=args.force,
            progress=progress,
        )
    if args.json:
        sys.stdout.write(manifest.dumps())
    else:
        print(_summary(manifest, args.out))
    if not manifest.counts_out.get("items"):
        print(f"preflog: note: {_why_empty(manifest)}", file=sys.stderr)
    return 0


def _why_empty(m: Manifest) -> str:
    """Why a compile wrote nothing, in one line: what was read and the largest drop reasons."""
    events = m.counts_in.get("events")
    read = sum(events.values()) if isinstance(events, dict) else 0
    if m.previous_watermark is not None and m.drops.get("compiled_before"):
        return f"nothing new since position {m.previous_watermark}"
    top = sorted(m.drops.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    dropped = f"; dropped: {', '.join(f'{r} {n}' for r, n in top)}" if top else ""
    return f"0 items from {read} events of project {m.project!r}{dropped} (see {MANIFEST_NAME} drops)"


def _summary(m: Manifest, out: str) -> str:
    unit = "pairs" if m.kind == "pairs" else "examples"
    lines = [
        f"{m.counts_out.get('items', 0)} {unit} → {out} ({m.format}, events up to position {m.watermark})"
    ]
    lines += [f"  {f.name}: {f.rows} rows, sha256 {f.sha256[:16]}…" for f in m.files]
    if m.drops:
        lines.append("  dropped: " + ", ".join(f"{r} {n}" for r, n in sorted(m.drops.items())))
    return "\n".join(lines)


def _register_verify(sub: _Subparsers) -> None:
    p = sub.add_parser(
        "verify",
        help="prove a compiled dataset trains: every row checked against its trainers, TRL steps run",
        description="Check every row of a compiled dataset against the keys its trainers read; with "
        "--tokenizer, render every row with that tokenizer's chat template the way each target trainer "
        "does and report the rows that would break or mistrain; for the TRL formats, run two optimizer "
        "steps of each TRL trainer (DPOTrainer, RewardTrainer, KTOTrainer) on a tiny model on the CPU. "
        "Exit 1 when a check or a trainer fails. Needs the verify extra; nothing is downloaded.",
    )
    p.add_argument("dir", metavar="DIR", help="a directory written by preflog compile")
    p.add_argument(
        "--trainer",
        default=None,
        help=f"comma-separated trainers to run: {','.join(TRAINERS)} (default: those the format fits)",
    )
    p.add_argument(
        "--steps", type=int, default=2, help="optimizer steps per trainer (default 2; 0: the checks only)"
    )
    p.add_argument(
        "--tokenizer",
        metavar="DIR",
        help="a local tokenizer directory with a chat template: render every row with it",
    )
    p.add_argument(
        "--max-length",
        type=int,
        default=None,
        metavar="N",
        help="the trainers' max_length the length check counts against (default 1024, TRL's)",
    )
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        dest="output",
        help="report as text (default) or JSON",
    )
    p.add_argument("--json", action="store_true", help="the same as --format json")
    p.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from preflog.errors import ConfigError
    from preflog.verify import DEFAULT_MAX_LENGTH, render_text, verify_dataset

    trainers = None
    if args.trainer:
        trainers = tuple(t.strip() for t in args.trainer.split(",") if t.strip())
        unknown = [t for t in trainers if t not in TRAINERS]
        if unknown:
            raise ConfigError(f"--trainer: unknown {', '.join(unknown)}; choose from {', '.join(TRAINERS)}")
    max_length = DEFAULT_MAX_LENGTH if args.max_length is None else args.max_length
    if max_length < 1 or args.steps < 0:
        raise ConfigError("--max-length must be at least 1 and --steps at least 0")
    with TerminalProgress("verify") as progress:
        report = verify_dataset(
            args.dir,
            trainers=trainers,
            steps=args.steps,
            tokenizer=args.tokenizer,
            max_length=max_length,
            progress=progress,
        )
    if args.json or args.output == "json":
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(render_text(report))
    return 0 if report.ok else 1
