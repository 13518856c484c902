"""The HTTP transport and the spool against the real service app in process (ASGIWire, no socket):
what each kind of answer does to a batch — per-event answers, a refused key, a key of another
project, a scope that may not write a type, 413, 415 and 400 from a proxy, 429 — and replays that
keep what was not answered."""

from __future__ import annotations

import base64
import logging
import os
import time
from collections import Counter
from pathlib import Path

import pytest

import preflog
from preflog.errors import Unauthorized
from preflog.events import Limits
from preflog.sdk.spool import DiskSpool
from preflog.server.settings import ServerSettings
from tests.sdk.conftest import wait_until
from tests.transport.conftest import InProcessService, body_text, make_service


def log(client: preflog.Client, n: int, prompt: str = "q") -> list[str]:
    return [client.log_inference(f"{prompt} {i}", ["a", "b"], model="m") for i in range(n)]


def request_ids(svc: InProcessService, project: str = "default") -> Counter[str]:
    return Counter(str(e["request_id"]) for e in svc.stored(project))


def test_delivers_batches_to_the_app_in_process(service: InProcessService) -> None:
    client = service.client(service.key(), batch_size=25)
    rids = log(client, 120)
    assert client.flush(timeout=30)
    stats = client.stats()
    assert (stats.sent, stats.failed, stats.spooled, stats.batches) == (120, 0, 0, 5)
    assert request_ids(service) == Counter(rids)


def test_a_refused_key_keeps_events_in_the_spool_and_warns_once(
    service: InProcessService, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "pfl_000000000000_" + "x" * 43
    with caplog.at_level(logging.WARNING, logger="preflog"):
        client = service.client(wrong, batch_size=10, replay_max_backoff=60)  # no slow probe in the test
        rids = log(client, 60)
        assert client.flush(timeout=30)
        stats = client.stats()
        client.close()
    assert (stats.sent, stats.rejected, stats.failed, stats.dropped) == (0, 0, 0, 0)
    assert stats.spooled == stats.unauthorized == stats.spool_pending == 60
    assert "401" in (stats.last_error or "")
    refusals = [r for r in caplog.records if "refused the API key" in r.getMessage()]
    assert len(refusals) == 1 and "HTTP 401" in refusals[0].getMessage()  # one warning, not one per batch
    assert service.posts == 1  # the first batch tried once; the rest went to disk without a request
    assert service.stored() == []

    # The next client for the same service and project, with a valid key, delivers them.
    later = service.client(service.key())
    wait_until(lambda: later.stats().spool_pending == 0, timeout=30)
    assert later.stats().replayed == 60
    assert request_ids(service) == Counter(rids)  # every event stored once


def test_a_key_of_another_project_keeps_events_until_the_right_key_comes(
    service: InProcessService, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="preflog"):
        client = service.client(service.key(project="other"), batch_size=4, replay_max_backoff=60)
        rids = log(client, 12)
        assert client.flush(timeout=30)
        stats = client.stats()
        client.close()
    # The service rejects each event on its own (field "project"): kept, not counted as rejected;
    # as nothing of the batch was taken, the key counts as refused: one warning, no more POSTs.
    assert (stats.rejected, stats.spooled, stats.unauthorized) == (0, 12, 12)
    assert len([r for r in caplog.records if "refused the API key" in r.getMessage()]) == 1
    assert service.posts == 1
    assert service.stored("other") == [] and service.stored() == []
    later = service.client(service.key())
    wait_until(lambda: later.stats().spool_pending == 0, timeout=30)
    assert request_ids(service) == Counter(rids)


def test_a_scope_that_may_not_write_a_type_keeps_only_those_events(service: InProcessService) -> None:
    client = service.client(service.key(scope="ingest"))
    rids = log(client, 5)
    erasure = client.erase(request_id=rids[0], reason="user asked")  # ingest keys may not erase
    assert client.flush(timeout=30)
    stats = client.stats()
    client.close()
    assert (stats.sent, stats.spooled, stats.unauthorized, stats.rejected) == (5, 1, 1, 0)
    admin = service.client(service.key(scope="admin"))
    wait_until(lambda: admin.stats().spool_pending == 0, timeout=30)
    assert [e["event_id"] for e in service.stored() if e["type"] == "erasure"] == [erasure]


def test_validation_rejections_stay_rejected_with_field_and_reason(tmp_path: Path) -> None:
    # The service's own limits are lower than the SDK's: it rejects the long outputs, per event.
    svc, close = make_service(tmp_path, limits=Limits(max_output_bytes=20))
    try:
        client = svc.client(svc.key())
        ok = client.log_inference("short", ["fine"], model="m")
        client.log_inference("long", ["x" * 50], model="m")
        assert client.flush(timeout=30)
        stats = client.stats()
        assert [e["request_id"] for e in svc.stored()] == [ok]
    finally:
        close()
    assert (stats.sent, stats.rejected, stats.spooled) == (1, 1, 0)
    assert "candidates[0].output" in (stats.last_error or "") and "too long" in (stats.last_error or "")


def test_413_halves_the_batch_until_it_fits(service: InProcessService) -> None:
    service.settings = ServerSettings(max_batch_events=7)
    client = service.client(service.key(), batch_size=40, flush_interval=60)
    rids = log(client, 40)
    assert client.flush(timeout=30)
    stats = client.stats()
    assert (stats.sent, stats.rejected, stats.spooled) == (40, 0, 0)
    assert request_ids(service) == Counter(rids)
    assert service.posts > 6  # 40 → 20 → 10 → 5: split until each part had at most 7 events


def test_413_for_one_event_alone_rejects_it_with_the_reason(service: InProcessService) -> None:
    service.settings = ServerSettings(max_body_bytes=4000)
    client = service.client(service.key(), batch_size=3, flush_interval=60)
    small = log(client, 2)
    noise = base64.b64encode(os.urandom(6000)).decode()  # does not shrink under gzip
    client.log_inference("big", [noise], model="m")
    assert client.flush(timeout=30)
    stats = client.stats()
    assert (stats.sent, stats.rejected, stats.spooled) == (2, 1, 0)
    assert "HTTP 413" in (stats.last_error or "") and "too large" in (stats.last_error or "")
    assert request_ids(service) == Counter(small)


def test_415_from_a_proxy_that_refuses_gzip_sends_uncompressed(service: InProcessService) -> None:
    encodings: list[str] = []

    def no_gzip(headers: dict[str, str], body: bytes) -> int | None:
        encodings.append(headers.get("content-encoding", "identity"))
        return 415 if headers.get("content-encoding") == "gzip" else None

    service.answer = no_gzip
    client = service.client(service.key(), batch_size=10)
    rids = log(client, 30)
    assert client.flush(timeout=30)
    assert client.stats().sent == 30
    assert request_ids(service) == Counter(rids)
    assert encodings == ["gzip", "identity", "identity", "identity"]  # it asked once, then remembered


def test_400_for_a_batch_splits_it_down_to_the_event_refused(service: InProcessService) -> None:
    service.answer = lambda headers, body: 400 if b"poison" in body_text(headers, body) else None
    client = service.client(service.key(), batch_size=16, flush_interval=60)
    rids = log(client, 15)
    client.log_inference("poison", ["a"], model="m")
    assert client.flush(timeout=30)
    stats = client.stats()
    assert (stats.sent, stats.rejected, stats.spooled) == (15, 1, 0)
    assert "HTTP 400" in (stats.last_error or "")
    assert request_ids(service) == Counter(rids)


def test_429_waits_for_retry_after(service: InProcessService) -> None:
    service.settings = ServerSettings(rate_limit=1, rate_burst=1)
    transport = service.transport(service.key(), retries=3, backoff=0.01, spool=False)
    client = service.client(None, transport=transport, batch_size=1, flush_interval=0.01)
    started = time.monotonic()
    log(client, 3)
    assert client.flush(timeout=30)
    assert client.stats().sent == 3 and client.stats().retries >= 2
    assert time.monotonic() - started >= 1.5  # two of the three requests waited for their Retry-After


def test_while_the_service_is_down_new_batches_go_straight_to_the_spool(service: InProcessService) -> None:
    service.answer = lambda headers, body: 503
    transport = service.transport(service.key(), retries=2, backoff=0.001)
    client = service.client(
        None, transport=transport, batch_size=10, replay_backoff=30, replay_max_backoff=30
    )
    log(client, 100)
    assert client.flush(timeout=30)
    stats = client.stats()
    assert (stats.spooled, stats.failed, stats.retries) == (100, 0, 2)
    assert service.posts == 3  # the first batch: one attempt and two retries; the other nine: none


def test_service_down_then_up_drains_the_spool_with_no_further_log_call(service: InProcessService) -> None:
    service.answer = lambda headers, body: 503
    client = service.client(service.key(), batch_size=10)
    rids = log(client, 40)
    assert client.flush(timeout=30)
    assert client.stats().spooled == 40 and service.stored() == []
    service.answer = None  # the service is back; nobody logs anything
    wait_until(lambda: client.stats().spool_pending == 0, timeout=30)
    stats = client.stats()
    assert stats.replayed == 40 and stats.replay_rejected == 0
    assert request_ids(service) == Counter(rids)


def test_logging_on_after_an_outage_probes_again_without_waiting_out_the_backoff(
    service: InProcessService,
) -> None:
    service.answer = lambda headers, body: 503
    service.retry_after = "120"  # the service asks for two minutes: the replayer would wait that long
    client = service.client(service.key(), batch_size=10, replay_backoff=0.2, replay_max_backoff=300)
    rids = log(client, 10)
    assert client.flush(timeout=30)
    assert client.stats().spooled == 10
    service.answer = None  # back early; the client goes on logging
    rids += log(client, 10, "later")
    assert client.flush(timeout=30)
    wait_until(lambda: client.stats().spool_pending == 0, timeout=20)  # well before the 120 s
    assert request_ids(service) == Counter(rids)


def test_a_401_in_the_middle_of_a_replay_keeps_the_rest_of_the_segment(service: InProcessService) -> None:
    service.answer = lambda headers, body: 503
    key = service.key()
    client = service.client(key, batch_size=5, replay_backoff=60, replay_max_backoff=60)
    rids = log(client, 50)  # ten batches, one segment
    assert client.flush(timeout=30)
    client.close()
    spool = DiskSpool(service.spool_root / "spool")
    assert spool.pending() == 50

    def revoke_after_three(headers: dict[str, str], body: bytes) -> int | None:
        if service.posts == 4:
            service.revoke(key)  # the fourth batch of the replay meets a revoked key
        return None

    service.posts = 0
    service.answer = revoke_after_three
    replayer = service.client(key, replay_backoff=60, replay_max_backoff=60)
    report = replayer.replay_spool()
    assert report.error is not None and "401" in report.error
    assert report.replayed == 15 and report.pending == 35  # three batches delivered, the rest kept
    assert sum(request_ids(service).values()) == 15
    replayer.close()

    fixed = service.client(service.key())
    assert fixed.replay_spool().pending == 0
    assert request_ids(service) == Counter(rids)  # all, once


def test_replay_counts_rejections_and_keeps_what_is_refused_for_the_key(tmp_path: Path) -> None:
    svc, close = make_service(tmp_path, limits=Limits(max_output_bytes=20))
    try:
        down = svc.client(svc.key(), replay_backoff=60, replay_max_backoff=60)
        svc.answer = lambda headers, body: 503
        ok = log(down, 3)
        down.log_inference("too long for the service", ["x" * 50], model="m")
        assert down.flush(timeout=30)
        down.close()
        svc.answer = None
        other = svc.client(svc.key(project="other"), replay_backoff=60, replay_max_backoff=60)
        report = other.replay_spool()
        assert (report.replayed, report.rejected, report.pending) == (0, 0, 4)  # all refused for the key
        other.close()  # (two live clients on one spool take turns: the test wants one at a time)
        report = svc.client(svc.key(), replay_backoff=60, replay_max_backoff=60).replay_spool()
        assert (report.replayed, report.rejected, report.pending) == (3, 1, 0)  # rejected with a reason
        assert request_ids(svc) == Counter(ok)
    finally:
        close()


def test_call_makes_one_json_request_with_the_transports_key_and_wire(service: InProcessService) -> None:
    rid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    transport = service.transport(service.key(scope="admin"), spool=False)
    try:
        status, answer = transport.call(
            "POST",
            "/v1/inferences",
            {
                "request_id": rid,
                "prompt": "q",
                "candidates": [{"candidate_id": "a", "output": "x", "model": {"name": "m"}}],
            },
        )
        assert status == 200 and answer["results"][0]["status"] == "stored"
        status, answer = transport.call("GET", f"/v1/requests/{rid}")
        assert status == 200 and answer["inference"]["prompt"] == "q"
        assert transport.call("GET", "/v1/requests/nope")[0] == 404
    finally:
        transport.close()


def test_a_refused_key_is_raised_once_by_the_transport_not_answered_as_rejected(
    service: InProcessService,
) -> None:
    transport = service.transport("pfl_000000000000_notavalidsecretatall", spool=False)
    try:
        with pytest.raises(Unauthorized, match="HTTP 401") as refused:
            transport.send([{"event_id": "x"}], "default")
        assert refused.value.status == 401 and service.posts == 1
    finally:
        transport.close()
