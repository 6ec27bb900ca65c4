"""Process-wide gateway state, built once from Settings before LiteLLM starts.

LiteLLM loads our hooks by dotted path, so they cannot receive arguments; they read this module instead.
`configure()` is called by the launcher; tests and hooks that run without it fall back to the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aigateway.proxy.keys import KeyTable
from aigateway.settings import Project, Settings, build_projects, load_settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    projects: tuple[Project, ...]
    keys: KeyTable


_runtime: Runtime | None = None


def configure(settings: Settings) -> Runtime:
    global _runtime
    projects = tuple(build_projects(settings, os.environ))
    _runtime = Runtime(settings=settings, projects=projects, keys=KeyTable(projects))
    return _runtime


def get_runtime() -> Runtime:
    return _runtime if _runtime is not None else configure(load_settings())
