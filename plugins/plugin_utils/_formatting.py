# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Sizes and durations for people: the human_size and human_duration filters, also used in the findings' texts."""

from __future__ import annotations

import math
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.plugin_utils._values import number, show

_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def human_size(value: t.Any, precision: t.Any = 1, binary: t.Any = True) -> str:
    """Bytes -> C(1.5 GiB) (or C(1.6 GB) with O(binary=false))."""
    size = number(value, "the input", "human_size")
    if not isinstance(precision, int) or isinstance(precision, bool) or not 0 <= precision <= 6:
        raise AnsibleFilterError(f"human_size: precision must be an integer from 0 to 6, got {show(precision)}")
    if not isinstance(binary, bool):
        raise AnsibleFilterError(f"human_size: binary must be true or false, got {show(binary)}")
    if math.isinf(size):
        raise AnsibleFilterError(f"human_size: the input must be a finite number of bytes, got {show(value)}")
    base, units = (1024.0, _BINARY_UNITS) if binary else (1000.0, _DECIMAL_UNITS)
    sign = "-" if size < 0 else ""
    size = abs(size)
    if size < base:
        return f"{sign}{size:.0f} B"
    index = 0
    while size >= base and index < len(units) - 1:
        size /= base
        index += 1
    # 1023.96 KiB printed with one decimal would read "1024.0 KiB": move to the next unit.
    if round(size, precision) >= base and index < len(units) - 1:
        size /= base
        index += 1
    return f"{sign}{size:.{precision}f} {units[index]}"


def human_duration(value: t.Any) -> str:
    """Seconds -> C(1h 02m 05s), C(2d 03h 00m 00s), C(45s)."""
    seconds = number(value, "the input", "human_duration")
    if math.isinf(seconds):
        raise AnsibleFilterError(f"human_duration: the input must be a finite number of seconds, got {show(value)}")
    total = int(round(abs(seconds)))
    sign = "-" if seconds < 0 and total else ""
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours:02d}h {minutes:02d}m {rest:02d}s"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m {rest:02d}s"
    if minutes:
        return f"{sign}{minutes}m {rest:02d}s"
    return f"{sign}{rest}s"
