# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The sla_deadline filter (see sla_deadline.yml): when the runbook's response time of a level runs out."""

from __future__ import annotations

import datetime
import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils._compat import fromisoformat
from ansible_collections.usdx.incident.plugins.plugin_utils._values import show


def _parse_when(value: t.Any) -> datetime.datetime:
    if value is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    if isinstance(value, str):
        try:
            parsed = fromisoformat(value.strip())
        except ValueError:
            raise AnsibleFilterError(f"sla_deadline: since must be an ISO 8601 time or a Unix timestamp, got {show(value)}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
    raise AnsibleFilterError(f"sla_deadline: since must be an ISO 8601 time or a Unix timestamp, got {show(value)}")


def sla_deadline(level: t.Any, since: t.Any = None, business_day_start: t.Any = 9) -> str | None:
    """When the response is due for a severity level, as ISO 8601 (V(null) for no level)."""
    if isinstance(level, Mapping):
        level = level.get("level")
    if level is None:
        return None
    if level not in _runbook.LEVELS:
        raise AnsibleFilterError(f"sla_deadline: level must be one of {', '.join(_runbook.LEVELS)} or null, got {show(level)}")
    if not isinstance(business_day_start, int) or isinstance(business_day_start, bool) or not 0 <= business_day_start <= 23:
        raise AnsibleFilterError(f"sla_deadline: business_day_start must be an hour from 0 to 23, got {show(business_day_start)}")
    when = _parse_when(since)
    if level in _runbook.SLA_DELAY_SECONDS:
        deadline = when + datetime.timedelta(seconds=_runbook.SLA_DELAY_SECONDS[level])
    else:
        # The runbook's "next business day": the next weekday at business_day_start.
        day = when.date() + datetime.timedelta(days=1)
        while day.weekday() >= 5:
            day += datetime.timedelta(days=1)
        deadline = datetime.datetime.combine(day, datetime.time(business_day_start), tzinfo=when.tzinfo)
    return deadline.isoformat(timespec="seconds")


class FilterModule:
    """Response deadlines."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"sla_deadline": sla_deadline}
