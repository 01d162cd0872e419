# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml's action groups list exactly the modules that take the group's options,
so module_defaults for a group never hands a module an option it does not know."""

from __future__ import annotations

import pathlib
import re

import ansible.release  # the ansible-core this suite runs on, the one CI tests
import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
RUNTIME = yaml.safe_load((REPO / "meta/runtime.yml").read_text())
FRAGMENT_OF_GROUP = {"docker": "usdx.incident.connection", "postgres": "usdx.incident.connection.postgres"}


def fragments(module: pathlib.Path) -> set[str]:
    documentation = re.search(r'DOCUMENTATION = r?"""(.*?)"""', module.read_text(), re.S).group(1)
    return set(yaml.safe_load(documentation).get("extends_documentation_fragment") or [])


@pytest.mark.parametrize("group", sorted(FRAGMENT_OF_GROUP), ids=sorted(FRAGMENT_OF_GROUP))
def test_action_group_is_the_modules_with_its_fragment(group: str) -> None:
    expected = sorted(p.stem for p in (REPO / "plugins/modules").glob("*.py") if FRAGMENT_OF_GROUP[group] in fragments(p))
    assert RUNTIME["action_groups"][group] == expected


def test_requires_ansible_is_the_tested_core() -> None:
    major, minor = (int(part) for part in ansible.release.__version__.split(".")[:2])
    assert RUNTIME["requires_ansible"] == f">={major}.{minor}.0,<{major}.{minor + 1}.0"
