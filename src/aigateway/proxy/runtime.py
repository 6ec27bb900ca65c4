"""Process-wide gateway state, built once from Settings at start: the settings, the projects and their keys."""

from __future__ import annotations

import os
from dataclasses import dataclass

from aigateway.proxy.keys import KeyTable
from aigateway.settings import Project, Settings, build_projects


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    projects: tuple[Project, ...]
    keys: KeyTable


def configure(settings: Settings) -> Runtime:
    projects = tuple(build_projects(settings, os.environ))
    return Runtime(settings=settings, projects=projects, keys=KeyTable(projects))
