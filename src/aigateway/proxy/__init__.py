"""The gateway: ASGI front, direct path to Azure, chat bridge (LiteLLM as a library), limits, telemetry."""
