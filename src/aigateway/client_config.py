"""Ready-to-paste settings for each client, for a given gateway base URL."""

from __future__ import annotations

from typing import Literal

Client = Literal["roo", "codex", "openai-sdk"]
CLIENTS: tuple[Client, ...] = ("roo", "codex", "openai-sdk")


def _root(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base[:-3] if base.endswith("/v1") else base


def render(client: Client, base_url: str, codex_model: str, embeddings_model: str, dimensions: int = 1536) -> str:
    root = _root(base_url)
    v1 = root + "/v1"
    if client == "roo":
        return f"""Roo Code -> Settings -> Providers (chat with the codex model)

  Option A (recommended): API Provider "OpenAI" (native, speaks the Responses API)
    Use custom base URL:  [x]  {root}
                          (no trailing /v1: Roo adds /v1 on its retry path and would call /v1/v1/...)
    API Key:              <your project key>
    Model:                {codex_model}   (must be one of Roo's built-in OpenAI model ids)

  Option B: API Provider "OpenAI Compatible" (Chat Completions, bridged by the gateway)
    Base URL:             {v1}
    API Key:              <your project key>
    Model:                {codex_model}
    Use Azure:            [ ] off   (the gateway speaks OpenAI, not Azure)
    Temperature:          leave default (the gateway drops it for codex)

Roo Code -> Codebase Indexing (embeddings)
    Embedder Provider:    OpenAI Compatible
    Base URL:             {v1}
    API Key:              <your project key>
    Model:                {embeddings_model}
    Model Dimension:      {dimensions}
"""
    if client == "codex":
        return f"""# ~/.codex/config.toml
model = "{codex_model}"
model_provider = "pvc-gateway"

[model_providers.pvc-gateway]
name = "PVC AI Gateway"
base_url = "{v1}"
env_key = "PVC_GATEWAY_KEY"      # export PVC_GATEWAY_KEY=<your project key>
wire_api = "responses"
# The gateway retries Azure's 429/5xx itself; keep Codex's own retries modest.
request_max_retries = 2
stream_max_retries = 2
"""
    return f"""# pip install openai
import os
from openai import OpenAI

client = OpenAI(base_url="{v1}", api_key=os.environ["PVC_GATEWAY_KEY"])

reply = client.responses.create(model="{codex_model}", input="Say hello")
print(reply.output_text)

vectors = client.embeddings.create(model="{embeddings_model}", input=["def main(): ..."])
print(len(vectors.data[0].embedding))  # {dimensions}
"""
