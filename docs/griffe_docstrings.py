"""Griffe extensions for the API pages (``extensions:`` of mkdocstrings in ``mkdocs.yml``).

mkdocstrings reads the package's source without importing it. Two kinds of docstring need help:

- ``RuntimeDocstrings``: a docstring assembled at import time (``Class.__doc__ = ...``, as the
  scikit-learn estimators share their parameter descriptions) is not in the source; for each
  object listed, the extension imports it and takes its ``__doc__``. The docs build therefore
  needs nncore importable (installed, or built in place and on ``PYTHONPATH``) and scikit-learn.
- ``NotesAfterParameters``: in the NumPy docstring convention a section lasts until the next
  section header, so a paragraph written after the last parameter is read as more parameters (and
  the strict build fails on the warnings). For each object listed, the extension inserts a
  ``Notes`` header before the paragraph that starts with the given text; the source is unchanged.

An entry that no longer applies (the object is gone, its docstring is now in the source, the
paragraph is not there or has its ``Notes`` header already) is a warning, so that the strict build
fails until the entry is removed from ``mkdocs.yml``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from typing import Any

import griffe

logger = logging.getLogger("mkdocs.plugins.griffe_docstrings")


def _member(pkg: griffe.Module, path: str) -> griffe.Object | griffe.Alias | None:
    """The object at ``path`` (``package.module.Name``) if it is in this package."""
    if path.split(".")[0] != pkg.name:
        return None
    try:
        return pkg[path.split(".", 1)[1]]
    except KeyError:
        logger.warning("griffe_docstrings: %s does not exist; remove its entry", path)
        return None


class RuntimeDocstrings(griffe.Extension):
    def __init__(self, objects: list[str]) -> None:
        self.objects = objects

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for path in self.objects:
            obj = _member(pkg, path)
            if obj is None:
                continue
            if obj.docstring is not None:
                logger.warning(
                    "griffe_docstrings: %s has its docstring in the source now; remove its entry",
                    path,
                )
                continue
            module, name = path.rsplit(".", 1)
            try:
                text = getattr(importlib.import_module(module), name).__doc__
            except ImportError as error:
                logger.warning(
                    "griffe_docstrings: cannot import %s (%s); the API pages need nncore "
                    "importable (installed, or built in place with python/ on PYTHONPATH) and "
                    "scikit-learn",
                    module,
                    error,
                )
                continue
            obj.docstring = griffe.Docstring(inspect.cleandoc(text), parent=obj)


class NotesAfterParameters(griffe.Extension):
    def __init__(self, objects: dict[str, str]) -> None:
        self.objects = objects

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for path, paragraph in self.objects.items():
            obj = _member(pkg, path)
            if obj is None:
                continue
            text = obj.docstring.value if obj.docstring is not None else ""
            start = re.search(rf"^[ \t]*{re.escape(paragraph)}", text, flags=re.MULTILINE)
            has_notes = re.search(r"^[ \t]*Notes[ \t]*\n[ \t]*-+[ \t]*$", text, flags=re.MULTILINE)
            if obj.docstring is None or start is None or has_notes:
                logger.warning(
                    "griffe_docstrings: the docstring of %s needs no Notes header before %r; "
                    "remove its entry",
                    path,
                    paragraph,
                )
                continue
            obj.docstring.value = f"{text[: start.start()]}Notes\n-----\n\n{text[start.start() :]}"
