"""MkDocs hooks of the documentation site (``hooks:`` in ``mkdocs.yml``).

The benchmark charts stay where the benchmarks write them (``benchmarks/results/*.png``, which the
README shows too); this hook adds them to the site under the same path, so that a page links
``benchmarks/results/latest.png`` and always shows the latest chart, never a stale copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

CHARTS = "benchmarks/results"


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    root = Path(config["config_file_path"]).parent
    for chart in sorted((root / CHARTS).glob("*.png")):
        files.append(File.generated(config, f"{CHARTS}/{chart.name}", abs_src_path=str(chart)))
    return files
