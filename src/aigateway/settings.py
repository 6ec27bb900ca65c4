"""Gateway settings: every knob is an environment variable, validated once at start.

`load_settings()` is the only place that reads the environment. A bad value raises `SettingsError` whose
message is one line naming the variable, which the CLI prints before exiting.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aigateway.errors import SettingsError
from aigateway.proxy.model_profile import OPEN, ModelProfile, default_profile

DEFAULT_LOCAL_KEY = "sk-local-dev"
LOCAL_PROJECT = "local"
PROJECT_KEY_PREFIX = "GATEWAY_KEY_"
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_DATED_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_V1_API_VERSIONS = frozenset({"v1", "preview", "latest"})
MIN_KEY_LENGTH = 12


class ExtraModel(BaseModel):
    """One more Azure deployment exposed under an alias."""

    alias: str = Field(min_length=1)
    deployment: str = Field(min_length=1)
    kind: Literal["responses", "embeddings"]
    # The output-token ceiling for this alias; unset = GATEWAY_MAX_OUTPUT_TOKENS (responses models only).
    max_output_tokens: int | None = Field(default=None, ge=1)


class ProjectLimits(BaseModel):
    """Per-project limits; unset fields fall back to the GATEWAY_DEFAULT_* / GATEWAY_EMBEDDINGS_RPM values."""

    rpm: int | None = Field(default=None, ge=1)
    max_parallel: int | None = Field(default=None, ge=1)
    embeddings_rpm: int | None = Field(default=None, ge=1)


class Project(BaseModel):
    """A downstream project: its name (logged), its key (never logged) and its effective limits."""

    name: str
    key: SecretStr
    rpm: int
    max_parallel: int
    embeddings_rpm: int


def is_v1_api_version(version: str) -> bool:
    """`preview`/`v1`/`latest` select Azure's v1 routes (`/openai/v1/...`); a date selects the dated routes."""
    return version in _V1_API_VERSIONS


class Settings(BaseSettings):
    """All gateway settings. Field names map 1:1 to upper-case environment variables (see README table)."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    @classmethod
    def settings_customise_sources(cls, settings_cls: Any, init_settings: Any, *args: Any, **kwargs: Any) -> tuple[Any]:
        # load_settings() passes the environment explicitly, so tests can hand in their own mapping.
        return (init_settings,)

    azure_openai_endpoint: str = ""
    azure_openai_api_key: SecretStr = SecretStr("")
    azure_openai_auth: Literal["key", "entra"] = "key"
    azure_openai_responses_api_version: str = "preview"
    azure_openai_embeddings_api_version: str = "2024-10-21"

    gateway_codex_model: str = Field(default="gpt-5.3-codex", min_length=1)
    gateway_codex_deployment: str = ""
    gateway_embeddings_model: str = Field(default="text-embedding-3-small", min_length=1)
    gateway_embeddings_deployment: str = ""
    gateway_extra_models: Annotated[list[ExtraModel], NoDecode] = Field(default_factory=list)
    # alias -> what Azure accepts for its model (proxy/model_profile.py); the fields given replace the built-in ones.
    gateway_model_profiles: Annotated[dict[str, ModelProfile], NoDecode] = Field(default_factory=dict)

    gateway_keys: SecretStr = SecretStr("")
    gateway_local_key: SecretStr = SecretStr(DEFAULT_LOCAL_KEY)

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=4000, ge=1, le=65535)
    gateway_emulator_port: int = Field(default=0, ge=0, le=65535)
    # Asks for the embedded emulator on purpose; without it a missing endpoint is an error whenever the
    # process could be production (project keys configured or a non-loopback listen address).
    gateway_emulator: bool = False

    gateway_project_limits: Annotated[dict[str, ProjectLimits], NoDecode] = Field(default_factory=dict)
    gateway_default_rpm: int = Field(default=600, ge=1)
    gateway_default_max_parallel: int = Field(default=20, ge=1)
    gateway_embeddings_rpm: int = Field(default=120, ge=1)
    gateway_max_concurrency: int = Field(default=64, ge=1)
    gateway_redis_url: str = ""
    gateway_redis_auth: Literal["none", "entra"] = "none"

    gateway_retry_attempts: int = Field(default=3, ge=1, le=10)
    gateway_retry_max_seconds: float = Field(default=60.0, gt=0, le=600)
    gateway_retry_after_cap_seconds: float = Field(default=20.0, ge=0, le=120)
    gateway_upstream_timeout_seconds: float = Field(default=600.0, gt=0, le=3600)
    gateway_keepalive_seconds: float = Field(default=15.0, ge=0, le=230)
    # Output-token ceiling (proxy/output_cap.py): larger requests are clamped, so one request cannot reserve
    # a large share of the deployment's TPM (Azure counts the requested maximum on arrival). 0 = no ceiling.
    gateway_max_output_tokens: int = Field(default=32000, ge=0)
    # Retry budget per replica (Envoy's): retries of the last 10 s within this % of its requests, beyond
    # the few that may always be in flight.
    gateway_retry_budget_percent: float = Field(default=20.0, ge=0, le=100)
    gateway_retry_budget_min_concurrency: int = Field(default=3, ge=0, le=100)
    # A stream's whole wait for Azure's headers (retries included), below the ingress's 240 s idle timeout.
    gateway_prestream_max_seconds: float = Field(default=200.0, gt=0, le=230)
    gateway_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Slow or hostile clients (proxy/http_limits.py, proxy/client_guard.py): bounds on what one connection may hold.
    gateway_max_header_bytes: int = Field(default=32 * 1024, ge=4096, le=1024 * 1024)
    gateway_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    gateway_body_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    gateway_idle_timeout_seconds: int = Field(default=75, ge=1, le=3600)
    gateway_auth_failures_per_minute: int = Field(default=20, ge=0)
    gateway_trusted_proxy_hops: int = Field(default=1, ge=0, le=5)
    # True: every Responses create is sent with store=false and by-id routes answer 404 (no prompt kept in Azure).
    gateway_force_store_false: bool = False

    @field_validator("azure_openai_endpoint")
    @classmethod
    def _endpoint_is_https_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.match(r"^https?://[^/\s]+$", value):
            raise ValueError("must be a base URL like https://<resource>.openai.azure.com (no path)")
        return value

    @field_validator("azure_openai_responses_api_version")
    @classmethod
    def _responses_version(cls, value: str) -> str:
        if is_v1_api_version(value):
            return value
        if not _DATED_API_VERSION.match(value):
            raise ValueError("must be 'preview', 'v1' or a dated version like 2025-04-01-preview")
        if value < "2025-03-01-preview":
            raise ValueError("Azure serves the Responses API from api-version 2025-03-01-preview on")
        return value

    @field_validator("azure_openai_embeddings_api_version")
    @classmethod
    def _embeddings_version(cls, value: str) -> str:
        if not (is_v1_api_version(value) or _DATED_API_VERSION.match(value)):
            raise ValueError("must be 'v1', 'preview' or a dated version like 2024-10-21")
        return value

    @field_validator("gateway_extra_models", mode="before")
    @classmethod
    def _parse_extra_models(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) and value.strip() else ([] if value == "" else value)

    @field_validator("gateway_model_profiles", mode="before")
    @classmethod
    def _parse_model_profiles(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) and value.strip() else ({} if value == "" else value)

    @field_validator("gateway_project_limits", mode="before")
    @classmethod
    def _parse_project_limits(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) and value.strip() else ({} if value == "" else value)

    @field_validator("gateway_redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if value and not re.match(r"^rediss?://", value):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @model_validator(mode="after")
    def _redis_entra_needs_tls(self) -> Settings:
        if self.gateway_redis_auth != "entra":
            return self
        if not self.gateway_redis_url.startswith("rediss://"):
            raise ValueError(
                "GATEWAY_REDIS_AUTH: entra needs GATEWAY_REDIS_URL to be a TLS URL, rediss://<host>:<port> "
                "(Azure Redis takes Entra tokens over TLS only)"
            )
        if "@" in self.gateway_redis_url.partition("://")[2].partition("/")[0]:
            raise ValueError("GATEWAY_REDIS_AUTH: entra takes no user or password in GATEWAY_REDIS_URL")
        return self

    @model_validator(mode="after")
    def _azure_credentials(self) -> Settings:
        if (
            self.azure_openai_endpoint
            and self.azure_openai_auth == "key"
            and not self.azure_openai_api_key.get_secret_value()
        ):
            raise ValueError("AZURE_OPENAI_API_KEY is required when AZURE_OPENAI_ENDPOINT is set (auth=key)")
        return self

    @model_validator(mode="after")
    def _emulator_or_endpoint(self) -> Settings:
        if self.gateway_emulator and self.azure_openai_endpoint:
            raise ValueError(
                "GATEWAY_EMULATOR: true runs the embedded emulator instead of Azure, but AZURE_OPENAI_ENDPOINT "
                "is set too; unset one of them"
            )
        return self

    # --- derived values -------------------------------------------------------------------------

    @property
    def uses_emulator(self) -> bool:
        """No Azure endpoint configured: the gateway starts its embedded emulator."""
        return not self.azure_openai_endpoint

    @property
    def codex_deployment(self) -> str:
        return self.gateway_codex_deployment or self.gateway_codex_model

    @property
    def embeddings_deployment(self) -> str:
        return self.gateway_embeddings_deployment or self.gateway_embeddings_model

    def embeddings_aliases(self) -> list[str]:
        return [self.gateway_embeddings_model, *(m.alias for m in self.gateway_extra_models if m.kind == "embeddings")]

    def output_ceilings(self) -> dict[str, int]:
        """alias -> output-token ceiling, for every chat/Responses alias that has one."""
        ceilings = {self.gateway_codex_model: self.gateway_max_output_tokens}
        for model in self.gateway_extra_models:
            if model.kind == "responses":
                ceilings[model.alias] = model.max_output_tokens or self.gateway_max_output_tokens
        return {alias: ceiling for alias, ceiling in ceilings.items() if ceiling > 0}

    def model_profiles(self) -> dict[str, ModelProfile]:
        """alias -> its model profile: GATEWAY_MODEL_PROFILES, else the built-in one for the alias's or the
        deployment's name (a deployment is often named after its model, an alias nearly always is)."""
        deployments = {self.gateway_codex_model: self.codex_deployment}
        deployments.update((m.alias, m.deployment) for m in self.gateway_extra_models if m.kind == "responses")
        profiles = {}
        for alias, deployment in deployments.items():
            built_in = default_profile(alias)
            profiles[alias] = built_in if built_in is not OPEN else default_profile(deployment)
        for alias, override in self.gateway_model_profiles.items():  # the fields given replace the built-in ones
            base = profiles.get(alias, default_profile(alias))
            profiles[alias] = base.model_copy(update=override.model_dump(exclude_unset=True))
        return profiles

    def model_aliases(self) -> list[str]:
        return [
            self.gateway_codex_model,
            self.gateway_embeddings_model,
            *(m.alias for m in self.gateway_extra_models),
        ]


def _parse_key_pairs(raw: str) -> dict[str, str]:
    """`GATEWAY_KEYS=projA=secretA,projB=secretB` (also accepts a JSON object)."""
    raw = raw.strip()
    if not raw:
        return {}
    if raw.startswith("{"):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError("GATEWAY_KEYS: not valid JSON") from exc
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise SettingsError('GATEWAY_KEYS: JSON must map project names to keys, e.g. {"team-a": "sk-..."}')
        return {str(k): v for k, v in parsed.items()}
    pairs: dict[str, str] = {}
    for item in raw.split(","):
        name, sep, key = item.strip().partition("=")
        if not sep or not name or not key:
            raise SettingsError("GATEWAY_KEYS: expected project=key pairs separated by commas")
        pairs[name.strip()] = key.strip()
    return pairs


def collect_project_keys(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """Project name -> key, from GATEWAY_KEYS and every GATEWAY_KEY_<PROJECT> variable."""
    keys = _parse_key_pairs(settings.gateway_keys.get_secret_value())
    for variable, value in environ.items():
        if variable.upper().startswith(PROJECT_KEY_PREFIX) and value:
            keys[variable[len(PROJECT_KEY_PREFIX) :].lower().replace("_", "-")] = value
    if not keys and settings.uses_emulator:
        keys[LOCAL_PROJECT] = settings.gateway_local_key.get_secret_value()
    for name, key in keys.items():
        if not _PROJECT_NAME.match(name):
            raise SettingsError(f"GATEWAY_KEYS: project name {name!r} must be lower-case letters, digits and '-'")
        if len(key) < MIN_KEY_LENGTH:
            raise SettingsError(
                f"GATEWAY_KEYS: the key of project {name!r} is shorter than {MIN_KEY_LENGTH} characters"
            )
    if len(set(keys.values())) != len(keys):
        raise SettingsError("GATEWAY_KEYS: two projects share one key; every project needs its own")
    if not keys:
        raise SettingsError("GATEWAY_KEYS: no project key configured (set GATEWAY_KEYS or GATEWAY_KEY_<PROJECT>)")
    return keys


def has_project_keys(settings: Settings, environ: Mapping[str, str]) -> bool:
    """True when any project key is configured (GATEWAY_KEYS or a non-empty GATEWAY_KEY_<PROJECT>)."""
    return bool(settings.gateway_keys.get_secret_value().strip()) or any(
        variable.upper().startswith(PROJECT_KEY_PREFIX) and value for variable, value in environ.items()
    )


def is_loopback_host(host: str) -> bool:
    """True only for addresses no other machine can reach: localhost, 127.0.0.0/8, ::1."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # any other host name may resolve to a reachable address


def require_upstream(settings: Settings, environ: Mapping[str, str]) -> None:
    """Refuse to fall back to the embedded emulator where the process could be serving real users.

    Without AZURE_OPENAI_ENDPOINT the gateway would answer with the emulator's fake completions. That is the
    point on a laptop (no keys, loopback), and a silent failure anywhere else, so there it is an error unless
    the emulator is asked for (GATEWAY_EMULATOR=true, `aigateway serve --emulator`).
    """
    if not settings.uses_emulator or settings.gateway_emulator:
        return
    reasons = []
    if has_project_keys(settings, environ):
        reasons.append("project keys are configured")
    if not is_loopback_host(settings.gateway_host):
        reasons.append(f"GATEWAY_HOST {settings.gateway_host!r} is not a loopback address")
    if reasons:
        raise SettingsError(
            f"AZURE_OPENAI_ENDPOINT is not set and {' and '.join(reasons)}: set AZURE_OPENAI_ENDPOINT, or "
            "GATEWAY_EMULATOR=true (aigateway serve --emulator) to run the embedded emulator on purpose"
        )


def build_projects(settings: Settings, environ: Mapping[str, str]) -> list[Project]:
    keys = collect_project_keys(settings, environ)
    unknown = sorted(set(settings.gateway_project_limits) - set(keys))
    if unknown:
        raise SettingsError(f"GATEWAY_PROJECT_LIMITS: no key configured for project(s) {', '.join(unknown)}")
    projects = []
    for name, key in sorted(keys.items()):
        limits = settings.gateway_project_limits.get(name, ProjectLimits())
        projects.append(
            Project(
                name=name,
                key=SecretStr(key),
                rpm=limits.rpm or settings.gateway_default_rpm,
                max_parallel=limits.max_parallel or settings.gateway_default_max_parallel,
                embeddings_rpm=limits.embeddings_rpm or settings.gateway_embeddings_rpm,
            )
        )
    return projects


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build and validate Settings from `environ` (default: the process environment)."""
    env = dict(os.environ if environ is None else environ)
    try:
        settings = Settings.model_validate(_lower_keys(env, Settings.model_fields))
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None
    except json.JSONDecodeError as exc:
        raise SettingsError(f"invalid JSON in a GATEWAY_* setting: {exc.msg}") from None
    build_projects(settings, env)  # validates keys and limits now, not at the first request
    return settings


def _lower_keys(env: Mapping[str, str], fields: Mapping[str, object]) -> dict[str, str]:
    """Pass only our variables, by field name, so unrelated environment never reaches validation."""
    by_upper = {name.upper(): name for name in fields}
    return {by_upper[key.upper()]: value for key, value in env.items() if key.upper() in by_upper}


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    variable = str(first["loc"][0]).upper() if first["loc"] else "settings"
    message = str(first["msg"]).removeprefix("Value error, ")
    if variable == "SETTINGS" or not first["loc"]:
        return message
    return (
        f"{variable}: {message} (got {first.get('input')!r})" if _safe_to_echo(variable) else f"{variable}: {message}"
    )


def _safe_to_echo(variable: str) -> bool:
    return not any(word in variable for word in ("KEY", "SECRET", "SALT", "REDIS"))
