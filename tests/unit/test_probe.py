"""The probe's logic without a gateway: Azure's code from every error shape, the verdicts, the matrix."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from aigateway.probe.cases import completed, keepalive_verdict, synthetic_segments
from aigateway.probe.report import CaseResult, ErrorCode, error_code, error_code_from_body, render_json, render_matrix
from aigateway.probe.wire import CaseFailure, ProbeClient, Stream

UNSUPPORTED = {
    "message": "Unsupported value: 'medium' is not supported with the 'gpt-5.3-codex' model.",
    "type": "invalid_request_error",
    "param": "reasoning.effort",
    "code": "unsupported_value",
}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"error": UNSUPPORTED}, ErrorCode("unsupported_value", "reasoning.effort")),
        (
            {"error": {**UNSUPPORTED, "upstream_request_id": "apim-1"}},
            ErrorCode("unsupported_value", "reasoning.effort", "apim-1"),
        ),
        # Azure's nested in-band rate limit (issue 13, point 3).
        (
            {"type": "error", "sequence_number": 2, "error": {"type": "server_error", "code": "rate_limit_exceeded"}},
            ErrorCode("rate_limit_exceeded"),
        ),
        # The flat in-band error event (OpenAI's and the gateway's own).
        ({"type": "error", "code": "upstream_timeout", "message": "m", "param": None}, ErrorCode("upstream_timeout")),
        (
            {"type": "response.failed", "response": {"error": {"code": "server_error", "message": "m"}}},
            ErrorCode("server_error"),
        ),
        ({"type": "response.failed", "response": {"error": None}}, ErrorCode("unknown")),
        # No code: the error's type names it.
        (
            {"error": {"message": "m", "type": "invalid_request_error", "code": None}},
            ErrorCode("invalid_request_error"),
        ),
        ({"type": "error"}, ErrorCode("unknown")),
    ],
)
def test_error_code_from_every_shape(payload: dict[str, object], expected: ErrorCode) -> None:
    assert error_code(payload) == expected


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "response.completed", "response": {"error": None}},
        {"type": "response.output_text.delta", "delta": "x"},
        {"choices": [{"delta": {"content": "x"}}], "error": None},
        [1, 2],
        "error",
    ],
)
def test_no_error_no_code(payload: object) -> None:
    assert error_code(payload) is None


def test_error_code_from_a_body_that_is_not_an_error() -> None:
    assert error_code_from_body(json.dumps({"error": UNSUPPORTED}).encode()).code == "unsupported_value"
    assert error_code_from_body(b"<html>502 Bad Gateway</html>").code == "non_json_body"
    assert error_code_from_body(b'{"detail": "nope"}').code == "no_error_object"


RESULTS = [
    CaseResult("codex", "Codex CLI 0.169.0", ok=True, seconds=4.25, status=200, request_id="a1b2c3d4e5f60718"),
    CaseResult(
        "qoder",
        "Qoder CLI 1.1.52",
        ok=False,
        seconds=0.31,
        status=400,
        code="unsupported_value",
        param="reasoning.effort",
        request_id="0f1e2d3c4b5a6978",
        upstream_request_id="5d1c2b3a-apim",
        detail="HTTP 400",
    ),
    CaseResult("embeddings", "Roo Code", ok=False, seconds=0.0, detail="no answer: ConnectError"),
]


def test_the_matrix_has_one_aligned_row_per_case_and_names_the_failures() -> None:
    text = render_matrix(RESULTS)
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["case", "client", "result", "status"]
    codex, qoder, embeddings = lines[2:5]
    assert codex.split()[0] == "codex" and " PASS " in codex and " 200 " in codex
    assert "unsupported_value (reasoning.effort)" in qoder and " FAIL " in qoder
    assert "0f1e2d3c4b5a6978" in qoder and "5d1c2b3a-apim" in qoder
    assert " - " in embeddings, "no status: the request never got an answer"
    starts = {line.index("PASS" if "PASS" in line else "FAIL") for line in (codex, qoder, embeddings)}
    assert len(starts) == 1, "the result column is aligned"
    assert lines[-1] == "1 passed, 2 failed: qoder, embeddings"


def test_json_rows_are_the_results() -> None:
    parsed = json.loads(render_json(RESULTS))
    assert [r["name"] for r in parsed] == ["codex", "qoder", "embeddings"]
    assert parsed[1] == {
        "name": "qoder",
        "client": "Qoder CLI 1.1.52",
        "ok": False,
        "seconds": 0.31,
        "status": 400,
        "code": "unsupported_value",
        "param": "reasoning.effort",
        "request_id": "0f1e2d3c4b5a6978",
        "upstream_request_id": "5d1c2b3a-apim",
        "detail": "HTTP 400",
    }


def test_a_spent_budget_sends_nothing() -> None:
    client = ProbeClient("http://127.0.0.1:9", "k", deadline=time.monotonic(), request_timeout=5)
    with pytest.raises(CaseFailure, match="time budget"):
        client.post_json("/v1/embeddings", {})
    client.close()


def test_sse_timing_counts_keepalives_and_silences() -> None:
    """The stream reader measures gaps between events and between any writes, keepalive comments included."""
    client = ProbeClient("http://gw.invalid", "k", deadline=time.monotonic() + 30, request_timeout=5)
    body = b'data: {"type":"response.created"}\n\n: keep-alive\n\ndata: {"type":"response.completed","response":{}}\n\n'
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)
    stream = client._read(response)
    assert [e["type"] for e in stream.events] == ["response.created", "response.completed"]
    assert stream.keepalives == 1
    assert stream.longest_silence <= stream.longest_event_gap < 1
    failed = httpx.Response(200, content=b'data: {"type":"error","error":{"code":"rate_limit_exceeded"}}\n\n')
    with pytest.raises(CaseFailure) as caught:
        client._read(failed)
    assert caught.value.error.code == "rate_limit_exceeded" and caught.value.status == 200
    client.close()


def stream_of(*events: dict[str, object], gap: float = 0.0, silence: float = 0.0, keepalives: int = 0) -> Stream:
    return Stream(
        status=200,
        events=list(events),
        keepalives=keepalives,
        longest_event_gap=gap,
        longest_silence=silence,
    )


USAGE = {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12}


def test_a_responses_stream_must_complete_with_integer_usage() -> None:
    assert completed(stream_of({"type": "response.completed", "response": {"usage": USAGE}}))["usage"] == USAGE
    with pytest.raises(CaseFailure, match=r"without response.completed \(last: response.output_text.delta\)"):
        completed(stream_of({"type": "response.output_text.delta"}))
    with pytest.raises(CaseFailure, match="integer usage"):
        completed(stream_of({"type": "response.completed", "response": {"usage": {"input_tokens": "5"}}}))


def test_an_incomplete_answer_fails_with_its_reason_unless_cut_at_the_asked_bound() -> None:
    def cut(reason: str) -> Stream:
        return stream_of({"type": "response.incomplete", "response": {"incomplete_details": {"reason": reason}}})

    with pytest.raises(CaseFailure) as caught:
        completed(cut("content_filter"), allow_max_tokens_cut=True)
    assert caught.value.error.code == "content_filter"
    assert completed(cut("max_output_tokens"), allow_max_tokens_cut=True) is not None
    with pytest.raises(CaseFailure):
        completed(cut("max_output_tokens"))


def test_keepalives_are_required_only_when_a_pause_outlasts_the_interval() -> None:
    assert "no gap needed one" in keepalive_verdict(stream_of(gap=3.0, silence=3.0), interval=15)
    assert "keepalive(s)" in keepalive_verdict(stream_of(gap=40.0, silence=15.2, keepalives=2), interval=15)
    with pytest.raises(CaseFailure, match=r"silent for 40.0s \(keepalive interval 15s\)"):
        keepalive_verdict(stream_of(gap=40.0, silence=40.0), interval=15)


def test_synthetic_embedding_inputs_are_a_roo_batch() -> None:
    segments = synthetic_segments()
    assert len(segments) == 60 and len(set(segments)) == 60
    assert all(len(s) == 1000 for s in segments)
