"""The `aigateway` command: serve, emulator, smoke, probe, client-config, usage.

One error boundary: a GatewayError prints one line to stderr and exits 1; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from aigateway.client_config import CLIENTS, render
from aigateway.errors import GatewayError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # the command cannot run as asked (probe without a key)
PROBE_KEY_VARIABLES = ("GATEWAY_SMOKE_KEY", "AIGATEWAY_KEY")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aigateway", description="OpenAI-compatible gateway for Azure OpenAI")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="run the gateway (embedded emulator when AZURE_OPENAI_ENDPOINT is unset, on loopback without keys)",
    )
    serve.add_argument(
        "--emulator",
        action="store_true",
        help="run against the embedded emulator even with project keys or a non-loopback GATEWAY_HOST "
        "(the same as GATEWAY_EMULATOR=true)",
    )

    emulator = sub.add_parser("emulator", help="run the Azure OpenAI emulator alone")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=4010)

    smoke = sub.add_parser("smoke", help="run the smoke suite against a gateway")
    smoke.add_argument("--base-url", required=True, help="gateway base URL, with or without /v1")
    smoke.add_argument(
        "--key",
        default=os.environ.get("GATEWAY_SMOKE_KEY"),
        help="a project key (default: $GATEWAY_SMOKE_KEY, which keeps it out of the process list)",
    )
    smoke.add_argument("--codex-model", default="gpt-5.3-codex")
    smoke.add_argument("--embeddings-model", default="text-embedding-3-small")
    smoke.add_argument("--embeddings-dimensions", type=int, default=1536)
    smoke.add_argument("--timeout", type=float, default=120.0)

    probe = sub.add_parser(
        "probe",
        help="send each supported client's exact request through a gateway; print a pass/fail matrix "
        "(key from $GATEWAY_SMOKE_KEY or $AIGATEWAY_KEY, never an argument)",
    )
    probe.add_argument("--base-url", required=True, help="gateway base URL, with or without /v1")
    probe.add_argument("--model", default="gpt-5.3-codex", help="the codex alias")
    probe.add_argument("--embeddings-model", default="text-embedding-3-small")
    probe.add_argument("--embeddings-dimensions", type=int, default=1536)
    probe.add_argument(
        "--keepalive-seconds",
        type=float,
        default=15.0,
        help="the gateway's GATEWAY_KEEPALIVE_SECONDS: a longer silence in a stream must carry keepalives",
    )
    probe.add_argument("--budget-seconds", type=float, default=120.0, help="time for the whole probe")
    probe.add_argument("--case", action="append", default=[], help="run only this case (repeatable)")
    probe.add_argument("--json", action="store_true", help="print the results as a JSON list")

    client = sub.add_parser("client-config", help="print settings for a client")
    client.add_argument("client", choices=CLIENTS)
    client.add_argument("--base-url", default="http://127.0.0.1:4000")
    client.add_argument("--codex-model", default="gpt-5.3-codex")
    client.add_argument("--embeddings-model", default="text-embedding-3-small")
    client.add_argument("--embeddings-dimensions", type=int, default=1536)

    usage = sub.add_parser(
        "usage",
        help="requests, errors, 429s, tokens and latency per project, from a telemetry file or Log Analytics",
    )
    source = usage.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", help="JSON lines written by `aigateway serve` (- for standard input)")
    source.add_argument(
        "--workspace",
        help="Log Analytics workspace ID (GUID) or resource ID; uses your Azure login (az login)",
    )
    usage.add_argument(
        "--since",
        help="how far back, e.g. 30m, 24h, 7d (default: 24h for --workspace, the whole file for --file)",
    )
    usage.add_argument("--from", dest="start", help="start, ISO 8601 (UTC unless an offset is given)")
    usage.add_argument("--to", dest="end", help="end (exclusive), ISO 8601; default now")
    output = usage.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="a JSON list of objects, one per project")
    output.add_argument("--csv", action="store_true", help="CSV with a header row")
    return parser


def _serve(args: argparse.Namespace) -> int:
    from aigateway.server import serve
    from aigateway.settings import load_settings

    if args.emulator:
        # In the environment, not only in these settings: everything in the process reads one configuration.
        os.environ["GATEWAY_EMULATOR"] = "true"
    serve(load_settings())
    return EXIT_OK


def _emulator(args: argparse.Namespace) -> int:
    from aigateway.emulator.config import EmulatorConfig
    from aigateway.emulator.server import run

    config = EmulatorConfig.from_env()
    print(f"aigateway emulator: http://{args.host}:{args.port}  (api-key: {config.api_key})", flush=True)
    run(host=args.host, port=args.port, config=config)
    return EXIT_OK


def _smoke(args: argparse.Namespace) -> int:
    from aigateway.smoke import SmokeOptions, run_smoke

    if not args.key:
        raise GatewayError("smoke needs a project key: --key KEY or GATEWAY_SMOKE_KEY")
    results, table = run_smoke(
        SmokeOptions(
            base_url=args.base_url,
            key=args.key,
            codex_model=args.codex_model,
            embeddings_model=args.embeddings_model,
            embeddings_dimensions=args.embeddings_dimensions,
            timeout=args.timeout,
        )
    )
    print(table, flush=True)
    if not all(r.ok for r in results):
        print("aigateway smoke: FAILED", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _probe(args: argparse.Namespace) -> int:
    from aigateway.probe import CASE_NAMES, ProbeOptions, render_json, render_matrix, run_probe

    key = next((os.environ[v] for v in PROBE_KEY_VARIABLES if os.environ.get(v)), "")
    if not key:
        print(f"aigateway probe: no key: set {' or '.join(PROBE_KEY_VARIABLES)}", file=sys.stderr)
        return EXIT_USAGE
    unknown = sorted(set(args.case) - set(CASE_NAMES))
    if unknown:
        print(f"aigateway probe: unknown case {', '.join(unknown)} (cases: {', '.join(CASE_NAMES)})", file=sys.stderr)
        return EXIT_USAGE
    results = run_probe(
        ProbeOptions(
            base_url=args.base_url,
            key=key,
            model=args.model,
            embeddings_model=args.embeddings_model,
            embeddings_dimensions=args.embeddings_dimensions,
            keepalive_seconds=args.keepalive_seconds,
            budget_seconds=args.budget_seconds,
            cases=tuple(args.case),
        )
    )
    print(render_json(results) if args.json else render_matrix(results), flush=True)
    if not all(r.ok for r in results):
        print("aigateway probe: FAILED", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _usage(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from aigateway import usage

    default_since = None if args.file is not None else timedelta(hours=24)
    window = usage.time_window(args.since, args.start, args.end, default_since=default_since)
    if args.file is not None:
        rows, source = usage.usage_from_file(args.file, window), args.file
    else:
        rows, source = usage.usage_from_workspace(args.workspace, window), "Log Analytics"
    if args.json:
        print(usage.render_json(rows), flush=True)
    elif args.csv:
        print(usage.render_csv(rows), flush=True)
    else:
        print(usage.render_table(rows, window, source), flush=True)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "emulator":
            return _emulator(args)
        if args.command == "smoke":
            return _smoke(args)
        if args.command == "probe":
            return _probe(args)
        if args.command == "usage":
            return _usage(args)
        print(
            render(
                args.client,
                args.base_url,
                args.codex_model,
                args.embeddings_model,
                args.embeddings_dimensions,
            )
        )
        return EXIT_OK
    except GatewayError as exc:
        print(f"aigateway: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
