"""``preflog leaderboard``, ``preflog ab`` and ``preflog report``: one analytics library call each.

numpy, scipy and matplotlib are imported inside the handlers so that ``preflog --help`` stays fast.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from preflog.cli.common import open_store_for, output_dir
from preflog.cli.compile_cmds import add_engine_options
from preflog.errors import ValidationError


def register(sub: Any) -> None:
    lb = sub.add_parser(
        "leaderboard", help="model ratings (Bradley-Terry on the Elo scale) with 95%% intervals"
    )
    lb.add_argument("--format", choices=("table", "json", "csv"), default="table")
    lb.add_argument(
        "--method", choices=("bt", "elo"), default="bt", help="bt: exact Bradley-Terry; elo: online Elo"
    )
    lb.add_argument("--ci", choices=("sandwich", "bootstrap", "none"), default="sandwich")
    lb.add_argument("--rounds", type=int, default=100, help="bootstrap rounds (default 100)")
    lb.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    lb.add_argument("--anchor", metavar="MODEL=RATING", help="pin one model's rating instead of mean 1000")
    lb.add_argument("--style-control", action="store_true", help="control for length and markdown style")
    lb.add_argument("--matrix", choices=("winrate", "predicted"), help="print a pairwise matrix instead")
    lb.add_argument("--plot", metavar="DIR", help="also write leaderboard.png (or .svg) into DIR")
    lb.add_argument("--plot-format", choices=("png", "svg"), default="png")
    _add_selection(lb)
    add_engine_options(lb)
    lb.set_defaults(handler=cmd_leaderboard)

    ab = sub.add_parser("ab", help="head-to-head A/B comparison of two models or versions")
    ab.add_argument("model_a", metavar="MODEL_A")
    ab.add_argument("model_b", metavar="MODEL_B")
    ab.add_argument("--power", type=float, default=0.8, help="power wanted for 'further judgments needed'")
    ab.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level")
    ab.add_argument(
        "--segment", choices=("source", "criterion", "user"), help="also per source/criterion/user"
    )
    ab.add_argument("--format", choices=("table", "json"), default="table")
    _add_selection(ab)
    ab.set_defaults(handler=cmd_ab)

    rp = sub.add_parser("report", help="position/length bias, agreement, latency and volume monitors")
    rp.add_argument("--plot", metavar="DIR", help="write charts into DIR")
    rp.add_argument("--plot-format", choices=("png", "svg"), default="png")
    rp.add_argument(
        "--manifest", action="append", default=[], metavar="PATH", help="compile manifest.json (repeat)"
    )
    rp.add_argument(
        "--window", choices=("day", "week", "month"), default="week", help="length-bias time window"
    )
    rp.add_argument("--format", choices=("table", "json"), default="table")
    _add_selection(rp, by=False)
    add_engine_options(rp)
    rp.set_defaults(handler=cmd_report)


def _add_selection(parser: argparse.ArgumentParser, *, by: bool = True) -> None:
    if by:
        parser.add_argument(
            "--by", choices=("model", "version"), default="model", help="rate names or name@version"
        )
    parser.add_argument(
        "--both-bad", choices=("tie", "drop"), default="tie", help="both-bad verdicts: tie or drop"
    )
    parser.add_argument("--source", action="append", help="source kind, id or kind:id (repeat for several)")
    parser.add_argument("--criterion", action="append", help="judgment criterion (repeat for several)")
    parser.add_argument("--since", help="judgments at or after this time (RFC 3339 or date)")
    parser.add_argument("--until", help="judgments before this time")
    parser.add_argument("--user", action="append", help="inference user_id (repeat for several)")


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "source": args.source,
        "criterion": args.criterion,
        "since": args.since,
        "until": args.until,
        "user": args.user,
        "both_bad": args.both_bad,
    }


def parse_anchor(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    model, sep, value = text.rpartition("=")
    try:
        if not sep or not model:
            raise ValueError
        return {model: float(value)}
    except ValueError:
        raise ValidationError(f"expected MODEL=RATING, got {text!r}", "--anchor") from None


@contextmanager
def _open(args: argparse.Namespace) -> Iterator[Any]:
    """The store, or with ``--from-archive`` / ``--engine duckdb`` (leaderboard, report) the events
    as that engine reads them (preflog.engines; the store still checks the archive's erasures)."""
    from preflog.cli.compile_cmds import engine_source

    store = open_store_for(args, create=False)
    try:
        yield engine_source(args, store) if hasattr(args, "engine") else store
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------- leaderboard


def cmd_leaderboard(args: argparse.Namespace) -> int:
    import preflog.analytics as analytics

    if args.plot:
        output_dir(args.plot, "--plot")  # before the work: a bad path fails at once
    with _open(args) as store:
        if args.matrix:
            result = analytics.matrix(store, args.project, kind=args.matrix, by=args.by, **_filters(args))
            _print_matrix(result.to_dict(), args.format)
            return 0
        board = analytics.leaderboard(
            store,
            args.project,
            method=args.method,
            ci=args.ci,
            rounds=args.rounds,
            seed=args.seed,
            anchor=parse_anchor(args.anchor),
            style_control=args.style_control,
            by=args.by,
            **_filters(args),
        )
    if args.plot:
        from preflog.analytics.plots import plot_leaderboard

        plot_leaderboard(board, args.plot, fmt=args.plot_format)
    data = board.to_dict()
    if args.format == "json":
        json.dump(data, sys.stdout, indent=2)
        print()
    elif args.format == "csv":
        _write_csv(data["rows"])
    else:
        _print_board(data)
    return 0


def _write_csv(rows: Sequence[dict[str, Any]]) -> None:
    columns = ["rank", "model", "rating", "ci_low", "ci_high", "battles"]
    writer = csv.DictWriter(sys.stdout, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _num(value: Any, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def _interval(low: Any, high: Any, fmt: str, sep: str = " – ") -> str:
    """An interval, or "—" when there is none (a fit without variance has no interval)."""
    if low is None or high is None:
        return "—"
    return f"{format(low, fmt)}{sep}{format(high, fmt)}"


def _print_board(data: dict[str, Any]) -> None:
    rows = data["rows"]
    width = max([len("model"), *(len(r["model"]) for r in rows)])
    level = f"{data['level']:.0%}"
    print(f"{'rank':>4}  {'model':<{width}}  {'rating':>7}  {level + ' interval':>17}  {'battles':>7}")
    for r in rows:
        interval = _interval(r["ci_low"], r["ci_high"], ".1f")
        print(
            f"{r['rank']:>4}  {r['model']:<{width}}  {r['rating']:>7.1f}  {interval:>17}  {r['battles']:>7}"
        )
    note = f"{data['battles']} battles; {data['method']}, intervals: {data['ci']}"
    if data.get("rounds"):
        note += f" ({data['rounds']} rounds, seed {data['seed']})"
    if data.get("regularized"):
        note += "; the exact MLE does not exist (a model never lost or never won): weak prior used"
    print(note)
    for coef in data.get("style") or []:
        print(
            f"style {coef['feature']:<8} {coef['coef']:+.3f} logits/sd "
            f"[{_interval(coef['ci_low'], coef['ci_high'], '+.3f', ', ')}] "
            f"({coef['elo_points']:+.1f} rating points)"
        )
    if data.get("skipped"):
        print("skipped: " + ", ".join(f"{k} {v}" for k, v in data["skipped"].items()))


def _print_matrix(data: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        json.dump(data, sys.stdout, indent=2)
        print()
        return
    models = data["models"]
    rows = [
        [m, *("" if v is None else f"{v:.3f}" for v in row)]
        for m, row in zip(models, data["values"], strict=True)
    ]
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([data["kind"], *models])
        writer.writerows(rows)
        return
    width = max(len(m) for m in models) if models else 5
    print(f"{data['kind']:<{width}}  " + "  ".join(f"{k + 1:>6}" for k in range(len(models))))
    for k, row in enumerate(rows):
        label = f"{k + 1}. {row[0]}"
        print(f"{label:<{width + 4}}" + "  ".join(f"{v or '-':>6}" for v in row[1:]))


# ---------------------------------------------------------------------------------------------- ab


def cmd_ab(args: argparse.Namespace) -> int:
    import preflog.analytics as analytics

    with _open(args) as store:
        result = analytics.head_to_head(
            store,
            args.project,
            args.model_a,
            args.model_b,
            power=args.power,
            alpha=args.alpha,
            segment=args.segment,
            by=args.by,
            **_filters(args),
        )
    data = result.to_dict()
    if args.format == "json":
        json.dump(data, sys.stdout, indent=2)
        print()
        return 0
    print(f"{data['model_a']} vs {data['model_b']}  ({data['test']})")
    print(
        f"{'segment':<20} {'battles':>7} {'A':>5} {'B':>5} {'ties':>5}  "
        f"{'A win rate [95%]':<22} {'p':>8} {'more':>6}"
    )
    for h in [data["overall"], *data["segments"]]:
        wr = h["win_rate"]
        rate = "-" if wr["rate"] is None else f"{wr['rate']:.3f} [{wr['ci_low']:.3f}, {wr['ci_high']:.3f}]"
        more = "-" if h["further_needed"] is None else str(h["further_needed"])
        print(
            f"{h['segment'] or 'all':<20} {h['battles']:>7} {h['wins_a']:>5} {h['wins_b']:>5} "
            f"{h['ties']:>5}  "
            f"{rate:<22} {_num(h['p_value'], '.3g'):>8} {more:>6}"
        )
    print(
        f"'more': further judgments for power {data['power']} at alpha {data['alpha']} "
        "if the observed rate holds"
    )
    return 0


# ---------------------------------------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace) -> int:
    import preflog.analytics as analytics

    if args.plot:
        output_dir(args.plot, "--plot")
    with _open(args) as store:
        rep = analytics.report(
            store, args.project, manifests=args.manifest, window=args.window, **_filters(args)
        )
    if args.plot:
        from preflog.analytics.plots import plot_report

        for path in plot_report(rep, args.plot, fmt=args.plot_format):
            print(f"wrote {path}", file=sys.stderr)
    data = rep.to_dict()
    if args.format == "json":
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        _print_report(data)
    return 0


def _prop(p: dict[str, Any]) -> str:
    if p["rate"] is None:
        return "-"
    return f"{p['rate']:.3f} [{p['ci_low']:.3f}, {p['ci_high']:.3f}] n={p['n']}"


def _print_report(data: dict[str, Any]) -> None:
    from preflog.analytics.stats import format_duration

    groups = [r["group"] for r in data["position_bias"] + data["length_bias"]]
    width = max([24, *map(len, groups)])
    print("Position bias (first-shown output wins, decisive battles)")
    for r in data["position_bias"]:
        p_value = _num(r["p_value"], ".3g")
        print(f"  {r['group']:<{width}} {_prop(r['first_wins'])}  ties {r['ties']}  p={p_value}")
    print("Length bias (longer output chosen; length coefficient, logits per sd)")
    for r in data["length_bias"]:
        coef = (
            "-"
            if r["coef"] is None
            else f"{r['coef']:+.3f} [{_interval(r['ci_low'], r['ci_high'], '+.3f', ', ')}]"
        )
        window = r["window"] or "all time"
        print(f"  {r['group']:<{width}} {window:<11} {_prop(r['chosen_longer'])}  coef {coef}")
    ag = data["agreement"]
    print(f"Agreement among humans: {ag['units']} items, {ag['annotators']} annotators")
    print(
        f"  Krippendorff alpha {_num(ag['krippendorff_alpha'], '.3f')}  "
        f"Fleiss kappa {_num(ag['fleiss_kappa'], '.3f')}"
    )
    judges = max([30, *(len(j["judge"]) for j in ag["judges"])])
    for j in ag["judges"]:
        print(f"  {j['judge']:<{judges}} agrees with human majority {_prop(j['agreement'])}")
    print("Feedback latency (p50, p90, p99; each in the unit that fits it)")
    for r in data["latency"]:
        pending = f"  pending {r['pending']}" if r["stage"] == "compiled" else ""
        quantiles = "  ".join(f"{q} {format_duration(r[q]):>8}" for q in ("p50", "p90", "p99"))
        print(f"  {r['stage']:<9} {r['group']:<22} n={r['n']:<7} {quantiles}{pending}")
    vol = data["volume"]
    print(f"Volume: {vol['judgments']} judgments, {vol['battles']} battles")
    for key in ("per_source", "per_day", "per_model", "per_user"):
        items = list(vol[key].items())
        shown = ", ".join(f"{k} {v}" for k, v in items[:12]) + (
            f", … ({len(items)} in all)" if len(items) > 12 else ""
        )
        print(f"  {key.replace('_', ' ')}: {shown}")
