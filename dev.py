#!/usr/bin/env python3
"""Developer entry point: the two commands of the README, plus the lock refresh.

    python3 dev.py serve   # set up .venv if needed, run the gateway (embedded emulator unless Azure is configured)
    python3 dev.py test    # set up .venv and test tools if needed, run every test
    python3 dev.py lock    # re-resolve requirements/*.lock from pyproject.toml (with hashes)

Only the standard library is used here: this file runs before any dependency exists.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
DEV_LOCK = ROOT / "requirements" / "dev.lock"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
STAMP = VENV / ".dev-lock.sha256"
NPM_PREFIX = ROOT / ".cache" / "npm"
# Codex CLI used by the WebSocket-fallback test; pinned like every other dependency.
CODEX_NPM_PACKAGE = "@openai/codex@0.169.0"
# openai-node at the version Roo Code v3.52.1 runs (its package.json pins ^5.12.2; clients.md measured 5.12.2):
# the client of tests/clients/roo_replica.mjs.
ROO_OPENAI_NODE_VERSION = "5.12.2"


def run(*cmd: str | os.PathLike[str], **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)  # type: ignore[call-overload]


def ensure_venv() -> None:
    """Create .venv and install the hash-locked dependencies; a no-op when the lock is unchanged."""
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11+ is required (this is {sys.version.split()[0]})")
    if not (BIN / "python").exists():
        run(sys.executable, "-m", "venv", VENV)
    digest = hashlib.sha256(DEV_LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--require-hashes", "-r", DEV_LOCK)
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", ROOT)
    STAMP.write_text(digest)


def ensure_iac_venv() -> None:
    """checkov in .venv-iac from requirements/iac.lock (its pins clash with litellm's); no-op when unchanged."""
    venv, lock_file = ROOT / ".venv-iac", ROOT / "requirements" / "iac.lock"
    stamp = venv / ".iac-lock.sha256"
    digest = hashlib.sha256(lock_file.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    if not (venv / "bin" / "python").exists():
        run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--require-hashes", "-r", lock_file)
    stamp.write_text(digest)


def ensure_test_tools() -> None:
    """System tools the tests drive for real: redis-server (shared limits), strace (the attack tests watch
    every connect() of the gateway with it), the Codex CLI and Roo Code's openai-node."""
    missing = [tool for tool in ("redis-server", "strace") if shutil.which(tool) is None]
    if missing:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            sys.exit(f"{' and '.join(missing)} missing: install (Debian: apt-get install {' '.join(missing)})")
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing)
    codex = NPM_PREFIX / "bin" / "codex"
    if not codex.exists() and shutil.which("npm") is not None:
        run("npm", "install", "--silent", "--no-fund", "--no-audit", "--prefix", NPM_PREFIX, "-g", CODEX_NPM_PACKAGE)
    openai_node = NPM_PREFIX / "lib" / "node_modules" / "openai" / "package.json"
    pinned = f'"version": "{ROO_OPENAI_NODE_VERSION}"'
    if (not openai_node.exists() or pinned not in openai_node.read_text()) and shutil.which("npm") is not None:
        package = f"openai@{ROO_OPENAI_NODE_VERSION}"
        run("npm", "install", "--silent", "--no-fund", "--no-audit", "--prefix", NPM_PREFIX, "-g", package)
    ensure_iac_venv()


def lock() -> None:
    if not (BIN / "uv").exists():
        run(BIN / "python", "-m", "pip", "install", "--quiet", "uv")
    common = ["pip", "compile", "--quiet", "--generate-hashes", "--python-version", "3.11", "pyproject.toml"]
    run(BIN / "uv", *common, "-o", RUNTIME_LOCK, cwd=ROOT)
    run(BIN / "uv", *common, "--extra", "dev", "-o", DEV_LOCK, cwd=ROOT)


def main(argv: list[str]) -> None:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "serve":
        ensure_venv()
        os.execv(BIN / "aigateway", [str(BIN / "aigateway"), "serve", *rest])
    elif command == "test":
        ensure_venv()
        ensure_test_tools()
        env = dict(os.environ, PATH=f"{BIN}:{NPM_PREFIX / 'bin'}:{os.environ.get('PATH', '')}")
        os.chdir(ROOT)
        os.execve(BIN / "python", [str(BIN / "python"), "-m", "pytest", *rest], env)
    elif command == "lock":
        if not (BIN / "python").exists():
            run(sys.executable, "-m", "venv", VENV)
        lock()
    else:
        print(__doc__)
        sys.exit(0 if command == "help" else 2)


if __name__ == "__main__":
    main(sys.argv[1:])
