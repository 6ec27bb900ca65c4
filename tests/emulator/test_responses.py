"""The Responses API: bodies, event stream order, validation rules, stored responses and tool-call markers."""

from __future__ import annotations

import orjson
import pytest
from starlette.testclient import TestClient

from aigateway.emulator import EmulatorConfig, create_app, errors, markers

from .conftest import AUTH, sse_events

URL = "/openai/v1/responses"
FN_TOOL = {
    "type": "function",
    "name": "read_file",
    "description": "read",
    "parameters": {
        "type": "object",
        "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["path", "limit"],
        "additionalProperties": False,
    },
    "strict": True,
}
OTHER_TOOL = {"type": "function", "name": "list_files", "parameters": {"type": "object", "properties": {}}}
PATCH_TOOL = {"type": "custom", "name": "apply_patch", "description": "patch"}


def post(client: TestClient, **body: object) -> dict:  # type: ignore[type-arg]
    r = client.post(URL, json={"model": "gpt-5.3-codex", **body}, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_non_streaming_body_for_a_reasoning_model(client: TestClient) -> None:
    canary = "CANARY-PROMPT-7f3a"
    body = post(client, input=f"please repeat {canary}", include=["reasoning.encrypted_content"])
    assert body["object"] == "response"
    assert body["status"] == "completed"
    assert body["id"].startswith("resp_")
    assert body["model"] == "gpt-5.3-codex-2026-02-24"  # model + version, not the deployment
    reasoning, message = body["output"]
    assert reasoning["type"] == "reasoning"
    assert reasoning["id"].startswith("rs_")
    assert reasoning["encrypted_content"]
    assert message["type"] == "message"
    assert message["id"].startswith("msg_")
    text = message["content"][0]["text"]
    assert text == markers.DEFAULT_ANSWER
    assert canary not in orjson.dumps(body["output"]).decode()
    usage = body["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] > 0
    assert usage["input_tokens_details"] == {"cached_tokens": 0, "cache_write_tokens": 0}
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert all(isinstance(v, int) for v in (usage["input_tokens"], usage["output_tokens"]))


def test_encrypted_content_only_when_included_and_no_reasoning_item_for_gpt_4o(client: TestClient) -> None:
    assert post(client, input="x")["output"][0]["encrypted_content"] is None
    plain = post(client, model="gpt-4o", input="x")
    assert [i["type"] for i in plain["output"]] == ["message"]
    assert plain["usage"]["output_tokens_details"]["reasoning_tokens"] == 0


def test_say_marker_answers_verbatim(client: TestClient) -> None:
    body = post(client, input=[{"role": "user", "content": [{"type": "input_text", "text": "x [[say:Canary 99!]]"}]}])
    assert body["output"][-1]["content"][0]["text"] == "Canary 99!"


def test_input_tokens_are_ceil_chars_over_4(client: TestClient) -> None:
    body = post(client, model="gpt-4o", input="a" * 9, instructions="b" * 4)
    assert body["usage"]["input_tokens"] == 4  # ceil(13 / 4)


def test_stream_event_order_and_sequence_numbers(client: TestClient) -> None:
    r = client.post(
        URL,
        json={
            "model": "gpt-5.3-codex",
            "input": "hi",
            "stream": True,
            "reasoning": {"effort": "medium", "summary": "auto"},
            "include": ["reasoning.encrypted_content"],
        },
        headers=AUTH,
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in r.text
    events = sse_events(r.text)
    types = [t for t, _ in events]
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    assert all(d["type"] == t for t, d in events)
    deltas = [d["delta"] for t, d in events if t == "response.output_text.delta"]
    assert len(deltas) >= 2
    assert "".join(deltas) == markers.DEFAULT_ANSWER
    assert all(d["obfuscation"] for t, d in events if t == "response.output_text.delta"), "Azure pads deltas"
    assert (events[0][1]["response"]["service_tier"], events[-1][1]["response"]["service_tier"]) == ("auto", "default")
    collapsed = [t for i, t in enumerate(types) if i == 0 or types[i - 1] != t]
    assert collapsed == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    created = events[0][1]["response"]
    assert created["status"] == "in_progress"
    assert created["output"] == []
    completed = events[-1][1]["response"]
    assert completed["status"] == "completed"
    assert completed["usage"]["total_tokens"] > 0
    assert completed["output"][0]["encrypted_content"]


def test_temperature_rejected_on_reasoning_models_only(client: TestClient) -> None:
    r = client.post(URL, json={"model": "gpt-5.3-codex", "input": "x", "temperature": 0}, headers=AUTH)
    assert r.status_code == 400
    assert r.content == (
        b'{"error":{"message":"Unsupported parameter: \'temperature\' is not supported with this model.",'
        b'"type":"invalid_request_error","param":"temperature","code":null}}'
    )
    assert post(client, model="gpt-4o", input="x", temperature=0)["temperature"] == 0


def test_lenient_store_false_rejects_rs_item_references_but_accepts_any_encrypted_reasoning(
    config: EmulatorConfig,
) -> None:
    # Without strict mode only these references fail; test_strict.py covers the rest of Azure's replay rules.
    config.strict = False
    client = TestClient(create_app(config))
    ref = client.post(
        URL,
        json={
            "model": "gpt-5.3-codex",
            "store": False,
            "input": [{"type": "reasoning", "id": "rs_abc", "summary": []}],
        },
        headers=AUTH,
    )
    assert ref.status_code == 400
    assert ref.json()["error"]["message"] == (
        "Item with id 'rs_abc' not found. Items are not persisted when `store` is set to false. Try again with "
        "`store` set to true, or remove this item from your input."
    )
    item_ref = client.post(
        URL,
        json={"model": "gpt-5.3-codex", "store": False, "input": [{"type": "item_reference", "id": "msg_1"}]},
        headers=AUTH,
    )
    assert item_ref.status_code == 400
    replay = [
        {"role": "user", "content": "first"},
        {"type": "reasoning", "id": "rs_abc", "summary": [], "encrypted_content": "gAAAAAxyz"},
        {"type": "function_call", "call_id": "call_1", "name": "read_file", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "file body"},
    ]
    body = post(client, store=False, input=replay, tools=[FN_TOOL])
    assert body["output"][-1]["type"] == "message"  # answering the tool output with text
    # With store=true the same rs_ reference is fine.
    post(client, store=True, input=[{"type": "reasoning", "id": "rs_abc", "summary": []}])


def test_unknown_previous_response_id_and_a_known_one(client: TestClient) -> None:
    r = client.post(URL, json={"model": "gpt-4o", "input": "x", "previous_response_id": "resp_x"}, headers=AUTH)
    assert r.status_code == 400
    assert r.content == (
        b'{"error":{"message":"Previous response with id \'resp_x\' not found.","type":"invalid_request_error",'
        b'"param":"previous_response_id","code":"previous_response_not_found"}}'
    )
    first = post(client, input="x")
    second = post(client, input="y", previous_response_id=first["id"])
    assert second["previous_response_id"] == first["id"]


def test_stored_responses_get_delete_cancel_and_input_items(client: TestClient) -> None:
    body = post(client, input="remember me")
    rid = body["id"]
    got = client.get(f"{URL}/{rid}", headers=AUTH)
    assert got.status_code == 200
    assert got.json() == body
    items = client.get(f"{URL}/{rid}/input_items", headers=AUTH).json()
    assert items["data"][0]["content"][0]["text"] == "remember me"
    assert client.post(f"{URL}/{rid}/cancel", headers=AUTH).json()["id"] == rid
    deleted = client.delete(f"{URL}/{rid}", headers=AUTH)
    assert deleted.json() == {"id": rid, "object": "response.deleted", "deleted": True}
    assert client.get(f"{URL}/{rid}", headers=AUTH).status_code == 404
    # store=false responses are not kept.
    unstored = post(client, input="x", store=False)
    assert client.get(f"{URL}/{unstored['id']}", headers=AUTH).status_code == 404


def test_background_requires_store_and_starts_queued(client: TestClient) -> None:
    r = client.post(URL, json={"model": "gpt-4o", "input": "x", "background": True, "store": False}, headers=AUTH)
    assert r.status_code == 400
    queued = post(client, model="gpt-4o", input="x", background=True)
    assert queued["status"] == "queued"
    assert client.get(f"{URL}/{queued['id']}", headers=AUTH).json()["status"] == "completed"


@pytest.mark.parametrize(("marker", "name"), [("[[call]]", "read_file"), ("[[call:list_files]]", "list_files")])
def test_call_markers_make_a_function_call(client: TestClient, marker: str, name: str) -> None:
    body = post(client, input=f"do it {marker}", tools=[FN_TOOL, OTHER_TOOL])
    call = body["output"][-1]
    assert call["type"] == "function_call"
    assert call["name"] == name
    assert call["call_id"].startswith("call_")
    assert call["id"].startswith("fc_")
    args = orjson.loads(call["arguments"])
    assert args == ({"path": "emulator", "limit": 1} if name == "read_file" else {})


def test_no_tools_or_unknown_tool_name_answers_with_text(client: TestClient) -> None:
    assert post(client, input="[[call]]")["output"][-1]["type"] == "message"
    assert post(client, input="[[call:nope]]", tools=[FN_TOOL])["output"][-1]["type"] == "message"


def test_marker_in_an_earlier_user_turn_does_not_trigger_a_call(client: TestClient) -> None:
    body = post(
        client,
        input=[
            {"role": "user", "content": "[[call]]"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "thanks"},
        ],
        tools=[FN_TOOL],
    )
    assert body["output"][-1]["type"] == "message"


def test_streamed_function_call_arguments(client: TestClient) -> None:
    r = client.post(
        URL, json={"model": "gpt-5.3-codex", "input": "[[call]]", "tools": [FN_TOOL], "stream": True}, headers=AUTH
    )
    events = sse_events(r.text)
    types = [t for t, _ in events]
    assert "response.content_part.added" not in types
    deltas = "".join(d["delta"] for t, d in events if t == "response.function_call_arguments.delta")
    done = next(d for t, d in events if t == "response.function_call_arguments.done")
    added = [d for t, d in events if t == "response.output_item.added"][-1]
    assert added["item"]["type"] == "function_call"
    assert added["item"]["name"] == "read_file"
    assert deltas == done["arguments"] == '{"path":"emulator","limit":1}'
    assert done["item_id"] == added["item"]["id"]


def test_custom_tool_call_for_codex_apply_patch_streamed_and_answered(client: TestClient) -> None:
    r = client.post(
        URL,
        json={
            "model": "gpt-5.3-codex",
            "input": "[[call:apply_patch]]",
            "tools": [FN_TOOL, PATCH_TOOL],
            "stream": True,
        },
        headers=AUTH,
    )
    events = sse_events(r.text)
    item = events[-1][1]["response"]["output"][-1]
    assert item["type"] == "custom_tool_call"
    assert item["name"] == "apply_patch"
    assert item["input"].startswith("*** Begin Patch")
    assert item["input"].endswith("*** End Patch\n")
    deltas = "".join(d["delta"] for t, d in events if t == "response.custom_tool_call_input.delta")
    done = next(d for t, d in events if t == "response.custom_tool_call_input.done")
    assert deltas == done["input"] == item["input"]
    follow_up = post(
        client,
        input=[
            {"role": "user", "content": "[[call:apply_patch]]"},
            {"type": "custom_tool_call", "call_id": item["call_id"], "name": "apply_patch", "input": item["input"]},
            {"type": "custom_tool_call_output", "call_id": item["call_id"], "output": "Done"},
        ],
        tools=[PATCH_TOOL],
    )
    assert follow_up["output"][-1]["type"] == "message"


def test_reasoning_effort_validation(client: TestClient) -> None:
    bad = client.post(URL, json={"model": "gpt-5.3-codex", "input": "x", "reasoning": {"effort": "max"}}, headers=AUTH)
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "reasoning.effort"
    not_reasoning = client.post(
        URL, json={"model": "gpt-4o", "input": "x", "reasoning": {"effort": "low"}}, headers=AUTH
    )
    assert not_reasoning.status_code == 400
    assert post(client, input="x", reasoning={"effort": "xhigh"})["reasoning"]["effort"] == "xhigh"


def test_lenient_mode_tolerates_fields_clients_send(config: EmulatorConfig) -> None:
    config.strict = False  # strict mode refuses most of these on gpt-5.3-codex (test_strict.py)
    client = TestClient(create_app(config))
    body = post(
        client,
        input="x",
        prompt_cache_key="k",
        prompt_cache_retention="24h",
        service_tier="priority",
        text={"verbosity": "low"},
        parallel_tool_calls=True,
        max_output_tokens=128000,
    )
    assert body["status"] == "completed"
    assert errors.TEMPERATURE_UNSUPPORTED["error"]["param"] == "temperature"
