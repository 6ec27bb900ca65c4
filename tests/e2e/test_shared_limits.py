"""Limits across replicas: the gateway's windows live per process unless GATEWAY_REDIS_URL shares them.

Two real gateway processes, one real redis-server (Debian package, started here on a free loopback port).
With GATEWAY_REDIS_AUTH=entra the limiter authenticates the way Azure (Managed) Redis wants, through
Microsoft's redis-entraid provider: shown against a redis-server whose only user is the identity's object id
and whose passwords are the tokens that identity was issued. The scenarios inject a fake credential and use
redis:// (TLS is the URL's business, not the provider's); the last test runs the production path, settings to
limiter, over TLS with azure-identity's ManagedIdentityCredential and a fake Container Apps identity endpoint.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import redis
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from aigateway.launcher import GatewayProcess, free_port
from aigateway.proxy.limits import RedisWindows, Window, build_limiter, redis_key
from aigateway.proxy.redis_auth import REDIS_SCOPE, entra_provider_factory
from aigateway.settings import Project, load_settings
from tests.conftest import azure_env
from tests.helpers import Emulator

pytestmark = pytest.mark.e2e

KEY = "sk-shared-limit-project-01"
RPM = 6


def start_redis(workdir: Path, *tls: str) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server on a free loopback port; with `tls` (its TLS options) that port speaks TLS only."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server missing: python3 dev.py test installs it (apt-get install redis-server)")
    port = free_port()
    ports = ["--port", "0", "--tls-port", str(port), *tls] if tls else ["--port", str(port)]
    process = subprocess.Popen(
        [server, *ports, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"redis-server exited at start ({' '.join(ports)})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    return process, port


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, port = start_redis(tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def start_pair(emulator: Emulator, tmp: Path, **extra: str) -> list[GatewayProcess]:
    env = azure_env(
        emulator,
        GATEWAY_KEYS=f"shared={KEY}",
        GATEWAY_PROJECT_LIMITS=json.dumps({"shared": {"rpm": RPM}}),
        **extra,
    )
    pair = [GatewayProcess(env=env, output_path=tmp / f"replica-{i}.log") for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda g: g.start(), pair))
    return pair


def spread_requests(replicas: list[GatewayProcess], count: int) -> list[int]:
    statuses = []
    for i in range(count):
        replica = replicas[i % len(replicas)]
        response = httpx.post(
            replica.url + "/v1/embeddings",
            json={"model": "text-embedding-3-small", "input": "x"},
            headers={"authorization": f"Bearer {KEY}"},
            timeout=30,
        )
        statuses.append(response.status_code)
    return statuses


def test_without_redis_each_replica_counts_alone(emulator: Emulator, tmp_path: Path) -> None:
    replicas = start_pair(emulator, tmp_path)
    try:
        statuses = spread_requests(replicas, 2 * RPM)
    finally:
        for replica in replicas:
            replica.stop()
    assert statuses.count(200) == 2 * RPM, "per-replica counters: the project gets the limit once per replica"


def test_with_redis_the_limit_holds_across_replicas(emulator: Emulator, redis_url: str, tmp_path: Path) -> None:
    replicas = start_pair(emulator, tmp_path, GATEWAY_REDIS_URL=redis_url)
    try:
        statuses = spread_requests(replicas, 2 * RPM)
    finally:
        for replica in replicas:
            replica.stop()
    assert statuses.count(200) == RPM, statuses
    assert statuses.count(429) == RPM
    assert statuses[:RPM] == [200] * RPM, "the first RPM requests, on either replica, pass"
    assert len([r for r in emulator.requests() if r["path"].startswith("/openai/")]) == RPM


def test_redis_down_the_replica_counts_alone_and_keeps_serving(emulator: Emulator, tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    replica = GatewayProcess(
        env=azure_env(
            emulator,
            GATEWAY_KEYS=f"shared={KEY}",
            GATEWAY_PROJECT_LIMITS=json.dumps({"shared": {"rpm": RPM}}),
            GATEWAY_REDIS_URL=dead,
        ),
        output_path=tmp_path / "replica.log",
    )
    replica.start()
    try:
        statuses = spread_requests([replica], RPM + 2)
    finally:
        replica.stop()
    assert statuses == [200] * RPM + [429] * 2, statuses
    log = (tmp_path / "replica.log").read_text()
    assert log.count("redis unavailable for rate limits (ConnectionError)") == 1, "warned once, not per request"


# --- GATEWAY_REDIS_AUTH=entra -------------------------------------------------------------------------------

OID = "7d3c9e1a-5b2f-4c8e-9a61-0f4b2d8c6e1"  # + a digit: the managed identity's object id (Entra's `oid` claim)
ADMIN_PASSWORD = "test-admin-password"
SIGNING_KEY = "test-signing-key-not-a-secret-0123456789"


class EntraRedis:
    """A redis-server that, like Azure Redis with Entra auth only, lets in nobody but identities, each with any
    token issued to it; and an admin connection to look inside."""

    def __init__(self, port: int) -> None:
        self.url = f"redis://127.0.0.1:{port}/0"
        setup = redis.Redis(port=port)
        setup.acl_setuser("admin", enabled=True, passwords=[f"+{ADMIN_PASSWORD}"], keys=["*"], commands=["+@all"])
        setup.acl_setuser("default", enabled=False)
        setup.close()
        self.admin = redis.Redis(port=port, username="admin", password=ADMIN_PASSWORD, decode_responses=True)

    def accept(self, oid: str, token: str) -> None:
        self.admin.acl_setuser(oid, enabled=True, passwords=[f"+{token}"], keys=["aigateway:*"], commands=["+@all"])

    def connections_of(self, oid: str) -> list[str]:
        return sorted(c["id"] for c in self.admin.client_list() if c["user"] == oid)

    def auth_calls(self) -> tuple[int, int]:
        """AUTH commands (re-authentication; a new connection authenticates in HELLO): (calls, refused)."""
        stats = self.admin.info("commandstats").get("cmdstat_auth", {})
        return stats.get("calls", 0), stats.get("failed_calls", 0) + stats.get("rejected_calls", 0)

    def count(self, window: str) -> int:
        return int(self.admin.zcard(redis_key(window)))


@pytest.fixture(scope="module")
def entra_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntraRedis]:
    process, port = start_redis(tmp_path_factory.mktemp("redis-entra"))
    yield EntraRedis(port)
    process.terminate()
    process.wait(timeout=10)


class FakeIdentity:
    """A credential as azure-identity's are (`get_token(*scopes, **kwargs) -> AccessToken`). Each call is the next
    of `plan`: a token lifetime in seconds (the token is a JWT with the identity's `oid`), or "fail"."""

    def __init__(self, server: EntraRedis, oid: str, plan: list[float | str], then: float | str = 3600) -> None:
        self._server = server
        self.oid = oid
        self._plan = itertools.chain(plan, itertools.repeat(then))
        self.scopes: list[tuple[str, ...]] = []
        self.issued: list[str] = []

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.append(scopes)
        step = next(self._plan)
        if step == "fail":
            raise ClientAuthenticationError("managed identity endpoint unavailable")
        expires_on = int(time.time() + float(step))
        claims = {"oid": self.oid, "aud": "https://redis.azure.com", "exp": expires_on, "n": len(self.issued)}
        token = jwt.encode(claims, SIGNING_KEY, algorithm="HS256")
        self._server.accept(self.oid, token)  # Azure accepts any valid token of the identity
        self.issued.append(token)
        return AccessToken(token, expires_on)


async def admitted(limiter: RedisWindows, window: str, limit: int, count: int, tag: str) -> list[bool]:
    return [(await limiter.hit([Window(window, limit)], f"{tag}-{i}"))[1] < 0 for i in range(count)]


def test_entra_two_limiters_authenticate_as_the_identity_and_share_one_limit(
    entra_redis: EntraRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    identity = FakeIdentity(entra_redis, OID + "1", [])

    async def scenario() -> tuple[list[bool], list[str]]:
        plain = RedisWindows(entra_redis.url)  # the same server without the provider is refused...
        assert await admitted(plain, "entra-refused", 2, 3, "plain") == [True, True, False], "...and counts alone"
        replicas = [RedisWindows(entra_redis.url, entra_provider_factory(identity)) for _ in range(2)]
        results = [(await admitted(replicas[i % 2], "entra-shared", 3, 1, f"r{i}"))[0] for i in range(5)]
        connections = entra_redis.connections_of(identity.oid)
        for limiter in (plain, *replicas):
            await limiter.aclose()
        return results, connections

    results, connections = asyncio.run(scenario())
    assert results == [True, True, True, False, False], "one limit of 3 across both replicas"
    assert entra_redis.count("entra-shared") == 3
    assert len(connections) == 2, "each replica holds a connection authenticated as the identity (oid)"
    assert set(identity.scopes) == {(REDIS_SCOPE,)}
    assert entra_redis.count("entra-refused") == 0
    assert not any(token in caplog.text for token in identity.issued), "a token is never logged"


def test_entra_failing_credential_counts_alone_keeps_serving_and_recovers(
    entra_redis: EntraRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    identity = FakeIdentity(entra_redis, OID + "2", ["fail"] * 4)

    async def scenario() -> tuple[list[bool], list[bool]]:
        limiter = RedisWindows(entra_redis.url, entra_provider_factory(identity), credential_retry_seconds=0.3)
        degraded = await admitted(limiter, "entra-degraded", 2, 3, "a")  # no token: local windows, no error
        calls_while_degraded = len(identity.scopes)
        for _ in range(3):  # every retry still fails; each waits its turn instead of every request asking
            await asyncio.sleep(0.35)
            await admitted(limiter, "entra-degraded", 2, 1, "b")
        assert len(identity.scopes) == calls_while_degraded + 3
        await asyncio.sleep(0.35)
        recovered = await admitted(limiter, "entra-recovered", 2, 3, "c")  # the identity works again
        await limiter.aclose()
        return degraded, recovered

    degraded, recovered = asyncio.run(scenario())
    assert degraded == [True, True, False], "the replica's own window still holds the limit"
    assert recovered == [True, True, False]
    assert entra_redis.count("entra-degraded") == 0 and entra_redis.count("entra-recovered") == 2, "shared again"
    warnings = [r.getMessage() for r in caplog.records if r.name == "aigateway.limits"]
    assert warnings == [
        "redis unavailable for rate limits (no Entra token: ClientAuthenticationError); this replica counts alone"
    ], "one line, naming the cause's type only"
    assert "managed identity endpoint unavailable" not in caplog.text
    assert not any(token in caplog.text for token in identity.issued), "a token is never logged"


def test_entra_token_refresh_reauthenticates_the_open_connection(
    entra_redis: EntraRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # 1st token: the connection's AUTH; 2nd: the provider's renewal loop starts with it and, 2 s tokens
    # being renewed at 70 % of their life, asks for the 3rd ~1.4 s later and re-authenticates with it.
    identity = FakeIdentity(entra_redis, OID + "3", [2, 2])

    async def scenario() -> None:
        limiter = RedisWindows(entra_redis.url, entra_provider_factory(identity))
        assert await admitted(limiter, "entra-refresh", 10, 1, "a") == [True]
        before, connections = entra_redis.auth_calls(), entra_redis.connections_of(identity.oid)
        await asyncio.sleep(2.5)
        assert len(identity.issued) == 3, "the provider renewed the token before it expired"
        after = entra_redis.auth_calls()
        assert after == (before[0] + 1, before[1]), "one AUTH with the new token, accepted"
        assert entra_redis.connections_of(identity.oid) == connections, "on the open connection, not a new one"
        assert await admitted(limiter, "entra-refresh", 10, 1, "b") == [True]
        await limiter.aclose()

    asyncio.run(scenario())
    assert entra_redis.count("entra-refresh") == 2
    assert not any(token in caplog.text for token in identity.issued), "a token is never logged"


def test_entra_failed_renewal_reconnects_with_a_new_token_and_renews_again(
    entra_redis: EntraRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # AUTH, loop start, renewal fails; the next request reconnects (AUTH) and restarts the loop, which renews.
    identity = FakeIdentity(entra_redis, OID + "4", [2, 2, "fail", 2, 2])

    async def scenario() -> list[bool]:
        limiter = RedisWindows(entra_redis.url, entra_provider_factory(identity))
        results = await admitted(limiter, "entra-renewal", 10, 1, "a")
        first = entra_redis.connections_of(identity.oid)
        await asyncio.sleep(2)  # the renewal failed: connections dropped
        assert len(identity.scopes) == 3 and entra_redis.connections_of(identity.oid) == []
        results += await admitted(limiter, "entra-renewal", 10, 1, "b")
        second = entra_redis.connections_of(identity.oid)
        assert len(second) == 1 and second != first
        before = entra_redis.auth_calls()
        await asyncio.sleep(2)
        assert len(identity.issued) == 5, "the restarted loop renewed again"
        assert entra_redis.auth_calls() == (before[0] + 1, before[1])
        assert entra_redis.connections_of(identity.oid) == second
        results += await admitted(limiter, "entra-renewal", 10, 1, "c")
        await limiter.aclose()
        return results

    assert asyncio.run(scenario()) == [True, True, True]
    assert entra_redis.count("entra-renewal") == 3, "every request counted in the shared window"
    warnings = [r.getMessage() for r in caplog.records if r.name == "aigateway.limits"]
    assert warnings == [
        "redis re-authentication failed (ClientAuthenticationError); reconnecting with a new Entra token"
    ]
    assert not any(token in caplog.text for token in identity.issued), "a token is never logged"


def self_signed_localhost(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_entra_production_path_managed_identity_over_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Settings to limiter as the Container App runs it: rediss://, GATEWAY_REDIS_AUTH=entra, AZURE_CLIENT_ID, and
    azure-identity's ManagedIdentityCredential asking the Container Apps identity endpoint (a fake one here)."""
    caplog.set_level(logging.DEBUG)
    client_id, oid = "3f6a0c2e-8d41-4b7a-9e15-c2d0a7b4e913", OID + "5"
    cert, key = self_signed_localhost(tmp_path)
    tls = ["--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-auth-clients", "no"]
    process, port = start_redis(tmp_path, *tls)
    admin = redis.Redis(host="localhost", port=port, ssl=True, ssl_ca_certs=str(cert), decode_responses=True)
    asked: list[dict[str, list[str]]] = []
    issued: list[str] = []

    class IdentityEndpoint(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            asked.append({**query, "header": [self.headers.get("X-IDENTITY-HEADER", "")]})
            expires_on = int(time.time()) + 3600
            claims = {"oid": oid, "aud": query["resource"][0], "exp": expires_on}
            token = jwt.encode(claims, SIGNING_KEY, algorithm="HS256")
            admin.acl_setuser(oid, enabled=True, passwords=[f"+{token}"], keys=["aigateway:*"], commands=["+@all"])
            issued.append(token)
            body = {"access_token": token, "expires_on": str(expires_on), "resource": query["resource"][0]}
            payload = json.dumps({**body, "token_type": "Bearer"}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    endpoint = ThreadingHTTPServer(("127.0.0.1", 0), IdentityEndpoint)
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{endpoint.server_port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "container-apps-identity-header")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test server's certificate, as the image trusts Azure's
    try:
        admin.acl_setuser("default", enabled=False)
        settings = load_settings({"GATEWAY_REDIS_URL": f"rediss://localhost:{port}", "GATEWAY_REDIS_AUTH": "entra"})
        limiter = build_limiter(settings.gateway_redis_url, frozenset(), settings.gateway_redis_auth, client_id)
        team = Project(name="entra-tls", key="sk-entra-tls-000", rpm=2, max_parallel=10, embeddings_rpm=10)

        async def scenario() -> list[str | None]:
            codes = []
            for i in range(3):
                refusal = await limiter.admit(team, "/v1/responses", "codex", f"tls-{i}")
                codes.append(refusal.code if refusal else None)
                if refusal is None:
                    limiter.release(team)
            users = [c["user"] for c in admin.client_list()]
            assert oid in users, "authenticated as the identity's object id"
            await limiter._store.aclose()  # type: ignore[attr-defined]
            return codes

        assert asyncio.run(scenario()) == [None, None, "project_rpm_limit"]
        assert admin.zcard(redis_key("entra-tls")) == 2, "counted in the shared window, over TLS"
        assert asked[0]["resource"] == ["https://redis.azure.com"] and asked[0]["client_id"] == [client_id]
        assert asked[0]["header"] == ["container-apps-identity-header"]
        assert not any(token in caplog.text for token in issued), "a token is never logged"
    finally:
        endpoint.shutdown()
        admin.close()
        process.terminate()
        process.wait(timeout=10)
