# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The data_at_risk filter (see data_at_risk.yml): the runbook's Step 3 question, "is data at risk?"."""

from __future__ import annotations

import typing as t

from ansible_collections.usdx.incident.plugins.plugin_utils import _judge
from ansible_collections.usdx.incident.plugins.plugin_utils._findings import Findings


def data_at_risk(findings: t.Any, **options: t.Any) -> dict[str, t.Any]:
    """Whether the findings put data at risk, and why."""
    view = Findings(findings, "data_at_risk", options)
    reasons = [f"writes fail for lack of space: {message}" for message in _judge.no_space_errors(view)]
    reasons += [f"disk nearly full, writes will fail: {_judge.describe_disk(entry)}"
                for entry in view.disk or [] if view.disk_grade(entry) <= 1]
    if view.postgres and not view.postgres["available"] and not view.postgres["exhausted"]:
        reasons.append(f"database unavailable: {view.postgres['error'] or 'no answer'}")
    if "db" in _judge.not_running(view, ["db"]):
        reasons.append(view.describe_service("db"))
    return {"at_risk": bool(reasons), "reasons": reasons}


class FilterModule:
    """Data at risk."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"data_at_risk": data_at_risk}
