"""Bar charts of benchmark results: one group of bars per size, one bar per implementation.

matplotlib is optional: without it :func:`bar_chart` writes nothing and says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def bar_chart(
    path: Path,
    groups: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    title: str,
    ylabel: str,
) -> str:
    """Write a grouped bar chart (log-scale y) of ``series`` over ``groups`` to ``path`` (PNG).

    ``series`` maps a legend label to one value per group (``None``: not measured, no bar).
    Returns a one-line message: the file written, or why nothing was written.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        return f"matplotlib is not installed: no chart written to {path}"
    shown = {label: values for label, values in series.items() if any(v for v in values)}
    if not shown:
        return f"nothing to plot: no chart written to {path}"
    width = 0.8 / len(shown)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(groups) + 3.0), 4.5))
    for i, (label, values) in enumerate(shown.items()):
        offset = (i - (len(shown) - 1) / 2) * width
        bars = [(g + offset, v) for g, v in enumerate(values) if v and math.isfinite(v) and v > 0]
        axes.bar([x for x, _ in bars], [v for _, v in bars], width=width, label=label)
    axes.set_yscale("log")
    axes.set_xticks(range(len(groups)), list(groups))
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.grid(axis="y", which="major", alpha=0.3)
    axes.legend(fontsize=8, ncols=2)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"wrote {path}"


def size_chart(
    path: Path,
    entries: Mapping[str, Any],
    series: Sequence[tuple[str, str]],
    metric: str,
    title: str,
    ylabel: str,
) -> str:
    """:func:`bar_chart` of benchmark entries by size.

    ``entries`` maps a size name to its JSON entry (``layers`` and ``results``); ``series`` lists
    ``(result key, legend label)``; the bar height is ``results[key][metric]``.
    """
    sizes = list(entries)
    values = {
        label: [entries[s]["results"].get(key, {}).get(metric) for s in sizes]
        for key, label in series
    }
    groups = [f"{s}\n{'-'.join(map(str, entries[s]['layers']))}" for s in sizes]
    return bar_chart(path, groups, values, title, ylabel)
