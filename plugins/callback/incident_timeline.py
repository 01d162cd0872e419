# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: incident_timeline
type: aggregate
short_description: Write the incident's timeline.jsonl while the run happens
version_added: 0.3.0
description:
  - Records every task result of every host, the run's start and end, the steps of the severity chain, the
    notifications sent and the escalations to C(timeline.jsonl) in the incident's folder, with the UTC time and the
    T+ offset from the incident's start. The post-mortem is written from this file; its format is described in the
    collection's C(docs/timeline.md).
  - The incident folder is the one named by the run's first M(usdx.incident.incident_record) result (any C(op)).
    Events before it are held in memory (at most 1000) and written once it is known. A run that never opens or
    reads an incident writes nothing.
  - Each event is one line of JSON appended with a single write on an C(O_APPEND) descriptor, so a run that is
    killed keeps every event up to the kill, and runs that append to the same incident (one per step under
    C(usdx-incident)) never mix their lines.
  - Task arguments are never written. C(msg), C(summary), C(error) and C(reason) have credentials in URLs masked
    and are cut to 500 characters; a result hidden by C(no_log) gives its status only. Text from hosts (log lines,
    error messages) is written as JSON data and never rendered as a template.
  - The file is created with mode C(0640) inside the incident folder; a symlink or anything but a regular file at
    its path is refused. A file that cannot be written is reported once as a warning and recording stops; the run
    itself goes on.
requirements:
  - Enabled in C(callbacks_enabled) (C([defaults]) of C(ansible.cfg)) or in the environment variable
    C(ANSIBLE_CALLBACKS_ENABLED). Being an aggregate callback, it runs beside the stdout callback, whichever that is.
notes:
  - ansible-playbook - the collection's C(ansible.cfg) enables it; elsewhere add
    C(callbacks_enabled = usdx.incident.incident_timeline) to the C([defaults]) of the C(ansible.cfg) in use.
  - usdx-incident - every ansible-runner run it starts has C(ANSIBLE_CALLBACKS_ENABLED) with this callback added
    to the callbacks already enabled.
  - ansible-runner - it runs beside ansible-runner's own C(awx_display) stdout callback; enable it through the
    project's C(ansible.cfg) or C(ANSIBLE_CALLBACKS_ENABLED) in C(env/envvars) of the private data dir.
  - AWX / Automation Controller - a job reads the C(ansible.cfg) at the root of its project, so a project holding
    the collection's C(ansible.cfg) (or one with this C(callbacks_enabled) entry) enables it; otherwise set
    C(ANSIBLE_CALLBACKS_ENABLED=usdx.incident.incident_timeline) in the job's environment (the setting
    C(AWX_TASK_ENV), I(Extra Environment Variables), or an C(env) injector of a credential type attached to the
    job template). The incident folder must outlive the job (see the collection's C(awx/README.md)).
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
"""

import collections.abc as c
import os
import typing as t

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.usdx.incident.plugins.plugin_utils import _compat, _timeline

RECORD_ACTION = "usdx.incident.incident_record"
SEND_ACTION = "usdx.incident.notification_send"
MAIL_ACTION = "community.general.mail"


class CallbackModule(CallbackBase):
    """Appends the run's events to the incident's timeline.jsonl (see DOCUMENTATION)."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "usdx.incident.incident_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display: t.Any = None, options: t.Any = None) -> None:
        super().__init__(display=display, options=options)
        self._timeline = _timeline.Timeline(self._display.warning)
        self._escalations = _timeline.Escalations()
        self._steps: dict[str, t.Any] = {}  # host -> id of its running step
        self._check_mode = bool(context.CLIARGS.get("check"))
        self._started = False

    def v2_playbook_on_start(self, playbook: t.Any) -> None:
        # One run_start per run, also when ansible-playbook is given several playbooks.
        if not self._started:
            self._started = True
            self._timeline.add("run_start", playbook=os.path.basename(playbook._file_name), check_mode=self._check_mode)

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._task_result(result, "changed" if result.is_changed() else "ok")

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._task_result(result, "failed")

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._task_result(result, "skipped")

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._task_result(result, "unreachable")

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        counts = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self._timeline.add("run_end", stats={
            host: {"ok": n["ok"], "changed": n["changed"], "failed": n["failures"], "unreachable": n["unreachable"],
                   "skipped": n["skipped"]} for host, n in counts.items()})
        self._timeline.close()

    def _task_result(self, result: t.Any, status: str) -> None:
        """A task's (or handler's, or whole loop's) result on one host, and what it says about the incident."""
        result_host, task, data = _compat.task_result(result)
        host = result_host.get_name()
        action = task.resolved_action or task.action
        hidden = _timeline.hidden(data)
        op, record = None, None
        if action == RECORD_ACTION and status == "ok" and not hidden:
            op, record = self._incident(task, data)
        steps = record.get("steps") if record else None
        step = steps[-1] if isinstance(steps, list) and steps and isinstance(steps[-1], c.Mapping) else {}
        if op == "step_start" and step:
            self._steps[host] = step.get("id")
            self._timeline.add("step_start", host=host, step=step.get("id"), title=step.get("title"),
                               deadline_seconds=step.get("deadline_seconds"))
        self._timeline.add("task", **self._task_fields(result, host, action, status, hidden))
        if op == "step_end" and step:
            self._steps.pop(host, None)
            self._timeline.add("step_end", host=host, step=step.get("id"), status=step.get("status"),
                               summary=_timeline.text(step.get("summary")), deadline_met=step.get("deadline_met"),
                               tplus_end=step.get("tplus_end"))
        if record:
            for entry in self._escalations.new(host, record, op):
                self._timeline.add("escalation", host=host, **_timeline.escalation(entry))
        if status != "skipped" and not hidden:
            for fields in self._notifications(task, action, data, status):
                self._timeline.add("notification", host=host, **fields)

    def _incident(self, task: t.Any, data: t.Mapping[str, t.Any]) -> tuple[t.Any, t.Optional[t.Mapping[str, t.Any]]]:
        """Open the timeline in the folder an incident_record result names; its op and the host's record."""
        folder, incident, record = data.get("folder"), data.get("incident"), data.get("record")
        if isinstance(folder, str) and isinstance(incident, c.Mapping):
            self._timeline.open(folder, incident.get("started_at"))
        # The arguments a callback sees are the rendered ones; only op is read, none is written.
        return task.args.get("op"), record if isinstance(record, c.Mapping) else None

    def _task_fields(self, result: t.Any, host: str, action: str, status: str, hidden: bool) -> dict[str, t.Any]:
        _host, task, data = _compat.task_result(result)
        role = getattr(task, "_role", None)
        fields = {"host": host, "task": _timeline.text(result.task_name), "action": action,
                  "role": role.get_name() if role else None, "step": self._steps.get(host), "status": status,
                  "changed": result.is_changed()}
        if status in ("failed", "unreachable") and not hidden:
            fields["msg"] = _timeline.text(data.get("msg")) or ""
        fields["check_mode"] = task.check_mode if isinstance(task.check_mode, bool) else self._check_mode
        return fields

    @staticmethod
    def _notifications(task: t.Any, action: str, data: t.Mapping[str, t.Any], status: str) -> list[dict[str, t.Any]]:
        """The messages a task sent: each entry of usdx.incident.notification_send's C(notifications) (one per
        backend), or a community.general.mail."""
        looped = isinstance(data.get("results"), list)
        sent = []
        for part in _timeline.parts(data):
            if _timeline.hidden(part) or part.get("skipped") is True:
                continue
            # Of that module only: a debug of a variable called notifications returns the same key.
            if action == SEND_ACTION and isinstance(part.get("notifications"), list):
                sent += [_timeline.notification(entry) for entry in part["notifications"] if isinstance(entry, c.Mapping)]
            elif action == MAIL_ACTION:
                # A loop item keeps its own failed key; a single result's is the callback method's.
                failed = part.get("failed") is True if looped else status == "failed"
                # notify_kind as written on the task or the include_role / block around it (never rendered here).
                sent.append(_timeline.mail(part, failed, task.get_vars().get("notify_kind")))
        return sent
