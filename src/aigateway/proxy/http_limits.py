"""Bounds on a connection before a request reaches the front: header size and the time to send headers.

uvicorn's httptools protocol has neither: it buffers a request's headers however large (a 400 MB header
was accepted, ~500 MB of RSS) and waits for them however long, and its keep-alive timer only runs between
requests. This subclass, handed to uvicorn as its HTTP protocol class, adds both while the headers arrive:

- more than `max_header_bytes` of request line and headers: 431 with an OpenAI-shaped body, connection
  closed. Raw bytes are counted as they are received (so a single endless header is cut off after at most
  one socket read past the limit, never buffered whole), and the parsed request line and headers are counted
  too (so headers that arrive together with their body in one read are held to the same limit);
- headers not complete `header_timeout` seconds after the connection opened or the request's first byte:
  408 (or a plain close if not a byte of it came), connection closed.

The body's own timeout is the front's (`GATEWAY_BODY_TIMEOUT_SECONDS`, in `request_body.BodyReader.read`): only the
front knows when it is waiting for one. The idle keep-alive timeout is uvicorn's `timeout_keep_alive`.
Why not uvicorn's h11 protocol, which has a header size limit: httptools parses several times faster, and
h11 has no header timeout either.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from aigateway.proxy.asgi import error_body
from aigateway.proxy.telemetry import RequestRecord, emit

# After an early answer the client may still be sending (the rest of an oversized header). Closing with
# unread input makes the kernel reset the connection, and a reset can destroy our answer before the client
# reads it; so the gateway stops writing, discards input for this long, then closes.
LINGER_SECONDS = 2.0
UNPARSED_ROUTE = "(unparsed)"  # the telemetry route of a request refused before it had a route


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int
    header_timeout_seconds: float


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_headers = True  # between a request's first byte (or the connection's) and its headers' end
        self._raw_header_bytes = 0
        self._parsed_header_bytes = 0
        self._message_begun = False
        self._headers_too_large = False
        self._answered = False  # an early answer went out: input is discarded until the connection closes
        self._header_timer: asyncio.TimerHandle | None = None

    # --- connection ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()  # a new connection owes its first request's headers within the timeout

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._answered:
            return
        if self._awaiting_headers:
            self._raw_header_bytes += len(data)
        super().data_received(data)
        if (
            self._awaiting_headers
            and (self._headers_too_large or self._raw_header_bytes > self.limits.max_header_bytes)
            and not self._answered
            and not self.transport.is_closing()
        ):
            self._refuse_headers_too_large()

    def handle_websocket_upgrade(self) -> None:
        if not self._answered:  # an upgrade request refused for its size stays refused
            super().handle_websocket_upgrade()

    # --- parser callbacks ---------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers = self._message_begun = True
        self._parsed_header_bytes = 0
        if self._header_timer is None:
            self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count_parsed(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_parsed(len(name) + len(value) + 4)  # "name: value\r\n"
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_headers = self._message_begun = False
        self._raw_header_bytes = 0
        self._cancel_header_timer()
        if self._headers_too_large:
            self._refuse_headers_too_large()  # and the request never reaches the app
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._answered:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._answered:
            return
        super().on_message_complete()
        self._awaiting_headers = True  # what follows on this connection is the next request's headers

    def _count_parsed(self, size: int) -> None:
        # Only noted here: the parser runs to the end of the read it was given (the refusal comes after it, or
        # at the end of the headers if they end in this read), so no exception has to cross the C parser.
        self._parsed_header_bytes += size
        if self._parsed_header_bytes > self.limits.max_header_bytes:
            self._headers_too_large = True

    # --- early answers ------------------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.limits.header_timeout_seconds, self._headers_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self._answered:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request behind one still being answered (a long stream): its headers can wait for
            # that answer; closing now would cut the answer off.
            self._arm_header_timer()
            return
        if not self._message_begun and self._raw_header_bytes == 0:
            self.transport.close()  # not a byte of a request: nothing to answer
            return
        seconds = f"{self.limits.header_timeout_seconds:g}"
        self._answer(408, f"The request headers did not arrive within {seconds} s.", "request_timeout")

    def _refuse_headers_too_large(self) -> None:
        message = (
            f"The request line and headers are larger than the gateway's limit of {self.limits.max_header_bytes} bytes."
        )
        self._answer(431, message, "request_header_fields_too_large")

    def _answer(self, status: int, message: str, code: str) -> None:
        """Answer the request whose headers are arriving, close the connection, and write its telemetry line."""
        self._answered = True
        self._cancel_header_timer()
        record = RequestRecord(request_id=secrets.token_hex(8), route=UNPARSED_ROUTE, method="-")
        record.status, record.error_class, record.error_source = status, code, "gateway"
        emit(record)
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined earlier request is still being answered: ours cannot be written in between.
            self.transport.close()
            return
        body = error_body(message, "invalid_request_error", code)
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"x-request-id: " + record.request_id.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def protocol_class(limits: HttpLimits) -> type[HttpToolsProtocol]:
    """The class to pass as uvicorn.Config(http=...): uvicorn builds one instance per connection itself."""

    class Configured(BoundedHttpToolsProtocol):
        pass

    Configured.limits = limits
    return Configured
