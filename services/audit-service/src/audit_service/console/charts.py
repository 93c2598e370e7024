"""Charts rendered on the server to inline SVG (pygal), without pygal's script: the console sends no
JavaScript. Every chart is shown beside a table of the same numbers."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Sequence

import pygal
from pygal.style import Style

# Okabe-Ito: told apart by people with any common colour-vision deficiency
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999999", "#F0E442")
_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#6b6b6b",
    colors=PALETTE,
    font_family='system-ui, "Noto Sans", "Noto Sans CJK SC", sans-serif',
    title_font_size=16,
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=13,
    legend_font_size=12,
)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S)

Series = Sequence[tuple[str, Sequence[float | None]]]


def bar(
    title: str,
    labels: Sequence[str],
    series: Series,
    *,
    stacked: bool = False,
    horizontal: bool = False,
    formatter: Callable[[float], str] | None = None,
    height: int = 360,
) -> str:
    """A bar chart (grouped, or stacked) with each value printed on its bar; counts (no `formatter`)
    on a whole-number axis. Nothing to draw: no chart (the table beside it says so)."""
    drawn = [(name, list(values)) for name, values in series]
    if not labels or not any(v for _, values in drawn for v in values):
        return ""
    kind = {
        (False, False): pygal.Bar,
        (True, False): pygal.StackedBar,
        (False, True): pygal.HorizontalBar,
        (True, True): pygal.HorizontalStackedBar,
    }[stacked, horizontal]
    # a bar as wide as it needs, not the whole page: the width follows the bars
    bars = len(labels) * (1 if stacked else max(1, len(drawn)))
    width = 880 if horizontal else min(880, 260 + 56 * bars)
    many = len(labels) > 12 and not horizontal
    chart = kind(
        title=title,
        style=_STYLE,
        width=width,
        height=height,
        js=[],
        print_values=True,
        print_zeroes=False,
        print_values_position="center" if stacked else "top",
        disable_xml_declaration=True,
        legend_at_bottom=True,
        truncate_label=-1,
        truncate_legend=-1,
        x_label_rotation=30 if many else 0,
        x_labels_major_every=max(1, len(labels) // 10) if many else None,
        show_minor_x_labels=not many,
        show_y_guides=True,
    )
    top = max(_totals(drawn, len(labels)) if stacked else [v or 0 for _, vs in drawn for v in vs])
    step = _step(top, whole=formatter is None)
    chart.y_labels = [round(step * i, 6) for i in range(int(top / step) + 2)]
    chart.value_formatter = formatter or (lambda v: f"{v:,.0f}")
    chart.x_labels = list(labels)
    for name, values in drawn:
        chart.add(name, values)
    return _inline(chart.render(is_unicode=True), title, width)


def _step(top: float, *, whole: bool) -> float:
    """A round step for an axis up to `top`, about six of them (whole numbers for counts)."""
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if (not whole or step >= 1) and top / step <= 7:
            return step
    return float(10 ** math.ceil(math.log10(max(top, 1) / 7)))


def _totals(series: list[tuple[str, list[float | None]]], count: int) -> list[float]:
    return [sum(values[i] or 0 for _, values in series) for i in range(count)]


def _inline(svg: str, title: str, width: int) -> str:
    """The SVG as an image with its title for screen readers, without pygal's script."""
    svg = _SCRIPT.sub("", svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" ', 1)
