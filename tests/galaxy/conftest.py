# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Galaxy's checks run on the tarball as `make build` makes it, and on that tarball installed, never on the checkout."""

from __future__ import annotations

import pathlib

import pytest
from galaxy_tools import BIN, FQCN, GALAXY, REPO, Tools


@pytest.fixture(scope="session")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Tools:
    return Tools(tmp_path_factory.mktemp("galaxy"))


@pytest.fixture(scope="session")
def tarball(tools: Tools) -> pathlib.Path:
    """The collection tarball, built the way `make build` builds it."""
    tools.check(BIN / "ansible-galaxy", "collection", "build", "--force", "--output-path", tools.work, REPO)
    return tools.work / f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"


@pytest.fixture(scope="session")
def installed(tools: Tools, tarball: pathlib.Path) -> pathlib.Path:
    """The tarball installed into the only collections path the tools see; the collection's directory."""
    # --no-deps: the dependencies come with the ansible package; Galaxy is not reachable here.
    tools.check(BIN / "ansible-galaxy", "collection", "install", "--no-deps", "-p", tools.collections, tarball)
    return tools.collections.joinpath("ansible_collections", *FQCN.split("."))


@pytest.fixture(scope="session")
def documented() -> dict[str, list[str]]:
    """The content the collection documents, by type, from its files: what Galaxy must show with its docs."""
    return {
        "module": sorted(p.stem for p in (REPO / "plugins/modules").glob("*.py")),
        "filter": sorted(p.stem for p in (REPO / "plugins/filter").glob("*.yml")),
        "callback": sorted(p.stem for p in (REPO / "plugins/callback").glob("*.py")),
        "role": sorted(p.parent.parent.name for p in (REPO / "roles").glob("*/meta/argument_specs.yml")),
    }
