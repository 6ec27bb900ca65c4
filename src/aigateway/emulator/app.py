"""The emulator's ASGI application."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from aigateway.emulator import control, errors
from aigateway.emulator.api import ApiEndpoint
from aigateway.emulator.config import EmulatorConfig
from aigateway.emulator.state import EmulatorState
from aigateway.emulator.wire import RAW_SEND_KEY, Ctx


class EmulatorApp(Starlette):
    """Starlette, plus the server's own `send` kept in the scope.

    Starlette's middleware wraps `send`; the fault that breaks a connection needs the unwrapped one, which
    (under uvicorn) leads to the TCP transport.
    """

    state_: EmulatorState

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[RAW_SEND_KEY] = send
        await super().__call__(scope, receive, send)


def _api_routes(state: EmulatorState) -> list[Route]:
    def ep(family: str, operation: str) -> ApiEndpoint:
        return ApiEndpoint(state, family, operation)  # type: ignore[arg-type]

    v1 = "/openai/v1"
    return [
        Route(f"{v1}/responses", ep("v1", "responses"), methods=["POST"]),
        Route(f"{v1}/responses/{{response_id}}", ep("v1", "response.get"), methods=["GET"]),
        Route(f"{v1}/responses/{{response_id}}", ep("v1", "response.delete"), methods=["DELETE"]),
        Route(f"{v1}/responses/{{response_id}}/cancel", ep("v1", "response.cancel"), methods=["POST"]),
        Route(f"{v1}/responses/{{response_id}}/input_items", ep("v1", "response.input_items"), methods=["GET"]),
        Route(f"{v1}/chat/completions", ep("v1", "chat"), methods=["POST"]),
        Route(f"{v1}/embeddings", ep("v1", "embeddings"), methods=["POST"]),
        Route(f"{v1}/models", ep("v1", "models"), methods=["GET"]),
        Route("/openai/deployments/{deployment}/chat/completions", ep("dated", "chat"), methods=["POST"]),
        Route("/openai/deployments/{deployment}/embeddings", ep("dated", "embeddings"), methods=["POST"]),
        Route("/openai/deployments/{deployment}/responses", ep("dated", "responses"), methods=["POST"]),
        Route("/openai/responses", ep("dated", "responses"), methods=["POST"]),
        Route("/openai/responses/{response_id}", ep("dated", "response.get"), methods=["GET"]),
        Route("/openai/responses/{response_id}", ep("dated", "response.delete"), methods=["DELETE"]),
        Route("/openai/responses/{response_id}/cancel", ep("dated", "response.cancel"), methods=["POST"]),
        Route("/openai/responses/{response_id}/input_items", ep("dated", "response.input_items"), methods=["GET"]),
        Route("/openai/models", ep("dated", "models"), methods=["GET"]),
    ]


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    state = EmulatorState(config or EmulatorConfig())

    async def azure_http_error(request: Request, exc: Exception) -> Response:
        # Unknown paths and methods answer in Azure's shape and headers, not Starlette's plain text.
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        body = errors.METHOD_NOT_ALLOWED if status == 405 else errors.RESOURCE_NOT_FOUND
        ctx = Ctx(region=state.config.region, client_request_id=request.headers.get("x-ms-client-request-id"))
        headers = {k.decode(): v.decode() for k, v in ctx.headers()}
        return Response(errors.dumps(body), status_code=404 if status != 405 else 405, headers=headers)

    app = EmulatorApp(
        routes=[*_api_routes(state), *control.routes(state)],
        exception_handlers={404: azure_http_error, 405: azure_http_error},
    )
    app.state_ = state
    app.state.emulator = state
    return app
