# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test APIs of ansible-core that differ between the releases of tests/matrix/versions.yml (2.16 to 2.20)."""

from __future__ import annotations

import contextlib
import json
import pathlib
import typing as t
from unittest import mock

import ansible.release
import pytest
import yaml

try:  # ansible-core 2.19
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # before 2.19 AnsibleModule reads its arguments from basic._ANSIBLE_ARGS, a JSON document
    @contextlib.contextmanager
    def patch_module_args(args: t.Optional[t.Dict[str, t.Any]] = None) -> t.Iterator[None]:
        from ansible.module_utils import basic

        serialized = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode("utf-8")
        with mock.patch.object(basic, "_ANSIBLE_ARGS", serialized):
            yield

try:  # ansible-core 2.19: what callbacks receive
    from ansible.executor.task_result import CallbackTaskResult
except ImportError:  # before 2.19 callbacks receive the TaskResult itself
    from ansible.executor.task_result import TaskResult as CallbackTaskResult

MATRIX = yaml.safe_load((pathlib.Path(__file__).resolve().parents[1] / "matrix" / "versions.yml").read_text(encoding="utf-8"))
# The running release as versions.yml names its rows ("2.19").
CORE = ".".join(ansible.release.__version__.split(".")[:2])
# Tests that run the collection's roles: only where the roles are claimed (versions.yml `supported`).
needs_claimed_roles = pytest.mark.skipif(
    CORE not in MATRIX["supported"],
    reason=f"the roles are claimed for ansible-core {', '.join(MATRIX['supported'])} only, not {CORE} (tests/matrix/versions.yml)")


def arg_type_message(message: str) -> str:
    """An argument type error as 2.19 words it: before, the type was written as <class 'str'>."""
    return message.replace("<class 'str'>", "str")


__all__ = ["CORE", "MATRIX", "CallbackTaskResult", "arg_type_message", "needs_claimed_roles",
           "patch_module_args"]
