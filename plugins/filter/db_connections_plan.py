# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The db_connections_plan filter (see db_connections_plan.yml): what the scenario "Database Connection Exhausted" does."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.plugin_utils._db_connections import NAME, plan
from ansible_collections.usdx.incident.plugins.plugin_utils._values import show


def db_connections_plan(activity: t.Any, sessions: t.Any, options: t.Any = None, **overrides: t.Any) -> dict[str, t.Any]:
    """The sessions to terminate and the max_connections change, from pg_activity_info and the session list."""
    if options is not None and not isinstance(options, Mapping):
        raise AnsibleFilterError(f"{NAME}: options must be a dict, got {show(options)}")
    return plan(activity, sessions, {**(options or {}), **overrides})


class FilterModule:
    """The decision of the db_connections_exhausted role."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"db_connections_plan": db_connections_plan}
