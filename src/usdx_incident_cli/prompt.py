# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interactive approval: one y/N question that waits no longer than the step's T+ deadline.

No answer in time is a no: the runbook escalates a decision nobody took, it does not take it for them.
"""

from __future__ import annotations

import select
import typing as t

from usdx_incident_cli.render import clock

YES = ("y", "yes")


def can_ask(stdin: t.Any) -> bool:
    return bool(getattr(stdin, "isatty", lambda: False)())


def ask(question: str, seconds_left: float, stdin: t.Any, out: t.Any) -> bool:
    """Ask question on out and read one line from stdin within seconds_left; True only for y or yes."""
    if seconds_left <= 0:
        out.write(f"{question}: not asked, the step's deadline has passed\n")
        out.flush()
        return False
    out.write(f"{question} [y/N] (answer within {clock(seconds_left)}) ")
    out.flush()
    if not select.select([stdin], [], [], seconds_left)[0]:
        out.write("\nno answer before the step's deadline: not approved\n")
        out.flush()
        return False
    return stdin.readline().strip().lower() in YES
