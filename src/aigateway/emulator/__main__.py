"""`python -m aigateway.emulator [--host H] [--port N]`: serve the emulator, configured from EMULATOR_* vars."""

from __future__ import annotations

import argparse
import os
import sys

from aigateway.emulator.config import EmulatorConfig
from aigateway.emulator.server import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aigateway.emulator", description="Azure OpenAI emulator")
    parser.add_argument("--host", default=os.environ.get("EMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("EMULATOR_PORT", "4010")))
    args = parser.parse_args(argv)
    try:
        config = EmulatorConfig.from_env()
    except ValueError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    print(f"Azure OpenAI emulator on http://{args.host}:{args.port} (api key: {config.api_key})", flush=True)
    run(args.host, args.port, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
