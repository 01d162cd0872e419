# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import math

import pytest

from ansible_collections.usdx.incident.plugins.module_utils._prometheus import (
    PrometheusParseError,
    metric_value,
    metric_values,
    parse_sample_line,
    parse_text,
)


def test_recorded_sandbox_metrics(fixture_text):
    parsed = parse_text(fixture_text("indexer/metrics_healthy.prom"))
    samples = parsed["samples"]
    assert metric_value(samples, "usdx_indexer_last_indexed_block") == 209
    assert metric_value(samples, "usdx_indexer_lag_seconds") == pytest.approx(0.467)
    assert metric_value(samples, "usdx_indexer_dependency_up", {"dependency": "chain"}) == 1
    assert metric_value(samples, "usdx_indexer_missing") is None
    assert parsed["types"]["usdx_indexer_events_total"] == "counter"
    assert parsed["help"]["usdx_indexer_paused"] == "1 when usdx:paused is set (pause:contracts)."
    assert metric_values(samples, ["usdx_indexer_paused", "nope"]) == {"usdx_indexer_paused": 0, "nope": None}


@pytest.mark.parametrize(
    ("line", "name", "labels", "value", "timestamp"),
    [
        ("up 1", "up", {}, 1.0, None),
        ("up 1 1700000000000", "up", {}, 1.0, 1700000000000),
        ("  up\t2.5e3  ", "up", {}, 2500.0, None),
        ('x{a="b"} 3', "x", {"a": "b"}, 3.0, None),
        ('x{a="b",c="d",} 3', "x", {"a": "b", "c": "d"}, 3.0, None),
        ('x{ a = "b" , c="d"} 3', "x", {"a": "b", "c": "d"}, 3.0, None),
        (r'x{path="C:\\dir\"q\"\nz"} 4', "x", {"path": 'C:\\dir"q"\nz'}, 4.0, None),
        ('x{a="}{,="} 5', "x", {"a": "}{,="}, 5.0, None),
        ("x{} 6", "x", {}, 6.0, None),
        ("ns:metric_total -7", "ns:metric_total", {}, -7.0, None),
        ("x +Inf", "x", {}, math.inf, None),
        ("x -Inf", "x", {}, -math.inf, None),
    ],
    ids=["plain", "timestamp", "whitespace", "label", "trailing-comma", "spaces-in-labels", "escapes",
         "specials-in-value", "empty-labels", "colon-name", "+inf", "-inf"],
)
def test_parse_sample_line(line, name, labels, value, timestamp):
    sample = parse_sample_line(line.strip())
    assert (sample.name, sample.labels, sample.value, sample.timestamp_ms) == (name, labels, value, timestamp)


def test_nan_value():
    assert math.isnan(parse_sample_line("x NaN").value)


@pytest.mark.parametrize(
    "line",
    ["1x 2", "x", "x{a=b} 1", 'x{a="b" 1', 'x{a="b"}1', "x one", "x 1 2 3", 'x{a="b\\', "x 1 1.5", '{a="b"} 1'],
    ids=["bad-name", "no-value", "unquoted-label", "unterminated-labels", "no-space", "bad-value",
         "too-many-fields", "dangling-escape", "bad-timestamp", "no-name"],
)
def test_bad_lines_name_the_line(line):
    text = f"# HELP ok fine\nok 1\n{line}\n"
    with pytest.raises(PrometheusParseError, match=r"line 3: .*" + __import__("re").escape(repr(line))):
        parse_text(text)


def test_comments_and_blank_lines_are_skipped():
    parsed = parse_text("\n# just a comment\n# TYPE a\n#HELP b\n\na 1\n")
    assert [s.name for s in parsed["samples"]] == ["a"]
    assert parsed["types"] == {"a": "untyped"}
    assert parsed["help"] == {"b": ""}


def test_first_match_wins_and_labels_filter():
    samples = parse_text('m{k="1"} 10\nm{k="2"} 20\nm 30\n')["samples"]
    assert metric_value(samples, "m") == 10
    assert metric_value(samples, "m", {"k": "2"}) == 20
    assert metric_value(samples, "m", {"k": "3"}) is None
