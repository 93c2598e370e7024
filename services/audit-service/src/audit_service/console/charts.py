"""Charts rendered on the server to inline SVG (pygal), without pygal's script: the console sends no
JavaScript. Every chart is shown beside a table of the same numbers."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

import pygal
from pygal.style import Style

# Okabe-Ito: told apart by people with any common colour-vision deficiency
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
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
    value_font_size=11,
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
    """A bar chart (grouped, or stacked) with each value printed on its bar."""
    kind = {
        (False, False): pygal.Bar,
        (True, False): pygal.StackedBar,
        (False, True): pygal.HorizontalBar,
        (True, True): pygal.HorizontalStackedBar,
    }[stacked, horizontal]
    chart = kind(
        title=title,
        style=_STYLE,
        width=880,
        height=height,
        js=[],
        print_values=True,
        print_zeroes=False,
        disable_xml_declaration=True,
        legend_at_bottom=True,
        truncate_label=-1,
        truncate_legend=-1,
        x_label_rotation=0 if horizontal or len(labels) <= 8 else 30,
        show_y_guides=True,
    )
    if formatter is not None:
        chart.value_formatter = formatter
    chart.x_labels = list(labels)
    for name, values in series:
        chart.add(name, list(values))
    return _inline(chart.render(is_unicode=True), title)


def _inline(svg: str, title: str) -> str:
    """The SVG as an image with its title for screen readers, without pygal's script."""
    svg = _SCRIPT.sub("", svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(title)}" ', 1)
