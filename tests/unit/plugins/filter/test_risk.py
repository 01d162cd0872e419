# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data_at_risk filter."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from findings_builders import apply, db_exhausted, disk_full, disk_full_db_errors, api_down, healthy, rpc_down

from ansible_collections.usdx.incident.plugins.filter.risk import FilterModule, data_at_risk


@pytest.mark.parametrize(
    "changes, at_risk, reason",
    [
        ((), False, None),
        ((db_exhausted,), False, None),
        ((api_down,), False, None),
        ((rpc_down,), False, None),
        ((disk_full,), True, "disk nearly full, writes will fail: /srv/data 96.2% used"),
        ((disk_full_db_errors,), True, "writes fail for lack of space"),
        ((disk_full_db_errors,), True, "database unavailable: could not extend file: No space left on device"),
        ((lambda f: f["services"]["services"]["db"].update(running=False, state="exited", exit_code=1),), True,
         "db container exited (exit code 1)"),
    ],
    ids=["healthy", "db-exhausted-loses-nothing", "api-down", "rpc-down", "disk-nearly-full", "no-space-errors",
         "db-unavailable", "db-stopped"],
)
def test_data_at_risk(changes, at_risk, reason):
    result = data_at_risk(apply(*changes))
    assert result["at_risk"] is at_risk
    if reason is None:
        assert result["reasons"] == []
    else:
        assert any(reason in text for text in result["reasons"]), result["reasons"]


def test_data_at_risk_bad_input_names_the_value():
    with pytest.raises(AnsibleFilterError, match=r"data_at_risk: the input must be a findings dict, got .*'nope'"):
        data_at_risk("nope")
    with pytest.raises(AnsibleFilterError, match="unknown option 'disk_percent'"):
        data_at_risk(healthy(), disk_percent=3)


def test_filter_map():
    assert FilterModule().filters() == {"data_at_risk": data_at_risk}
