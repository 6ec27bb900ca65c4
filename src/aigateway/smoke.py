"""The smoke suite: the single definition of "the gateway works", run against any gateway URL.

The same checks run against the local stack in tests, against the container image in CI and against
each environment after every deploy. Clients are the official `openai` SDK, like the users' tools.
"""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import openai
from openai import OpenAI

SMOKE_PROMPT = "Reply with one short sentence: is the gateway up?"


@dataclass(frozen=True)
class SmokeOptions:
    base_url: str
    key: str
    codex_model: str = "gpt-5.3-codex"
    embeddings_model: str = "text-embedding-3-small"
    embeddings_dimensions: int = 1536
    timeout: float = 120.0


@dataclass
class CheckResult:
    name: str
    ok: bool
    seconds: float
    detail: str


def _api_base(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


def _root(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base[:-3] if base.endswith("/v1") else base


def _describe(exc: Exception) -> str:
    if isinstance(exc, openai.AuthenticationError):
        return "401: the gateway rejected the key (check --key)"
    if isinstance(exc, openai.APIStatusError):
        message = exc.message if len(exc.message) < 200 else exc.message[:200] + "..."
        return f"{exc.status_code}: {message}"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect: {exc.__cause__ or exc}"
    return f"{type(exc).__name__}: {exc}"


class SmokeSuite:
    def __init__(self, options: SmokeOptions) -> None:
        self.o = options
        self.client = OpenAI(
            base_url=_api_base(options.base_url), api_key=options.key, timeout=options.timeout, max_retries=1
        )

    def checks(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("readiness probe (no key)", self.readiness),
            ("unauthenticated request gets 401", self.rejects_missing_key),
            ("models.list lists both aliases", self.models),
            ("responses.create", self.responses),
            ("responses.create stream", self.responses_stream),
            ("chat.completions stream, tools, temperature=0", self.chat_bridge),
            ("embeddings base64", self.embeddings),
        ]

    def run(self) -> list[CheckResult]:
        results = []
        for name, check in self.checks():
            start = time.perf_counter()
            try:
                detail, ok = check(), True
            except Exception as exc:  # every failure becomes a row, the suite goes on
                detail, ok = _describe(exc), False
            results.append(CheckResult(name, ok, time.perf_counter() - start, detail))
        return results

    def readiness(self) -> str:
        response = httpx.get(_root(self.o.base_url) + "/health/readiness", timeout=self.o.timeout)
        if response.status_code != 200:
            raise AssertionError(f"readiness answered {response.status_code}")
        return "200"

    def rejects_missing_key(self) -> str:
        response = httpx.get(_api_base(self.o.base_url) + "/models", timeout=self.o.timeout)
        if response.status_code != 401:
            raise AssertionError(f"expected 401 without a key, got {response.status_code}")
        if "error" not in response.json():
            raise AssertionError("401 body is not an OpenAI-shaped error")
        return "401 JSON error"

    def models(self) -> str:
        ids = {m.id for m in self.client.models.list()}
        missing = {self.o.codex_model, self.o.embeddings_model} - ids
        if missing:
            raise AssertionError(f"missing aliases: {', '.join(sorted(missing))}")
        return ", ".join(sorted(ids))

    def responses(self) -> str:
        response = self.client.responses.create(model=self.o.codex_model, input=SMOKE_PROMPT)
        if not response.output_text:
            raise AssertionError("empty output_text")
        usage = response.usage
        if usage is None or not isinstance(usage.total_tokens, int):
            raise AssertionError("no integer usage.total_tokens")
        return f"{usage.total_tokens} tokens"

    def responses_stream(self) -> str:
        kinds: list[str] = []
        with self.client.responses.stream(model=self.o.codex_model, input=SMOKE_PROMPT) as stream:
            for event in stream:
                kinds.append(event.type)
            final = stream.get_final_response()
        if "response.completed" not in kinds:
            raise AssertionError("stream ended without response.completed")
        if not final.usage or not isinstance(final.usage.total_tokens, int):
            raise AssertionError("response.completed without integer usage")
        return f"{len(kinds)} events, completed"

    def chat_bridge(self) -> str:
        stream = self.client.chat.completions.create(
            model=self.o.codex_model,
            messages=[
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": SMOKE_PROMPT},
            ],
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "read_file",
                        "description": "Read a file",
                        "parameters": {
                            "type": "object",
                            "properties": {"path": {"type": "string"}},
                            "required": ["path"],
                            "additionalProperties": False,
                        },
                        "strict": True,
                    },
                }
            ],
        )
        finish, usage, chunks = None, None, 0
        for chunk in stream:
            chunks += 1
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
            usage = chunk.usage or usage
        if finish is None:
            raise AssertionError("stream ended without finish_reason")
        if usage is None:
            raise AssertionError("no usage chunk despite include_usage")
        return f"{chunks} chunks, finish={finish}, {usage.total_tokens} tokens"

    def embeddings(self) -> str:
        response = self.client.embeddings.with_raw_response.create(
            model=self.o.embeddings_model,
            input=["def hello():", "    return 'world'"],
            encoding_format="base64",
        )
        data = response.http_response.json()["data"]
        raws = [base64.b64decode(d["embedding"]) for d in data]
        vectors = [struct.unpack(f"<{len(raw) // 4}f", raw) for raw in raws]
        if len(vectors) != 2 or any(len(v) != self.o.embeddings_dimensions for v in vectors):
            raise AssertionError(f"expected 2 vectors of {self.o.embeddings_dimensions} floats")
        return f"2 x {self.o.embeddings_dimensions} floats"


def format_table(results: list[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"{'check'.ljust(width)}  result  time     detail", "-" * (width + 40)]
    for r in results:
        lines.append(f"{r.name.ljust(width)}  {'PASS' if r.ok else 'FAIL'}    {r.seconds:6.2f}s  {r.detail}")
    failed = sum(not r.ok for r in results)
    lines.append("")
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines)


def run_smoke(options: SmokeOptions) -> tuple[list[CheckResult], str]:
    results = SmokeSuite(options).run()
    return results, format_table(results)
