"""The first hour of a new user (issue #12, items 1-4): help and version, the store options in
either place, one clear line instead of a traceback, and typos that fail loudly. On real SQLite
files, in process (``main``) and through the real console script."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from preflog import __version__
from preflog.cli import build_parser, main
from preflog.cli.compile_cmds import DEFAULTS
from preflog.cli.import_cmds import IMPORT_FORMATS
from preflog.compile.options import AGGREGATES, CompileOptions
from preflog.errors import ConfigError
from preflog.importers import IMPORTERS
from preflog.store import open_store
from preflog.verify import TRAINERS
from tests import factories as f
from tests.test_docs import COMMANDS

pytestmark = pytest.mark.usefixtures("needs_store")

PREFLOG = [sys.executable, "-m", "preflog"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    """The whole of stderr is one ``preflog: error:`` line (no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("preflog: error: "), err
    return lines[0]


@pytest.fixture
def demo_db(tmp_path: Path) -> str:
    """A small store with judged inferences in project ``demo`` (so compile and analytics work)."""
    db = str(tmp_path / "demo.db")
    assert main(["--db", db, "--project", "demo", "demo", "--requests", "60"]) == 0
    return db


# ---------------------------------------------------------------------------------------------- 1 help


def test_help_and_version_in_a_real_process() -> None:
    for flag in ("--help", "-h"):
        done = subprocess.run([*PREFLOG, flag], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "usage: preflog" in done.stdout and "leaderboard" in done.stdout
        assert "95% intervals" in " ".join(done.stdout.split())  # the help that once crashed argparse
    done = subprocess.run([*PREFLOG, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"preflog {__version__}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_of_every_command_and_subcommand(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = command.split()[1:]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {command}") and "--db" in out and "--project" in out


# ---------------------------------------------------------------------------------------------- 2 options


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [path]
    return [leaf for name, child in subs[0].choices.items() for leaf in _leaves(child, (*path, name))]


def test_every_command_takes_db_and_project_after_it_too() -> None:
    leaves = _leaves(build_parser())
    assert len(leaves) >= 15
    for path in leaves:
        parser = build_parser()
        for name in path:
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            parser = sub.choices[name]
        assert {"--db", "--project"} <= set(parser._option_string_actions), " ".join(path)


@pytest.mark.parametrize(
    "argv",
    [
        ["stats", "--format", "json"],
        ["leaderboard", "--format", "json"],
        ["audit", "list", "--format", "json"],
        ["keys", "list", "--format", "json"],
    ],
)
def test_store_options_before_or_after_the_command_mean_the_same(
    argv: list[str], demo_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run(capsys, "--db", demo_db, "--project", "demo", *argv)
    after = run(capsys, *argv, "--db", demo_db, "--project", "demo")
    assert before[0] == after[0] == 0, before[2] + after[2]
    assert json.loads(before[1]) == json.loads(after[1])


def test_the_option_after_the_command_wins(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "e.ndjson"
    events.write_text(json.dumps(f.inference()) + "\n")
    assert run(capsys, "--db", str(tmp_path / "other.db"), "log", str(events), "--db", demo_db)[0] == 0
    assert not (tmp_path / "other.db").exists()
    code, out, _ = run(capsys, "--project", "nope", "stats", "--project", "demo", "--db", demo_db)
    assert code == 0 and "project 'demo'" in out


# ---------------------------------------------------------------------------------------------- 3 tracebacks


def test_compile_into_a_file_or_an_impossible_path_is_one_line(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("mine\n")
    base = ["--db", demo_db, "--project", "demo", "compile", "-f", "trl", "--out"]
    code, _, err = run(capsys, *base, str(a_file))
    assert code == 2 and "--out: " in one_error_line(err) and "is a file" in err
    assert a_file.read_text() == "mine\n"
    code, _, err = run(capsys, *base, "/proc/nope/out")
    assert code == 2 and "cannot create" in one_error_line(err)


@pytest.mark.parametrize("command", ["report", "leaderboard"])
def test_plot_into_a_file_is_one_line(
    command: str, demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "charts"
    a_file.write_text("")
    code, _, err = run(capsys, "--db", demo_db, "--project", "demo", command, "--plot", str(a_file))
    assert code == 2 and one_error_line(err).endswith("is a file, not a directory")
    assert "--plot" in err


def test_a_real_process_prints_no_traceback(demo_db: str, tmp_path: Path) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("")
    done = subprocess.run(
        [*PREFLOG, "--db", demo_db, "--project", "demo", "report", "--plot", str(a_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    one_error_line(done.stderr)


# ---------------------------------------------------------------------------------------------- 4 typos


READERS = [
    ["stats"],
    ["show", "0b7e4c9a-2f31-4d5e-8a6b-9c0d1e2f3a4b"],
    ["compile", "-f", "trl", "--out", "OUT"],
    ["leaderboard"],
    ["ab", "a", "b"],
    ["report"],
    ["keys", "list"],
    ["keys", "revoke", "0123456789ab"],
    ["audit", "list"],
    ["erase", "--request", "0b7e4c9a-2f31-4d5e-8a6b-9c0d1e2f3a4b"],
]


@pytest.mark.parametrize("argv", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_reader_refuses_a_missing_store_and_creates_nothing(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "feedbak.db"
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    code, _, err = run(capsys, "--db", str(typo), *argv)
    assert code == 2
    assert f"--db {typo}: no SQLite store" in one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no database, no output directory


def test_compile_of_an_unknown_project_names_the_projects(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, _, err = run(
        capsys, "--db", demo_db, "--project", "dmeo", "compile", "-f", "trl", "--out", str(out)
    )
    assert code == 2
    assert "project 'dmeo' has no events; the store holds 'demo'" in one_error_line(err)
    assert not out.exists()


def test_stats_of_an_unknown_project_says_so(demo_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--db", demo_db, "--project", "dmeo", "stats", "--format", "json")
    assert code == 0 and json.loads(out)["events"] == 0
    assert "project 'dmeo' has no events; the store holds 'demo'" in err


def test_compile_refuses_a_directory_of_other_files_unless_forced(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "train.jsonl").write_text('{"my": "own data"}\n')
    base = ["--db", demo_db, "--project", "demo", "compile", "-f", "trl", "--out", str(out)]
    code, _, err = run(capsys, *base)
    assert code == 2 and "holds no manifest.json" in one_error_line(err) and "--force" in err
    assert (out / "train.jsonl").read_text() == '{"my": "own data"}\n'
    assert sorted(p.name for p in out.iterdir()) == ["train.jsonl"]
    assert run(capsys, *base, "--force")[0] == 0
    assert (out / "manifest.json").is_file()
    again = run(capsys, *base)  # an earlier compile's directory is reused without --force
    assert again[0] == 0, again[2]


def test_a_compile_that_writes_nothing_says_why(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--db", demo_db, "--project", "demo", "compile", "-f", "trl", "--out", str(tmp_path / "o")]
    code, out, err = run(capsys, *argv, "--source", "implicit")
    assert code == 0 and out.startswith("0 pairs")
    assert "preflog: note: 0 items from" in err and "dropped:" in err


# ---------------------------------------------------------------------------------------------- #13


def test_library_errors_name_options_not_flags(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as bad:
        CompileOptions(min_agreement=2)
    assert str(bad.value).startswith("min_agreement:") and "--" not in str(bad.value)
    with pytest.raises(ConfigError) as bad_url:
        open_store("nosuch://x")
    assert "--" not in str(bad_url.value)


def test_the_cli_says_the_flag(demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--db", demo_db, "--project", "demo", "compile", "-f", "trl", "--out", str(tmp_path / "o")]
    code, _, err = run(capsys, *argv, "--max-per-prompt", "0")
    assert code == 2 and one_error_line(err).startswith(
        "preflog: error: --max-per-prompt: must be at least 1"
    )
    code, _, err = run(capsys, "--db", "nosuch://x", "stats")
    assert code == 2 and one_error_line(err).startswith("preflog: error: --db: unsupported URL scheme")


def test_the_cli_takes_choices_and_defaults_from_the_library() -> None:
    assert tuple(sorted(IMPORTERS)) == IMPORT_FORMATS
    compile_parser = COMMANDS["preflog compile"]
    actions = {a.dest: a for a in compile_parser._actions}
    assert tuple(actions["aggregate"].choices or ()) == AGGREGATES
    library = CompileOptions()
    assert library == DEFAULTS
    for name in ("aggregate", "min_agreement", "min_margin", "test_fraction", "seed"):
        assert actions[name].default == getattr(library, name), name
    assert ",".join(TRAINERS) in (COMMANDS["preflog verify"]._option_string_actions["--trainer"].help or "")


def test_no_library_error_names_a_cli_flag() -> None:
    """Outside preflog.cli, an error names the option (``aggregate:``), never the flag (``--aggregate:``)."""
    import re

    from tests.conftest import ROOT

    flagged = re.compile(r"""Error\(\s*f?["']--[a-z]""")  # the message may start on the next line
    offenders = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}"
        for path in sorted((ROOT / "src" / "preflog").rglob("*.py"))
        if "cli" not in path.relative_to(ROOT / "src" / "preflog").parts
        for text in [path.read_text(encoding="utf-8")]
        for match in flagged.finditer(text)
    ]
    assert offenders == []
