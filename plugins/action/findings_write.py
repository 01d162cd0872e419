# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""usdx.incident.findings_write: write a findings document on the controller, inside Ansible's own process.

A module run would cost a process and a round trip per host for a write that happens on the controller anyway;
the checks of a safe path are those of plugin_utils/_findings_file.py (see plugins/modules/findings_write.py).
"""

from __future__ import annotations

import os
import typing as t

from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase

from ansible_collections.usdx.incident.plugins.plugin_utils._compat import json_dumps
from ansible_collections.usdx.incident.plugins.plugin_utils._findings_file import Unsafe, write

ARGUMENT_SPEC = {
    "dir": {"type": "path", "required": True},
    "name": {"type": "str", "required": True},
    "content": {"type": "raw", "required": True},
}


def serialise(content: t.Any) -> bytes:
    """The bytes of the document: a string as it is, anything else as indented JSON in the order given.

    Raises ValueError with a one-line reason for content that is neither.
    """
    try:
        if isinstance(content, str):
            text = content
        else:
            # to_json's encoder: it also takes the tagged strings and template-backed containers of 2.19's set_fact.
            text = json_dumps(content, indent=2, sort_keys=False) + "\n"
        return to_bytes(text, errors="surrogate_or_strict")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"content cannot be written as a findings document: {exc}") from exc


class ActionModule(ActionBase):
    """Write O(content) as O(dir)/O(name) on the controller, refusing an unsafe path; never a change (changed=false)."""

    TRANSFERS_FILES = False
    _requires_connection = False
    # The findings are the triage's output, not a change to the stack: they are written in check mode too.
    _supports_check_mode = True

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result = super().run(tmp, task_vars)
        try:
            path = write(args["dir"], args["name"], serialise(args["content"]), os.geteuid())
        except (Unsafe, ValueError) as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        result.update(changed=False, path=path)
        return result
