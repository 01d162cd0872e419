# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The notifier_config filter (see notifier_config.yml): the notifiers' configuration checked before an incident."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.module_utils import _notify


def notifier_config(backends: t.Any, variable_name: t.Any = "notify_backends") -> list[dict[str, t.Any]]:
    """The backends normalized; AnsibleFilterError naming the variable, the entry and what is accepted."""
    if not isinstance(variable_name, str) or not variable_name:
        raise AnsibleFilterError("notifier_config: variable_name must be the name of the variable checked, "
                                 "for example 'notify_backends'")
    try:
        return _notify.validate_backends(backends, variable_name)
    except ValueError as exc:
        raise AnsibleFilterError(f"notifier_config: {exc}") from None


class FilterModule:
    """Notifier configuration."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"notifier_config": notifier_config}
