# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""usdx.incident.postmortem_write: the post-mortem of an incident, written into its folder on the controller.

See plugins/modules/postmortem_write.py for the documentation. The templates are rendered by plugin_utils/_render
(Jinja's sandbox, values as data), never by Ansible's templating: a host's log line holding C({{ ... }}) must not
be evaluated on the controller.
"""

from __future__ import annotations

import os
import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.usdx.incident.plugins.plugin_utils import _incident, _postmortem
from ansible_collections.usdx.incident.plugins.plugin_utils._findings_file import Unsafe

ARGUMENT_SPEC = {
    "incidents_dir": {"type": "path", "required": True},
    "incident_id": {"type": "str", "required": True},
    "template_markdown": {"type": "path"},
    "template_html": {"type": "path"},
}
TEMPLATE_OPTIONS = {"markdown": "template_markdown", "html": "template_html"}


class ActionModule(ActionBase):
    """Read the incident folder, render both templates, write postmortem.md and postmortem.html (not in check mode)."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result = super().run(tmp, task_vars)
        try:
            result.update(self._write(args, bool(self._task.check_mode)))
        except (Unsafe, ValueError) as exc:  # TemplateProblem is a ValueError
            result.update(failed=True, changed=False, msg=" ".join(str(exc).split()))
        return result

    def _write(self, args: t.Dict[str, t.Any], check_mode: bool) -> t.Dict[str, t.Any]:
        folder = _incident.folder(args["incidents_dir"], args["incident_id"])
        if not os.path.isdir(folder):
            raise ValueError(f"incident_id={args['incident_id']!r}: no incident folder {folder} "
                             f"(incidents_dir={args['incidents_dir']!r})")
        values = _postmortem.context(folder)
        rendered = _postmortem.render(values, {kind: args[option] for kind, option in TEMPLATE_OPTIONS.items()},
                                      TEMPLATE_OPTIONS)
        paths = {"markdown": os.path.join(folder, _postmortem.MARKDOWN_FILE),
                 "html": os.path.join(folder, _postmortem.HTML_FILE)}
        if not check_mode:
            paths = _postmortem.write_files(folder, rendered)
        late = [f"{s['host']}:{s['id']}" for s in values["steps"] if s["late"]]
        summary = (f"{'would write' if check_mode else 'wrote'} the post-mortem of {values['incident']['id']} "
                   f"({values['incident']['severity']}, {values['incident']['scenario_title']}): {len(values['steps'])} "
                   f"step(s), {len(late)} late{' (' + ', '.join(late) + ')' if late else ''}, "
                   f"{len(values['escalations'])} escalation(s), timeline "
                   f"{'recorded' if values['timeline_recorded'] else 'not recorded'}")
        # The post-mortem is the run's output on the controller, not a change to a managed host (as the record).
        return {"changed": False, "incident_id": values["incident"]["id"], "folder": folder,
                "markdown_path": paths["markdown"], "html_path": paths["html"], "written": not check_mode,
                "summary": summary}
