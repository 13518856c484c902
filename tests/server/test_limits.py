"""Body and batch limits, field limits, the per-key rate limit, and a store that goes away."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from tests import factories as f
from tests.server.conftest import KeyMaker, auth, make_client
from tests.server.flaky import FlakyStore

from preflog.events import Limits
from preflog.server.keys import KeyStore
from preflog.server.settings import ServerSettings
from preflog.store.base import Store


@pytest.fixture
def backend() -> str:
    """SQLite only: limits and error answers are HTTP behaviour; the store behind them
    does not change them."""
    return "sqlite"


def _client(store: Store, keys: KeyStore, **settings: object) -> TestClient:
    return make_client(store, keys, ServerSettings(**settings))  # type: ignore[arg-type]


def test_body_over_max_body_bytes_is_413_naming_the_limit(
    store: Store, keys: KeyStore, make_key: KeyMaker
) -> None:
    admin = auth(make_key())
    with _client(store, keys, max_body_bytes=10_000) as client:
        big = json.dumps([f.inference() for _ in range(40)]).encode()
        assert len(big) > 10_000
        response = client.post("/v1/events", content=big, headers=admin)
        assert response.status_code == 413
        assert response.json()["limit"] == "max_body_bytes" and "max_body_bytes" in response.json()["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the cap applies while streaming
            for i in range(0, len(big), 1000):
                yield big[i : i + 1000]

        streamed = client.post("/v1/events", content=chunks(), headers=admin)
        assert streamed.status_code == 413 and streamed.json()["limit"] == "max_body_bytes"
        bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
        assert len(bomb) < 10_000
        headers = dict(admin, **{"Content-Encoding": "gzip"})
        response = client.post("/v1/events", content=bomb, headers=headers)
        assert response.status_code == 413 and "decompressed" in response.json()["message"]
        assert store.last_position() == 0


def test_batch_over_max_batch_events_is_413(store: Store, keys: KeyStore, make_key: KeyMaker) -> None:
    with _client(store, keys, max_batch_events=5) as client:
        response = client.post("/v1/events", json=[f.inference() for _ in range(6)], headers=auth(make_key()))
        assert response.status_code == 413
        assert response.json()["limit"] == "max_batch_events"
        ok = client.post("/v1/events", json=[f.inference() for _ in range(5)], headers=auth(make_key()))
        assert ok.status_code == 200


def test_field_limits_reject_the_event_with_the_limit_named(
    store: Store, keys: KeyStore, make_key: KeyMaker
) -> None:
    store.limits = Limits(max_output_bytes=100, max_candidates=2)
    with _client(store, keys) as client:
        events = [f.inference(outputs=("x" * 101, "y")), f.inference(outputs=("a", "b", "c")), f.inference()]
        response = client.post("/v1/events", json=events, headers=auth(make_key()))
        assert response.status_code == 207
        long, many, ok = response.json()["results"]
        assert (long["field"], long["reason"]) == ("candidates[0].output", "too long: over 100 bytes")
        assert (many["field"], many["reason"]) == ("candidates", "too many: 3, limit 2")
        assert ok["status"] == "stored"


def test_rate_limit_answers_429_with_retry_after(store: Store, keys: KeyStore, make_key: KeyMaker) -> None:
    first, second = auth(make_key("read")), auth(make_key("read"))
    with _client(store, keys, rate_limit=0.5, rate_burst=3) as client:
        assert [client.get("/v1/events", headers=first).status_code for _ in range(3)] == [200] * 3
        limited = client.get("/v1/events", headers=first)
        assert limited.status_code == 429
        assert limited.json()["limit"] == "rate_limit"
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        assert client.get("/v1/events", headers=second).status_code == 200  # per key
        metrics = client.get("/metrics").text
        assert "preflog_rate_limited_total 1" in metrics


def test_no_rate_limit_by_default(client: TestClient, make_key: KeyMaker) -> None:
    headers = auth(make_key("read"))
    assert {client.get("/v1/events", headers=headers).status_code for _ in range(50)} == {200}


def test_store_unavailable_is_503_json_with_retry_after(
    store: Store, keys: KeyStore, make_key: KeyMaker
) -> None:
    # A real SQLite file cannot be made unreachable on demand (an open file survives the removal of
    # its directory, and root ignores permissions), so a wrapper raises StoreUnavailable exactly as
    # the backends do when their driver fails; the keys stay in the real file.
    flaky = FlakyStore(store)
    admin = auth(make_key())
    with make_client(flaky, keys, ServerSettings(retry_after_s=7)) as client:
        assert client.post("/v1/events", json=[f.inference()], headers=admin).status_code == 200
        flaky.down = True
        for response in (
            client.post("/v1/events", json=[f.inference()], headers=admin),
            client.get("/v1/events", headers=admin),
            client.get("/v1/requests/r1", headers=admin),
            client.get("/readyz"),
        ):
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/json"
            assert response.headers["retry-after"] == "7"
            assert response.json()["error"] == "store_unavailable"
            assert "Traceback" not in response.text
        assert client.get("/healthz").status_code == 200
        assert 'preflog_store_errors_total{kind="StoreUnavailable"} 4' in client.get("/metrics").text
        flaky.down = False
        assert client.get("/readyz").status_code == 200


def test_unexpected_errors_are_500_json_without_a_traceback(
    store: Store, keys: KeyStore, make_key: KeyMaker
) -> None:
    class Broken(FlakyStore):
        def last_position(self, *, project: str | None = None) -> int:
            raise RuntimeError("boom: secret internals")

    with make_client(Broken(store), keys) as client:
        response = client.get("/readyz")
        assert response.status_code == 500
        assert response.json() == {
            "error": "internal_error",
            "message": "internal error; the server log has the details",
        }
