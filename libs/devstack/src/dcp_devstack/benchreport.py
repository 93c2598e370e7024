"""The table `make bench` ends with: every benchmark records its figures beside their goal and the
anchor measured in the same run, with the ratio; this pytest plugin prints them together at the end.

A benchmark calls `record(...)` (it works without the plugin too: the rows are then only kept);
`dcp-stack bench` loads the plugin with `-p dcp_devstack.benchreport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Row", "record", "rows"]


@dataclass(frozen=True)
class Row:
    measure: str
    figure: str
    goal: str
    anchor: str = "-"
    ratio: str = "-"
    met: bool | None = None


_ROWS: list[Row] = []


def record(
    measure: str,
    figure: str,
    *,
    goal: str,
    anchor: str = "-",
    ratio: float | None = None,
    met: bool | None = None,
) -> Row:
    """Keep one row of the goals table (`ratio`: the figure over its anchor, printed as 0.00x)."""
    row = Row(measure, figure, goal, anchor, "-" if ratio is None else f"{ratio:.3f}x", met)
    _ROWS.append(row)
    print(f"  [{measure}] {figure}   goal {goal}   anchor {anchor}   ratio {row.ratio}")
    return row


def rows() -> list[Row]:
    return list(_ROWS)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _ROWS:
        return
    columns = ("measure", "figure", "anchor (same run)", "ratio", "goal", "met")
    table = [
        (r.measure, r.figure, r.anchor, r.ratio, r.goal, {True: "yes", False: "no", None: "-"}[r.met])
        for r in _ROWS
    ]
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(columns)]
    terminalreporter.section("benchmark goals")
    terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    terminalreporter.write_line("  ".join("-" * w for w in widths))
    for row in table:
        terminalreporter.write_line("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
