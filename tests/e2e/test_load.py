"""Bounded load and fault tests on loopback: Roo's indexing storm, and memory over thousands of requests.

Sizes are the issue's small sizes; larger runs belong to bench/.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from aigateway.emulator.embeddings import vector
from tests.conftest import GatewayFactory, azure_env
from tests.helpers import TEAM_A_KEY, Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

INDEXER_KEY = "sk-indexer-project-000001"
GATEWAY_EMBEDDINGS_RPM = 30  # the brake under test
UPSTREAM_RPM = 240  # Azure's quota in the emulator: 40 per 10 s window
CHUNKS = 2000
BATCH = 60
CONCURRENT_BATCHES = 10


def roo_like_embed(client: OpenAI, batch: list[str]) -> list[Any]:
    """Roo's embedder: the SDK retries twice honouring Retry-After, then Roo retries 3 times with backoff."""
    for attempt in range(3):
        try:
            response = client.embeddings.create(model="text-embedding-3-small", input=batch, encoding_format="base64")
            return list(response.data)
        except openai.RateLimitError:
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("batch never embedded")


def test_indexing_storm_every_chunk_once_and_azure_never_over_quota(
    emulator: Emulator, gateway_factory: GatewayFactory
) -> None:
    gateway = gateway_factory(
        azure_env(
            emulator,
            GATEWAY_KEYS=f"indexer={INDEXER_KEY}",
            GATEWAY_PROJECT_LIMITS=json.dumps({"indexer": {"embeddings_rpm": GATEWAY_EMBEDDINGS_RPM, "rpm": 1000}}),
        ),
        name="storm",
    )
    emulator.set_limits({"text-embedding-3-small": {"rpm": UPSTREAM_RPM, "tpm": None}})
    emulator.set_faults(error_rate=0.05, error_status=500, seed=7, routes=["embeddings"])
    chunks = [f"chunk {i}: def handler_{i}(event):\n    return process(event, {i})\n" * 12 for i in range(CHUNKS)]
    batches = [chunks[i : i + BATCH] for i in range(0, CHUNKS, BATCH)]
    client = OpenAI(base_url=gateway.url + "/v1", api_key=INDEXER_KEY, max_retries=2, timeout=120)

    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENT_BATCHES) as pool:
        results = list(pool.map(lambda batch: roo_like_embed(client, batch), batches))
    elapsed = time.monotonic() - started

    for batch, data in zip(batches, results, strict=True):
        assert [d.index for d in data] == list(range(len(batch)))
        for text, item in zip(batch, data, strict=True):
            # the emulator's deterministic vector for exactly this chunk: nothing lost, swapped or mixed up
            assert base64.b64decode(item.embedding) == vector(text, 1536).tobytes()

    calls = [r for r in emulator.requests() if r["path"].endswith("/embeddings")]
    served = [c for c in calls if c["status"] == 200]
    embedded = [text for c in served for text in c["body"]["input"]]
    assert sorted(embedded) == sorted(chunks), "Azure embedded every chunk exactly once"
    assert any(c["status"] == 500 for c in calls), "the 5% fault injection was exercised"
    assert not [c for c in calls if c["status"] == 429], "the gateway's cap kept Azure under its quota"
    times = sorted(c["ts"] for c in served)
    busiest = max(sum(1 for t in times if start <= t < start + 60) for start in times)
    assert busiest <= GATEWAY_EMBEDDINGS_RPM
    assert elapsed < 150, f"storm took {elapsed:.0f}s"


def test_memory_stays_flat_over_5000_requests(emulator: Emulator, gateway_factory: GatewayFactory) -> None:
    gateway = gateway_factory(
        azure_env(emulator, GATEWAY_DEFAULT_RPM="1000000", GATEWAY_EMBEDDINGS_RPM="1000000"), name="memory"
    )

    def burst(count: int) -> None:
        errors: list[int] = []
        lock = threading.Lock()

        def worker(n: int) -> None:
            with httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {TEAM_A_KEY}"}) as http:
                for i in range(n):
                    if i % 4 == 0:
                        body = {"model": "gpt-5.3-codex", "input": "hello", "stream": i % 8 == 0}
                        response = http.post("/v1/responses", json=body, timeout=30)
                    elif i % 8 == 3:  # LiteLLM's bridge too (in the warm burst this also waits for it to load)
                        chat = {"model": "gpt-5.3-codex", "messages": [{"role": "user", "content": "hello"}]}
                        response = http.post("/v1/chat/completions", json=chat, timeout=60)
                    else:
                        body = {"model": "text-embedding-3-small", "input": ["a", "b", "c"]}
                        response = http.post("/v1/embeddings", json=body, timeout=30)
                    if response.status_code != 200:
                        with lock:
                            errors.append(response.status_code)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(worker, [count // 8] * 8))
        assert not errors, errors[:10]

    burst(400)  # warm: caches, pools and lazy imports settle first
    baseline = gateway.rss_bytes()
    burst(5000)
    after = gateway.rss_bytes()
    growth = (after - baseline) / baseline
    print(f"RSS {baseline / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB ({growth:+.1%}) over 5000 requests")
    assert growth < 0.10
