"""Fetch the cdktn wheel once, build the schema once, and lay out a Terraform filesystem mirror.

Everything lands in a cache directory (default ``<repo>/.cache/azurerm-offline``, git-ignored):

* ``cdktn_provider_azurerm-<v>-py3-none-any.whl`` - from PyPI through pip, hash-checked;
* ``schema-<azurerm version>.json`` + ``.stamp`` - rebuilt when the wheel hash or this package's source
  changes (the wheel may then be deleted; the schema alone serves later runs);
* ``mirror/registry.terraform.io/hashicorp/azurerm/<v>/linux_amd64/terraform-provider-azurerm_v<v>`` -
  a launcher for :mod:`azurerm_offline.provider`;
* ``terraformrc`` - the CLI config (``TF_CLI_CONFIG_FILE``) whose only installation method is that mirror.

``python -m azurerm_offline`` prints the environment to export for manual ``terraform`` runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from azurerm_offline.schema import (
    AZURERM_VERSION,
    WHEEL_NAME,
    WHEEL_SHA256,
    WHEEL_VERSION,
    build_schema,
)

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parents[2]
DEFAULT_CACHE = REPO_ROOT / ".cache" / "azurerm-offline"


class MirrorError(RuntimeError):
    """The wheel could not be fetched or did not match its pinned hash."""


@dataclass(frozen=True)
class OfflineMirror:
    """Paths of a prepared mirror and the environment that makes Terraform use it."""

    cache: Path
    schema: Path
    mirror: Path
    cli_config: Path

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env.update(
            TF_CLI_CONFIG_FILE=str(self.cli_config),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",  # no version check call to HashiCorp
        )
        env.pop("TF_PLUGIN_CACHE_DIR", None)
        return env


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _source_fingerprint() -> str:
    """Hash of the builder's source: a change to the builder invalidates the cached schema."""
    digest = hashlib.sha256(WHEEL_SHA256.encode())
    for name in ("schema.py", "provider.py"):
        digest.update((PACKAGE_DIR / name).read_bytes())
    return digest.hexdigest()


def fetch_wheel(cache: Path) -> Path:
    """The pinned wheel in ``cache``, downloaded with pip (``--require-hashes``) when missing."""
    wheel = cache / WHEEL_NAME
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
            req.write(f"cdktn-provider-azurerm=={WHEEL_VERSION} --hash=sha256:{WHEEL_SHA256}\n")
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--require-hashes",
                    "-r",
                    req.name,
                    "-d",
                    str(cache),
                ],
                check=True,
            )
        except subprocess.CalledProcessError as exc:
            raise MirrorError(f"pip could not download cdktn-provider-azurerm=={WHEEL_VERSION}") from exc
        finally:
            os.unlink(req.name)
    actual = _sha256(wheel)
    if actual != WHEEL_SHA256:
        raise MirrorError(f"{wheel}: sha256 {actual} != pinned {WHEEL_SHA256}")
    return wheel


def ensure_schema(cache: Path) -> Path:
    """The rebuilt schema JSON, built from the wheel only when the cached copy is stale.

    Next to it, ``.pb`` holds the serialised GetProviderSchema response the provider loads at start.
    """
    schema = cache / f"schema-{AZURERM_VERSION}.json"
    stamp = cache / f"schema-{AZURERM_VERSION}.stamp"
    fingerprint = _source_fingerprint()
    if schema.exists() and schema.with_suffix(".pb").exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return schema
    document = build_schema(fetch_wheel(cache))
    tmp = schema.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, separators=(",", ":")))
    tmp.replace(schema)
    from azurerm_offline.provider import schema_to_pb  # grpc/protobuf only when (re)building

    schema.with_suffix(".pb").write_bytes(schema_to_pb(document).SerializeToString())
    stamp.write_text(fingerprint)
    return schema


def _target() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{sys.platform}_{arch}"


def prepare_mirror(cache: Path | None = None, python: Path | None = None) -> OfflineMirror:
    """Build (or reuse) the schema and write the provider launcher and CLI config."""
    cache = (cache or Path(os.environ.get("AZURERM_OFFLINE_CACHE", DEFAULT_CACHE))).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    schema = ensure_schema(cache)
    mirror = cache / "mirror"
    plugin_dir = mirror / "registry.terraform.io" / "hashicorp" / "azurerm" / AZURERM_VERSION / _target()
    plugin_dir.mkdir(parents=True, exist_ok=True)
    launcher = plugin_dir / f"terraform-provider-azurerm_v{AZURERM_VERSION}"
    interpreter = python or Path(sys.executable)
    serialised = schema.with_suffix(".pb")
    script = (
        "#!/bin/sh\n"
        "# Generated by azurerm_offline.mirror: the schema-only azurerm provider (offline validation only).\n"
        f"PYTHONPATH='{PACKAGE_DIR.parent}' exec '{interpreter}' -m azurerm_offline.provider '{serialised}' \"$@\"\n"
    )
    if not launcher.exists() or launcher.read_text() != script:
        launcher.write_text(script)
        launcher.chmod(0o755)
    cli_config = cache / "terraformrc"
    cli_config.write_text(
        "# Generated by azurerm_offline.mirror. Only the offline azurerm mirror; nothing is fetched.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/hashicorp/azurerm"]\n'
        "  }\n"
        "}\n"
    )
    return OfflineMirror(cache=cache, schema=schema, mirror=mirror, cli_config=cli_config)
