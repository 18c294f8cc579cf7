"""``nncore.csv_data``: reading CSV files for the command line, the task rule, class names and
the feature scaler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nncore.csv_data import (
    MAX_INTEGER_CLASSES,
    CSVError,
    Standardizer,
    class_label,
    class_names,
    encode_classes,
    infer_task,
    parse_number,
    read_csv,
)


def write(tmp_path: Path, text: str, name: str = "data.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_reads_header_and_rows_stripped(tmp_path: Path) -> None:
    path = write(tmp_path, ' a , b ,label\n1, 2 , x \n\n3,4,"y, z"\n')
    table = read_csv(path)
    assert table.columns == ["a", "b", "label"]
    assert table.rows == [["1", "2", "x"], ["3", "4", "y, z"]]
    assert table.line_numbers == [2, 4]  # the blank line 3 is skipped but counted
    assert table.n_rows == 2
    assert table.column("label") == ["x", "y, z"]
    np.testing.assert_array_equal(table.numeric(["b", "a"]), [[2.0, 1.0], [4.0, 3.0]])


def test_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffx,y\r\n1,2\r\n".encode())
    table = read_csv(path)
    assert table.columns == ["x", "y"]
    assert table.rows == [["1", "2"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("a,b\n", "header but no data rows"),
        ("a,b\n1,2\n3\n", r"line 3 \(data row 2\) has 1 cells, the header has 2"),
        ("a,b\n1,2,3\n", r"line 2 \(data row 1\) has 3 cells"),
        ("a,b\n\n1,2\n\n3\n", r"line 5 \(data row 2\) has 1 cells"),  # blank lines count
        ("a,,c\n1,2,3\n", "column 2 of the header has no name"),
        ("a,b,a\n1,2,3\n", "column 'a' twice"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CSVError, match=message) as info:
        read_csv(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CSVError, match="no such file"):
        read_csv(tmp_path / "absent.csv")
    with pytest.raises(CSVError, match="is a directory"):
        read_csv(tmp_path)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(bytes(range(128, 256)))
    with pytest.raises(CSVError, match="not a text file"):
        read_csv(path)


def test_csv_error_is_a_value_error() -> None:
    assert issubclass(CSVError, ValueError)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("abc", r"line 3 \(data row 2\), column 'b': 'abc' is not a finite number"),
        ("", r"line 3 \(data row 2\), column 'b': the cell is empty"),
        ("nan", "'nan' is not a finite number"),
        ("-inf", "'-inf' is not a finite number"),
    ],
)
def test_non_numeric_cell_names_row_and_column(tmp_path: Path, cell: str, message: str) -> None:
    table = read_csv(write(tmp_path, f"a,b,label\n1,2,x\n3,{cell},y\n"))
    with pytest.raises(CSVError, match=message):
        table.numeric(["a", "b"])
    assert table.numeric(["a"]).shape == (2, 1)  # other columns are fine


def test_missing_column_lists_the_columns(tmp_path: Path) -> None:
    table = read_csv(write(tmp_path, "a,b\n1,2\n"))
    with pytest.raises(CSVError, match=r"no column 'c' \(columns: a, b\)"):
        table.numeric(["a", "c"])
    with pytest.raises(CSVError, match="no column 'c'"):
        table.column("c")


def test_parse_number() -> None:
    assert parse_number("1.5") == 1.5
    assert parse_number("-2e3") == -2000.0
    assert parse_number("x") is None
    assert parse_number("") is None
    assert parse_number("inf") is None
    assert parse_number("NaN") is None


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["cat", "dog", "cat"], "classify"),
        (["1", "2", "x"], "classify"),  # one non-number is enough
        (["0", "1", "1", "0"], "classify"),
        (["1.0", "2.0", "3"], "classify"),  # integers written as floats
        ([str(i) for i in range(MAX_INTEGER_CLASSES)], "classify"),
        ([str(i) for i in range(MAX_INTEGER_CLASSES + 1)], "regress"),
        (["0.5", "1", "2"], "regress"),
        (["3.25", "-1.5"], "regress"),
    ],
)
def test_infer_task(values: list[str], task: str) -> None:
    assert infer_task(values) == task


def test_class_labels_and_names() -> None:
    assert class_label("3.0") == "3"
    assert class_label("-2") == "-2"
    assert class_label("1.5") == "1.5"
    assert class_label("setosa") == "setosa"
    assert class_names(["b", "a", "c", "a"]) == ["a", "b", "c"]
    # numbers sort numerically, and 10 and 10.0 are one class
    assert class_names(["10", "2", "10.0", "1"]) == ["1", "2", "10"]
    # a mix sorts as text
    assert class_names(["b", "10", "2"]) == ["10", "2", "b"]


def test_encode_classes(tmp_path: Path) -> None:
    table = read_csv(write(tmp_path, "x,y\n1,b\n2,a\n3,b\n"))
    np.testing.assert_array_equal(encode_classes(table, "y", ["a", "b"]), [1, 0, 1])
    message = r"line 3 \(data row 2\), column 'y': class 'a' is not one the model knows"
    with pytest.raises(CSVError, match=message):
        encode_classes(table, "y", ["b", "c"])


def test_standardizer() -> None:
    X = np.array([[1.0, 5.0, -1.0], [3.0, 5.0, 1.0]])
    scaler = Standardizer.fit(X, ["a", "b", "c"], "data.csv")
    np.testing.assert_allclose(scaler.mean, [2.0, 5.0, 0.0])
    np.testing.assert_allclose(scaler.scale, [1.0, 1.0, 1.0])  # the constant column gets 1
    Z = scaler.transform(X)
    np.testing.assert_allclose(Z, [[-1.0, 0.0, -1.0], [1.0, 0.0, 1.0]])
    np.testing.assert_allclose(scaler.inverse_transform(Z), X)
    assert scaler.mean.dtype == np.float64
    assert scaler.scale.dtype == np.float64


def test_the_index_column_of_dataframe_to_csv_is_dropped(tmp_path: Path) -> None:
    table = read_csv(write(tmp_path, ",a,label\n0,1.5,x\n1,2.5,y\n\n2,3.5,x\n"))
    assert table.columns == ["a", "label"]
    assert table.rows == [["1.5", "x"], ["2.5", "y"], ["3.5", "x"]]
    assert table.line_numbers == [2, 3, 5]
    assert len(table.notes) == 1 and "holds 0..2" in table.notes[0]
    assert "DataFrame.to_csv()" in table.notes[0]
    assert read_csv(write(tmp_path, "a,b\n0,1\n", "plain.csv")).notes == []


@pytest.mark.parametrize("first_column", [["1", "2"], ["0", "2"], ["a", "b"], ["", ""]])
def test_another_unnamed_first_column_is_explained(tmp_path: Path, first_column: list[str]) -> None:
    rows = "".join(f"{cell},5,x\n" for cell in first_column)
    with pytest.raises(
        CSVError, match=r"column 1 of the header has no name.*to_csv\(index=False\)"
    ):
        read_csv(write(tmp_path, ",a,label\n" + rows))


def test_other_separators(tmp_path: Path) -> None:
    table = read_csv(write(tmp_path, "a;b\n1,5;2\n"), delimiter=";")
    assert table.columns == ["a", "b"] and table.rows == [["1,5", "2"]]
    table = read_csv(write(tmp_path, "a\tb\n1\t2\n", "tabs.tsv"), delimiter="\t")
    np.testing.assert_array_equal(table.numeric(["b"]), [[2.0]])


def test_standardizer_names_a_column_too_large_to_standardise() -> None:
    X = np.array([[1.0, 1.7e308], [2.0, -1.7e308], [3.0, 1.0]])
    with pytest.raises(CSVError, match=r"data.csv: column 'big': values up to 1.7e\+308"):
        Standardizer.fit(X, ["small", "big"], "data.csv")
    # squares overflow too: the standard deviation of values near 1e200 is not finite
    with pytest.raises(CSVError, match="column 'b'"):
        Standardizer.fit(np.array([[0.0, 1e200], [0.0, -1e200]]), ["a", "b"], "data.csv")
    scaler = Standardizer.fit(np.array([[0.0], [0.002]]), ["a"], "data.csv")  # scale 0.001
    assert np.isinf(scaler.transform(np.array([[1e308]]))).all()  # no warning either


def test_check_finite_names_the_line_and_column(tmp_path: Path) -> None:
    table = read_csv(write(tmp_path, "a,b\n1,2\n\n3,1e308\n"))
    with np.errstate(over="ignore"):
        values = table.numeric(["b", "a"]).astype(np.float32)  # 1e308 overflows float32
    with pytest.raises(
        CSVError, match=r"line 4 \(data row 2\), column 'b': the value 1e308 does not fit"
    ):
        table.check_finite(values, ["b", "a"], "does not fit")
    table.check_finite(table.numeric(["a"]), ["a"], "never")
