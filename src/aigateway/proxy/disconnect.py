"""Answer a request unless the client leaves first: then stop waiting on Azure at once.

Both ways to Azure (the direct relay and the chat bridge) run their exchange beside a watch on the client's
channel. If the client disconnects before the last body message went out, the exchange is cancelled (which
closes the upstream connection) and the record says the client went away. Whatever the cancelled exchange
raises on its way out concerns nobody: the client is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aigateway.proxy.asgi import Message, Receive, Send
from aigateway.proxy.telemetry import RequestRecord


async def answer_unless_gone(
    exchange: Callable[[Send], Awaitable[None]],
    receive: Receive,
    send: Send,
    record: RequestRecord,
    ignored_on_cancel: tuple[type[BaseException], ...] = (Exception,),
) -> None:
    """Run `exchange(send)`; cancel it when the client disconnects before its last body message."""
    finished = False  # the last body message went out: uvicorn then reports the request as over

    async def tracked_send(message: Message) -> None:
        nonlocal finished
        finished = message["type"] == "http.response.body" and not message.get("more_body", False)
        await send(message)

    running = asyncio.ensure_future(exchange(tracked_send))
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({running, gone}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        running.cancel()
        raise
    finally:
        gone.cancel()
    if running.done() or finished:
        await running
        return
    record.client_disconnected = True
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError, *ignored_on_cancel):
        await running


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
