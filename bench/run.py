"""`python -m bench.run [--size smoke|full]`: the whole benchmark in one run, results in bench/results/.

Direct (client -> emulator), the gateway and stock LiteLLM are measured side by side. Every phase
alternates the three paths round by round (the machine is shared and noisy), and figures are medians over
rounds of per-round values; "added" figures are per-round differences against the direct path of the
same round, so drift between rounds cancels out.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench import load, report, stack

T = TypeVar("T")
MB = 1024 * 1024


@dataclass(frozen=True)
class Size:
    rounds: int
    latency_c1: int  # requests per round per path at concurrency 1
    latency_c10: int  # ... at concurrency 10
    warmup: int
    streams: int  # streams per round per path
    stream_delay_ms: float
    throughput_seconds: float
    cold_samples: int
    memory_requests: int  # total requests each proxy has served when the "after" RSS is read


SIZES = {
    # Seconds: proves every phase runs and every figure is produced; the numbers mean little.
    "smoke": Size(1, 6, 20, 3, 2, 10, 1.0, 1, 150),
    # Under 10 minutes on 2 cores.
    "full": Size(3, 100, 200, 40, 12, 20, 5.0, 5, 10_000),
}


class Bench:
    def __init__(self, size: Size, runner: asyncio.Runner, workdir: Path) -> None:
        self.size = size
        self.runner = runner
        self.workdir = workdir
        self.served: dict[str, int] = {"gateway": 0, "litellm": 0}
        self.client_cpu: list[tuple[str, float]] = []
        self.emb = load.embeddings_body()
        self.resp = load.responses_body()
        self.resp_stream = load.responses_body(stream=True)
        self.chat = load.chat_body()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    def _order(self, targets: list[stack.Target], round_no: int) -> list[stack.Target]:
        # Rotate who goes first each round so no path always runs on a "fresh" or "tired" machine.
        k = round_no % len(targets)
        return targets[k:] + targets[:k]

    def _count(self, target: stack.Target, result: load.LoadResult) -> None:
        if target.name in self.served:
            self.served[target.name] += len(result.latencies) + result.errors

    def drive(self, target: stack.Target, phase: str, *args: Any, **kwargs: Any) -> load.LoadResult:
        result = self.run(load.closed_loop(*args, **kwargs))
        self._count(target, result)
        self.client_cpu.append((phase, result.client_cpu_share))
        return result

    # --- phases ------------------------------------------------------------------------------------------

    def cold_sample(self, start: Callable[[], Any], endpoint_of: Callable[[Any], load.Endpoint]) -> dict[str, Any]:
        """Start to ready, then one embeddings request, then one chat request: the gateway serves the direct
        routes while LiteLLM still loads, so chat is timed separately (it waits for LiteLLM). Idle RSS is
        read after both, when every part of the process is loaded and no load has run yet."""
        server = start()
        pid = server.process.pid
        embeddings = endpoint_of(server)
        status, seconds = self.run(load.one_request(embeddings, self.emb))
        if status != 200:
            raise RuntimeError(f"first request answered {status}")
        chat = dataclasses.replace(embeddings, path="/v1/chat/completions")
        chat_status, chat_seconds = self.run(load.one_request(chat, load.chat_body()))
        if chat_status != 200:
            raise RuntimeError(f"first chat request answered {chat_status}")
        return {
            "server": server,
            "ready": server.ready_after,
            "first": seconds,
            "first_chat": server.ready_after + seconds + chat_seconds,
            "idle_rss": stack.rss_bytes(pid),
        }

    def warmup(self, targets: list[stack.Target]) -> None:
        for target in targets:
            self.drive(target, "warmup", target.embeddings, self.emb, 4, count=self.size.warmup)
            self.drive(target, "warmup", target.responses, self.resp, 4, count=self.size.warmup)

    def latency(self, targets: list[stack.Target]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for route in ("embeddings", "responses"):
            out[route] = {}
            for conc, count in (("c1", self.size.latency_c1), ("c10", self.size.latency_c10)):
                c = int(conc[1:])
                per_round: dict[str, list[dict[str, float]]] = {t.name: [] for t in targets}
                errors = dict.fromkeys(per_round, 0)
                for r in range(self.size.rounds):
                    for target in self._order(targets, r):
                        endpoint = target.embeddings if route == "embeddings" else target.responses
                        body = self.emb if route == "embeddings" else self.resp
                        res = self.drive(target, f"latency {route} {conc}", endpoint, body, c, count=count)
                        errors[target.name] += res.errors
                        ms = [x * 1000 for x in res.latencies]
                        per_round[target.name].append({q: report.percentile(ms, float(q[1:])) for q in _QS})
                out[route][conc] = _latency_summary(per_round, errors)
                print(f"  latency {route} {conc}: " + _brief(out[route][conc]), flush=True)
        return out

    def chat_latency(self, targets: list[stack.Target]) -> dict[str, Any]:
        """Chat completions (the bridge to the Responses API) on the proxies: there is no direct path to
        compare with (Azure has no chat route for codex), so these are absolute figures, side by side."""
        proxies = [t for t in targets if t.chat is not None]
        out: dict[str, Any] = {}
        for conc, count in (("c1", self.size.latency_c1), ("c10", self.size.latency_c10)):
            per_round: dict[str, list[dict[str, float]]] = {t.name: [] for t in proxies}
            errors = dict.fromkeys(per_round, 0)
            for r in range(self.size.rounds):
                for target in self._order(proxies, r):
                    assert target.chat is not None
                    res = self.drive(target, f"latency chat {conc}", target.chat, self.chat, int(conc[1:]), count=count)
                    errors[target.name] += res.errors
                    ms = [x * 1000 for x in res.latencies]
                    per_round[target.name].append({q: report.percentile(ms, float(q[1:])) for q in _QS})
            row: dict[str, Any] = {}
            for name, rounds in per_round.items():
                row[name] = {q: report.spread([r[q] for r in rounds]) for q in _QS}
                row[name]["errors"] = errors[name]
            row["gateway_vs_litellm_p50"] = report.ratio(
                row["gateway"]["p50"]["median"], row["litellm"]["p50"]["median"]
            )
            out[conc] = row
            brief = (f"{n} p50 {row[n]['p50']['median']:.1f} p99 {row[n]['p99']['median']:.1f}" for n in per_round)
            print(f"  latency chat {conc}: " + ", ".join(brief), flush=True)
        return out

    def streaming(self, emulator: stack.Emulator, targets: list[stack.Target]) -> dict[str, Any]:
        emulator.set_stream_delay(self.size.stream_delay_ms)
        traces: dict[str, list[list[load.StreamTrace]]] = {t.name: [] for t in targets}
        try:
            for r in range(self.size.rounds):
                for target in self._order(targets, r):
                    cpu0 = time.process_time()
                    wall0 = time.perf_counter()
                    got = self.run(load.stream_traces(target.responses, self.resp_stream, self.size.streams))
                    self.client_cpu.append(("streaming", (time.process_time() - cpu0) / (time.perf_counter() - wall0)))
                    if target.name in self.served:
                        self.served[target.name] += len(got)
                    traces[target.name].append(got)
        finally:
            emulator.set_stream_delay(0)
        out: dict[str, Any] = {"event_delay_ms": self.size.stream_delay_ms}
        direct_ttfb = [_p50([t.first_event * 1000 for t in rnd]) for rnd in traces["direct"]]
        direct_gap = [_p50([g * 1000 for t in rnd for g in t.gaps()]) for rnd in traces["direct"]]
        direct_gap99 = [report.percentile([g * 1000 for t in rnd for g in t.gaps()], 99) for rnd in traces["direct"]]
        direct_at = [_event_medians(rnd) for rnd in traces["direct"]]
        burst_below = self.size.stream_delay_ms / 2
        for name, rounds in traces.items():
            ttfb = [_p50([t.first_event * 1000 for t in rnd]) for rnd in rounds]
            gap = [_p50([g * 1000 for t in rnd for g in t.gaps()]) for rnd in rounds]
            gap99 = [report.percentile([g * 1000 for t in rnd for g in t.gaps()], 99) for rnd in rounds]
            # Lag of event i = when it reached the client through this path minus when it reached the client
            # directly (medians over the round's streams): shows events held back, not only the first byte.
            lags = [
                [p - d for p, d in zip(_event_medians(rnd), dat, strict=False)]
                for rnd, dat in zip(rounds, direct_at, strict=True)
            ]
            flat = [t for rnd in rounds for t in rnd]
            out[name] = {
                "ttfb_ms": report.spread(ttfb),
                "gap_ms": report.spread(gap),
                "gap_p99_ms": report.spread(gap99),
                "added_ttfb_ms": report.spread([a - b for a, b in zip(ttfb, direct_ttfb, strict=True)]),
                "added_gap_ms": report.spread([a - b for a, b in zip(gap, direct_gap, strict=True)]),
                "added_gap_p99_ms": report.spread([a - b for a, b in zip(gap99, direct_gap99, strict=True)]),
                "added_event_lag_ms": report.spread([_p50(lag) for lag in lags]),
                "max_event_lag_ms": report.spread([max(lag) if lag else float("nan") for lag in lags]),
                "events_per_stream": int(statistics.median(len(t.event_times) for t in flat)),
                # Upstream spaced every event by the delay; a gap under half of it means the path held
                # events back and released them together (separate writes, but bunched in time).
                "bunched_events_per_stream": statistics.median(
                    sum(1 for g in t.gaps() if g * 1000 < burst_below) for t in flat
                ),
                "reads": sum(t.reads for t in flat),
                "coalesced_reads": sum(t.coalesced_reads for t in flat),
                "streams": len(flat),
                "errors": sum(1 for t in flat if t.status != 200),
            }
            print(
                f"  stream {name}: ttfb {out[name]['ttfb_ms']['median']:.1f} ms, gap "
                f"{out[name]['gap_ms']['median']:.1f} ms, coalesced {out[name]['coalesced_reads']}",
                flush=True,
            )
        return out

    def throughput(self, targets: list[stack.Target], emulator_pid: int) -> dict[str, Any]:
        rows: dict[str, dict[str, list[float]]] = {
            t.name: {"rps": [], "server": [], "emulator": [], "client": []} for t in targets
        }
        errors = {t.name: 0 for t in targets}
        for r in range(self.size.rounds):
            for target in self._order(targets, r):
                server0, emu0 = stack.cpu_seconds(target.pid), stack.cpu_seconds(emulator_pid)
                res = self.drive(
                    target, "throughput c32", target.embeddings, self.emb, 32, duration=self.size.throughput_seconds
                )
                row = rows[target.name]
                row["rps"].append(len(res.latencies) / res.wall)
                row["server"].append((stack.cpu_seconds(target.pid) - server0) / res.wall)
                row["emulator"].append((stack.cpu_seconds(emulator_pid) - emu0) / res.wall)
                row["client"].append(res.client_cpu_share)
                errors[target.name] += res.errors
        out: dict[str, Any] = {}
        for name, row in rows.items():
            out[name] = {
                "rps": report.spread(row["rps"]),
                "ratio_to_direct": report.spread(
                    [report.ratio(a, b) for a, b in zip(row["rps"], rows["direct"]["rps"], strict=True)]
                ),
                "server_cpu_cores": report.spread(row["server"]),
                "emulator_cpu_cores": report.spread(row["emulator"]),
                "client_cpu_cores": report.spread(row["client"]),
                "errors": errors[name],
            }
            print(f"  throughput {name}: {out[name]['rps']['median']:.1f} req/s", flush=True)
        return out

    def top_up(self, targets: list[stack.Target]) -> None:
        """Bring every proxy to `memory_requests` served before the "after" RSS read.

        The proxies are driven at the same time (c=10 each): each saturates one core, so on two cores this
        halves the phase. One request in four is the 60-input embeddings call (large bodies), the rest are
        Responses calls.
        """

        async def one(target: stack.Target) -> None:
            while (left := self.size.memory_requests - self.served[target.name]) > 0:
                batch = min(left, 400)
                for endpoint, body, n in (
                    (target.embeddings, self.emb, batch // 4),
                    (target.responses, self.resp, batch - batch // 4),
                ):
                    if n:
                        result = await load.closed_loop(endpoint, body, 10, count=n)
                        self._count(target, result)
                        self.client_cpu.append(("memory", result.client_cpu_share))

        async def both() -> None:
            await asyncio.gather(*(one(t) for t in targets))

        self.run(both())


_QS = ("p50", "p90", "p99")


def _p50(values: list[float]) -> float:
    return report.percentile(values, 50)


def _event_medians(traces: list[load.StreamTrace]) -> list[float]:
    """Median arrival time (ms) of event i over the streams, for every index all streams reached."""
    n = min((len(t.event_times) for t in traces), default=0)
    return [statistics.median(t.event_times[i] * 1000 for t in traces) for i in range(n)]


def _latency_summary(per_round: dict[str, list[dict[str, float]]], errors: dict[str, int]) -> dict[str, Any]:
    direct = per_round["direct"]
    out: dict[str, Any] = {}
    for name, rounds in per_round.items():
        entry: dict[str, Any] = {q: report.spread([r[q] for r in rounds]) for q in _QS}
        entry["errors"] = errors[name]
        if name != "direct":
            entry["added_ms"] = {
                q: report.spread([r[q] - d[q] for r, d in zip(rounds, direct, strict=True)]) for q in _QS
            }
        out[name] = entry
    out["gateway_vs_litellm_added_p50"] = report.ratio(
        out["gateway"]["added_ms"]["p50"]["median"], out["litellm"]["added_ms"]["p50"]["median"]
    )
    return out


def _brief(row: dict[str, Any]) -> str:
    return ", ".join(
        f"{n} p50 {row[n]['p50']['median']:.1f} p99 {row[n]['p99']['median']:.1f}" for n in ("direct", *report.PROXIES)
    )


def _comparisons(res: dict[str, Any]) -> dict[str, float]:
    """Gateway over LiteLLM for every metric, oriented so that < 1 means the gateway is better."""
    out: dict[str, float] = {}
    for route in ("embeddings", "responses"):
        for conc in ("c1", "c10"):
            row = res["latency"][route][conc]
            for q in ("p50", "p99"):
                out[f"{route} {conc} added {q}"] = report.ratio(
                    row["gateway"]["added_ms"][q]["median"], row["litellm"]["added_ms"][q]["median"]
                )
    for conc in ("c1", "c10"):
        chat = res["chat_latency"][conc]
        for q in ("p50", "p99"):
            out[f"chat {conc} {q}"] = report.ratio(chat["gateway"][q]["median"], chat["litellm"][q]["median"])
    s = res["streaming"]
    out["stream TTFB p50"] = report.ratio(s["gateway"]["ttfb_ms"]["median"], s["litellm"]["ttfb_ms"]["median"])
    out["stream inter-event p99"] = report.ratio(
        s["gateway"]["gap_p99_ms"]["median"], s["litellm"]["gap_p99_ms"]["median"]
    )
    t = res["throughput"]
    out["throughput c32 (LiteLLM/gateway req/s)"] = report.ratio(
        t["litellm"]["rps"]["median"], t["gateway"]["rps"]["median"]
    )
    c = res["cold_start"]
    out["cold start to ready"] = report.ratio(c["gateway"]["ready_s"]["median"], c["litellm"]["ready_s"]["median"])
    out["first request after ready"] = report.ratio(
        c["gateway"]["first_request_after_ready_s"]["median"], c["litellm"]["first_request_after_ready_s"]["median"]
    )
    out["start to first chat 200"] = report.ratio(
        c["gateway"]["first_chat_s"]["median"], c["litellm"]["first_chat_s"]["median"]
    )
    m = res["memory"]
    out["RSS idle"] = report.ratio(m["gateway"]["idle_mb"], m["litellm"]["idle_mb"])
    out["RSS after N requests"] = report.ratio(m["gateway"]["after_mb"], m["litellm"]["after_mb"])
    return out


def _new_runner() -> asyncio.Runner:
    try:
        import uvloop  # the cheapest event loop keeps the generator's own CPU share low

        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        return asyncio.Runner()


def run_bench(size_name: str, results_dir: Path = report.RESULTS_DIR) -> dict[str, Any]:
    size = SIZES[size_name]
    started = time.perf_counter()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = report.machine_info()
    cleanups: list[Callable[[], None]] = []
    with tempfile.TemporaryDirectory(prefix="aigateway-bench-") as tmp, _new_runner() as runner:
        workdir = Path(tmp)
        bench = Bench(size, runner, workdir)
        try:
            print(f"bench: size {size_name}, logs in {workdir}", flush=True)
            emulator = stack.Emulator(workdir).start()
            cleanups.append(emulator.stop)
            config = stack.write_litellm_config(workdir / "litellm.yaml", emulator.url)

            def start_gateway() -> Any:
                return stack.start_gateway(emulator.url, workdir)

            def start_litellm() -> Any:
                return stack.StockLiteLLM(config, workdir).start()

            def gw_endpoint(s: Any) -> load.Endpoint:
                return stack.proxy_target("gateway", s.port, stack.BENCH_KEY, 0).embeddings

            def ll_endpoint(s: Any) -> load.Endpoint:
                return stack.proxy_target("litellm", s.port, stack.LITELLM_MASTER_KEY, 0).embeddings

            # The long-lived instances are the first cold-start sample of each (the first start is cold too).
            print("bench: starting gateway and stock LiteLLM", flush=True)
            first_gw = bench.cold_sample(start_gateway, gw_endpoint)
            cleanups.append(first_gw["server"].stop)
            first_ll = bench.cold_sample(start_litellm, ll_endpoint)
            cleanups.append(first_ll["server"].stop)
            gw, ll = first_gw["server"], first_ll["server"]
            direct = stack.direct_target(emulator)
            gateway = stack.proxy_target("gateway", gw.port, stack.BENCH_KEY, gw.process.pid)
            litellm = stack.proxy_target("litellm", ll.port, stack.LITELLM_MASTER_KEY, ll.process.pid)
            for name in bench.served:
                bench.served[name] += 1
            targets = [direct, gateway, litellm]
            proxies = {"gateway": gateway, "litellm": litellm}

            bench.warmup(targets)
            warm_rss = {n: stack.rss_bytes(t.pid) for n, t in proxies.items()}
            print("bench: latency", flush=True)
            latency = bench.latency(targets)
            chat_latency = bench.chat_latency(targets)
            print("bench: streaming", flush=True)
            streaming = bench.streaming(emulator, targets)
            print("bench: throughput", flush=True)
            assert emulator.process is not None
            throughput = bench.throughput(targets, emulator.process.pid)
            print("bench: memory", flush=True)
            memory: dict[str, Any] = {}
            idle = {"gateway": first_gw["idle_rss"], "litellm": first_ll["idle_rss"]}
            bench.top_up(list(proxies.values()))
            for name, target in proxies.items():
                after = stack.rss_bytes(target.pid)
                memory[name] = {
                    "idle_mb": idle[name] / MB,
                    "warm_mb": warm_rss[name] / MB,
                    "after_mb": after / MB,
                    "requests": bench.served[name],
                    "growth_pct": (after - idle[name]) / idle[name] * 100,
                    "growth_from_warm_pct": (after - warm_rss[name]) / warm_rss[name] * 100,
                }
            print("bench: cold start", flush=True)
            samples: dict[str, list[dict[str, Any]]] = {"gateway": [first_gw], "litellm": [first_ll]}
            for _ in range(size.cold_samples - 1):
                for name, start, endpoint_of in (
                    ("gateway", start_gateway, gw_endpoint),
                    ("litellm", start_litellm, ll_endpoint),
                ):
                    sample = bench.cold_sample(start, endpoint_of)
                    sample["server"].stop()
                    samples[name].append(sample)
            cold = {
                name: {
                    "ready_s": report.spread([s["ready"] for s in got]),
                    "first_request_after_ready_s": report.spread([s["first"] for s in got]),
                    "first_success_s": report.spread([s["ready"] + s["first"] for s in got]),
                    "first_chat_s": report.spread([s["first_chat"] for s in got]),
                    "idle_rss_mb": report.spread([s["idle_rss"] / MB for s in got]),
                }
                for name, got in samples.items()
            }
        finally:
            for cleanup in reversed(cleanups):
                cleanup()
    shares = [share for _, share in bench.client_cpu]
    results: dict[str, Any] = {
        "meta": {
            "date": date,
            "size": size_name,
            "rounds": size.rounds,
            "machine": machine,
            "duration_s": time.perf_counter() - started,
            "sizes": size.__dict__,
        },
        "latency": latency,
        "chat_latency": chat_latency,
        "streaming": streaming,
        "throughput": throughput,
        "cold_start": cold,
        "memory": memory,
        "load_generator": {
            "max_cpu_cores": max(shares),
            "median_cpu_cores": statistics.median(shares),
            "phases": {phase: max(s for p, s in bench.client_cpu if p == phase) for phase, _ in bench.client_cpu},
            "note": "a raw-socket HTTP/1.1 client on uvloop in one process; each proxy's own CPU (throughput "
            "table) shows whether the server or the generator was saturated.",
        },
    }
    results["gateway_vs_litellm"] = _comparisons(results)
    results["goals"] = report.goals(results)
    json_path, md_path = report.write(results, results_dir)
    print(report.markdown(results), flush=True)
    print(f"bench: wrote {json_path} and {md_path} in {results['meta']['duration_s']:.0f} s", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--results-dir", type=Path, default=report.RESULTS_DIR)
    args = parser.parse_args(argv)
    # SIGTERM must unwind through run_bench's cleanup, or the servers it started would be orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run_bench(args.size, args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
