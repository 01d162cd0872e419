# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Reading single values for the filters: strictly (a user's option: bad is an error) or leniently (host data)."""

from __future__ import annotations

import math
import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def show(value: t.Any, limit: int = 200) -> str:
    """A value as an error message quotes it, cut at C(limit) characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def text(value: t.Any) -> str:
    return "" if value is None else str(value)


def clipped(value: t.Any, limit: int = 200) -> str:
    """Host text for a report line: at most C(limit) characters, cut with C(...)."""
    result = text(value)
    return result if len(result) <= limit else result[: limit - 3] + "..."


def as_mapping(value: t.Any) -> Mapping[str, t.Any]:
    """Host data read as a mapping: anything else is an empty one."""
    return value if isinstance(value, Mapping) else {}


def whole_number(value: t.Any) -> int | None:
    """An integral number (C(3), C(3.0), C("3")) as an int; None for anything else."""
    number = as_number(value)
    return int(number) if number is not None and number == int(number) else None


def as_number(value: t.Any) -> float | None:
    """An int, a float or a numeric string as a finite float; None for anything else (bools included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def number(value: t.Any, what: str, filter_name: str) -> float:
    """A user's numeric option or filter input (numeric strings too: Jinja2 values often are strings)."""
    result = as_number(value)
    if result is None and isinstance(value, float) and math.isinf(value):
        return value
    if result is None:
        raise AnsibleFilterError(f"{filter_name}: {what} must be a number, got {show(value)}")
    return result
