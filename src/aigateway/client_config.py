"""Ready-to-paste settings for each client, for a given gateway base URL."""

from __future__ import annotations

import json
from typing import Literal

Client = Literal["roo", "codex", "qoder", "openai-sdk"]
CLIENTS: tuple[Client, ...] = ("roo", "codex", "qoder", "openai-sdk")

# gpt-5.3-codex on Azure: 400k context (272k in, 128k out); the gateway clamps output to its ceiling
# (GATEWAY_MAX_OUTPUT_TOKENS, default 32000), so clients are told that ceiling, not the model's 128k.
CODEX_CONTEXT_WINDOW = 400_000
CODEX_MAX_OUTPUT_TOKENS = 32_000
CODEX_EFFORT_LEVELS = ("low", "medium", "high", "xhigh")
QODER_ACCESS = (
    "Qoder custom providers need a signed-in Qoder account whose plan enables custom-URL BYOK "
    "(bring your own key with a custom base URL); Qoder's own codebase indexing stays on Qoder's service."
)


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
    Use Azure:            [ ] off   (recommended; "on" also works: the gateway serves Azure's
                                     /deployments/<model>/chat/completions path with the api-key header)
    Temperature:          leave default (the gateway drops it for codex)

Roo Code -> Codebase Indexing (embeddings)
    Prerequisite:         a Qdrant vector store: Roo needs its URL (e.g. http://localhost:6333 from
                          `docker run -p 6333:6333 qdrant/qdrant`) and, if it has one, its API key.
                          The gateway serves only the embeddings; indexing stays off without Qdrant.
    Embedder Provider:    OpenAI Compatible
    Base URL:             {v1}
    API Key:              <your project key>
    Model:                {embeddings_model}
    Model Dimension:      {dimensions}
    Qdrant URL:           <your Qdrant URL>
    Qdrant API Key:       <your Qdrant key, if any>
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
    if client == "qoder":
        return _qoder(v1, codex_model)
    return f"""# pip install openai
import os
from openai import OpenAI

client = OpenAI(base_url="{v1}", api_key=os.environ["PVC_GATEWAY_KEY"])

reply = client.responses.create(model="{codex_model}", input="Say hello")
print(reply.output_text)

vectors = client.embeddings.create(model="{embeddings_model}", input=["def main(): ..."])
print(len(vectors.data[0].embedding))  # {dimensions}
"""


def _qoder(v1: str, codex_model: str) -> str:
    """The provider block for Qoder CLI's `~/.qoder/settings.json` (npm `@qoder-ai/qodercli` 1.1.52)."""
    provider = {
        "protocol": "openai-responses",  # posts {baseUrl}/responses
        "baseUrl": v1,
        "apiKey": "${AIGATEWAY_KEY}",
        "authType": "bearer",
        "model": codex_model,
        "models": [
            {
                "model": codex_model,
                "contextWindow": CODEX_CONTEXT_WINDOW,
                "maxOutputTokens": CODEX_MAX_OUTPUT_TOKENS,
                "capabilities": {
                    "tools": True,
                    "vision": True,
                    "thinking": {
                        "modes": ["enabled"],
                        "requiresBudgetForEnabled": False,
                        "supportsEffort": True,
                        "supportedEffortLevels": list(CODEX_EFFORT_LEVELS),
                    },
                },
            }
        ],
    }
    block = json.dumps({"providers": {"pvc-gateway": provider}}, indent=2)
    return f"""// ~/.qoder/settings.json (merge into the file; checked against Qoder CLI 1.1.52)
// export AIGATEWAY_KEY=<your project key>; then pick the model pvc-gateway/{codex_model} (/model)
// Access: {QODER_ACCESS}
{block}
"""
