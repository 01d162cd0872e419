# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The notify filters: the notifiers' configuration checked before an incident (notifier_config.yml), and the record
of what the HTTP backends were sent (delivery_records.yml)."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

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


# What the notify role records of each delivery (its notify_results entries).
RECORD_KEYS = ("backend", "name", "kind", "delivered", "attempts", "error")


def delivery_records(notifications: t.Any, backends: t.Any, kind: t.Any, error: t.Any) -> list[dict[str, t.Any]]:
    """One record per backend: what usdx.incident.notification_send reported of it, or, where the module reported
    nothing (it could not run: None), each backend undelivered with no attempt and the module's error."""
    if not _is_list_of_mappings(backends) or not isinstance(kind, str) or not isinstance(error, str):
        raise AnsibleFilterError(f"delivery_records: expected a list of backends (mappings with type and name), a kind "
                                 f"and an error text, got {type(backends).__name__}, {kind!r} and {type(error).__name__}")
    if notifications is None:
        return [{"backend": backend.get("type"), "name": backend.get("name"), "kind": kind, "delivered": False,
                 "attempts": 0, "error": error} for backend in backends]
    if not _is_list_of_mappings(notifications):
        raise AnsibleFilterError(f"delivery_records: notifications must be the list notification_send returns or null, "
                                 f"got {type(notifications).__name__}")
    return [{key: notification.get(key) for key in RECORD_KEYS} for notification in notifications]


def _is_list_of_mappings(value: t.Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, Mapping) for item in value)


class FilterModule:
    """Notifier configuration and delivery records."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"notifier_config": notifier_config, "delivery_records": delivery_records}
