"""Statistics, the goal check, and the two outputs: `bench/results/latest.json` and `latest.md`."""

from __future__ import annotations

import math
import os
import platform
import statistics
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PROXIES = ("gateway", "litellm")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(values: list[float]) -> dict[str, float]:
    """Median with min/max over rounds or samples: the shape every figure is reported in."""
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return {"median": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    return {"median": statistics.median(clean), "min": min(clean), "max": max(clean), "n": len(clean)}


def ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def machine_info() -> dict[str, Any]:
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_total_mb = math.nan
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_mb = int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (math.nan, math.nan, math.nan)
    return {
        "cpu_model": cpu_model,
        "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)),
        "mem_total_mb": round(mem_total_mb),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "litellm": metadata.version("litellm"),
        "uvicorn": metadata.version("uvicorn"),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


# --- goals -----------------------------------------------------------------------------------------------


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals, each with the measured value and whether it is met (never asserted in tests)."""
    lat = results["latency"]["embeddings"]["c10"]["gateway"]
    stream = results["streaming"]["gateway"]
    tput = results["throughput"]["gateway"]
    cold = results["cold_start"]["gateway"]
    mem = results["memory"]["gateway"]
    rows = [
        ("Embeddings c=10 added p50 (ms)", lat["added_ms"]["p50"]["median"], "<=", 3.0),
        ("Embeddings c=10 added p99 (ms)", lat["added_ms"]["p99"]["median"], "<=", 15.0),
        ("Stream added TTFB p50 (ms)", stream["added_ttfb_ms"]["median"], "<=", 5.0),
        ("Coalesced events (reads with >1 event)", float(stream["coalesced_reads"]), "<=", 0.0),
        # issue 11 (issue 6 asked >= 0.5)
        ("Embeddings c=32 throughput / direct", tput["ratio_to_direct"]["median"], ">=", 0.85),
        ("Cold start to ready (s)", cold["ready_s"]["median"], "<=", 8.0),
        ("First request after ready (s)", cold["first_request_after_ready_s"]["median"], "<=", 1.0),
        ("RSS idle (MB)", mem["idle_mb"], "<=", 250.0),  # issue 11 (issue 6 asked <= 350)
        (
            "Start to first chat 200 / stock LiteLLM's",
            results["gateway_vs_litellm"]["start to first chat 200"],
            "<=",
            0.5,
        ),
        ("RSS growth over the run (%)", mem["growth_pct"], "<=", 10.0),
    ]
    out = [
        {"goal": name, "value": value, "op": op, "target": target, "met": _met(value, op, target)}
        for name, value, op, target in rows
    ]
    worse = [k for k, v in results["gateway_vs_litellm"].items() if not math.isnan(v) and v > 1.0]
    out.append(
        {
            "goal": "No worse than stock LiteLLM on any metric (ratio <= 1)",
            "value": float(len(worse)),
            "op": "<=",
            "target": 0.0,
            "met": not worse,
            "worse": worse,
        }
    )
    return out


def _met(value: float, op: str, target: float) -> bool:
    if math.isnan(value):
        return False
    return value <= target if op == "<=" else value >= target


# --- output ----------------------------------------------------------------------------------------------


def _f(value: float, digits: int = 1) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _mmm(s: dict[str, float], digits: int = 1) -> str:
    if s["n"] == 0:
        return "n/a"
    if s["n"] == 1:
        return _f(s["median"], digits)
    return f"{_f(s['median'], digits)} ({_f(s['min'], digits)}-{_f(s['max'], digits)})"


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    m = meta["machine"]
    lines = [
        f"# Benchmark results ({meta['size']}, {meta['date']})",
        "",
        f"Machine: {m['cpu_model']}, nproc {m['nproc']}, {m['mem_total_mb']} MB RAM, kernel {m['kernel']}, "
        f"Python {m['python']}, LiteLLM {m['litellm']}, load average at start {m['loadavg_at_start']}. "
        f"Run took {meta['duration_s']:.0f} s; {meta['rounds']} alternating round(s); figures are medians "
        "over rounds with (min-max).",
        "",
        "## Non-streaming latency (ms): absolute p50/p99, and added over direct p50/p90/p99",
        "",
        "| Route, concurrency | Direct p50 / p99 | Gateway p50 / p99 | LiteLLM p50 / p99 "
        "| Gateway added p50 / p90 / p99 | LiteLLM added p50 / p90 / p99 | Gateway/LiteLLM added p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for route in ("embeddings", "responses"):
        for conc in ("c1", "c10"):
            row = results["latency"][route][conc]
            cells = [f"{route}, c={conc[1:]}"]
            for name in ("direct", *PROXIES):
                cells.append(f"{_mmm(row[name]['p50'])} / {_mmm(row[name]['p99'])}")
            for name in PROXIES:
                a = row[name]["added_ms"]
                cells.append(" / ".join(_mmm(a[q]) for q in ("p50", "p90", "p99")))
            cells.append(_f(row["gateway_vs_litellm_added_p50"], 2))
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Chat completions latency (ms), bridged to the Responses API: p50 / p90 / p99",
        "",
        "No direct path exists (Azure serves codex through the Responses API only), so the two proxies are "
        "compared with each other.",
        "",
        "| Concurrency | Gateway p50 / p90 / p99 | LiteLLM p50 / p90 / p99 | Gateway/LiteLLM p50 |",
        "|---|---|---|---|",
    ]
    for conc in ("c1", "c10"):
        row = results["chat_latency"][conc]
        cells = [f"c={conc[1:]}"]
        for name in PROXIES:
            cells.append(" / ".join(_mmm(row[name][q]) for q in ("p50", "p90", "p99")))
        cells.append(_f(row["gateway_vs_litellm_p50"], 2))
        lines.append("| " + " | ".join(cells) + " |")
    s = results["streaming"]
    lines += [
        "",
        f"## Streaming (Responses, emulator {s['event_delay_ms']:.0f} ms between events, c=1)",
        "",
        "| Path | TTFB p50 (ms) | Added TTFB p50 | Inter-event p50 (ms) | Added inter-event p50 / p99 "
        "| Added event lag p50 / max | Events per stream | Bunched events per stream | Reads / coalesced reads |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("direct", *PROXIES):
        r = s[name]
        added = "—" if name == "direct" else _mmm(r["added_ttfb_ms"])
        added_gap = "—" if name == "direct" else f"{_mmm(r['added_gap_ms'], 2)} / {_mmm(r['added_gap_p99_ms'], 2)}"
        lag = "—" if name == "direct" else f"{_mmm(r['added_event_lag_ms'])} / {_mmm(r['max_event_lag_ms'])}"
        lines.append(
            f"| {name} | {_mmm(r['ttfb_ms'])} | {added} | {_mmm(r['gap_ms'], 2)} | {added_gap} | {lag} "
            f"| {r['events_per_stream']} | {r['bunched_events_per_stream']:g} | {r['reads']} / {r['coalesced_reads']} |"
        )
    t = results["throughput"]
    lines += [
        "",
        "## Embeddings throughput at c=32 (60 inputs, base64)",
        "",
        "| Path | req/s | Ratio to direct | Server CPU (cores) | Emulator CPU (cores) | Load generator CPU (cores) "
        "| Errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("direct", *PROXIES):
        r = t[name]
        ratio_cell = "1.00" if name == "direct" else _mmm(r["ratio_to_direct"], 2)
        server = "—" if name == "direct" else _mmm(r["server_cpu_cores"], 2)
        lines.append(
            f"| {name} | {_mmm(r['rps'])} | {ratio_cell} | {server} | {_mmm(r['emulator_cpu_cores'], 2)} "
            f"| {_mmm(r['client_cpu_cores'], 2)} | {r['errors']} |"
        )
    c, mem = results["cold_start"], results["memory"]
    lines += [
        "",
        "## Cold start and memory",
        "",
        "| Process | Start to ready (s) | First request after ready (s) | Start to first 200 (s) "
        "| Start to first chat 200 (s) | RSS idle (MB) | RSS after warm-up (MB) | RSS after N requests (MB) | N "
        "| Growth from idle / warm-up |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in PROXIES:
        cs, mm = c[name], mem[name]
        lines.append(
            f"| {name} | {_mmm(cs['ready_s'], 2)} | {_mmm(cs['first_request_after_ready_s'], 3)} "
            f"| {_mmm(cs['first_success_s'], 2)} | {_mmm(cs['first_chat_s'], 2)} | {_f(mm['idle_mb'], 0)} "
            f"| {_f(mm['warm_mb'], 0)} "
            f"| {_f(mm['after_mb'], 0)} | {mm['requests']} | {_f(mm['growth_pct'], 1)}% / "
            f"{_f(mm['growth_from_warm_pct'], 1)}% |"
        )
    lg = results["load_generator"]
    lines += [
        "",
        f"Load generator: at most {_f(lg['max_cpu_cores'], 2)} of one core in any phase (median "
        f"{_f(lg['median_cpu_cores'], 2)}); {lg['note']}",
        "",
        "## Gateway vs stock LiteLLM (ratio of gateway to LiteLLM; < 1 = gateway better)",
        "",
        "| Metric | Ratio |",
        "|---|---|",
    ]
    for key, value in results["gateway_vs_litellm"].items():
        lines.append(f"| {key} | {_f(value, 2)} |")
    lines += ["", "## Goals (issues 6 and 11)", "", "| Goal | Measured | Target | Met |", "|---|---|---|---|"]
    for g in results["goals"]:
        extra = f" ({', '.join(g['worse'])})" if g.get("worse") else ""
        lines.append(
            f"| {g['goal']} | {_f(g['value'], 2)}{extra} | {g['op']} {g['target']:g} | "
            f"{'yes' if g['met'] else '**no**'} |"
        )
    return "\n".join(lines) + "\n"


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value


def write(results: dict[str, Any], directory: Path = RESULTS_DIR) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "latest.json", directory / "latest.md"
    json_path.write_bytes(orjson.dumps(_nan_to_none(results), option=orjson.OPT_INDENT_2) + b"\n")
    md_path.write_text(markdown(results))
    return json_path, md_path
