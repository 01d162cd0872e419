# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The disk_full_plan filter (see disk_full_plan.yml): what the scenario "Out of Disk Space" deletes and prunes."""

from __future__ import annotations

import typing as t

from ansible_collections.usdx.incident.plugins.plugin_utils._disk_plan import check_options, outcome, plan


def disk_full_plan(usage: t.Any, options: t.Any, docker: t.Any = None, after: t.Any = None,
                   deleted: t.Any = None) -> dict[str, t.Any]:
    """The plan from disk_usage_info; with after, the outcome of the clean-up (input: the plan); with no input, the
    checked options."""
    if after is not None:
        return outcome(usage, deleted, after, options)
    if usage is None:
        return check_options(options)
    return plan(usage, options, docker)


class FilterModule:
    """The decision of the disk_full role."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"disk_full_plan": disk_full_plan}
