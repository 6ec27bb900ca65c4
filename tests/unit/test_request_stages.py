"""The request path's stages one by one, without ASGI: authenticate, read and validate, admit."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import SecretStr

from aigateway.proxy.admission import Admission
from aigateway.proxy.authenticate import Authenticator
from aigateway.proxy.client_guard import ClientGuard
from aigateway.proxy.keys import KeyTable
from aigateway.proxy.limits import Limiter, LocalWindows
from aigateway.proxy.rejection import Rejection
from aigateway.proxy.request_body import BodyReader
from aigateway.proxy.telemetry import RequestRecord
from aigateway.settings import Project

TEAM = Project(name="team-a", key=SecretStr("sk-team-a-0123456789"), rpm=100, max_parallel=2, embeddings_rpm=10)


def record() -> RequestRecord:
    return RequestRecord(request_id="r1", route="/v1/responses", method="POST")


def scope(*headers: tuple[bytes, bytes], peer: str = "203.0.113.9") -> dict[str, Any]:
    return {"type": "http", "headers": list(headers), "client": (peer, 50000)}


def authenticator(failures_per_minute: int = 3) -> Authenticator:
    return Authenticator(KeyTable([TEAM]), ClientGuard(1, failures_per_minute, b"k" * 32))


def test_authenticate_names_the_project_of_a_good_key() -> None:
    rec = record()
    got = authenticator()(
        scope((b"authorization", b"Bearer sk-team-a-0123456789")), {"authorization": "Bearer sk-team-a-0123456789"}, rec
    )
    assert got == TEAM and rec.project == "team-a" and rec.source


def test_authenticate_refuses_two_credential_headers_before_comparing_any_key() -> None:
    headers = (b"authorization", b"Bearer sk-team-a-0123456789"), (b"Authorization", b"Bearer other")
    got = authenticator()(scope(*headers), {"authorization": "Bearer other"}, record())
    assert isinstance(got, Rejection) and (got.status, got.code) == (400, "duplicate_credentials")


def test_authenticate_throttles_an_address_after_repeated_failures_even_for_a_good_key() -> None:
    auth = authenticator(failures_per_minute=3)
    bad = scope((b"authorization", b"Bearer wrong-key-000000"))
    answers = [auth(bad, {"authorization": "Bearer wrong-key-000000"}, record()) for _ in range(3)]
    assert [a.status for a in answers if isinstance(a, Rejection)] == [401, 401, 401]
    good = auth(
        scope((b"authorization", b"Bearer sk-team-a-0123456789")),
        {"authorization": "Bearer sk-team-a-0123456789"},
        record(),
    )
    assert isinstance(good, Rejection) and good.status == 429 and dict(good.headers)[b"retry-after"]
    elsewhere = auth(scope(peer="198.51.100.7"), {"authorization": "Bearer sk-team-a-0123456789"}, record())
    assert elsewhere == TEAM, "another address is not affected"


def reader() -> BodyReader:
    return BodyReader(
        1000, 1.0, frozenset({"gpt-5.3-codex", "text-embedding-3-small"}), frozenset({"text-embedding-3-small"})
    )


def test_validate_answers_each_bad_body_with_its_own_status() -> None:
    json_type = {"content-type": "application/json"}
    cases = {
        (b'{"model":"gpt-5.3-codex"}', "text/plain"): (415, "unsupported_media_type"),
        (b"{not json", "application/json"): (400, "invalid_json"),
        (b"[1]", "application/json"): (400, "invalid_json"),
        (b'{"model":"gpt-4o","input":"x"}', "application/json"): (404, "model_not_found"),
        (b'{"model":"gpt-5.3-codex","input":"x"}', "application/json"): None,
    }
    for (body, content_type), expected in cases.items():
        got = reader().parse(body, {"content-type": content_type}, "/v1/responses", record())
        assert (None if not isinstance(got, Rejection) else (got.status, got.code)) == expected, body
    wrong_kind = reader().parse(b'{"model":"gpt-5.3-codex","input":"x"}', json_type, "/v1/embeddings", record())
    assert isinstance(wrong_kind, Rejection) and wrong_kind.code == "wrong_model_kind"


def test_read_refuses_a_body_over_the_limit_and_a_stalled_one() -> None:
    async def main() -> None:
        chunks = iter([{"type": "http.request", "body": b"x" * 600, "more_body": True}] * 2)

        async def big() -> dict[str, Any]:
            return next(chunks)

        too_large = await reader().read(big, {"content-type": "application/json"}, "/v1/responses", record())
        assert isinstance(too_large, Rejection) and too_large.status == 413

        async def stalled() -> dict[str, Any]:
            await asyncio.sleep(10)
            return {}

        slow = await BodyReader(1000, 0.05, frozenset(), frozenset()).read(stalled, {}, "/v1/responses", record())
        assert isinstance(slow, Rejection) and slow.status == 408 and (b"connection", b"close") in slow.headers

    asyncio.run(main())


def test_admit_caps_the_replica_and_releases_every_slot_on_exit() -> None:
    async def main() -> None:
        admission = Admission(1, Limiter(LocalWindows(), frozenset()))
        async with admission.admit(TEAM, "/v1/responses", "gpt-5.3-codex", "r1") as first:
            assert first is None and admission.inflight == 1
            async with admission.admit(TEAM, "/v1/responses", "gpt-5.3-codex", "r2") as second:
                assert isinstance(second, Rejection) and second.code == "gateway_concurrency_limit"
        assert admission.inflight == 0
        async with admission.admit(TEAM, "/v1/responses", "gpt-5.3-codex", "r3") as again:
            assert again is None, "the slot came back"

    asyncio.run(main())


def test_uploads_are_capped_per_project() -> None:
    admission = Admission(10, Limiter(LocalWindows(), frozenset()))
    assert admission.start_upload(TEAM) is None and admission.start_upload(TEAM) is None
    third = admission.start_upload(TEAM)
    assert isinstance(third, Rejection) and third.status == 429
    admission.end_upload(TEAM)
    assert admission.start_upload(TEAM) is None
