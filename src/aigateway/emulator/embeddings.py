"""Embeddings: validation with Azure's limits and bodies, and cheap deterministic unit vectors.

Benchmarks use the emulator as a zero-latency upstream, so vectors are not generated per request: each text
hashes to one of a small pool of precomputed unit vectors plus a cyclic rotation (a rotation keeps the norm),
which makes a 60-item base64 request a handful of memcpy-sized operations.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import sys
from array import array
from typing import Any

from aigateway.emulator import errors
from aigateway.emulator.config import Deployment
from aigateway.emulator.tokens import estimate
from aigateway.emulator.wire import JsonReply

MAX_INPUTS = 2048
MAX_TOKENS_PER_INPUT = 8192
_POOL_SIZE = 64
_pools: dict[int, list[array[float]]] = {}


def _pool(dim: int) -> list[array[float]]:
    pool = _pools.get(dim)
    if pool is None:
        rng = random.Random(dim)  # noqa: S311 - deterministic test vectors, not security
        raw = array("h")
        raw.frombytes(rng.randbytes(2 * dim * _POOL_SIZE))
        pool = []
        for row in range(_POOL_SIZE):
            values = raw[row * dim : (row + 1) * dim]
            norm = math.sqrt(sum(v * v for v in values)) or 1.0
            pool.append(array("f", [v / norm for v in values]))
        _pools[dim] = pool
    return pool


def warm(dims: set[int]) -> None:
    """Build the vector pools up front (about 0.1 s per dimension) so the first request is not the slow one."""
    for dim in dims:
        _pool(dim)


def vector(text: str, dim: int) -> array[float]:
    """The same text always gives the same unit vector (float32) of `dim` values."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    base = _pool(dim)[digest[0] % _POOL_SIZE]
    shift = int.from_bytes(digest[1:5], "little") % dim
    return base[shift:] + base[:shift]


def _as_base64(vec: array[float]) -> str:
    if sys.byteorder != "little":  # the wire format is little-endian float32
        vec = array("f", vec)
        vec.byteswap()
    return base64.b64encode(vec.tobytes()).decode("ascii")


def _items(raw: Any) -> list[tuple[str, int]] | None:
    """(hash key, token count) per input item, or None when the input is not a valid shape."""
    if isinstance(raw, str):
        return [(raw, estimate(raw))] if raw else None
    if not isinstance(raw, list) or not raw:
        return None
    if all(isinstance(t, int) for t in raw):  # a single token array
        return [(repr(raw), len(raw))]
    out: list[tuple[str, int]] = []
    for item in raw:
        if isinstance(item, str) and item:
            out.append((item, estimate(item)))
        elif isinstance(item, list) and item and all(isinstance(t, int) for t in item):
            out.append((repr(item), len(item)))
        else:
            return None
    return out


def prompt_cost(body: dict[str, Any]) -> int:
    items = _items(body.get("input"))
    return sum(t for _, t in items) if items else 0


def create(body: dict[str, Any], dep: Deployment) -> JsonReply:
    raw = body.get("input")
    if isinstance(raw, list) and len(raw) > MAX_INPUTS:
        return JsonReply(400, errors.TOO_MANY_EMBEDDING_INPUTS)
    items = _items(raw)
    if items is None:
        return JsonReply(400, errors.INVALID_INPUT)
    for _, tokens in items:
        if tokens > MAX_TOKENS_PER_INPUT:
            return JsonReply(400, errors.context_length_exceeded(tokens))
    native = dep.dimensions or 1536
    dim = native
    requested = body.get("dimensions")
    if requested is not None:
        if not dep.model.startswith("text-embedding-3"):
            return JsonReply(400, errors.invalid_request("This model does not support specifying dimensions."))
        if not isinstance(requested, int) or isinstance(requested, bool) or not 1 <= requested <= native:
            return JsonReply(
                400,
                errors.invalid_request(
                    f"Invalid value for 'dimensions' = {requested}. Must be between 1 and {native}.",
                    param="dimensions",
                ),
            )
        dim = requested
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        return JsonReply(
            400,
            errors.invalid_request(
                f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'.",
                param="encoding_format",
            ),
        )
    data: list[dict[str, Any]] = []
    for index, (key, _) in enumerate(items):
        vec = vector(key, dim)
        embedding: Any = _as_base64(vec) if fmt == "base64" else vec.tolist()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(t for _, t in items)
    return JsonReply(
        200,
        {
            "object": "list",
            "data": data,
            "model": dep.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
    )
