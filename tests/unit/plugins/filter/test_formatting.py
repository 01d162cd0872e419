# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The human_size and human_duration filters."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.filter.formatting import FilterModule, human_duration, human_size


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        (0, (), "0 B"), (1, (), "1 B"), (1023, (), "1023 B"), (1024, (), "1.0 KiB"), (1536, (), "1.5 KiB"),
        (1610612736, (), "1.5 GiB"), (1048575, (), "1.0 MiB"), (1023.96 * 1024, (), "1.0 MiB"),
        (5 * 2**60, (), "5.0 EiB"), (2**70, (), "1024.0 EiB"), (-1536, (), "-1.5 KiB"), ("2048", (), "2.0 KiB"),
        (1199000000, (2, False), "1.20 GB"), (999, (1, False), "999 B"), (1000, (0, False), "1 kB"), (12345678, (3,), "11.774 MiB"),
    ],
    ids=["zero", "one", "under-kib", "kib", "1.5-kib", "1.5-gib", "rounds-up-to-next-unit", "float-rounding", "eib",
         "beyond-eib", "negative", "numeric-string", "decimal", "decimal-bytes", "decimal-no-decimals", "precision-3"],
)
def test_human_size(value, args, expected):
    assert human_size(value, *args) == expected


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (None, {}, "human_size: the input must be a number, got None"),
        ("big", {}, "human_size: the input must be a number, got 'big'"),
        (True, {}, "human_size: the input must be a number, got True"),
        ([1], {}, "human_size: the input must be a number, got [1]"),
        (float("inf"), {}, "human_size: the input must be a finite number of bytes, got inf"),
        (1, {"precision": 9}, "human_size: precision must be an integer from 0 to 6, got 9"),
        (1, {"precision": "2"}, "precision must be an integer from 0 to 6, got '2'"),
        (1, {"binary": "yes"}, "human_size: binary must be true or false, got 'yes'"),
    ],
    ids=["none", "word", "bool", "list", "inf", "precision-range", "precision-string", "binary-string"],
)
def test_human_size_bad_input(value, kwargs, message):
    with pytest.raises(AnsibleFilterError) as error:
        human_size(value, **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0s"), (0.4, "0s"), (0.6, "1s"), (45, "45s"), (59.6, "1m 00s"), (125, "2m 05s"), (3600, "1h 00m 00s"),
        (3725, "1h 02m 05s"), (86399, "23h 59m 59s"), (86400, "1d 00h 00m 00s"), (187200, "2d 04h 00m 00s"),
        (-125, "-2m 05s"), (-0.2, "0s"), ("90", "1m 30s"), (1e7, "115d 17h 46m 40s"),
    ],
    ids=["zero", "rounds-down", "rounds-up", "seconds", "rounds-to-a-minute", "minutes", "one-hour", "hours", "almost-a-day",
         "one-day", "days", "negative", "negative-rounds-to-zero", "numeric-string", "large"],
)
def test_human_duration(value, expected):
    assert human_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [(None, "human_duration: the input must be a number, got None"), ("1h", "human_duration: the input must be a number, got '1h'"),
     (False, "got False"), (float("-inf"), "must be a finite number of seconds, got -inf"), ({"s": 1}, "got {'s': 1}")],
    ids=["none", "duration-string", "bool", "inf", "dict"],
)
def test_human_duration_bad_input(value, message):
    with pytest.raises(AnsibleFilterError) as error:
        human_duration(value)
    assert message in str(error.value)


def test_filter_map():
    assert FilterModule().filters() == {"human_size": human_size, "human_duration": human_duration}
