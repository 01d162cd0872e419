# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The api_unavailable_plan filter (see api_unavailable_plan.yml): what the scenario "API Unavailable" does."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.plugin_utils._api_unavailable import NAME, plan
from ansible_collections.usdx.incident.plugins.plugin_utils._values import show


def api_unavailable_plan(triage: t.Any, options: t.Any = None, **overrides: t.Any) -> dict[str, t.Any]:
    """The decision per service (start, restart, none, refuse) from a triage_info result; options as a dict or keywords."""
    if options is not None and not isinstance(options, Mapping):
        raise AnsibleFilterError(f"{NAME}: options must be a dict, got {show(options)}")
    return plan(triage, {**(options or {}), **overrides})


class FilterModule:
    """The decision of the api_unavailable role."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"api_unavailable_plan": api_unavailable_plan}
