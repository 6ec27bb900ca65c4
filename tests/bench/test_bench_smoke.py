"""The benchmark harness in its smoke size, so it cannot rot: structure and sanity only, never a timing goal."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench import run

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

PATHS = ("direct", "gateway", "litellm")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench-results")
    run.run_bench("smoke", out)
    return json.loads((out / "latest.json").read_text()), out


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not math.isnan(value) and value > 0


def test_writes_json_and_markdown(results: tuple[dict[str, Any], Path]) -> None:
    data, out = results
    markdown = (out / "latest.md").read_text()
    for heading in ("Non-streaming latency", "Streaming", "throughput", "Cold start and memory", "Goals"):
        assert heading in markdown
    machine = data["meta"]["machine"]
    assert machine["nproc"] >= 1
    assert machine["mem_total_mb"] > 0
    assert machine["cpu_model"]


def test_latency_for_every_route_concurrency_and_path(results: tuple[dict[str, Any], Path]) -> None:
    data, _ = results
    for route in ("embeddings", "responses"):
        for conc in ("c1", "c10"):
            row = data["latency"][route][conc]
            for path in PATHS:
                assert row[path]["errors"] == 0, (route, conc, path)
                for q in ("p50", "p90", "p99"):
                    assert _positive(row[path][q]["median"]), (route, conc, path, q)
            for path in ("gateway", "litellm"):
                assert set(row[path]["added_ms"]) == {"p50", "p90", "p99"}
                assert row[path]["added_ms"]["p50"]["median"] is not None
            # A ratio of two small added latencies: its sign is noise at smoke size, its presence is the contract.
            assert isinstance(row["gateway_vs_litellm_added_p50"], float)
            assert math.isfinite(row["gateway_vs_litellm_added_p50"])


def test_chat_latency_for_both_proxies(results: tuple[dict[str, Any], Path]) -> None:
    data, _ = results
    for conc in ("c1", "c10"):
        row = data["chat_latency"][conc]
        for path in ("gateway", "litellm"):
            assert row[path]["errors"] == 0, (conc, path)
            assert _positive(row[path]["p50"]["median"]), (conc, path)
        assert _positive(row["gateway_vs_litellm_p50"])


def test_streaming_counts_events_and_reads(results: tuple[dict[str, Any], Path]) -> None:
    data, _ = results
    s = data["streaming"]
    for path in PATHS:
        assert s[path]["errors"] == 0
        assert s[path]["events_per_stream"] > 1
        assert s[path]["reads"] >= s[path]["streams"]
        assert s[path]["coalesced_reads"] >= 0
        assert _positive(s[path]["ttfb_ms"]["median"])
    for path in ("gateway", "litellm"):
        assert s[path]["added_ttfb_ms"]["median"] is not None
        assert s[path]["added_event_lag_ms"]["median"] is not None


def test_throughput_cold_start_memory_and_generator(results: tuple[dict[str, Any], Path]) -> None:
    data, _ = results
    for path in PATHS:
        assert _positive(data["throughput"][path]["rps"]["median"])
        assert _positive(data["throughput"][path]["ratio_to_direct"]["median"])
    for path in ("gateway", "litellm"):
        cold = data["cold_start"][path]
        assert _positive(cold["ready_s"]["median"])
        assert _positive(cold["first_request_after_ready_s"]["median"])
        assert cold["first_chat_s"]["median"] >= cold["ready_s"]["median"]
        mem = data["memory"][path]
        assert _positive(mem["idle_mb"])
        assert _positive(mem["after_mb"])
        assert mem["requests"] >= run.SIZES["smoke"].memory_requests
        assert mem["growth_pct"] is not None
    lg = data["load_generator"]
    assert _positive(lg["max_cpu_cores"])


def test_every_comparison_and_goal_is_computed(results: tuple[dict[str, Any], Path]) -> None:
    data, _ = results
    ratios = data["gateway_vs_litellm"]
    assert len(ratios) >= 10
    # Ratios of *added* latency may be <= 0 when the gateway adds less than the noise; the rest may not.
    assert all(isinstance(v, float) for v in ratios.values())
    assert all(_positive(v) for name, v in ratios.items() if "added" not in name)
    assert len(data["goals"]) == 11
    assert all(isinstance(g["met"], bool) for g in data["goals"])
