"""Stored responses belong to the project that created them (issue 11, point 2).

Two real gateway processes share one emulator, as two replicas share Azure: replica 0 reaches it on the v1
routes, replica 1 on the dated ones (`/openai/responses?api-version=...`), so the ownership lookup is shown
on both URL families. A response created through either replica is another project's 404 through both, and
the answer is the same, byte for byte, as for an id that never existed. A third process runs with
GATEWAY_FORCE_STORE_FALSE. The last tests exercise the pure rules in `aigateway.proxy.ownership` (imported
inside them, so this file also runs against a tree that predates the module and fails there test by test).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aigateway.launcher import GatewayProcess
from tests.conftest import GatewayFactory, azure_env
from tests.helpers import TEAM_A_KEY, TEAM_B_KEY, Emulator, request_lines

pytestmark = pytest.mark.e2e

MODEL = "gpt-5.3-codex"
RESERVED_KEY = "aigateway_project"  # the contract with Azure-side data: changing it orphans stored responses
BY_ID_CALLS = (
    ("GET", ""),
    ("GET", "/input_items"),
    ("POST", "/cancel"),
    ("DELETE", ""),
)


@pytest.fixture(scope="module")
def replicas(emulator: Emulator, gateway_factory: GatewayFactory) -> list[GatewayProcess]:
    return [
        gateway_factory(azure_env(emulator), name="owner-v1"),
        gateway_factory(
            azure_env(emulator, AZURE_OPENAI_RESPONSES_API_VERSION="2025-04-01-preview"), name="owner-dated"
        ),
    ]


@pytest.fixture(scope="module")
def no_store(emulator: Emulator, gateway_factory: GatewayFactory) -> GatewayProcess:
    return gateway_factory(azure_env(emulator, GATEWAY_FORCE_STORE_FALSE="true"), name="owner-no-store")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def by_id(
    http: httpx.Client, gateway: GatewayProcess, key: str, method: str, response_id: str, suffix: str = ""
) -> httpx.Response:
    return http.request(
        method, f"{gateway.url}/v1/responses/{response_id}{suffix}", headers={"authorization": f"Bearer {key}"}
    )


def create(http: httpx.Client, gateway: GatewayProcess, key: str, **fields: Any) -> httpx.Response:
    body = {"model": MODEL, "input": "the secret plan of project A", **fields}
    return http.post(f"{gateway.url}/v1/responses", json=body, headers={"authorization": f"Bearer {key}"})


def create_stored(http: httpx.Client, gateway: GatewayProcess, stream: bool, **fields: Any) -> str:
    """Project A stores a response; its id, read from the JSON answer or the stream's response.created."""
    answer = create(http, gateway, TEAM_A_KEY, stream=stream, **fields)
    assert answer.status_code == 200, answer.text
    if not stream:
        return str(answer.json()["id"])
    events = sse_events(answer.text)
    assert events[-1]["type"] == "response.completed"
    return str(events[0]["response"]["id"])


def sse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def unknown_id() -> str:
    return "resp_" + secrets.token_hex(24)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("creator", [0, 1], ids=["created-v1", "created-dated"])
def test_only_the_creating_project_reaches_a_stored_response(
    replicas: list[GatewayProcess], http: httpx.Client, stream: bool, creator: int
) -> None:
    rid = create_stored(http, replicas[creator], stream)
    for gateway in replicas:  # the creator's replica knows the owner already; the other asks Azure
        for method, suffix in BY_ID_CALLS:
            theirs = by_id(http, gateway, TEAM_B_KEY, method, rid, suffix)
            assert theirs.status_code == 404, (gateway.url, method, suffix, theirs.text)
            assert "secret plan" not in theirs.text
        continued = create(http, gateway, TEAM_B_KEY, previous_response_id=rid)
        assert continued.status_code == 404, continued.text
        assert continued.json()["error"]["code"] == "previous_response_not_found"
    for gateway in replicas:  # B's attempts changed nothing: A still has everything
        got = by_id(http, gateway, TEAM_A_KEY, "GET", rid)
        assert got.status_code == 200 and got.json()["id"] == rid
        items = by_id(http, gateway, TEAM_A_KEY, "GET", rid, "/input_items")
        assert items.status_code == 200 and "secret plan" in items.text
        cancelled = by_id(http, gateway, TEAM_A_KEY, "POST", rid, "/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["id"] == rid
        continued = create(http, gateway, TEAM_A_KEY, previous_response_id=rid, input="and then?")
        assert continued.status_code == 200 and continued.json()["previous_response_id"] == rid
    deleted = by_id(http, replicas[1 - creator], TEAM_A_KEY, "DELETE", rid)
    assert deleted.status_code == 200 and deleted.json() == {"id": rid, "object": "response.deleted", "deleted": True}
    for gateway in replicas:
        assert by_id(http, gateway, TEAM_A_KEY, "GET", rid).status_code == 404


def test_another_projects_response_is_answered_like_an_unknown_id(
    replicas: list[GatewayProcess], http: httpx.Client
) -> None:
    rid = create_stored(http, replicas[0], stream=False)
    for gateway in replicas:
        for method, suffix in BY_ID_CALLS:
            nobody = unknown_id()
            foreign = by_id(http, gateway, TEAM_B_KEY, method, rid, suffix)
            unknown = by_id(http, gateway, TEAM_B_KEY, method, nobody, suffix)
            assert (foreign.status_code, foreign.headers["content-type"]) == (
                unknown.status_code,
                unknown.headers["content-type"],
            )
            assert foreign.text == unknown.text.replace(nobody, rid)
            assert foreign.status_code == 404
            assert foreign.json()["error"] == {
                "message": f"Response with id '{rid}' not found.",
                "type": "invalid_request_error",
                "code": "not_found",
                "param": None,
            }
            assert sorted(foreign.headers.keys()) == sorted(unknown.headers.keys())
        nobody = unknown_id()
        foreign = create(http, gateway, TEAM_B_KEY, previous_response_id=rid)
        unknown = create(http, gateway, TEAM_B_KEY, previous_response_id=nobody)
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.text == unknown.text.replace(nobody, rid)
        # Azure's own words and code for an unknown previous response (Azure's status is 400; ours is 404).
        assert foreign.json()["error"] == {
            "message": f"Previous response with id '{rid}' not found.",
            "type": "invalid_request_error",
            "code": "previous_response_not_found",
            "param": "previous_response_id",
        }


def test_the_log_line_tells_operators_when_an_id_was_another_projects(
    replicas: list[GatewayProcess], http: httpx.Client
) -> None:
    rid = create_stored(http, replicas[0], stream=False)
    foreign = by_id(http, replicas[1], TEAM_B_KEY, "GET", rid)
    unknown = by_id(http, replicas[1], TEAM_B_KEY, "GET", unknown_id())
    classes = {}
    deadline = time.monotonic() + 5
    while len(classes) < 2 and time.monotonic() < deadline:
        lines = {line["request_id"]: line for line in request_lines(replicas[1].output())}
        for answer in (foreign, unknown):
            line = lines.get(answer.headers["x-request-id"])
            if line is not None:
                classes[answer.headers["x-request-id"]] = (line["status"], line["project"], line["error_class"])
        time.sleep(0.05)
    assert classes[foreign.headers["x-request-id"]] == (404, "team-b", "response_not_owned")
    assert classes[unknown.headers["x-request-id"]] == (404, "team-b", "not_found")


def test_a_response_without_the_owner_tag_belongs_to_nobody(
    replicas: list[GatewayProcess], emulator: Emulator, http: httpx.Client
) -> None:
    """Stored straight at Azure (before this check existed, or by a path that does not tag): no project
    may read it through the gateway."""
    direct = http.post(
        f"{emulator.url}/openai/v1/responses",
        json={"model": MODEL, "input": "stored without a tag"},
        headers={"api-key": emulator.api_key},
    )
    assert direct.status_code == 200
    rid = direct.json()["id"]
    for gateway in replicas:
        for key in (TEAM_A_KEY, TEAM_B_KEY):
            for method, suffix in BY_ID_CALLS:
                assert by_id(http, gateway, key, method, rid, suffix).status_code == 404
            assert create(http, gateway, key, previous_response_id=rid).status_code == 404
    assert http.get(f"{emulator.url}/openai/v1/responses/{rid}", headers={"api-key": emulator.api_key}).is_success


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_the_owner_tag_is_stored_at_azure_and_never_shown_to_the_client(
    replicas: list[GatewayProcess], emulator: Emulator, http: httpx.Client, stream: bool
) -> None:
    answer = create(http, replicas[0], TEAM_A_KEY, stream=stream, metadata={"ticket": "T-1"})
    assert answer.status_code == 200
    if stream:
        carried = [e["response"]["metadata"] for e in sse_events(answer.text) if "response" in e]
        assert len(carried) >= 3 and all(m == {"ticket": "T-1"} for m in carried)
        assert RESERVED_KEY not in answer.text
        rid = sse_events(answer.text)[0]["response"]["id"]
    else:
        assert answer.json()["metadata"] == {"ticket": "T-1"}
        rid = answer.json()["id"]
    creates = [r for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith("/responses")]
    assert [r["body"]["metadata"] for r in creates] == [{"ticket": "T-1", RESERVED_KEY: "team-a"}]
    for gateway in replicas:
        got = by_id(http, gateway, TEAM_A_KEY, "GET", rid)
        assert got.json()["metadata"] == {"ticket": "T-1"}
        cancelled = by_id(http, gateway, TEAM_A_KEY, "POST", rid, "/cancel")
        assert cancelled.json()["metadata"] == {"ticket": "T-1"}


def test_a_client_cannot_set_the_owner_tag_or_crowd_it_out(
    replicas: list[GatewayProcess], emulator: Emulator, http: httpx.Client
) -> None:
    claimed = create(http, replicas[0], TEAM_B_KEY, metadata={RESERVED_KEY: "team-a"})
    assert claimed.status_code == 400
    assert claimed.json()["error"]["code"] == "reserved_metadata_key"
    assert claimed.json()["error"]["param"] == "metadata"
    unstored = create(http, replicas[0], TEAM_B_KEY, metadata={RESERVED_KEY: "team-b"}, store=False)
    assert unstored.status_code == 400
    full = create(http, replicas[1], TEAM_A_KEY, metadata={f"k{i}": "v" for i in range(16)})
    assert full.status_code == 400
    assert full.json()["error"]["code"] == "too_many_metadata_keys"
    assert not [r for r in emulator.requests() if r["method"] == "POST"], "refused before reaching Azure"
    fifteen = create(http, replicas[1], TEAM_A_KEY, metadata={f"k{i}": "v" for i in range(15)})
    assert fifteen.status_code == 200
    assert fifteen.json()["metadata"] == {f"k{i}": "v" for i in range(15)}
    not_stored = create(http, replicas[1], TEAM_A_KEY, metadata={f"k{i}": "v" for i in range(16)}, store=False)
    assert not_stored.status_code == 200, "nothing is stored, so nothing is tagged and all 16 keys are the client's"


def test_a_cancel_with_a_body_is_still_a_cancel(
    replicas: list[GatewayProcess], emulator: Emulator, http: httpx.Client
) -> None:
    """A JSON body on cancel once turned it into an untagged create of whatever the body said."""
    rid = create_stored(http, replicas[0], stream=False)
    emulator.clear()
    answer = http.post(
        f"{replicas[1].url}/v1/responses/{rid}/cancel",
        json={"model": MODEL, "input": "smuggled"},
        headers={"authorization": f"Bearer {TEAM_B_KEY}"},
    )
    assert answer.status_code == 404
    assert [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in emulator.requests()] == [("GET", rid)]


def test_by_id_calls_cost_at_most_one_extra_azure_call(
    replicas: list[GatewayProcess], emulator: Emulator, http: httpx.Client
) -> None:
    def upstream_calls_for(
        response_id: str, gateway: GatewayProcess, method: str, suffix: str, key: str = TEAM_A_KEY
    ) -> list[tuple[str, str]]:
        emulator.clear()
        answer = by_id(http, gateway, key, method, response_id, suffix)
        assert answer.status_code == (200 if key == TEAM_A_KEY else 404)
        return [(r["method"], r["path"].split(response_id)[1]) for r in emulator.requests()]

    rid = create_stored(http, replicas[0], stream=True)
    # Another project's call reaches Azure only as the ownership lookup, never as the call itself; where the
    # owner is known already, not at all.
    assert upstream_calls_for(rid, replicas[1], "GET", "/input_items", TEAM_B_KEY) == [("GET", "")]
    assert upstream_calls_for(rid, replicas[0], "DELETE", "", TEAM_B_KEY) == []
    # The creating replica learnt the owner from the stream: no lookup for its project either.
    assert upstream_calls_for(rid, replicas[0], "GET", "/input_items") == [("GET", "/input_items")]
    assert upstream_calls_for(rid, replicas[1], "POST", "/cancel") == [("POST", "/cancel")]
    # A replica that has not seen an id asks Azure once; a plain GET is answered with what that lookup returned.
    fresh = create_stored(http, replicas[0], stream=False)
    assert upstream_calls_for(fresh, replicas[1], "GET", "") == [("GET", "")]
    assert upstream_calls_for(fresh, replicas[1], "GET", "/input_items") == [("GET", "/input_items")]


def test_force_store_false_keeps_nothing_at_azure(
    replicas: list[GatewayProcess], no_store: GatewayProcess, emulator: Emulator, http: httpx.Client
) -> None:
    stored_elsewhere = create_stored(http, replicas[0], stream=False)
    emulator.clear()
    for stream in (False, True):
        answer = create(http, no_store, TEAM_A_KEY, stream=stream, store=True, metadata={"ticket": "T-2"})
        assert answer.status_code == 200
    creates = [r["body"] for r in emulator.requests() if r["method"] == "POST"]
    assert [(b["store"], b["metadata"]) for b in creates] == [(False, {"ticket": "T-2"})] * 2
    emulator.clear()
    nobody = unknown_id()
    for method, suffix in BY_ID_CALLS:
        own = by_id(http, no_store, TEAM_A_KEY, method, stored_elsewhere, suffix)
        unknown = by_id(http, no_store, TEAM_A_KEY, method, nobody, suffix)
        assert own.status_code == 404
        assert own.text == unknown.text.replace(nobody, stored_elsewhere)
    continued = create(http, no_store, TEAM_A_KEY, previous_response_id=stored_elsewhere)
    assert continued.status_code == 404
    assert continued.json()["error"]["code"] == "previous_response_not_found"
    assert emulator.requests() == [], "by-id routes do not even ask Azure"
    assert by_id(http, replicas[0], TEAM_A_KEY, "GET", stored_elsewhere).status_code == 200


def test_the_chat_route_is_no_way_around_the_check(
    replicas: list[GatewayProcess], no_store: GatewayProcess, emulator: Emulator, http: httpx.Client
) -> None:
    """LiteLLM's chat -> Responses translation forwards `previous_response_id`, `store` and `metadata` to
    Azure; the chat route must not continue another project's response or store what the setting forbids."""
    rid = create_stored(http, replicas[0], stream=False)
    emulator.clear()

    def chat(gateway: GatewayProcess, key: str, **fields: Any) -> httpx.Response:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "repeat the above"}], **fields}
        return http.post(f"{gateway.url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})

    continued = chat(replicas[1], TEAM_B_KEY, previous_response_id=rid)
    assert 400 <= continued.status_code < 500, continued.text
    claimed = chat(replicas[1], TEAM_B_KEY, store=True, metadata={RESERVED_KEY: "team-a"})
    assert claimed.status_code == 400, claimed.text
    assert all((r["body"] or {}).get("previous_response_id") is None for r in emulator.requests())
    assert chat(no_store, TEAM_A_KEY, store=True).status_code == 200
    assert [r["body"]["store"] for r in emulator.requests() if r["method"] == "POST"] == [False]


# --- the rules themselves --------------------------------------------------------------------------------


def test_prepare_create_merges_the_tag_and_forces_storage_off() -> None:
    from aigateway.proxy.ownership import Refusal, prepare_create

    assert prepare_create({"model": "m"}, "team-a", False) == {"model": "m", "metadata": {RESERVED_KEY: "team-a"}}
    assert prepare_create({"model": "m", "metadata": None, "store": True}, "team-a", False) == {
        "model": "m",
        "metadata": {RESERVED_KEY: "team-a"},
        "store": True,
    }
    assert prepare_create({"model": "m", "store": False}, "team-a", False) == {"model": "m", "store": False}
    assert prepare_create({"model": "m", "metadata": {"a": "b"}}, "team-a", True) == {
        "model": "m",
        "metadata": {"a": "b"},
        "store": False,
    }
    for bad in ({"metadata": "x"}, {"metadata": {RESERVED_KEY: "x"}}, {"metadata": {str(i): "v" for i in range(16)}}):
        assert isinstance(prepare_create({"model": "m", **bad}, "team-a", False), Refusal)


def test_event_stripper_hands_on_whole_frames_and_only_rewrites_tagged_ones() -> None:
    from aigateway.proxy.ownership import EventStripper

    tagged = {"type": "response.created", "response": {"id": "resp_1", "metadata": {"t": "1", RESERVED_KEY: "a"}}}
    delta = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"hi"}\n\n'
    stream = b"event: response.created\ndata: " + json.dumps(tagged).encode() + b"\n\n" + delta
    for crlf in (False, True):
        raw = stream.replace(b"\n", b"\r\n") if crlf else stream
        for size in (1, 7, 64, len(raw)):
            learnt: list[dict[str, Any]] = []
            stripper = EventStripper(learnt.append)
            pieces = [stripper.feed(raw[i : i + size]) for i in range(0, len(raw), size)]
            pieces.append(stripper.flush())
            assert all(p.endswith((b"\n\n", b"\r\n\r\n")) for p in pieces if p), "never half a frame"
            out = b"".join(pieces)
            assert RESERVED_KEY.encode() not in out
            assert out.endswith(delta.replace(b"\n", b"\r\n") if crlf else delta), "untagged frames byte for byte"
            events = sse_events(out.decode())
            assert events[0]["response"]["metadata"] == {"t": "1"}
            assert [r["id"] for r in learnt] == ["resp_1"]


def test_owner_cache_is_bounded() -> None:
    from aigateway.proxy.ownership import OwnerCache

    cache = OwnerCache(capacity=3)
    for i in range(5):
        cache.put(f"resp_{i}", "team-a")
    assert len(cache) == 3
    assert cache.get("resp_0") is None and cache.get("resp_4") == "team-a"
