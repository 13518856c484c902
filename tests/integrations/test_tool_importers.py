"""Importers from Langfuse, LangSmith, Label Studio and OpenAI stored completions, on fixtures written
from the shapes those tools' APIs and exports document (tests/integrations/fixtures/): each is
imported into a real SQLite file twice (the second time every event is a duplicate) and compiled
to TRL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from preflog.compile import compile_dataset
from preflog.formats.base import read_rows_file
from preflog.importers import import_files
from preflog.importers.bundle import BundleReport
from preflog.store import Store
from preflog.store.base import StoredEvent
from tests.importers.conftest import PROJECT, events_of, write_jsonl

FIXTURES = Path(__file__).parent / "fixtures"
KYOTO = "7c5b1f9e-0a3d-4c8e-9b21-5f2e6d7a8b01"
HAIKU = "9a8b7c6d-2222-4ccc-8ddd-000000000002"
SQL = "5e4d3c2b-3333-4eee-8fff-000000000003"
LS_CHAT = "1f0a6b3c-0000-4000-8000-00000000a001"
LS_PRIME = "1f0a6b3c-0000-4000-8000-00000000a002"


def fixtures(*names: str) -> list[Path]:
    return [FIXTURES / name for name in names]


def twice(store: Store, fmt: str, paths: list[Path]) -> BundleReport:
    """Import ``paths`` twice; check the second import stores nothing; answer the first report."""
    first = import_files(store, fmt, paths, project=PROJECT)
    again = import_files(store, fmt, paths, project=PROJECT)
    assert first.stored > 0 and not first.conflicts
    assert (again.stored, again.duplicates) == (0, first.stored), again.summary()
    assert (again.rows, again.imported, len(again.skipped)) == (
        first.rows,
        first.imported,
        len(first.skipped),
    )
    return first


def by_request(store: Store, etype: str) -> dict[str, dict[str, Any]]:
    return {e["request_id"]: e for e in events_of(store, etype)}


def meta(candidate: dict[str, Any], key: str) -> Any:
    """A contract-v2 candidate field, wherever the running contract keeps it."""
    return candidate.get(key, candidate.get("metadata", {}).get(key))


def compiled(store: Store, tmp_path: Path, fmt: str) -> list[dict[str, Any]]:
    out = tmp_path / fmt
    compile_dataset(store, project=PROJECT, out_dir=out, format=fmt)
    return list(read_rows_file(out / "train.jsonl"))


# ---------------------------------------------------------------------------------------------- langfuse


def test_langfuse_generations_and_scores(store: Store, tmp_path: Path) -> None:
    report = twice(
        store,
        "langfuse",
        fixtures("langfuse-observations.json", "langfuse-scores.jsonl", "langfuse-traces.json"),
    )
    assert report.rows == 4 + 4 + 2 and not report.rejected
    assert sorted(p.reason for p in report.skipped) == [
        "a SPAN observation: not an LLM call",
        "a session score: not about one generation",
    ]
    inferences = by_request(store, "inference")
    assert set(inferences) == {KYOTO, HAIKU, SQL}
    kyoto = inferences[KYOTO]
    assert kyoto["system"] == "You are a travel agent."
    assert kyoto["prompt"] == [{"role": "user", "content": "When is the best time to visit Kyoto?"}]
    (candidate,) = kyoto["candidates"]
    assert candidate["output"] == "Late March to early April, for the cherry blossoms."
    assert candidate["model"] == {"name": "gpt-4o-mini"}
    assert candidate["params"] == {"temperature": 0.7, "top_p": 1.0}  # max_tokens "inf" means unset
    assert candidate["usage"] == {"input_tokens": 25, "output_tokens": 14, "total_tokens": 39}
    assert candidate["latency_ms"] == 1250.0
    assert (kyoto["user_id"], kyoto["session_id"], kyoto["tags"]) == ("user-ana", "sess-7", ["travel"])
    haiku = inferences[HAIKU]
    assert [c["output"] for c in haiku["candidates"]] == ["Soft rain on the roof", "Grey sky, wet pavement"]
    assert haiku["metadata"]["usage"] == {"input_tokens": 12, "output_tokens": 20, "total_tokens": 32}
    assert inferences[SQL]["prompt"] == "Translate to SQL: all users older than 30"

    signals = by_request(store, "signal")
    assert signals[KYOTO]["signal"] == "thumbs_up" and signals[KYOTO]["user_id"] == "user-ana"
    assert signals[KYOTO]["metadata"]["comment"] == "Exactly what I needed"
    assert signals[SQL]["signal"] == "thumbs_down"  # a trace score: about the trace's generation
    (score,) = events_of(store, "score")
    assert (score["request_id"], score["score"], score["scorer"]) == (
        HAIKU,
        0.9,
        {"name": "helpfulness", "kind": "ai_judge"},
    )

    rows = compiled(store, tmp_path, "trl-kto")
    assert sorted(
        (r["completion"][0]["content"] if isinstance(r["completion"], list) else r["completion"], r["label"])
        for r in rows
    ) == [
        ("Late March to early April, for the cherry blossoms.", True),
        ("SELECT * FROM users WHERE age > 30;", False),
    ]


def test_langfuse_rejections_name_file_row_and_reason(store: Store, tmp_path: Path) -> None:
    rows = [
        {
            "id": "g1",
            "traceId": "t1",
            "type": "GENERATION",
            "startTime": "2026-03-01T10:00:00Z",
            "input": "Hi",
            "output": None,
            "level": "ERROR",
            "statusMessage": "rate limited",
        },
        {
            "id": "s1",
            "traceId": "t-none",
            "name": "user-feedback",
            "value": 1,
            "dataType": "BOOLEAN",
            "source": "API",
            "timestamp": "2026-03-01T10:00:00Z",
        },
        {
            "id": "s2",
            "observationId": "g9",
            "name": "tone",
            "value": 0,
            "stringValue": "rude",
            "dataType": "CATEGORICAL",
            "source": "ANNOTATION",
            "timestamp": "2026-03-01T10:00:00Z",
        },
        {"something": "else"},
        "{not json",
    ]
    path = write_jsonl(tmp_path / "lf.jsonl", rows)
    report = import_files(store, "langfuse", [path], project=PROJECT)
    assert [str(p) for p in report.rejected] == [
        f"{path} row 5: invalid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{path} row 1: output: no output (rate limited)",
        f"{path} row 2: traceId: trace t-none has no generation in these files",
        f"{path} row 3: value: a CATEGORICAL score has no number preflog can use",
        f"{path} row 4: neither an observation (type), a score (dataType) nor a trace",
    ]
    assert report.stored == 0 and not report.ok


def test_a_score_imported_before_its_generation_waits_for_it(store: Store) -> None:
    import_files(store, "langfuse", fixtures("langfuse-scores.jsonl"), project=PROJECT)
    view = store.get_request(KYOTO, project=PROJECT)
    assert view.inference is None and len(view.signals) == 1  # an orphan
    import_files(store, "langfuse", fixtures("langfuse-observations.json"), project=PROJECT)
    view = store.get_request(KYOTO, project=PROJECT)
    assert view.inference is not None and not view.to_dict()["orphaned"]


# ---------------------------------------------------------------------------------------------- langsmith


def test_langsmith_runs_and_feedback(store: Store, tmp_path: Path) -> None:
    report = twice(store, "langsmith", fixtures("langsmith-runs.jsonl", "langsmith-feedback.json"))
    assert not report.rejected
    assert sorted(p.reason for p in report.skipped) == [
        "a chain run: not an LLM call",
        "a tool run: not an LLM call",
    ]
    inferences = by_request(store, "inference")
    assert set(inferences) == {LS_CHAT, LS_PRIME}
    chat = inferences[LS_CHAT]
    assert chat["system"] == "Answer in one sentence."
    assert chat["prompt"] == [{"role": "user", "content": "What does HTTP 418 mean?"}]
    (candidate,) = chat["candidates"]
    assert candidate["output"] == "It means I'm a teapot." and meta(candidate, "finish_reason") == "stop"
    assert candidate["model"] == {"name": "gpt-4o-mini", "provider": "openai"}
    assert candidate["params"] == {"temperature": 0.2}
    assert candidate["usage"] == {"input_tokens": 21, "output_tokens": 8, "total_tokens": 29}
    assert candidate["latency_ms"] == pytest.approx(1200.0)
    assert (chat["user_id"], chat["session_id"], chat["occurred_at"]) == (
        "u-9",
        "thread-42",
        "2026-03-02T09:00:00.100000Z",  # LangSmith writes UTC without an offset
    )
    prime = inferences[LS_PRIME]
    assert [c["output"] for c in prime["candidates"]] == ["101", "100"]
    assert prime["metadata"]["usage"] == {"input_tokens": 14, "output_tokens": 4, "total_tokens": 18}

    signals = by_request(store, "signal")
    assert signals[LS_CHAT]["signal"] == "thumbs_up"  # feedback on the root run: its trace's LLM run
    assert signals[LS_PRIME]["signal"] == "thumbs_down"
    assert signals[LS_PRIME]["metadata"]["langsmith"]["correction"] == {"content": "101"}
    (score,) = events_of(store, "score")
    assert (score["request_id"], score["score"], score["scorer"]["kind"]) == (LS_PRIME, 0.5, "ai_judge")

    rows = compiled(store, tmp_path, "trl-kto")
    assert sorted(r["label"] for r in rows) == [False, True]


# ---------------------------------------------------------------------------------------------- label studio


def test_label_studio_pairwise_export(store: Store, tmp_path: Path) -> None:
    report = twice(store, "label-studio", fixtures("label-studio-export.json"))
    assert (report.rows, report.stored, report.requests) == (2, 5, 2)  # 2 tasks, 3 annotations kept
    preferences = events_of(store, "preference")
    assert sorted((p["chosen"], p["source"]["id"]) for p in preferences) == [
        ("a", "3"),
        ("a", "4"),
        ("b", "3"),
    ]
    assert all(p["presented"] == ["a", "b"] and p["source"]["kind"] == "human" for p in preferences)
    rows = compiled(store, tmp_path, "trl")
    pairs = sorted((r["prompt"], r["chosen"], r["rejected"]) for r in rows)
    assert pairs == [
        (
            "Explain recursion to a child.",
            "Recursion is when something is defined using a smaller version of itself, like Russian dolls.",
            "Recursion is a function calling itself.",
        ),
        ("Give a synonym for 'happy'.", "Joyful.", "Sad."),
    ]


def test_label_studio_json_min_rows(store: Store, tmp_path: Path) -> None:
    rows = [
        {
            "id": 1,
            "prompt": "2+2?",
            "answer1": "4",
            "answer2": "5",
            "comparison": {"selected": "left"},
            "annotator": "ann@example.com",
            "annotation_id": 9,
            "created_at": "2026-03-03T08:00:00Z",
        },
        {
            "id": 2,
            "question": "Capital of Peru?",
            "response_a": "Quito",
            "response_b": "Lima",
            "comparison": {"selected": "right"},
            "annotator": "ann@example.com",
            "annotation_id": 10,
        },
    ]
    path = tmp_path / "min.json"
    path.write_text(json.dumps(rows))
    report = twice(store, "label-studio", [path])
    assert report.imported == 2
    votes = {p["request_id"]: p for p in events_of(store, "preference")}
    prompts = {e["request_id"]: e["prompt"] for e in events_of(store, "inference")}
    assert sorted((prompts[r], v["chosen"]) for r, v in votes.items()) == [
        ("2+2?", "a"),
        ("Capital of Peru?", "b"),
    ]
    assert {v["source"]["id"] for v in votes.values()} == {"ann@example.com"}


# ---------------------------------------------------------------------------------------------- openai stored


def test_openai_stored_completions_with_their_messages(store: Store, tmp_path: Path) -> None:
    report = twice(
        store, "openai-stored", fixtures("openai-stored-completions.json", "openai-stored-messages.jsonl")
    )
    assert (report.rows, report.imported, report.stored) == (2 + 3, 5, 2)
    inferences = by_request(store, "inference")
    french = inferences["chatcmpl-AyPNinnUqUDYo9SAdA52NobMflmj2"]
    assert french["system"] == "Translate the user's text into French."  # a developer message
    assert french["prompt"] == [{"role": "user", "content": "Hello, world!"}]
    assert [c["candidate_id"] for c in french["candidates"]] == ["c0", "c1"]
    assert french["candidates"][0]["model"] == {"name": "gpt-4.1-mini-2025-04-14"}
    assert french["user_id"] == "user-zoe" and french["occurred_at"] == "2026-03-02T10:00:00.000000Z"
    assert french["metadata"]["usage"] == {"input_tokens": 22, "output_tokens": 12, "total_tokens": 34}
    canberra = inferences["req-canberra"]  # metadata.preflog_request_id names the request
    assert canberra["prompt"] == [{"role": "user", "content": "What is the capital of Australia?"}]

    # stored completions carry no judgments: a preference logged later joins by request id
    store.append([_vote("chatcmpl-AyPNinnUqUDYo9SAdA52NobMflmj2", "c1", "c0")], project=PROJECT)
    (row,) = compiled(store, tmp_path, "trl")
    assert row["chosen"] == [{"role": "assistant", "content": "Salut tout le monde !"}]
    assert row["rejected"] == [{"role": "assistant", "content": "Bonjour le monde !"}]


def test_openai_stored_completion_without_messages_is_rejected(store: Store) -> None:
    report = import_files(store, "openai-stored", fixtures("openai-stored-completions.json"), project=PROJECT)
    assert report.stored == 0 and len(report.rejected) == 2
    assert (
        "GET /v1/chat/completions/chatcmpl-AyPNinnUqUDYo9SAdA52NobMflmj2/messages"
        in report.rejected[0].reason
    )


def _vote(request_id: str, chosen: str, rejected: str) -> dict[str, Any]:
    return {
        "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "type": "preference",
        "request_id": request_id,
        "occurred_at": "2026-03-04T00:00:00Z",
        "chosen": chosen,
        "rejected": rejected,
        "source": {"kind": "human", "id": "reviewer"},
    }


# ---------------------------------------------------------------------------------------------- the CLI


def test_preflog_import_takes_several_files(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    args = [
        sys.executable,
        "-m",
        "preflog.cli",
        "--db",
        db,
        "--project",
        PROJECT,
        "import",
        "langsmith",
        str(FIXTURES / "langsmith-runs.jsonl"),
        str(FIXTURES / "langsmith-feedback.json"),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == (
        "7 rows: 5 imported, 0 rejected; 5 events stored, 0 duplicates, 0 conflicts; 2 requests; "
        "2 rows skipped"
    )
    again = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=120)
    report = json.loads(again.stdout)
    assert (report["stored"], report["duplicates"], len(report["skipped"])) == (0, 5, 2)
    assert report["skipped"][0]["file"].endswith("langsmith-runs.jsonl")


def test_events_are_stored_events(store: Store) -> None:
    import_files(store, "label-studio", fixtures("label-studio-export.json"), project=PROJECT)
    assert all(isinstance(e, StoredEvent) for e in store.iter_events(project=PROJECT))
