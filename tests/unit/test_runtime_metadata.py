# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml's action groups list exactly the modules that take the group's options,
so module_defaults for a group never hands a module an option it does not know; and what the collection claims
(requires_ansible, galaxy.yml's dependencies, README's "Supported versions") is what tests/matrix/versions.yml tests."""

from __future__ import annotations

import pathlib
import re

import ansible.release  # the ansible-core this suite runs on: one of the matrix's rows
import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
RUNTIME = yaml.safe_load((REPO / "meta/runtime.yml").read_text())
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
MATRIX = yaml.safe_load((REPO / "tests/matrix/versions.yml").read_text())
DEPENDENCIES = ("community.docker", "community.general", "community.postgresql")
FRAGMENT_OF_GROUP = {"docker": "usdx.incident.connection", "postgres": "usdx.incident.connection.postgres"}


def fragments(module: pathlib.Path) -> set[str]:
    documentation = re.search(r'DOCUMENTATION = r?"""(.*?)"""', module.read_text(), re.S).group(1)
    return set(yaml.safe_load(documentation).get("extends_documentation_fragment") or [])


@pytest.mark.parametrize("group", sorted(FRAGMENT_OF_GROUP), ids=sorted(FRAGMENT_OF_GROUP))
def test_action_group_is_the_modules_with_its_fragment(group: str) -> None:
    expected = sorted(p.stem for p in (REPO / "plugins/modules").glob("*.py") if FRAGMENT_OF_GROUP[group] in fragments(p))
    assert RUNTIME["action_groups"][group] == expected


def _minor(core: str) -> tuple[int, int]:
    major, minor = core.split(".")
    return int(major), int(minor)


def test_requires_ansible_is_the_tested_core() -> None:
    """requires_ansible spans exactly the supported rows, the dependencies exactly their bundles' majors, and the
    ansible-core running this test is one of the matrix's rows, at the row's version."""
    supported = sorted(MATRIX["supported"], key=_minor)
    assert set(supported) <= set(MATRIX["cores"]), "versions.yml: a supported release has no row"
    (low_major, low_minor), (high_major, high_minor) = _minor(supported[0]), _minor(supported[-1])
    assert RUNTIME["requires_ansible"] == f">={low_major}.{low_minor}.0,<{high_major}.{high_minor + 1}.0"
    for name in DEPENDENCIES:
        majors = sorted({int(str(MATRIX["cores"][core][name]).split(".", maxsplit=1)[0]) for core in supported})
        assert GALAXY["dependencies"][name] == f">={majors[0]}.0.0,<{majors[-1] + 1}.0.0", name
    assert set(GALAXY["dependencies"]) == set(DEPENDENCIES)
    core = ".".join(ansible.release.__version__.split(".")[:2])
    assert core in MATRIX["cores"], f"ansible-core {ansible.release.__version__} is not a row of tests/matrix/versions.yml"
    assert ansible.release.__version__ == MATRIX["cores"][core]["ansible_core"]


def supported_versions_table() -> str:
    """README's "Supported versions" table, as versions.yml says it."""
    lines = ["| ansible-core | ansible bundle | Python | community.docker | community.general | community.postgresql | roles claimed |",
             "|---|---|---|---|---|---|---|"]
    for core, row in MATRIX["cores"].items():
        claimed = "yes" if core in MATRIX["supported"] else "not yet"
        lines.append(f"| {row['ansible_core']} | {row['ansible']} | {row['python']} | {row['community.docker']} "
                     f"| {row['community.general']} | {row['community.postgresql']} | {claimed} |")
    return "\n".join(lines) + "\n"


def test_readme_supported_versions_table_is_versions_yml() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Supported versions\n", 1)[-1].split("\n## ", 1)[0]
    assert supported_versions_table() in section, "README.md's Supported versions table should be:\n" + supported_versions_table()


def test_main_and_ee_rows_are_the_pinned_releases() -> None:
    """versions.yml's main row is the dev venv's pins (pyproject.toml), its ee row the execution environment's."""
    pins = dict(re.findall(r'"(ansible|ansible-core)==([0-9.]+)"', (REPO / "pyproject.toml").read_text()))
    main = MATRIX["cores"][MATRIX["main"]]
    assert (main["ansible"], main["ansible_core"]) == (pins["ansible"], pins["ansible-core"])
    ee = yaml.safe_load((REPO / "execution-environment.yml").read_text())["dependencies"]["ansible_core"]["package_pip"]
    assert ee == f"ansible-core=={MATRIX['cores'][MATRIX['ee']]['ansible_core']}"
    assert MATRIX["newest"] == max(MATRIX["cores"], key=_minor)
