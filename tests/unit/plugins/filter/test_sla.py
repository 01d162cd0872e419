# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sla_deadline filter."""

from __future__ import annotations

import datetime

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.filter.sla import FilterModule, sla_deadline


@pytest.mark.parametrize(
    ("level", "since", "kwargs", "expected"),
    [
        ("P0", "2026-11-28T07:00:00Z", {}, "2026-11-28T07:00:00+00:00"),
        ("P1", "2026-11-28T07:00:00Z", {}, "2026-11-28T07:15:00+00:00"),
        ("P2", "2026-11-28T07:50:00+02:00", {}, "2026-11-28T08:50:00+02:00"),
        ("P3", "2026-11-25T10:00:00Z", {}, "2026-11-26T09:00:00+00:00"),
        ("P3", "2026-11-27T18:00:00+01:00", {}, "2026-11-30T09:00:00+01:00"),
        ("P3", "2026-11-28T07:00:00Z", {"business_day_start": 8}, "2026-11-30T08:00:00+00:00"),
        ("P1", 0, {}, "1970-01-01T00:15:00+00:00"),
        ("P1", "2026-11-28T07:00:00", {}, "2026-11-28T07:15:00+00:00"),
        ({"level": "P2"}, datetime.datetime(2026, 11, 28, 7, 0), {}, "2026-11-28T08:00:00+00:00"),
        (None, "2026-11-28T07:00:00Z", {}, None),
        ({"level": None}, None, {}, None),
    ],
    ids=["p0-immediate", "p1-15-minutes", "p2-keeps-offset", "p3-next-day", "p3-friday-to-monday", "p3-saturday-custom-hour",
         "unix-seconds", "naive-is-utc", "severity-result-and-datetime", "no-level", "healthy-severity"],
)
def test_sla_deadline(level, since, kwargs, expected):
    assert sla_deadline(level, since, **kwargs) == expected


def test_sla_deadline_defaults_to_now():
    deadline = datetime.datetime.fromisoformat(sla_deadline("P1"))
    expected = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=15)
    assert abs((deadline - expected).total_seconds()) < 5


@pytest.mark.parametrize(
    ("level", "since", "kwargs", "message"),
    [
        ("P4", None, {}, "sla_deadline: level must be one of P0, P1, P2, P3 or null, got 'P4'"),
        ("p1", None, {}, "got 'p1'"),
        ("P1", "tomorrow", {}, "sla_deadline: since must be an ISO 8601 time or a Unix timestamp, got 'tomorrow'"),
        ("P1", [2026], {}, "got [2026]"),
        ("P1", True, {}, "got True"),
        ("P3", None, {"business_day_start": 24}, "sla_deadline: business_day_start must be an hour from 0 to 23, got 24"),
    ],
    ids=["unknown-level", "lower-case", "bad-time", "list", "bool", "bad-hour"],
)
def test_sla_deadline_bad_input(level, since, kwargs, message):
    with pytest.raises(AnsibleFilterError) as error:
        sla_deadline(level, since, **kwargs)
    assert message in str(error.value)


def test_filter_map():
    assert FilterModule().filters() == {"sla_deadline": sla_deadline}
