# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every step of every chain and every runbook scenario has what runs and tests it: a role with an argument spec,
a playbook, a molecule scenario and an integration test; and every role the Fix step can name exists."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils import _chain

REPO = pathlib.Path(__file__).resolve().parents[2]
# Scenario id -> its integration test (the names are older than the ids: map them here, not by a guess).
INTEGRATION_TESTS = {
    "api_unavailable": "test_api_unavailable_role.py",
    "db_connections_exhausted": "test_db_connections_role.py",
    "indexer_lag": "test_indexer_lag_role.py",
    "disk_full": "test_disk_full_role.py",
}


def role_dir(fqcn: str) -> pathlib.Path:
    namespace, collection, name = fqcn.split(".")
    assert (namespace, collection) == ("usdx", "incident"), fqcn
    return REPO / "roles" / name


def argument_spec(role: pathlib.Path) -> dict:
    path = role / "meta" / "argument_specs.yml"
    assert path.is_file(), f"{path.relative_to(REPO)} is missing"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["argument_specs"]


@pytest.mark.parametrize("step_id", _chain.step_ids())
def test_every_step_has_a_role_with_an_argument_spec(step_id: str) -> None:
    role = REPO / "roles" / f"step_{step_id}"
    assert (role / "tasks" / "main.yml").is_file(), f"roles/step_{step_id} has no tasks/main.yml"
    spec = argument_spec(role)
    assert spec["main"]["short_description"], f"roles/step_{step_id}: the main entry point has no short_description"


@pytest.mark.parametrize("level", _runbook.LEVELS)
def test_every_chain_names_its_steps_roles(level: str) -> None:
    for step in _chain.chain_steps(level):
        assert role_dir(step["role"]) == REPO / "roles" / f"step_{step['id']}"


def test_the_scenario_test_map_is_the_runbooks_scenarios() -> None:
    assert sorted(INTEGRATION_TESTS) == sorted(_runbook.SCENARIOS)


@pytest.mark.parametrize("scenario", sorted(_runbook.SCENARIOS))
def test_every_scenario_has_a_role_a_playbook_a_molecule_scenario_and_an_integration_test(scenario: str) -> None:
    argument_spec(REPO / "roles" / scenario)
    assert (REPO / "playbooks" / f"{scenario}.yml").is_file(), f"playbooks/{scenario}.yml is missing"
    assert (REPO / "molecule" / scenario / "molecule.yml").is_file(), f"molecule/{scenario}/molecule.yml is missing"
    assert (REPO / "tests" / "integration" / INTEGRATION_TESTS[scenario]).is_file(), INTEGRATION_TESTS[scenario]


@pytest.mark.parametrize("role", sorted(set(_chain.SCENARIO_ROLES.values()) | set(_chain.RELEASE_ROLES.values())))
def test_every_role_the_fix_step_can_run_exists(role: str) -> None:
    argument_spec(role_dir(role))
