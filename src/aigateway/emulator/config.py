"""Emulator configuration: deployments, rate limits and faults, from code or `EMULATOR_*` variables."""

from __future__ import annotations

import os
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

RouteKind = Literal["responses", "chat", "embeddings"]
ALL_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
# In-band stream failures: a flat `error` event, `response.failed`, or Azure's nested rate-limit `error` event.
StreamFailure = Literal["response.failed", "error", "rate_limit_error"]


class Deployment(BaseModel):
    """One Azure deployment. `kind` is what the underlying model can do.

    - `responses`: Responses API only (codex models); chat completions answer Azure's OperationNotSupported.
    - `chat`: chat completions *and* Responses (gpt-4o style).
    - `embeddings`: embeddings only.
    """

    model_config = ConfigDict(extra="forbid")

    model: str
    kind: Literal["responses", "chat", "embeddings"]
    dimensions: int | None = None
    model_version: str = "1"
    # Reasoning models (gpt-5*, codex, o-series) emit a reasoning item and reject `temperature`.
    reasoning: bool = False
    # Per-deployment quota; None = unlimited (the default, like an emulator should be).
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    # What the model accepts, enforced in strict mode (docs/emulator.md "Strict mode" cites the sources).
    verbosities: list[str] = Field(default_factory=lambda: ["low", "medium", "high"])  # text.verbosity
    efforts: list[str] = Field(default_factory=lambda: list(ALL_EFFORTS))  # reasoning.effort
    prompt_cache_retention: list[str] = Field(default_factory=list)  # [] = the parameter is refused
    service_tiers: list[str] = Field(default_factory=lambda: ["auto", "default"])
    min_output_tokens: int = 16

    @property
    def versioned_model(self) -> str:
        """What Azure puts in `model` of a response: the model and its version, not the deployment."""
        if self.kind == "embeddings":
            return self.model
        return f"{self.model}-{self.model_version}"

    def supports(self, route: RouteKind) -> bool:
        if route == "embeddings":
            return self.kind == "embeddings"
        if route == "chat":
            return self.kind == "chat"
        return self.kind in ("responses", "chat")


def default_deployments() -> dict[str, Deployment]:
    return {
        "gpt-5.3-codex": Deployment(
            model="gpt-5.3-codex",
            kind="responses",
            model_version="2026-02-24",
            reasoning=True,
            verbosities=["medium"],
            efforts=["low", "medium", "high", "xhigh"],
        ),
        "gpt-4o": Deployment(model="gpt-4o", kind="chat", model_version="2024-08-06"),
        "text-embedding-3-small": Deployment(
            model="text-embedding-3-small", kind="embeddings", dimensions=1536, model_version="1"
        ),
        "text-embedding-3-large": Deployment(
            model="text-embedding-3-large", kind="embeddings", dimensions=3072, model_version="1"
        ),
    }


class ScriptedResponse(BaseModel):
    """One forced outcome for the next matching request (consumed once).

    `status` 200 means "answer normally", which still lets the one-shot stream faults below apply.
    """

    model_config = ConfigDict(extra="forbid")

    status: int = Field(default=200, ge=100, le=599)
    route: RouteKind | None = None
    retry_after: int | None = Field(default=None, ge=0)
    retry_after_ms: int | None = Field(default=None, ge=0)
    omit_retry_after: bool = False
    body: dict[str, object] | None = None
    latency_ms: float = Field(default=0, ge=0)
    hang_ms: float = Field(default=0, ge=0)
    reset_before_first_byte: bool = False
    disconnect_after_events: int | None = Field(default=None, ge=0)
    stream_failure: StreamFailure | None = None
    stream_failure_after_events: int = Field(default=3, ge=0)


class Faults(BaseModel):
    """Failure and latency injection; replaceable at run time through `PUT /_emulator/faults`."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0, ge=0)
    stream_event_delay_ms: float = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_status: int = Field(default=500, ge=400, le=599)
    seed: int | None = None
    script: list[ScriptedResponse] = Field(default_factory=list)
    disconnect_after_events: int | None = Field(default=None, ge=0)
    reset_before_first_byte: bool = False
    hang_ms: float = Field(default=0, ge=0)
    stream_failure: StreamFailure | None = None
    stream_failure_after_events: int = Field(default=3, ge=0)
    # Restrict the persistent faults (not the script, which has its own `route`) to some routes.
    routes: list[RouteKind] | None = None

    def applies_to(self, route: RouteKind) -> bool:
        return self.routes is None or route in self.routes


class EmulatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str = "emulator-key"
    region: str = "South Africa North"
    deployments: dict[str, Deployment] = Field(default_factory=default_deployments)
    faults: Faults = Field(default_factory=Faults)
    max_recorded_requests: int = Field(default=2000, ge=0)
    # Azure's body validation (emulator/strict.py); False accepts what Azure would refuse.
    strict: bool = True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> EmulatorConfig:
        """Build a config from `EMULATOR_*` variables; a bad value raises ValueError naming the variable."""
        env = dict(os.environ) if environ is None else environ
        config = cls()
        if key := env.get("EMULATOR_API_KEY"):
            config.api_key = key
        if region := env.get("EMULATOR_REGION"):
            config.region = region
        if raw := env.get("EMULATOR_STRICT"):
            config.strict = _parse_bool("EMULATOR_STRICT", raw)
        if raw := env.get("EMULATOR_MAX_RECORDED_REQUESTS"):
            config.max_recorded_requests = int(_parse(int, "EMULATOR_MAX_RECORDED_REQUESTS", raw))
        if raw := env.get("EMULATOR_DEPLOYMENTS"):
            extra = _parse_json("EMULATOR_DEPLOYMENTS", raw)
            if not isinstance(extra, dict):
                raise ValueError("EMULATOR_DEPLOYMENTS must be a JSON object {name: deployment}")
            try:
                for name, spec in extra.items():
                    config.deployments[name] = Deployment.model_validate(spec)
            except ValidationError as exc:
                raise ValueError(f"EMULATOR_DEPLOYMENTS is invalid: {exc}") from exc
        for var, field in (("EMULATOR_RPM", "rpm"), ("EMULATOR_TPM", "tpm")):
            if raw := env.get(var):
                value = int(_parse(int, var, raw))
                for dep in config.deployments.values():
                    if getattr(dep, field) is None:
                        setattr(dep, field, value)
        faults: dict[str, object] = {}
        if raw := env.get("EMULATOR_FAULTS"):
            parsed = _parse_json("EMULATOR_FAULTS", raw)
            if not isinstance(parsed, dict):
                raise ValueError("EMULATOR_FAULTS must be a JSON object")
            faults.update(parsed)
        for var, field, cast in (
            ("EMULATOR_LATENCY_MS", "latency_ms", float),
            ("EMULATOR_STREAM_EVENT_DELAY_MS", "stream_event_delay_ms", float),
            ("EMULATOR_ERROR_RATE", "error_rate", float),
            ("EMULATOR_ERROR_STATUS", "error_status", int),
            ("EMULATOR_SEED", "seed", int),
        ):
            if raw := env.get(var):
                faults[field] = _parse(cast, var, raw)
        try:
            config.faults = Faults.model_validate(faults)
        except ValidationError as exc:
            raise ValueError(f"EMULATOR_* fault settings are invalid: {exc}") from exc
        return config


def _parse(cast: type[int] | type[float], var: str, raw: str) -> int | float:
    try:
        return cast(raw)
    except ValueError:
        raise ValueError(f"{var} must be a number, got {raw!r}") from None


def _parse_bool(var: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{var} must be true or false, got {raw!r}")


def _parse_json(var: str, raw: str) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError(f"{var} is not valid JSON") from None
