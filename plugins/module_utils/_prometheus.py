# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""A parser for the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

import math
import re
import typing as t

_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class PrometheusParseError(ValueError):
    """A line of the exposition is not valid; the message quotes the line and its number."""


class Sample(t.NamedTuple):
    name: str
    labels: dict[str, str]
    value: float
    timestamp_ms: int | None


def _parse_value(text: str) -> float:
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    if lowered == "nan":
        return math.nan
    return float(text)


def _parse_labels(line: str, pos: int) -> tuple[dict[str, str], int]:
    """Parse C({a="b",c="d"}) starting at the C({); return the labels and the position after C(})."""
    labels: dict[str, str] = {}
    pos += 1
    length = len(line)
    while True:
        while pos < length and line[pos] in " \t":
            pos += 1
        if pos < length and line[pos] == "}":
            return labels, pos + 1
        match = _LABEL_NAME_RE.match(line, pos)
        if not match:
            raise ValueError("bad label name")
        name = match.group(0)
        pos = match.end()
        while pos < length and line[pos] in " \t":
            pos += 1
        if pos >= length or line[pos] != "=":
            raise ValueError(f"expected = after label {name}")
        pos += 1
        while pos < length and line[pos] in " \t":
            pos += 1
        if pos >= length or line[pos] != '"':
            raise ValueError(f"expected a quoted value for label {name}")
        pos += 1
        chars: list[str] = []
        while True:
            if pos >= length:
                raise ValueError(f"unterminated value of label {name}")
            char = line[pos]
            if char == "\\":
                if pos + 1 >= length:
                    raise ValueError(f"dangling escape in label {name}")
                nxt = line[pos + 1]
                chars.append(_ESCAPES.get(nxt, "\\" + nxt))
                pos += 2
                continue
            if char == '"':
                pos += 1
                break
            chars.append(char)
            pos += 1
        labels[name] = "".join(chars)
        while pos < length and line[pos] in " \t":
            pos += 1
        if pos < length and line[pos] == ",":
            pos += 1
        elif pos < length and line[pos] == "}":
            return labels, pos + 1
        else:
            raise ValueError("expected , or } after a label")


def parse_sample_line(line: str) -> Sample:
    """One sample line: C(name{labels} value [timestamp])."""
    match = _NAME_RE.match(line)
    if not match:
        raise ValueError("bad metric name")
    name = match.group(0)
    pos = match.end()
    labels: dict[str, str] = {}
    if pos < len(line) and line[pos] == "{":
        labels, pos = _parse_labels(line, pos)
    if pos < len(line) and line[pos] not in " \t":
        raise ValueError("expected white space after the name")
    rest = line[pos:].split()
    if not rest or len(rest) > 2:
        raise ValueError("expected a value and an optional timestamp after the name")
    value = _parse_value(rest[0])
    timestamp = int(rest[1]) if len(rest) == 2 else None
    return Sample(name, labels, value, timestamp)


def parse_text(text: str) -> dict[str, t.Any]:
    """Parse a whole exposition.

    Returns C(samples) (list of L(Sample)), C(types) (metric name -> type) and C(help)
    (metric name -> help text). Raises L(PrometheusParseError) naming the first bad line.
    """
    samples: list[Sample] = []
    types: dict[str, str] = {}
    helps: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line[1:].strip().split(None, 2)
            if len(parts) >= 2 and parts[0] == "TYPE":
                types[parts[1]] = parts[2].strip() if len(parts) == 3 else "untyped"
            elif len(parts) >= 2 and parts[0] == "HELP":
                helps[parts[1]] = parts[2] if len(parts) == 3 else ""
            continue
        try:
            samples.append(parse_sample_line(line))
        except ValueError as exc:
            raise PrometheusParseError(f"line {number}: {exc}: {raw!r}") from exc
    return {"samples": samples, "types": types, "help": helps}


def metric_value(samples: t.Iterable[Sample], name: str, labels: dict[str, str] | None = None) -> float | None:
    """The value of the first sample called O(name) whose labels include O(labels), or None."""
    wanted = labels or {}
    for sample in samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items()):
            return sample.value
    return None


def metric_values(samples: t.Iterable[Sample], names: t.Iterable[str]) -> dict[str, float | None]:
    """First unlabelled-or-any value of each of O(names) (None when absent)."""
    sample_list = list(samples)
    return {name: metric_value(sample_list, name) for name in names}
