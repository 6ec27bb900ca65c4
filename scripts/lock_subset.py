#!/usr/bin/env python3
"""Print the entries (with their hashes) of some packages from a pip-compile/uv lock file.

    python3 scripts/lock_subset.py requirements/dev.lock hatchling packaging pathspec pluggy trove-classifiers

The Dockerfile uses it to install the build backend (hatchling, locked in requirements/dev.lock) with
`--require-hashes`, so building the package wheel needs no unpinned build environment. Exits 1 naming any
package that is not in the lock file. Standard library only (runs in the bare base image).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(lock_text: str) -> dict[str, str]:
    """Map normalised package name -> its requirement block (the `name==version \\` line and hash lines)."""
    blocks: dict[str, str] = {}
    current = ""
    for line in lock_text.splitlines():
        if re.match(r"^[A-Za-z0-9]", line):
            current = normalise(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0])
            blocks[current] = line
        elif line.startswith("    --hash=") and current:
            blocks[current] += "\n" + line
        elif not line.startswith(" "):
            current = ""
    return blocks


def main(argv: Sequence[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    blocks = entries(Path(argv[0]).read_text(encoding="utf-8"))
    missing = [name for name in argv[1:] if normalise(name) not in blocks]
    if missing:
        print(f"error: not in {argv[0]}: {', '.join(missing)}", file=sys.stderr)
        return 1
    for name in argv[1:]:
        print(blocks[normalise(name)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
