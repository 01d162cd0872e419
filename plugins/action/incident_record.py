# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""usdx.incident.incident_record: the incident folder on the controller, inside Ansible's own process.

See plugins/modules/incident_record.py for the documentation. The record is the run's output, not a change to a
managed host: it is written in check mode too and the result is never changed.
"""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.usdx.incident.plugins.plugin_utils import _chain, _incident
from ansible_collections.usdx.incident.plugins.plugin_utils._compat import plain
from ansible_collections.usdx.incident.plugins.plugin_utils._findings_file import Unsafe

OPS = ("open", "host", "step_start", "step_end", "set", "reached", "finish")
ARGUMENT_SPEC = {
    "op": {"type": "str", "required": True, "choices": list(OPS)},
    "incidents_dir": {"type": "path", "required": True},
    "incident_id": {"type": "str", "default": ""},
    "severity": {"type": "str"},
    "scenario": {"type": "str"},
    "fix_option": {"type": "str"},
    "step": {"type": "dict"},
    "result": {"type": "dict"},
    "fields": {"type": "dict"},
    "escalation": {"type": "dict"},
    "reached": {"type": "list", "elements": "str"},
}
# Fields of a stack's record that a step may set with op=set.
SETTABLE = ("severity", "scenario", "fix_option", "contained", "findings", "decision", "fix", "verify", "stopped", "refused", "healthy",
            "communications")


class ActionModule(ActionBase):
    """Open, read and update one incident's folder; every op returns the incident and this host's record."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result = super().run(tmp, task_vars)
        host = (task_vars or {}).get("inventory_hostname", "")
        try:
            result.update(self._op(args, host, _incident.utc_now()))
        except (Unsafe, ValueError) as exc:  # ChainError is a ValueError
            result.update(failed=True, msg=str(exc))
        result["changed"] = False
        return result

    def _op(self, args: t.Dict[str, t.Any], host: str, now: t.Any) -> t.Dict[str, t.Any]:
        incidents_dir = args["incidents_dir"]
        if args["op"] == "open":
            return self._open(args, now)
        folder = _incident.folder(incidents_dir, args["incident_id"])
        incident = _incident.read_json(f"{folder}/{_incident.INCIDENT_FILE}")
        if incident is None:
            raise Unsafe(f"incident {args['incident_id']}: no {_incident.INCIDENT_FILE} in {folder}; open it first")
        path = _incident.host_file(folder, host)
        record = _incident.read_json(path) or {
            "host": host, "severity": incident.get("severity"), "steps": [], "escalations": [], "stopped": None,
            "outcome": "open", "check_mode": bool(self._play_context.check_mode)}
        if args["op"] == "step_start":
            _chain.start_step(record, plain(args["step"]), now)
        elif args["op"] == "step_end":
            _chain.end_step(record, incident.get("started_at"), plain(args["result"] or {}), now)
        elif args["op"] == "set":
            fields = plain(args["fields"] or {})
            unknown = sorted(set(fields) - set(SETTABLE))
            if unknown:
                raise ValueError(f"fields {', '.join(unknown)} cannot be set (accepted: {', '.join(SETTABLE)})")
            record.update(fields)
        elif args["op"] == "reached":
            _chain.mark_reached(record, plain(args["escalation"] or {}), plain(args["reached"] or []))
        elif args["op"] == "finish":
            record["outcome"] = _chain.outcome(record, record.get("severity"))
        _incident.write_json(f"{folder}/{_incident.HOSTS_DIR}", f"{host}.json", record)
        return {"incident_id": incident["id"], "folder": folder, "incident": incident, "record": record}

    def _open(self, args: t.Dict[str, t.Any], now: t.Any) -> t.Dict[str, t.Any]:
        incidents_dir = args["incidents_dir"]
        if args["incident_id"]:
            incident_id = _incident.check_id(args["incident_id"])
            folder = _incident.folder(incidents_dir, incident_id)
        else:
            incident_id, folder = _incident.allocate(incidents_dir, now)
        incident = _incident.read_json(f"{folder}/{_incident.INCIDENT_FILE}")
        if incident is None:
            incident = {"id": incident_id, "channel": _incident.channel(incident_id), "started_at": _incident.iso(now),
                        "severity": args["severity"], "scenario": args["scenario"], "fix_option": args["fix_option"],
                        "check_mode": bool(self._play_context.check_mode)}
            _incident.write_json(folder, _incident.INCIDENT_FILE, incident)
        return {"incident_id": incident_id, "folder": folder, "incident": incident}
