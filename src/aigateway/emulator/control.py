"""The control API under `/_emulator` (no Azure auth): recorded requests, faults, limits, stats, health."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aigateway.emulator.config import Faults
from aigateway.emulator.state import EmulatorState

PREFIX = "/_emulator"


class LimitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _read_json(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None


def routes(state: EmulatorState) -> list[Route]:
    async def get_requests(_: Request) -> Response:
        return _json(state.recorder.items())

    async def clear_requests(_: Request) -> Response:
        state.recorder.clear()
        return Response(status_code=204)

    async def get_faults(_: Request) -> Response:
        return _json(state.faults.faults.model_dump())

    async def put_faults(request: Request) -> Response:
        """PUT replaces the whole fault config; PATCH changes only the fields given."""
        raw = await _read_json(request)
        if not isinstance(raw, dict):
            return _json({"error": "body must be a JSON object"}, 400)
        if request.method == "PATCH":
            raw = {**state.faults.faults.model_dump(), **raw}
        try:
            faults = Faults.model_validate(raw)
        except ValidationError as exc:
            return _json({"error": orjson.loads(exc.json())}, 400)
        state.faults.replace(faults)
        return _json(state.faults.faults.model_dump())

    async def get_limits(_: Request) -> Response:
        return _json({n: {"rpm": d.rpm, "tpm": d.tpm} for n, d in state.config.deployments.items()})

    async def put_limits(request: Request) -> Response:
        """Set per-deployment quotas at run time: `{"<deployment>": {"rpm": n, "tpm": n}}`; null = unlimited."""
        raw = await _read_json(request)
        if not isinstance(raw, dict):
            return _json({"error": "body must be a JSON object"}, 400)
        try:
            updates = {name: LimitUpdate.model_validate(v) for name, v in raw.items()}
        except ValidationError as exc:
            return _json({"error": orjson.loads(exc.json())}, 400)
        unknown = sorted(set(updates) - set(state.config.deployments))
        if unknown:
            return _json({"error": f"unknown deployments: {unknown}"}, 400)
        for name, update in updates.items():
            dep = state.config.deployments[name]
            dep.rpm, dep.tpm = update.rpm, update.tpm
        state.limiter.reset()
        return await get_limits(request)

    async def get_stats(_: Request) -> Response:
        return _json(state.stats.snapshot())

    async def reset_stats(_: Request) -> Response:
        state.stats.reset()
        return Response(status_code=204)

    async def health(_: Request) -> Response:
        return _json({"status": "ok", "deployments": sorted(state.config.deployments)})

    return [
        Route(f"{PREFIX}/requests", get_requests, methods=["GET"]),
        Route(f"{PREFIX}/requests", clear_requests, methods=["DELETE"]),
        Route(f"{PREFIX}/faults", get_faults, methods=["GET"]),
        Route(f"{PREFIX}/faults", put_faults, methods=["PUT", "PATCH"]),
        Route(f"{PREFIX}/limits", get_limits, methods=["GET"]),
        Route(f"{PREFIX}/limits", put_limits, methods=["PUT"]),
        Route(f"{PREFIX}/stats", get_stats, methods=["GET"]),
        Route(f"{PREFIX}/stats", reset_stats, methods=["DELETE"]),
        Route(f"{PREFIX}/health", health, methods=["GET"]),
    ]
