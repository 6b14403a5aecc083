"""Geometry of the HTML report's timeline: uploads per host over time, personal data marked
by type, the opt-in moment as a line.

Only numbers and plain strings are computed here; the template draws the SVG with
autoescaping, so a host name from a capture can never become markup.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auditor.report.common import PERSONAL_DATA, data_label, duration, join_words, signed
from auditor.report.facts import counts_of
from auditor.report.mask import Masker

if TYPE_CHECKING:
    from auditor.engine import AuditResult

WIDTH = 960
LEFT = 240  # room for host names
RIGHT = 24
TOP = 34  # room for the opt-in label
ROW = 22
AXIS = 34
MAX_ROWS = 30
MAX_LABEL = 34

#: One color per data type; chosen to stay apart in print and for common color blindness.
COLORS = {
    "imei": "#d62728",
    "imsi": "#ff7f0e",
    "iccid": "#8c564b",
    "phone_number": "#9467bd",
    "android_id": "#1f77b4",
    "advertising_id": "#17becf",
    "mac_address": "#7f7f7f",
    "serial_number": "#bcbd22",
    "email": "#e377c2",
    "contacts": "#2ca02c",
    "sms": "#006d2c",
    "location": "#393b79",
}
OTHER_COLOR = "#444444"


@dataclass
class Mark:
    x: float
    y: float
    color: str
    title: str  # tooltip: host, time, data type


@dataclass
class Timeline:
    width: int
    height: int
    plot_left: int
    plot_right: int
    axis_y: float
    rows: list[tuple[float, str]] = field(default_factory=list)  # (y, host label)
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (x, "10 s")
    uploads: list[Mark] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)  # personal data
    opt_in: tuple[float, str] | None = None  # (x, label)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (color, label)
    caption: str = ""
    hidden_hosts: int = 0


def _nice_step(span: float) -> float:
    """A 1-2-5 step giving about six ticks over `span` seconds."""
    raw = max(span / 6, 1e-3)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _tick_label(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def build_timeline(result: AuditResult, masker: Masker) -> Timeline | None:
    """The chart's geometry, or None when there is nothing to draw."""
    start = result.start_time
    if start is None:
        return None
    types_by_exchange: dict[int, list[str]] = defaultdict(list)
    for observation in result.observations:
        if observation.data_type not in PERSONAL_DATA:
            continue  # unreadable uploads are drawn as uploads of their own color
        if observation.data_type not in types_by_exchange[observation.exchange]:
            types_by_exchange[observation.exchange].append(observation.data_type)
    by_host: dict[str, list] = defaultdict(list)
    for exchange in result.exchanges:
        by_host[exchange.host or exchange.server_ip or exchange.server].append(exchange)
    # Hosts that received personal data always get a row; the rest by first contact.
    ranked = sorted(by_host, key=lambda h: (not any(types_by_exchange.get(e.id)
                                                     for e in by_host[h]),
                                             min(e.time for e in by_host[h])))
    shown = sorted(ranked[:MAX_ROWS], key=lambda h: min(e.time for e in by_host[h]))
    end = max((e.end_time or e.time) for e in result.exchanges)
    span = max(end - start, 1.0)
    if result.opt_in_at is not None:
        span = max(span, result.opt_in_at - start)
    span *= 1.02  # keep the last mark off the border
    right = WIDTH - RIGHT

    def x_of(moment: float) -> float:
        return round(LEFT + max(moment - start, 0.0) / span * (right - LEFT), 1)

    height = TOP + ROW * len(shown) + AXIS
    chart = Timeline(width=WIDTH, height=height, plot_left=LEFT, plot_right=right,
                     axis_y=TOP + ROW * len(shown), hidden_hosts=len(ranked) - len(shown))
    seen_types: dict[str, float] = {}
    for row, host in enumerate(shown):
        y = TOP + ROW * row + ROW / 2
        label = masker.text(host)
        chart.rows.append((y, label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"))
        for exchange in by_host[host]:
            x = x_of(exchange.time)
            when = signed(exchange.time - start)
            state = "" if exchange.readable else " (content unreadable)"
            chart.uploads.append(Mark(x, y, "#9aa5b1" if exchange.readable else "#d0d5da",
                                      f"{label} {when}: {exchange.transport}{state}"))
            types = types_by_exchange.get(exchange.id, [])
            for i, data_type in enumerate(types):
                seen_types.setdefault(data_type, exchange.time)
                seen_types[data_type] = min(seen_types[data_type], exchange.time)
                offset = (i - (len(types) - 1) / 2) * 5
                chart.marks.append(Mark(x, round(y + offset, 1),
                                        COLORS.get(data_type, OTHER_COLOR),
                                        f"{data_label(data_type)} to {label} {when}"))
    step = _nice_step(span)
    tick = 0.0
    while tick <= span:
        chart.ticks.append((x_of(start + tick), _tick_label(round(tick, 6))))
        tick += step
    if result.opt_in_at is not None:
        chart.opt_in = (x_of(result.opt_in_at), f"opt-in {signed(result.opt_in_at - start)}")
    chart.legend = [(COLORS.get(t, OTHER_COLOR), data_label(t)) for t in seen_types]
    chart.caption = _caption(seen_types, start, result.opt_in_at, counts_of(result).sentence)
    return chart


def _caption(first_seen: dict[str, float], start: float, opt_in_at: float | None,
             checked: str) -> str:
    """`The IMEI left 0.4 s after the capture started, ...; the user opted in at 41.0 s.`"""
    if not first_seen:
        text = f"No personal data was seen leaving in {checked}"
    else:
        (first, when), *rest = sorted(first_seen.items(), key=lambda item: item[1])[:3]
        text = (f"The {data_label(first)} left the phone {duration(when - start)} "
                f"after the capture started")
        later = [f"the {data_label(t)} at {duration(w - start)}" for t, w in rest]
        if later:
            text = join_words([text, *later])
    if opt_in_at is None:
        return text + "; no opt-in was seen."
    if opt_in_at < start:
        return text + f"; the user had opted in {duration(start - opt_in_at)} before it started."
    return text + f"; the user opted in at {duration(opt_in_at - start)}."
