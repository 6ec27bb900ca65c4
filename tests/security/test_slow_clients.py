"""Slow or hostile clients cannot starve a replica (issue 11, point 3).

Against a real gateway process on 127.0.0.1, with raw sockets where a client has to misbehave: stalled
uploads hold no replica-wide slot, headers are bounded in size (431) and time (408), a stalled body gets
408, and failed authentications are counted per source and throttled per client address. The address is
chosen with X-Forwarded-For, which the gateway trusts from a non-public peer (loopback here, the ingress in
Azure), rightmost entry first.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from aigateway.errors import SettingsError
from aigateway.launcher import GatewayProcess
from aigateway.proxy.client_guard import MAX_TRACKED_SOURCES, ClientGuard, UploadSlots, client_address
from aigateway.settings import load_settings
from tests.conftest import GatewayFactory, azure_env
from tests.helpers import TEAM_A_KEY, TEAM_B_KEY, Emulator, request_lines

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 4.0
MAX_HEADER_BYTES = 32 * 1024  # the default
FAILURES_PER_MINUTE = 20  # the default
EMBEDDING = {"model": "text-embedding-3-small", "input": "hello"}


@pytest.fixture(scope="module")
def guarded(emulator: Emulator, gateway_factory: GatewayFactory) -> GatewayProcess:
    """Short header and body timeouts; team-a may run 100 requests at once, so all 64 of its stalled uploads
    are admitted as far as the project is concerned and only the replica-wide slot could stop team-b."""
    env = azure_env(
        emulator,
        GATEWAY_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        GATEWAY_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT),
        GATEWAY_MAX_CONCURRENCY="64",
        GATEWAY_PROJECT_LIMITS=json.dumps({"team-a": {"max_parallel": 100}}),
    )
    return gateway_factory(env, name="slow-clients")


def _connect(gateway: GatewayProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_until_closed(sock: socket.socket, seconds: float) -> tuple[bytes, bool]:
    """Everything the gateway sends within `seconds`, and whether it closed the connection in that time."""
    data = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def _status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def _error(response: bytes) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(response.partition(b"\r\n\r\n")[2])["error"]
    return error


def _stalled_upload(gateway: GatewayProcess, key: str) -> socket.socket:
    """A POST whose headers are complete and whose body stops after its first byte."""
    sock = _connect(gateway)
    sock.sendall(
        b"POST /v1/embeddings HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 1000\r\n\r\n{"
    )
    return sock


def _unanswered(sock: socket.socket) -> bool:
    """Nothing received and not closed: the gateway is still waiting for this request's body."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
    return False


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the gateway may close before the client is done sending
        sock.sendall(data)


def _lines(gateway: GatewayProcess, request_ids: list[str]) -> list[dict[str, Any]]:
    """The telemetry lines of these requests, in that order (written just after each response is sent)."""
    deadline = time.monotonic() + 5
    while True:
        by_id = {line["request_id"]: line for line in request_lines(gateway.output())}
        if all(request_id in by_id for request_id in request_ids) or time.monotonic() > deadline:
            return [by_id[request_id] for request_id in request_ids]
        time.sleep(0.05)


@contextlib.contextmanager
def _sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        yield opened
    finally:
        for sock in opened:
            sock.close()


# --- stalled uploads ------------------------------------------------------------------------------------


def test_stalled_uploads_of_one_project_do_not_refuse_another(guarded: GatewayProcess) -> None:
    """On main the replica-wide slot was taken before the body was read: 64 stalled uploads took all 64 and
    team-b got 429 gateway_concurrency_limit (indefinitely: there was no body timeout)."""
    with _sockets() as stalled:
        stalled.extend(_stalled_upload(guarded, TEAM_A_KEY) for _ in range(64))
        time.sleep(0.3)  # every upload has reached the front and is waiting for its body
        started = time.monotonic()
        response = httpx.post(
            f"{guarded.url}/v1/embeddings", json=EMBEDDING, headers={"Authorization": f"Bearer {TEAM_B_KEY}"}, timeout=2
        )
        elapsed = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert elapsed < 2.0
        # The uploads were still being held while team-b was served (not timed out, not refused).
        assert all(_unanswered(sock) for sock in stalled)


def test_uploads_beyond_the_project_limit_are_refused_at_once(guarded: GatewayProcess) -> None:
    """Uploads need a bound of their own now that they hold no replica slot: a project's concurrency limit
    (team-b: the default 20). On main the 21st stalled upload was admitted and stalled like the others."""
    with _sockets() as stalled:
        stalled.extend(_stalled_upload(guarded, TEAM_B_KEY) for _ in range(20))
        time.sleep(0.3)
        extra = _stalled_upload(guarded, TEAM_B_KEY)
        stalled.append(extra)
        response, _ = _read_until_closed(extra, 1.0)
        assert _status(response) == 429, response[:300]
        assert _error(response)["code"] == "project_concurrency_limit"
        assert b"\r\nretry-after: 1\r\n" in response.lower()
    # Closing the stalled uploads frees their slots at once.
    deadline = time.monotonic() + 2
    while True:
        response_b = httpx.post(
            f"{guarded.url}/v1/embeddings", json=EMBEDDING, headers={"Authorization": f"Bearer {TEAM_B_KEY}"}, timeout=5
        )
        if response_b.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert response_b.status_code == 200, response_b.text


def test_a_stalled_body_gets_408_after_the_body_timeout(guarded: GatewayProcess) -> None:
    """On main a stalled body was waited for forever (>= 150 s observed)."""
    with _sockets() as opened:
        sock = _stalled_upload(guarded, TEAM_A_KEY)
        opened.append(sock)
        started = time.monotonic()
        response, closed = _read_until_closed(sock, BODY_TIMEOUT + 3)
        elapsed = time.monotonic() - started
    assert _status(response) == 408, response[:300]
    assert _error(response)["code"] == "request_timeout"
    assert closed, "the connection is closed after the 408"
    assert BODY_TIMEOUT - 0.5 <= elapsed <= BODY_TIMEOUT + 2
    request_id = response.split(b"x-request-id: ", 1)[1].split(b"\r\n", 1)[0].decode()
    [line] = _lines(guarded, [request_id])
    assert (line["status"], line["error_class"], line["project"]) == (408, "request_timeout", "team-a")


# --- headers: size and time ---------------------------------------------------------------------------


def test_a_1mb_header_gets_431_within_1s_and_costs_no_memory(guarded: GatewayProcess) -> None:
    """On main the header was buffered whole and the request answered (401: no key); 400 MB took ~500 MB."""
    assert guarded.process is not None
    process = psutil.Process(guarded.process.pid)
    rss_before = process.memory_info().rss
    request = b"GET /v1/models HTTP/1.1\r\nHost: gateway\r\nX-Padding: " + b"a" * 1_000_000 + b"\r\n\r\n"
    with _sockets() as opened:
        sock = _connect(guarded)
        opened.append(sock)
        started = time.monotonic()
        # Sent from a thread: the gateway answers while the client is still sending.
        sender = threading.Thread(target=_send_quietly, args=(sock, request), daemon=True)
        sender.start()
        response, _ = _read_until_closed(sock, 1.0)
        elapsed = time.monotonic() - started
        sender.join(5)
    assert _status(response) == 431, response[:300]
    assert elapsed < 1.0
    error = _error(response)
    assert error["code"] == "request_header_fields_too_large"
    assert str(MAX_HEADER_BYTES) in error["message"]
    assert b"\r\nconnection: close\r\n" in response
    assert process.memory_info().rss - rss_before < 50 * 1024 * 1024


def test_the_header_limit_holds_when_headers_arrive_with_the_body(guarded: GatewayProcess) -> None:
    """Forty 1 KB headers and a body in one write: the parsed headers are counted, not only the bytes read
    while headers are incomplete. Twenty are under the limit and served. On main: both served (401, no key)."""
    under = {f"x-pad-{i}": "p" * 1000 for i in range(20)}
    response_ok = httpx.get(
        f"{guarded.url}/v1/models", headers={"Authorization": f"Bearer {TEAM_A_KEY}", **under}, timeout=5
    )
    assert response_ok.status_code == 200, response_ok.text
    padding = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000) for i in range(40))
    with _sockets() as opened:
        sock = _connect(guarded)
        opened.append(sock)
        sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: gateway\r\nContent-Length: 2\r\n" + padding + b"\r\n{}")
        response, closed = _read_until_closed(sock, 3.0)
    assert _status(response) == 431, response[:300]
    assert closed


def test_a_connection_stalled_in_its_headers_is_answered_408_and_closed(guarded: GatewayProcess) -> None:
    """On main nothing bounded the time to send headers (>= 150 s observed). The timer restarts with each
    request, so a keep-alive connection reused after longer than the header timeout still works."""
    with httpx.Client(base_url=guarded.url, headers={"Authorization": f"Bearer {TEAM_A_KEY}"}, timeout=5) as client:
        for pause in (0.0, HEADER_TIMEOUT + 0.3):
            time.sleep(pause)
            assert client.post("/v1/embeddings", json=EMBEDDING).status_code == 200
    with _sockets() as opened:
        sock = _connect(guarded)
        opened.append(sock)
        started = time.monotonic()
        sock.sendall(b"POST /v1/responses HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ")
        response, closed = _read_until_closed(sock, HEADER_TIMEOUT + 3)
        elapsed = time.monotonic() - started
    assert closed
    assert _status(response) == 408, response[:300]
    assert _error(response)["code"] == "request_timeout"
    assert HEADER_TIMEOUT - 0.3 <= elapsed <= HEADER_TIMEOUT + 1.5


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(guarded: GatewayProcess) -> None:
    with _sockets() as opened:
        sock = _connect(guarded)
        opened.append(sock)
        started = time.monotonic()
        response, closed = _read_until_closed(sock, HEADER_TIMEOUT + 3)
        elapsed = time.monotonic() - started
    assert closed and response == b""
    assert elapsed <= HEADER_TIMEOUT + 1.5


# --- failed authentication ------------------------------------------------------------------------------


def _models(gateway: GatewayProcess, key: str, forwarded_for: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": forwarded_for}
    return httpx.get(f"{gateway.url}/v1/models", headers=headers, timeout=5)


def test_failed_authentications_are_throttled_per_client_address(guarded: GatewayProcess) -> None:
    """On main the 21st bad key got 401 like the first: failures were neither counted nor throttled."""
    attacker, neighbour = "203.0.113.7", "203.0.113.8"
    statuses = [_models(guarded, f"sk-wrong-{i:04d}-xxxxxxxx", attacker).status_code for i in range(21)]
    assert statuses == [401] * 20 + [429]

    throttled = _models(guarded, "sk-wrong-9999-xxxxxxxx", attacker)
    assert throttled.json()["error"]["code"] == "auth_throttled"
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    # A good key from the throttled address is refused too: answering it would tell a guesser which key works.
    assert _models(guarded, TEAM_A_KEY, attacker).status_code == 429
    # The client cannot step around the throttle by claiming another address left of the ingress's entry.
    assert _models(guarded, TEAM_A_KEY, f"198.51.100.1, {attacker}").status_code == 429
    # Another address is not affected, with a good key or a bad one.
    assert _models(guarded, TEAM_A_KEY, neighbour).status_code == 200
    assert _models(guarded, "sk-wrong-0000-xxxxxxxx", neighbour).status_code == 401


def test_failed_authentications_are_counted_per_source_in_telemetry(guarded: GatewayProcess) -> None:
    """Each line names its source by a keyed hash of the client address (never the address, never the key),
    so KQL can count 401s per source. On main the line had no source."""
    request_ids = []
    for address in ("192.0.2.10", "192.0.2.10", "192.0.2.11"):
        response = _models(guarded, "sk-counted-wrong-key-1", address)
        assert response.status_code == 401
        request_ids.append(response.headers["x-request-id"])
    failed = _lines(guarded, request_ids)
    assert [line["status"] for line in failed] == [401, 401, 401]
    sources = [line.get("source") for line in failed]
    assert sources[0] and sources[0] == sources[1] and sources[1] != sources[2]
    assert all(len(str(source)) == 16 for source in sources)
    output = guarded.output()
    assert "192.0.2.10" not in output and "sk-counted-wrong-key-1" not in output


# --- units: who the client is, and the bounded throttle --------------------------------------------------


def _scope(peer: str, *forwarded: str) -> dict[str, Any]:
    return {"client": (peer, 50000), "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded]}


@pytest.mark.parametrize(
    ("scope", "hops", "expected"),
    [
        (_scope("10.0.0.5", "198.51.100.1, 203.0.113.7"), 1, "203.0.113.7"),  # the ingress's own entry
        (_scope("10.0.0.5", "198.51.100.1, 203.0.113.7"), 2, "198.51.100.1"),  # Front Door, then the ingress
        (_scope("10.0.0.5", "198.51.100.1", "203.0.113.7"), 1, "203.0.113.7"),  # two header lines are one list
        (_scope("10.0.0.5", "203.0.113.7"), 3, "203.0.113.7"),  # fewer entries than hops: the leftmost
        (_scope("10.0.0.5", "203.0.113.7"), 0, "10.0.0.5"),  # hops 0: no proxy, the header is ignored
        (_scope("8.8.8.8", "203.0.113.7"), 1, "8.8.8.8"),  # a public peer is no proxy of ours
        (_scope("10.0.0.5", "not-an-address"), 1, "10.0.0.5"),
        (_scope("10.0.0.5", "2001:db8:1:2:aaaa::1"), 1, "2001:db8:1:2::/64"),  # IPv6 counted per /64
        (_scope("10.0.0.5"), 1, "10.0.0.5"),
    ],
)
def test_client_address(scope: dict[str, Any], hops: int, expected: str) -> None:
    assert client_address(scope, hops) == expected


def test_the_throttle_frees_an_address_as_its_failures_age() -> None:
    guard = ClientGuard(trusted_hops=1, failures_per_minute=3, id_secret=b"k")
    client = guard.identify(_scope("10.0.0.5", "203.0.113.7"))
    for second in (0.0, 10.0, 20.0):
        assert guard.throttled_for(client, now=second) == 0
        guard.failed(client, now=second)
    assert guard.throttled_for(client, now=30.0) == 30  # until the failure at 0 s is 60 s old
    assert guard.throttled_for(client, now=60.5) == 0
    assert ClientGuard(1, 0, b"k").throttled_for(client) == 0  # 0 = no throttle


def test_this_machine_is_never_throttled() -> None:
    """A developer's laptop and the test suite (their requests fail auth on purpose) share loopback."""
    guard = ClientGuard(trusted_hops=1, failures_per_minute=1, id_secret=b"k")
    for scope in (_scope("127.0.0.1"), _scope("::1"), _scope("10.0.0.5", "127.0.0.1")):
        client = guard.identify(scope)
        guard.failed(client, now=0.0)
        guard.failed(client, now=0.0)
        assert guard.throttled_for(client, now=1.0) == 0
    assert guard.tracked == 0


def test_the_throttle_remembers_a_bounded_number_of_addresses() -> None:
    guard = ClientGuard(trusted_hops=0, failures_per_minute=1, id_secret=b"k")
    first = guard.identify(_scope("10.1.0.0"))
    guard.failed(first, now=0.0)
    for n in range(MAX_TRACKED_SOURCES + 100):
        guard.failed(guard.identify(_scope(f"10.2.{n // 256}.{n % 256}")), now=1.0)
    assert guard.tracked == MAX_TRACKED_SOURCES
    assert guard.throttled_for(first, now=2.0) == 0  # the least recently failing address was forgotten


def test_upload_slots_are_per_project() -> None:
    slots = UploadSlots()
    assert slots.acquire("a", 1) and not slots.acquire("a", 1) and slots.acquire("b", 1)
    slots.release("a")
    assert slots.acquire("a", 1)


def test_the_limits_are_settings_with_production_defaults() -> None:
    settings = load_settings({})
    assert (settings.gateway_max_header_bytes, settings.gateway_header_timeout_seconds) == (32 * 1024, 10.0)
    assert (settings.gateway_body_timeout_seconds, settings.gateway_idle_timeout_seconds) == (30.0, 75)
    assert (settings.gateway_auth_failures_per_minute, settings.gateway_trusted_proxy_hops) == (20, 1)
    for variable, value in (("GATEWAY_MAX_HEADER_BYTES", "100"), ("GATEWAY_BODY_TIMEOUT_SECONDS", "0")):
        with pytest.raises(SettingsError, match=variable):
            load_settings({variable: value})
