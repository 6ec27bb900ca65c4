"""Every log line the process writes is one JSON object, and none carries request content.

Besides the per-request telemetry line, libraries log: LiteLLM (its errors quote Azure's error body, which
can echo the prompt, and come with multi-line tracebacks), uvicorn (an exception in the app, a malformed
request), asyncio, Python warnings (pydantic's quote the values they were given). `install()` sends them all
through `JsonLogHandler`, which keeps the logger, the level and the exception's class; the message only from
the gateway's own loggers (written to carry no request content) and uvicorn's (its fixed sentence, without
the arguments); never another library's message, an exception's text or a traceback.
"""

from __future__ import annotations

import logging
import sys
import warnings
from datetime import UTC, datetime
from typing import Final

import orjson

_OWN: Final = "aigateway"  # the gateway's loggers: whole message kept (they never log request content)
_TEMPLATE_KEPT: Final = "uvicorn"  # the message template, never its arguments (addresses, exceptions)
# Loggers that get the JSON handler directly (they have handlers of their own or do not propagate).
_LIBRARY_LOGGERS: Final = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "uvicorn", "uvicorn.error")


class JsonLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.name.startswith(_OWN):
                message: str | None = record.getMessage()[:500]
            elif record.name.startswith(_TEMPLATE_KEPT):
                message = str(record.msg)[:200]
            else:
                message = None
            line = {
                "event": "log",
                "ts": datetime.fromtimestamp(record.created, UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "level": record.levelname,
                "logger": record.name,
                "message": message,
                "exception": record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None,
            }
            sys.stdout.buffer.write(orjson.dumps(line) + b"\n")
            sys.stdout.buffer.flush()
        except Exception:
            self.handleError(record)


def install(level: int = logging.WARNING) -> None:
    """Route the root logger, the libraries' own loggers and Python warnings through JsonLogHandler."""
    handler = JsonLogHandler(level)
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for existing in list(logger.handlers):
            logger.removeHandler(existing)
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(max(level, logger.level))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # the gateway writes its own request line
    # pydantic warns while LiteLLM serialises usage objects it built itself: noise on every stream.
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings")
    logging.captureWarnings(True)
