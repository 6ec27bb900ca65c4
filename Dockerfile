# syntax=docker/dockerfile:1
# The one image for every environment (dev, uat, prod): configuration is environment variables only
# (docs/architecture.md), so the pipeline builds this once and promotes the same digest.
#
# Base image: python:3.11-slim pinned by its multi-arch index digest. Source of the digest: BuildKit's
# "resolve docker.io/library/python:3.11-slim@sha256:9c900dea..." line in a public build log (2026-08),
# the same digest other public repositories label python:3.11.16-slim. There is no registry access where
# this file was written; Dependabot (docker ecosystem, .github/dependabot.yml) keeps the digest current.
# Both stages name the image literally (not through an ARG) so Dependabot updates both FROM lines together.

# ---------------------------------------------------------------------------------------------------------
# builder: dependencies from the hash-locked runtime lock into /opt/venv, plus the aigateway wheel.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build

# Build backend (hatchling and its dependencies) from requirements/dev.lock, with hashes, in a throw-away
# venv: building the wheel needs no unpinned build environment and no network beyond the index.
COPY requirements/runtime.lock requirements/dev.lock requirements/
COPY scripts/lock_subset.py scripts/
RUN python scripts/lock_subset.py requirements/dev.lock hatchling packaging pathspec pluggy trove-classifiers \
        > /tmp/build.lock \
    && python -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir --require-hashes -r /tmp/build.lock

# Runtime dependencies: every package pinned and hash-checked (pip refuses anything not in the lock).
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements/runtime.lock

# The package itself, as a wheel built without dependencies (they are all in the lock above). Then pip
# leaves the venv, and every module is precompiled once at build time (unchecked-hash: no source stat at
# import), so a cold start on a fresh replica imports LiteLLM from bytecode instead of compiling it.
COPY pyproject.toml README.md ./
COPY src/ src/
RUN /opt/build/bin/python -m pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /tmp/wheels . \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps /tmp/wheels/aigateway-*.whl \
    && /opt/venv/bin/python -m pip uninstall --yes pip \
    && /opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv

# ---------------------------------------------------------------------------------------------------------
# runtime: the base image plus the venv; no build backend, no pip in the venv, no compiler, non-root.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS runtime
LABEL org.opencontainers.image.title="aigateway" \
      org.opencontainers.image.description="OpenAI-compatible gateway (LiteLLM) in front of Azure OpenAI"

# PYTHONDONTWRITEBYTECODE: the bytecode is already in the image; nothing is written at run time.
# LITELLM_LOCAL_MODEL_COST_MAP: LiteLLM reads its bundled cost map instead of fetching it at start.
# GATEWAY_HOST/GATEWAY_PORT: listen on every interface, port 4000 (the ACA ingress target port).
# No AZURE_OPENAI_ENDPOINT here: Azure settings come from the Container App's environment. Without one the
# gateway refuses to start (it listens on 0.0.0.0) unless GATEWAY_EMULATOR=true asks for its embedded emulator,
# key sk-local-dev (how CI smoke-tests the image).
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=4000

RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --create-home --home-dir /home/gateway \
        --shell /usr/sbin/nologin gateway
COPY --from=builder /opt/venv /opt/venv

USER 10001:10001
WORKDIR /home/gateway
EXPOSE 4000

# Health probes (no key needed, never call Azure), configured on the Container App by Terraform:
#   liveness  GET http://<replica>:4000/health/liveliness
#   readiness GET http://<replica>:4000/health/readiness
# No HEALTHCHECK instruction: Azure Container Apps ignores it and uses its own probes; locally use
#   curl -fsS http://127.0.0.1:4000/health/readiness
CMD ["aigateway", "serve"]
