# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Exceptions shared by the diagnostic workers; a module's main() turns them into fail_json."""

from __future__ import annotations


class OptionError(ValueError):
    """An option has a value the check cannot use; the message names the option, the value and what is accepted.

    C(option) is the option's name as the check knows it, so a caller with other option names can say which one it was.
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class CheckFailed(Exception):
    """A check asked to fail the module (fail_json) while running beside others; the message says why."""


class DeadlineExceeded(Exception):
    """Mixed into the errors of a call killed at its check's deadline, so the check is reported C(timed_out)."""


class CheckTimedOut(CheckFailed, DeadlineExceeded):
    """A command of a check did not finish by the check's deadline and was killed."""
