# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The post-mortem's two charts as inline SVG: the steps against their T+ deadlines, and the key metric over T+.

Pure Python, no script: every text (step titles, host names, escalation reasons) is escaped here and stripped of
characters XML does not allow, so the SVG is well-formed whatever a host wrote. Both charts have a viewBox and no
fixed size, so they scale with the page.
"""

from __future__ import annotations

import html
import math
import re
import typing as t

# Characters XML 1.0 does not allow (a log line may carry them); removed from every text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# The steps chart's T+ axis is logarithmic: a chain's steps end seconds apart, its deadlines run to T+24h.
LOG_UNIT_SECONDS = 5.0
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
TICKS = (0, 10, 30, 60, 120, 300, 600, 900, 1800, 2700, 3600, 2 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 48 * 3600)
STATUS_COLOURS = {"ok": "#2e7d32", "changed": "#1565c0", "skipped": "#9e9e9e", "failed": "#c62828",
                  "refused": "#ef6c00", "escalated": "#ef6c00", "running": "#757575"}
LATE_COLOUR = "#c62828"
SERIES_COLOURS = ("#1565c0", "#6a1b9a", "#00838f", "#ad1457", "#558b2f")
FONT = "font-family=\"DejaVu Sans, Arial, sans-serif\""


def text(value: t.Any) -> str:
    """Any value as SVG text or attribute content: escaped, without characters XML forbids."""
    return html.escape(_NOT_XML.sub("", str(value)), quote=True)


def clock(seconds: t.Any) -> str:
    """Seconds as the runbook's T+ notation: T+0, T+45s, T+5m, T+1h30m, T+24h."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return "T+?"
    seconds = int(round(seconds))
    if seconds <= 0:
        return "T+0"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"T+{hours}h" + (f"{minutes:02d}m" if minutes else "")
    if minutes:
        return f"T+{minutes}m" + (f"{secs:02d}s" if secs else "")
    return f"T+{secs}s"


def _log_x(seconds: float, axis_max: float) -> float:
    """Position 0..1 of T+seconds on a log axis reaching axis_max."""
    return math.log10(1 + max(seconds, 0) / LOG_UNIT_SECONDS) / math.log10(1 + axis_max / LOG_UNIT_SECONDS)


def _ticks(axis_max: float, scale: t.Callable[[float], float], width: float, min_gap: float) -> list[float]:
    """Tick values up to axis_max whose labels do not overlap (at least min_gap pixels apart)."""
    chosen: list[float] = []
    for value in TICKS:
        if value > axis_max:
            break
        if not chosen or (scale(value) - scale(chosen[-1])) * width >= min_gap:
            chosen.append(value)
    return chosen


def _nice_step(span: float, count: int) -> float:
    """A readable step (1, 2 or 5 times a power of ten) that divides span into at most count intervals."""
    raw = max(span, 1e-9) / count
    power = 10 ** math.floor(math.log10(raw))
    return float(next(factor * power for factor in (1, 2, 5, 10) if factor * power >= raw))


def _time_step(span: float, count: int) -> float:
    """A step of the T+ axis in whole seconds, minutes or hours that divides span into at most count intervals."""
    return float(next((step for step in TIME_STEPS if step * count >= span), math.ceil(span / count / 3600) * 3600))


def number(value: float) -> str:
    """A value as the charts print it: whole numbers without decimals, others with one."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def timeline_chart(rows: t.Sequence[t.Mapping[str, t.Any]], *, title: str, width: int = 640,
                   chart_id: str = "timeline-chart") -> str:
    """One row per step: a bar from its start to its end on a log T+ axis, its deadline as a marker, late marked.

    A row: label, status, start, end (None: no end recorded, drawn dashed to open_end), open_end, deadline, late,
    and escalations [(tplus, description)]. Seconds are T+ seconds.
    """
    label_w, status_w, row_h, top, bottom = 150, 110, 26, 34, 44
    plot_w = width - label_w - status_w - 20
    height = top + max(len(rows), 1) * row_h + bottom
    values = [0.0, 60.0]
    for row in rows:
        values += [v for v in (row.get("start"), row.get("end"), row.get("open_end"), row.get("deadline"))
                   if isinstance(v, (int, float))]
    axis_max = max(values)
    axis_max = next((tick for tick in TICKS if tick >= axis_max), axis_max)

    def x(seconds: float) -> float:
        return label_w + _log_x(seconds, axis_max) * plot_w

    parts = [f'<svg id="{text(chart_id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-labelledby="{text(chart_id)}-title" {FONT} font-size="12">',
             f'<title id="{text(chart_id)}-title">{text(title)}</title>',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
             f'<text x="{label_w}" y="18" font-size="13" font-weight="bold">{text(title)}</text>']
    axis_y = top + max(len(rows), 1) * row_h
    for tick in _ticks(axis_max, lambda v: _log_x(v, axis_max), plot_w, 44):
        tx = x(tick)
        parts.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{axis_y}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#424242">{text(clock(tick))}</text>')
    parts.append(f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + plot_w}" y2="{axis_y}" stroke="#616161"/>')
    parts.append(f'<text x="{label_w + plot_w / 2:.1f}" y="{axis_y + 34}" text-anchor="middle" fill="#616161">'
                 f'T+ since the incident started (log scale); \u25c6 deadline</text>')
    if not rows:
        parts.append(f'<text x="{label_w}" y="{top + 17}" fill="#616161">No step was recorded.</text>')
    for index, row in enumerate(rows):
        y = top + index * row_h
        status = str(row.get("status") or "running")
        late = bool(row.get("late"))
        colour = LATE_COLOUR if late else STATUS_COLOURS.get(status, "#757575")
        start = float(row.get("start") or 0)
        end = row.get("end")
        open_bar = not isinstance(end, (int, float))
        stop = float(row.get("open_end") if open_bar and isinstance(row.get("open_end"), (int, float)) else
                     (start if open_bar else end))
        x1, x2 = x(start), max(x(stop), x(start) + 3)
        parts.append(f'<g class="step{" late" if late else ""}">')
        parts.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{text(row.get("label"))}</text>')
        dash = ' stroke-dasharray="4 3" fill-opacity="0.35"' if open_bar else ""
        parts.append(f'<rect x="{x1:.1f}" y="{y + 6}" width="{x2 - x1:.1f}" height="{row_h - 12}" rx="2" fill="{colour}" '
                     f'stroke="{colour}"{dash}><title>{text(row.get("tooltip") or row.get("label"))}</title></rect>')
        deadline = row.get("deadline")
        if isinstance(deadline, (int, float)):
            dx = x(deadline)
            parts.append(f'<path d="M{dx:.1f} {y + 4} l5 9 l-5 9 l-5 -9 z" fill="#fafafa" stroke="#212121">'
                         f'<title>{text("deadline " + clock(deadline))}</title></path>')
        for at, description in row.get("escalations") or ():
            if isinstance(at, (int, float)):
                ex = x(at)
                parts.append(f'<path d="M{ex:.1f} {y + 2} l5 -8 l-10 0 z" fill="#ef6c00">'
                             f'<title>{text(description)}</title></path>')
        mark = "LATE" if late else ("no end recorded" if open_bar else status)
        weight = "bold" if late or status in ("failed", "refused", "escalated") else "normal"
        parts.append(f'<text x="{label_w + plot_w + 10}" y="{y + 17}" fill="{colour}" font-weight="{weight}">'
                     f'{text(mark)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def metric_chart(series: t.Mapping[str, t.Sequence[t.Tuple[float, float]]], *, title: str, unit: str,
                 references: t.Sequence[t.Tuple[str, float]] = (), markers: t.Sequence[t.Tuple[float, str]] = (),
                 x_max: t.Optional[float] = None, empty_note: str = "No sample.", width: int = 640,
                 chart_id: str = "metric-chart") -> str:
    """The key metric over T+ (linear): one line per series name, (tplus, value) points; dashed reference lines
    (a limit, a threshold) and vertical markers (fix applied, services restored)."""
    left, right, top, bottom, height = 60, 20, 34, 46, 300
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [p for values in series.values() for p in values]
    x_span = max([p[0] for p in points] + [m[0] for m in markers] + [x_max or 0, 1.0])
    x_step = _time_step(x_span, 6)
    x_top = x_step * math.ceil(x_span / x_step)
    y_span = max([p[1] for p in points] + [r[1] for r in references] + [1.0])
    y_step = _nice_step(y_span, 5)
    y_top = y_step * math.ceil(y_span / y_step)

    def x(seconds: float) -> float:
        return left + max(seconds, 0) / x_top * plot_w

    def y(value: float) -> float:
        return top + plot_h - value / y_top * plot_h

    parts = [f'<svg id="{text(chart_id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-labelledby="{text(chart_id)}-title" {FONT} font-size="12">',
             f'<title id="{text(chart_id)}-title">{text(title)}</title>',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
             f'<text x="{left}" y="18" font-size="13" font-weight="bold">{text(title)}</text>']
    for step in range(int(round(y_top / y_step)) + 1):
        value = y_step * step
        parts.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{left + plot_w}" y2="{y(value):.1f}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" fill="#424242">{text(number(value))}</text>')
    for step in range(int(round(x_top / x_step)) + 1):
        seconds = x_step * step
        parts.append(f'<text x="{x(seconds):.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="#424242">'
                     f'{text(clock(seconds))}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#616161"/>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" fill="#616161">'
                 f'T+ since the incident started; {text(unit)}</text>')
    for label, value in references:
        parts.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{left + plot_w}" y2="{y(value):.1f}" stroke="#c62828" '
                     f'stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{left + plot_w - 4}" y="{y(value) - 4:.1f}" text-anchor="end" fill="#c62828">'
                     f'{text(label)} ({text(number(value))})</text>')
    for seconds, label in markers:
        parts.append(f'<line x1="{x(seconds):.1f}" y1="{top}" x2="{x(seconds):.1f}" y2="{top + plot_h}" stroke="#757575" '
                     f'stroke-dasharray="2 3"/>')
        parts.append(f'<text x="{x(seconds) + 3:.1f}" y="{top + 10}" fill="#616161">{text(label)}</text>')
    if not points:
        parts.append(f'<text x="{left + 10}" y="{top + plot_h / 2:.1f}" fill="#616161">{text(empty_note)}</text>')
    for index, (name, values) in enumerate(series.items()):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        ordered = sorted(values)
        parts.append(f'<g class="series"><title>{text(name)}</title>')
        if len(ordered) > 1:
            path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in ordered)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for seconds, value in ordered:
            parts.append(f'<circle cx="{x(seconds):.1f}" cy="{y(value):.1f}" r="4" fill="{colour}">'
                         f'<title>{text(f"{name} {clock(seconds)}: {number(value)} {unit}")}</title></circle>')
        parts.append("</g>")
        if len(series) > 1:
            parts.append(f'<text x="{left + 8}" y="{top + 14 + 14 * index}" fill="{colour}">{text(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
