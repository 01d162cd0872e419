# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The triage role's triage_thresholds: declared, defaulted, checked before any check runs, handed to every judgement;
and the sandbox fleet's value (8 stacks on 2 cores: /health slow only from 5 s)."""

from __future__ import annotations

import pathlib
import typing as t

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.filter.risk import data_at_risk
from ansible_collections.usdx.incident.plugins.filter.scenarios import rank_scenarios
from ansible_collections.usdx.incident.plugins.filter.severity import severity

REPO = pathlib.Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "triage"
FLEET_VARS = REPO / "inventories" / "sandbox-fleet" / "group_vars" / "usdx_stacks" / "fleet.yml"
# A healthy stack whose /health took 3 s: the fleet's machine, not the stack.
SLOW_HEALTH = {"checks": ["api"], "api": {"healthy": True, "status_code": 200, "latency_ms": 3000,
                                          "checks": {"db": "ok", "redis": "ok", "chain": "ok"}}}


def load(path: pathlib.Path) -> t.Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_option_is_declared_and_defaults_to_no_change() -> None:
    spec = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert spec["triage_thresholds"]["type"] == "dict"
    assert load(ROLE / "defaults" / "main.yml")["triage_thresholds"] == {}


def test_every_judgement_and_the_first_check_get_the_thresholds() -> None:
    text = (ROLE / "tasks" / "main.yml").read_text(encoding="utf-8")
    for name in ("severity", "rank_scenarios", "data_at_risk"):
        assert f"triage_sections | usdx.incident.{name}(**triage_thresholds)" in text, name
    first = load(ROLE / "tasks" / "main.yml")[0]
    assert "ansible.builtin.assert" in first
    assert any("usdx.incident.severity(**triage_thresholds)" in cond for cond in first["ansible.builtin.assert"]["that"])


def test_the_fleet_judges_health_slow_only_from_five_seconds() -> None:
    thresholds = load(FLEET_VARS)["triage_thresholds"]
    assert thresholds == {"slow_ms": 5000}
    assert severity(SLOW_HEALTH)["level"] == "P2"
    assert severity(SLOW_HEALTH, **thresholds)["level"] is None
    assert severity(dict(SLOW_HEALTH, api=dict(SLOW_HEALTH["api"], latency_ms=5200)), **thresholds)["level"] == "P2"
    assert rank_scenarios(SLOW_HEALTH, **thresholds) == rank_scenarios(SLOW_HEALTH)
    assert data_at_risk(SLOW_HEALTH, **thresholds)["at_risk"] is False


@pytest.mark.parametrize("thresholds, message", [
    ({"slowms": 5000}, "severity: unknown option 'slowms'; accepted options are critical_services, "),
    ({"slow_ms": "fast"}, "severity: slow_ms must be a number, got 'fast'"),
])
def test_a_bad_threshold_is_one_line_naming_it(thresholds: dict[str, t.Any], message: str) -> None:
    with pytest.raises(AnsibleFilterError) as error:
        severity({"checks": []}, **thresholds)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
