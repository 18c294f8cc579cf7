"""Tables from CSV files for the command line: reading, checking, task inference, scaling.

Only the standard library's ``csv`` module is used (no pandas). A file must have a header row;
cells are stripped of surrounding spaces and blank lines are skipped. Every problem raises
``CSVError`` (a ``ValueError``) with a one-line message that names the file and, for a bad cell,
its row and column — the command line prints it as it is.

A cell is located by the line of the file and the data row: ``line 7 (data row 5)`` is on line
7 of the file (the header's line is 1; blank lines are counted, and a row with a quoted line
break is on the line where it ends) and is the 5th row below the header.

A file written by pandas' ``DataFrame.to_csv()`` starts with the unnamed index column: a first
column whose header cell is empty and whose cells are 0, 1, ..., n−1 is dropped (with a note in
``Table.notes``); any other unnamed column is an error that says how to name it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]

#: ``infer_task``: an all-integer target with at most this many distinct values is classified.
MAX_INTEGER_CLASSES = 20


class CSVError(ValueError):
    """A CSV file that cannot be used: missing, empty, ragged, a missing column, a bad cell."""


@dataclass
class Table:
    """A CSV file's header and data rows (strings, stripped), with the line of the file of each
    data row (``line_numbers``) for error messages, and ``notes`` on what reading changed."""

    path: str
    columns: list[str]
    rows: list[list[str]]
    line_numbers: list[int]
    notes: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    def where(self, i: int) -> str:
        """``"line N (data row M)"`` for the data row ``i`` (0-based)."""
        return f"line {self.line_numbers[i]} (data row {i + 1})"

    def index(self, column: str) -> int:
        """The position of ``column``; ``CSVError`` listing the columns if there is none."""
        try:
            return self.columns.index(column)
        except ValueError:
            raise CSVError(
                f"{self.path}: no column {column!r} (columns: {', '.join(self.columns)})"
            ) from None

    def column(self, name: str) -> list[str]:
        """The cells of one column, as strings."""
        position = self.index(name)
        return [row[position] for row in self.rows]

    def numeric(self, names: Sequence[str], dtype: Any = np.float64) -> Array:
        """The named columns as a ``(n_rows, len(names))`` float array; ``CSVError`` naming the
        row and column of the first cell that is not a finite number."""
        positions = [self.index(name) for name in names]
        values = np.empty((self.n_rows, len(positions)), dtype=dtype)
        for i, row in enumerate(self.rows):
            for j, position in enumerate(positions):
                values[i, j] = self._number(row[position], i, names[j])
        return values

    def _number(self, cell: str, i: int, column: str) -> float:
        value = parse_number(cell)
        if value is None:
            what = "the cell is empty" if cell == "" else f"{cell!r} is not a finite number"
            raise CSVError(f"{self.path}: {self.where(i)}, column {column!r}: {what}")
        return value

    def check_finite(self, values: Array, columns: Sequence[str], why: str) -> None:
        """``CSVError`` naming the first non-finite entry of ``values`` — computed from this
        table's rows, one row per data row and a column per name of ``columns`` — with ``why``
        (how finite cells became infinite: too large for a dtype, for the scaling)."""
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            i, j = (int(index) for index in bad[0])
            position = self.index(columns[j])
            raise CSVError(
                f"{self.path}: {self.where(i)}, column {columns[j]!r}: the value "
                f"{self.rows[i][position]} {why}"
            )


def parse_number(cell: str) -> float | None:
    """``float(cell)`` when ``cell`` is a finite number, else None (``nan``/``inf`` are not)."""
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_csv(path: str | Path, delimiter: str = ",") -> Table:
    """Read a CSV file with a header row, its cells separated by ``delimiter`` (one character).

    Raises ``CSVError`` for a missing or unreadable file, an empty file, a file with a header but
    no data rows, empty (but see the module's note on ``DataFrame.to_csv``) or repeated column
    names, and rows whose number of cells differs from the header's.
    """
    name = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header: list[str] | None = None
            rows: list[list[str]] = []
            line_numbers: list[int] = []
            for record in reader:
                cells = [cell.strip() for cell in record]
                if not any(cells):
                    continue  # a blank line
                if header is None:
                    header = cells
                    _check_header(name, header)
                    continue
                if len(cells) != len(header):
                    raise CSVError(
                        f"{name}: line {reader.line_num} (data row {len(rows) + 1}) has "
                        f"{len(cells)} cells, the header has {len(header)}"
                    )
                rows.append(cells)
                line_numbers.append(reader.line_num)
    except FileNotFoundError:
        raise CSVError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise CSVError(f"{name}: is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise CSVError(f"{name}: not a text file (it is not UTF-8)") from None
    except csv.Error as error:
        raise CSVError(f"{name}: not a valid CSV file ({error})") from None
    except OSError as error:
        raise CSVError(f"{name}: cannot read it ({error.strerror or error})") from None
    if header is None:
        raise CSVError(f"{name}: the file is empty (expected a header row and data rows)")
    if not rows:
        raise CSVError(f"{name}: the file has a header but no data rows")
    table = Table(name, header, rows, line_numbers)
    if not header[0]:
        _drop_index_column(table)
    return table


def _drop_index_column(table: Table) -> None:
    """Drop the unnamed first column of ``table`` if it is ``DataFrame.to_csv()``'s index (its
    cells are 0, 1, ..., n−1); else ``CSVError`` saying how to name it."""
    if any(row[0] != str(i) for i, row in enumerate(table.rows)):
        raise CSVError(
            f"{table.path}: column 1 of the header has no name; if it is the index that "
            "pandas' DataFrame.to_csv() writes, write the file with to_csv(index=False), "
            "otherwise give the column a name"
        )
    table.columns = table.columns[1:]
    table.rows = [row[1:] for row in table.rows]
    table.notes.append(
        f"{table.path}: dropped the unnamed first column: it holds 0..{table.n_rows - 1}, the "
        "row index of DataFrame.to_csv() (to_csv(index=False) leaves it out)"
    )


def _check_header(name: str, header: list[str]) -> None:
    # the first cell may be empty: _drop_index_column decides once the rows are read
    for position, column in enumerate(header[1:], start=2):
        if not column:
            raise CSVError(f"{name}: column {position} of the header has no name")
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise CSVError(f"{name}: the header names column {column!r} twice")
        seen.add(column)


def infer_task(values: Sequence[str]) -> str:
    """``"classify"`` or ``"regress"`` for a target column, by this rule:

    classify when any value is not a number, or when every value is an integer (``3``, ``3.0``)
    and there are at most ``MAX_INTEGER_CLASSES`` (20) distinct values; regress otherwise.
    """
    numbers = [parse_number(value) for value in values]
    if any(number is None for number in numbers):
        return "classify"
    if all(float(number).is_integer() for number in numbers if number is not None):
        return "classify" if len(set(numbers)) <= MAX_INTEGER_CLASSES else "regress"
    return "regress"


def class_label(value: str) -> str:
    """The class name of a target cell: integers are written canonically (``"3.0"`` → ``"3"``),
    anything else is kept as it is."""
    number = parse_number(value)
    if number is not None and number.is_integer():
        return str(int(number))
    return value


def class_names(values: Sequence[str]) -> list[str]:
    """The sorted distinct class names of a target column (numerically when all are numbers)."""
    labels = {class_label(value) for value in values}
    if all(parse_number(label) is not None for label in labels):
        return sorted(labels, key=lambda label: (float(label), label))
    return sorted(labels)


def encode_classes(table: Table, target: str, classes: Sequence[str]) -> Array:
    """The target column as class indices into ``classes``; ``CSVError`` naming the row of a
    class that is not in ``classes``."""
    index = {name: i for i, name in enumerate(classes)}
    codes = np.empty(table.n_rows, dtype=np.intp)
    for i, value in enumerate(table.column(target)):
        label = class_label(value)
        if label not in index:
            known = ", ".join(classes)
            raise CSVError(
                f"{table.path}: {table.where(i)}, column {target!r}: class {label!r} is not one "
                f"the model knows ({known})"
            )
        codes[i] = index[label]
    return codes


@dataclass
class Standardizer:
    """``(x − mean) / scale`` per column, with the mean and standard deviation of training data
    (a constant column gets scale 1)."""

    mean: Array
    scale: Array

    @classmethod
    def fit(cls, X: Array, columns: Sequence[str], source: str) -> Standardizer:
        """The mean and standard deviation of each column of ``X`` (named by ``columns``, read
        from the file ``source``); ``CSVError`` naming a column whose values are too large for
        them to be finite in float64 (magnitudes near 1e154 and above)."""
        with np.errstate(over="ignore", invalid="ignore"):
            mean = X.mean(axis=0)
            scale = X.std(axis=0)
        overflowed = ~(np.isfinite(mean) & np.isfinite(scale))
        if overflowed.any():
            j = int(np.argmax(overflowed))
            raise CSVError(
                f"{source}: column {columns[j]!r}: values up to {np.abs(X[:, j]).max():.4g} are "
                "too large to standardise (their mean or standard deviation overflows float64); "
                "rescale the column"
            )
        scale[~(scale > 0)] = 1.0
        return cls(mean.astype(np.float64), scale.astype(np.float64))

    def transform(self, X: Array) -> Array:
        """``(X − mean) / scale``; values too large to scale become ±inf (no NumPy warning):
        check them with ``Table.check_finite``."""
        with np.errstate(over="ignore", invalid="ignore"):
            result: Array = (X - self.mean) / self.scale
        return result

    def inverse_transform(self, X: Array) -> Array:
        result: Array = X * self.scale + self.mean
        return result


def find_categories(table: Table, features: Sequence[str]) -> dict[str, list[str]]:
    """The categorical feature columns — those where no cell is a number (a column of numbers
    with a few other cells is a column of numbers with typos: an error, naming the cell; an
    empty cell is an error in either) — and each one's categories, sorted: a category's code is
    its index in that list."""
    categories = {}
    for name in features:
        cells = table.column(name)
        if all(parse_number(cell) is None for cell in cells) and any(cells):
            categories[name] = sorted(set(cells) - {""})
    return categories


def feature_values(
    table: Table, features: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> Array:
    """The feature columns as a float array: numbers as they are, the cells of a categorical
    column as their codes (the index in ``categories[name]``); ``CSVError`` naming the row and
    column of an empty cell, a cell that is not a finite number, or an unknown category."""
    X = np.empty((table.n_rows, len(features)))
    for j, name in enumerate(features):
        if name not in categories:
            X[:, j] = table.numeric([name])[:, 0]
            continue
        codes = {category: code for code, category in enumerate(categories[name])}
        for i, cell in enumerate(table.column(name)):
            if cell not in codes:
                what = "the cell is empty" if cell == "" else f"{cell!r} is not a category"
                known = ", ".join(map(repr, categories[name][:10]))
                more = ", ..." if len(categories[name]) > 10 else ""
                raise CSVError(
                    f"{table.path}: {table.where(i)}, column {name!r}: {what} of the training "
                    f"data ({known}{more})"
                )
            X[i, j] = codes[cell]
    return X
