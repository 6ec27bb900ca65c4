"""The gateway around LiteLLM: ASGI front, auth hook, upstream transport, telemetry."""
