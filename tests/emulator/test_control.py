"""The control API: recorded requests, stats and health."""

from __future__ import annotations

from starlette.testclient import TestClient

from aigateway.emulator import EmulatorConfig, create_app

from .conftest import AUTH


def test_requests_are_recorded_newest_last_with_lowercase_headers(client: TestClient) -> None:
    client.post("/openai/v1/embeddings", json={"model": "text-embedding-3-small", "input": "a"}, headers=AUTH)
    client.post(
        "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
        json={"messages": [{"role": "user", "content": "b"}]},
        headers={"Api-Key": "emulator-key", "X-Custom": "Yes"},
    )
    recorded = client.get("/_emulator/requests").json()
    assert [r["path"] for r in recorded] == [
        "/openai/v1/embeddings",
        "/openai/deployments/gpt-4o/chat/completions",
    ]
    last = recorded[-1]
    assert last["method"] == "POST"
    assert last["query"] == {"api-version": "2024-10-21"}
    assert last["headers"]["x-custom"] == "Yes"
    assert last["headers"]["api-key"] == "emulator-key"
    assert last["body"]["messages"][0]["content"] == "b"
    assert last["status"] == 200
    # Control calls are not recorded as upstream requests.
    assert len(client.get("/_emulator/requests").json()) == 2
    assert client.delete("/_emulator/requests").status_code == 204
    assert client.get("/_emulator/requests").json() == []


def test_recording_is_bounded() -> None:
    with TestClient(create_app(EmulatorConfig(max_recorded_requests=3))) as c:
        for i in range(5):
            c.post("/openai/v1/embeddings", json={"model": "text-embedding-3-small", "input": str(i)}, headers=AUTH)
        assert [r["body"]["input"] for r in c.get("/_emulator/requests").json()] == ["2", "3", "4"]


def test_stats_count_by_route_and_status_and_peaks(client: TestClient) -> None:
    for _ in range(3):
        client.post("/openai/v1/embeddings", json={"model": "text-embedding-3-small", "input": "a"}, headers=AUTH)
    client.post("/openai/v1/embeddings", json={"model": "text-embedding-3-small", "input": "a"})
    client.post("/openai/v1/responses", json={"model": "gpt-4o", "input": "a"}, headers=AUTH)
    stats = client.get("/_emulator/stats").json()
    assert stats["by_route"] == {"embeddings": 4, "responses": 1}
    assert stats["by_route_status"]["embeddings"] == {"200": 3, "401": 1}
    assert stats["max_requests_in_any_60s_window"] == 5
    assert stats["max_requests_in_any_60s_window_by_route"]["embeddings"] == 4
    assert stats["max_requests_per_second_by_route"]["embeddings"] >= 1
    assert stats["in_flight"] == 0
    assert stats["max_in_flight"] >= 1
    assert client.delete("/_emulator/stats").status_code == 204
    assert client.get("/_emulator/stats").json()["total"] == 0


def test_health_needs_no_key(client: TestClient) -> None:
    r = client.get("/_emulator/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert client.get("/openai/_emulator/health").status_code == 404


def test_recording_evicts_oldest_bodies_past_the_byte_budget() -> None:
    from aigateway.emulator.recorder import RequestRecorder

    recorder = RequestRecorder(capacity=100, max_body_bytes=250)
    for i in range(5):
        recorder.record("POST", "/p", {}, {}, {"i": i}, size=100)
    assert [e["body"]["i"] for e in recorder.items()] == [3, 4]
