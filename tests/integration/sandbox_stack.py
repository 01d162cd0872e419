# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sandbox stack this test session runs against, as sandbox.sh and the sandbox inventory lay it out.

The default stack (project usdx-wexel) unless USDX_SANDBOX_STACK names a fleet stack (1..8: project usdx-wexel-N,
state in sandbox/.state/stacks/N, every port + 10*N): `USDX_SANDBOX_STACK=N make integration` runs the session on
fleet stack N. Not in conftest.py: "conftest" may name tests/unit/conftest.py when both trees
are collected, and the test files import this.
"""

from __future__ import annotations

import os
import pathlib
import typing as t

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
FLEET_MAX = 8


def _stack_number() -> int:
    value = os.environ.get("USDX_SANDBOX_STACK") or "0"
    if value not in {str(n) for n in range(FLEET_MAX + 1)}:
        raise pytest.UsageError(f"USDX_SANDBOX_STACK={value!r}: accepted 0 (the default stack) or 1 to {FLEET_MAX} (fleet stacks)")
    return int(value)


class Stack(t.NamedTuple):
    """One sandbox stack as sandbox.sh lays it out."""

    number: int
    project: str
    port_offset: int
    state_dir: pathlib.Path
    env_file: pathlib.Path
    data_dir: pathlib.Path

    @classmethod
    def of(cls, number: int) -> "Stack":
        state = REPO / "sandbox" / ".state" / ("" if number == 0 else f"stacks/{number}")
        return cls(number, "usdx-wexel" if number == 0 else f"usdx-wexel-{number}", 10 * number, state,
                   state / "sandbox.env", state / "data")

    def port(self, default: int) -> int:
        return default + self.port_offset


STACK = Stack.of(_stack_number())
