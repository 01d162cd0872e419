# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The communication filters (status_message.yml, user_notice.yml, status_due.yml, page_acknowledge_due.yml, delivery_summary.yml,
escalation_ladder.yml, escalation_contacts.yml): what an incident tells people, and who it reaches."""

from __future__ import annotations

import datetime
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils import _comms


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _filter(name: str, call: t.Callable[[], t.Any]) -> t.Any:
    try:
        return call()
    except _comms.CommsError as exc:
        raise AnsibleFilterError(f"{name}: {exc}") from None


def status_message(templates: t.Any, record: t.Any, incident: t.Any, maintenance_url: t.Any = "") -> dict[str, t.Any]:
    """The status page message of the record's phase, rendered from the phase's template text."""
    return _filter("status_message", lambda: _comms.status_message(templates, record, incident, _now(), maintenance_url))


def user_notice(template: t.Any, record: t.Any, incident: t.Any, maintenance_url: t.Any = "") -> str:
    """The runbook's user notice rendered from its template text."""
    return _filter("user_notice", lambda: _comms.user_notice(template, record, incident, maintenance_url))


def status_due(last_sent_at: t.Any, cadence_seconds: t.Any = _runbook.STATUS_UPDATE_SECONDS) -> bool:
    """Whether the next status update is due now."""
    return _filter("status_due", lambda: _comms.status_due(last_sent_at, _now(), cadence_seconds))


def page_acknowledge_due(record: t.Any, step: t.Any, scenario: t.Any) -> bool:
    """Whether this step acknowledges the page (after its trigger, once a scenario role took the incident)."""
    return _filter("page_acknowledge_due", lambda: _comms.page_acknowledge_due(record, step, scenario))


def delivery_summary(results: t.Any) -> str:
    """What became of one message sent through usdx.incident.notify."""
    return _filter("delivery_summary", lambda: _comms.delivery_summary(results))


def escalation_reached(contacts: t.Any, results: t.Any) -> list[str]:
    return _filter("escalation_reached", lambda: _comms.escalation_reached(contacts, results))


def escalation_ladder(value: t.Any, variable: t.Any = "usdx_escalation_ladder", backends: t.Any = None) -> dict[str, t.Any]:
    """The inventory's escalation ladder, validated and completed from the runbook."""
    return _filter("escalation_ladder", lambda: _comms.escalation_ladder(value, str(variable), backends))


def escalation_contacts(ladder: t.Any, escalation: t.Any, variable: t.Any = "usdx_escalation_ladder",
                        backends: t.Any = None) -> list[dict[str, t.Any]]:
    """The contacts one recorded escalation reaches."""
    return _filter("escalation_contacts", lambda: _comms.escalation_contacts(ladder, escalation, str(variable), backends))


class FilterModule:
    """Incident communication."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"status_message": status_message, "user_notice": user_notice, "status_due": status_due,
                "page_acknowledge_due": page_acknowledge_due,
                "delivery_summary": delivery_summary, "escalation_ladder": escalation_ladder,
                "escalation_contacts": escalation_contacts, "escalation_reached": escalation_reached}
