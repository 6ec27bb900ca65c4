"""The stream guard against canned Azure SSE bytes: in-band errors become `response.failed`, split anywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigateway.proxy.stream_errors import StreamGuard, event_type, note_incomplete
from aigateway.proxy.telemetry import RequestRecord

CREATED = {
    "type": "response.created",
    "sequence_number": 0,
    "response": {
        "id": "resp_abc",
        "object": "response",
        "created_at": 1700000000,
        "status": "in_progress",
        "completed_at": None,
        "model": "gpt-5.3-codex-2026-02-24",
        "output": [],
        "usage": None,
        "metadata": {},
    },
}
# What real Azure sent (issue 13): nested `error`, with the wait in the message.
NESTED = {
    "type": "error",
    "sequence_number": 2,
    "error": {
        "type": "server_error",
        "code": "rate_limit_exceeded",
        "message": "Rate limit is exceeded. Try again in 26 seconds.",
    },
}
FLAT = {
    "type": "error",
    "sequence_number": 2,
    "code": "server_error",
    "message": "The server had an error.",
    "param": None,
}
DELTA = {"type": "response.output_text.delta", "sequence_number": 1, "delta": 'say "type":"error" here', "item_id": "m"}


def sse(event: dict[str, Any], named: bool = True) -> bytes:
    head = f"event: {event['type']}\n".encode() if named else b""
    return head + b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


def events(stream: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in stream.decode().splitlines() if line.startswith("data: ")]


def record() -> RequestRecord:
    return RequestRecord(request_id="r", route="/v1/responses", method="POST", model="gpt-5.3-codex", stream=True)


def relay(guard: StreamGuard, chunks: list[bytes]) -> bytes:
    out = b"".join(guard.feed(chunk) for chunk in chunks)
    return out + guard.flush()


def test_azure_nested_rate_limit_becomes_response_failed_of_the_created_response() -> None:
    rec = record()
    rec.upstream_request_id = "apim-1"
    guard = StreamGuard(rec)
    out = relay(guard, [sse(CREATED) + sse(DELTA) + sse(NESTED) + sse({"type": "response.completed"})])
    created, delta, failed = events(out)
    assert (created, delta) == (CREATED, DELTA), "ordinary events pass unchanged"
    assert out.count(b"event: response.failed\n") == 1 and b"event: error" not in out
    assert failed["type"] == "response.failed" and failed["sequence_number"] == 2
    response = failed["response"]
    assert (response["id"], response["model"], response["status"]) == (
        "resp_abc",
        CREATED["response"]["model"],
        "failed",
    )
    assert response["error"]["code"] == "rate_limit_exceeded"
    assert response["error"]["message"] == "Rate limit is exceeded. Try again in 26 seconds."
    assert response["error"]["upstream_request_id"] == "apim-1"
    assert response["output"] == []
    assert b"response.completed" not in out, "the stream ends at the failure"
    assert guard.cut
    assert (rec.error_code, rec.error_source, rec.error_class) == ("rate_limit_exceeded", "azure", "stream_error")
    assert rec.inband_error is not None and "26 seconds" in rec.inband_error.message


def test_flat_error_event_without_an_event_line_is_also_replaced() -> None:
    rec = record()
    out = relay(StreamGuard(rec), [sse(CREATED, named=False) + sse(FLAT, named=False)])
    failed = events(out)[-1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": "The server had an error."}
    assert rec.error_code == "server_error"


@pytest.mark.parametrize("crlf", [False, True])
def test_an_error_event_split_at_any_byte_is_still_replaced(crlf: bool) -> None:
    stream = sse(CREATED) + sse(DELTA) + sse(NESTED)
    if crlf:
        stream = stream.replace(b"\n", b"\r\n")
    whole = relay(StreamGuard(record()), [stream])
    for cut in range(1, len(stream)):
        for second in (cut + 1, cut + 7):
            out = relay(StreamGuard(record()), [stream[:cut], stream[cut:second], stream[second:]])
            assert events(out) == events(whole), (cut, second)
    assert events(whole)[-1]["response"]["error"]["code"] == "rate_limit_exceeded"


def test_ordinary_whole_events_pass_as_the_same_bytes_object() -> None:
    guard = StreamGuard(record())
    guard.feed(sse(CREATED))
    chunk = sse(DELTA).replace(b'"type":"error"', b"x") * 3
    assert guard.feed(chunk) is chunk


def test_an_event_cut_across_reads_is_held_until_its_end_only() -> None:
    guard = StreamGuard(record())
    delta = sse({**DELTA, "delta": "plain"})
    assert guard.feed(delta + delta[:10]) == delta
    assert guard.feed(delta[10:]) == delta


def test_azure_response_failed_passes_unchanged_and_is_recorded() -> None:
    rec = record()
    failed = {"type": "response.failed", "sequence_number": 3, "response": {"error": {"code": "server_error"}}}
    out = relay(StreamGuard(rec), [sse(CREATED) + sse(failed)])
    assert events(out)[-1] == failed
    assert (rec.error_code, rec.error_class, rec.error_source) == ("server_error", "response.failed", "azure")


def test_incomplete_reason_is_recorded_without_content() -> None:
    rec = record()
    incomplete = {
        "type": "response.incomplete",
        "sequence_number": 9,
        "response": {"status": "incomplete", "incomplete_details": {"reason": "content_filter"}},
    }
    out = relay(StreamGuard(rec), [sse(CREATED), sse(incomplete)])
    assert events(out)[-1] == incomplete
    assert rec.incomplete_reason == "content_filter"
    assert rec.error_code is None
    whole = record()
    note_incomplete(b'{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}}', whole)
    assert whole.incomplete_reason == "max_output_tokens"


def test_the_gateways_own_failure_follows_the_last_whole_event() -> None:
    rec = record()
    rec.upstream_request_id = "apim-2"
    guard = StreamGuard(rec)
    sent = guard.feed(sse(CREATED) + sse(DELTA)[:20])
    failed = guard.failure_event("upstream_stream_broken", "Azure OpenAI's stream broke off; retry.")
    out = sent + failed
    assert out.endswith(b"\n\n") and b"response.output_text.delta" not in out, "the cut event never went out"
    event = events(out)[-1]
    assert event["sequence_number"] == 1 and event["response"]["id"] == "resp_abc"
    assert event["response"]["error"]["code"] == "upstream_stream_broken"
    assert "apim-2" in event["response"]["error"]["message"]
    assert (rec.error_code, rec.error_class) == ("upstream_stream_broken", "upstream_stream_broken")


def test_no_failure_after_the_stream_completed_and_a_stand_in_response_before_it_started() -> None:
    guard = StreamGuard(record())
    guard.feed(sse(CREATED) + sse({"type": "response.completed", "sequence_number": 1, "response": {}}))
    assert guard.failure_event("upstream_stream_broken", "broke") == b""
    early = events(StreamGuard(record()).failure_event("upstream_stream_broken", "broke"))[0]
    assert early["response"]["id"].startswith("resp_") and early["response"]["model"] == "gpt-5.3-codex"


def test_watch_only_mode_records_and_hands_on_azures_bytes() -> None:
    rec = record()
    stream = sse(CREATED) + sse(NESTED)
    assert relay(StreamGuard(rec, rewrite=False), [stream[:50], stream[50:]]) == stream
    assert rec.inband_error is not None and rec.inband_error.code == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (b"event: error\ndata: {}\n\n", "error"),
        (b'data: {"type":"response.failed","response":{}}\n\n', "response.failed"),
        (b": keep-alive\n\n", None),
        (b'data: {"sequence_number":1,"type":"error"}\n\n', None),
    ],
)
def test_event_type_reads_only_the_first_line(frame: bytes, kind: str | None) -> None:
    assert event_type(frame) == kind


def test_a_long_final_event_in_many_small_reads_arrives_whole_and_once() -> None:
    completed = {"type": "response.completed", "sequence_number": 4, "response": {"output": ["x" * 20_000]}}
    stream = sse(CREATED) + sse(DELTA) + sse(completed)
    guard = StreamGuard(record())
    pieces = [guard.feed(stream[i : i + 512]) for i in range(0, len(stream), 512)]
    assert b"".join(pieces) + guard.flush() == stream
    assert guard.ended and not guard.cut
    assert guard.failure_event("upstream_stream_broken", "broke") == b"", "a completed stream reports no failure"
