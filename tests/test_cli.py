"""The command line: ``python -m nncore`` and the ``nncore`` console script."""

from __future__ import annotations

import concurrent.futures
import csv
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import nncore
from nncore.csv_data import encode_classes, read_csv
from nncore.metrics import metric_names

TIMEOUT = 60


def run(
    *args: str,
    executable: list[str] | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    command = (executable or [sys.executable, "-m", "nncore"]) + list(args)
    environment = {**os.environ, "PYTHONWARNINGS": "error", **(env or {})}
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=environment,
        cwd=cwd,
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Non-zero exit, no traceback, a single ``error:`` line (after argparse's usage line)."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1, result.stderr
    for word in words:
        assert word in error_lines[0], result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr


def test_demo_runs_and_reports_accuracy() -> None:
    result = run("demo", "--epochs", "30")
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout
    assert result.stderr == ""
    assert "Traceback" not in result.stdout


def test_demo_is_reproducible_with_seed() -> None:
    def accuracy_line(seed: str) -> str:
        result = run("demo", "--epochs", "5", "--seed", seed)
        assert result.returncode == 0, result.stderr
        return next(line for line in result.stdout.splitlines() if "accuracy" in line)

    assert accuracy_line("3") == accuracy_line("3")


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert nncore.__version__ in result.stdout
    assert result.stdout.strip() == f"nncore {nncore.__version__}"


@pytest.mark.parametrize("epochs", ["0", "-5"])
def test_demo_rejects_non_positive_epochs(epochs: str) -> None:
    assert_clean_error(run("demo", "--epochs", epochs), "--epochs")


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (("demo", "--epochs", "many"), "--epochs"),
        (("demo", "--seed", "x"), "--seed"),
        (("demo", "--bogus"), "--bogus"),
        (("train",), "train"),
    ],
)
def test_bad_arguments_give_one_line_error(args: tuple[str, ...], word: str) -> None:
    assert_clean_error(run(*args), word)


def test_no_command_exits_non_zero() -> None:
    result = run()
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "usage" in result.stderr.lower()


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_demo_help(flag: str) -> None:
    result = run("demo", flag)
    assert result.returncode == 0, result.stderr
    assert "--epochs" in result.stdout
    assert "--seed" in result.stdout
    assert "usage" in result.stdout.lower()


def test_top_level_help_lists_demo() -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout
    assert "--version" in result.stdout


def test_main_function_returns_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    from nncore.__main__ import main

    assert main(["demo", "--epochs", "2"]) == 0
    assert "accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["demo", "--epochs", "0"])
    assert info.value.code != 0


CONSOLE_SCRIPT = Path(sys.executable).parent / "nncore"


@pytest.mark.skipif(
    not CONSOLE_SCRIPT.exists(), reason=f"no nncore console script next to {sys.executable}"
)
def test_console_script() -> None:
    version = run("--version", executable=[str(CONSOLE_SCRIPT)])
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"nncore {nncore.__version__}"
    demo = run("demo", "--epochs", "5", executable=[str(CONSOLE_SCRIPT)])
    assert demo.returncode == 0, demo.stderr
    assert "accuracy" in demo.stdout
    assert_clean_error(run("demo", "--epochs", "0", executable=[str(CONSOLE_SCRIPT)]), "--epochs")


# --------------------------------------------------------------------------------------------
# train / predict / evaluate / info on CSV files, bench, demo --plot
# --------------------------------------------------------------------------------------------

COLOURS = ("red", "green", "blue")


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def run_here(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run`` without a new interpreter: ``nncore.cli.main`` in this process, in ``cwd``. Some
    commands run this way to keep the file's time down; ``run`` covers each command too."""

    def run_here(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        from nncore.cli import main

        capsys.readouterr()
        with monkeypatch.context() as patch:
            patch.chdir(cwd)
            try:
                status = main(list(args))
            except SystemExit as stop:
                status = stop.code if isinstance(stop.code, int) else 1
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), status, captured.out, captured.err)

    return run_here


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def blobs(n: int, seed: int) -> list[list[object]]:
    """Three well separated clusters in 3-D (features on different scales), labelled by colour
    names, with an extra text column ``note`` that is not a feature."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 0.0], [0.0, 4.0, 4.0]])
    rows: list[list[object]] = []
    for i in range(n):
        label = i % 3
        x = centres[label] + rng.normal(scale=0.5, size=3)
        rows.append([f"{x[0]:.4f}", f"{1000 * x[1]:.2f}", f"{x[2] / 100:.6f}", COLOURS[label]])
    return rows


def sine_rows(n: int, seed: int) -> list[list[object]]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, size=(n, 2))
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] + 10.0
    return [[f"{a:.5f}", f"{b:.5f}", f"{t:.5f}"] for (a, b), t in zip(x, y, strict=True)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the data files of this module's tests (used as the working directory)."""
    path = tmp_path_factory.mktemp("cli")
    write_csv(path / "colours.csv", ["x1", "x2", "x3", "colour"], blobs(150, seed=0))
    test_rows = blobs(60, seed=1)
    # the same features in another order, an extra column, the target in the middle
    write_csv(
        path / "colours_test.csv",
        ["note", "x3", "colour", "x1", "x2"],
        [["n/a", r[2], r[3], r[0], r[1]] for r in test_rows],
    )
    write_csv(path / "colours_unlabelled.csv", ["x1", "x2", "x3"], [r[:3] for r in test_rows])
    write_csv(path / "sine.csv", ["a", "b", "y"], sine_rows(200, seed=0))
    (path / "empty.csv").write_text("")
    (path / "header_only.csv").write_text("x1,x2,colour\n")
    (path / "bad_cell.csv").write_text("x1,x2,colour\n1,2,red\n3,4,blue\n5,abc,red\n")
    (path / "empty_cell.csv").write_text("x1,x2,colour\n1,2,red\n3,,blue\n")
    (path / "empty_target.csv").write_text("x1,x2,colour\n1,2,red\n3,4,\n5,6,blue\n")
    (path / "ragged.csv").write_text("x1,x2,colour\n1,2,red\n3,4\n")
    (path / "one_class.csv").write_text("x1,x2,colour\n1,2,red\n3,4,red\n")
    (path / "one_row.csv").write_text("x1,x2,y\n1,2,3.5\n")
    (path / "only_target.csv").write_text("colour\nred\nblue\n")
    (path / "binary.csv").write_bytes(bytes(range(128, 256)))
    (path / "not_a_model.nncore").write_text("this is not a model\n")
    (path / "subdir").mkdir()
    (path / "unknown_colour.csv").write_text("x1,x2,x3,colour\n0,0,0,red\n1,1,1,purple\n")
    (path / "missing_feature.csv").write_text("x1,x3,colour\n0,0,red\n")
    (path / "bad_feature.csv").write_text("x1,x2,x3\n0,0,0\n1,x,1\n")
    # a model made with the Python API: no CSV metadata
    plain = nncore.MLP([3, 4, 3], output_activation="softmax", seed=0)
    plain.fit(np.zeros((3, 3)), [0, 1, 2], epochs=1)
    plain.save(str(path / "plain.nncore"))
    # a matplotlib that cannot be imported, for demo --plot
    (path / "no_matplotlib" / "matplotlib").mkdir(parents=True)
    (path / "no_matplotlib" / "matplotlib" / "__init__.py").write_text(
        "raise ImportError('No module named matplotlib')\n"
    )
    return path


@pytest.fixture(scope="module")
def colour_model(workdir: Path) -> subprocess.CompletedProcess[str]:
    """``nncore train`` on colours.csv (a string target) -> colours.nncore."""
    return run(
        "train", "colours.csv", "--target", "colour", "--out", "colours.nncore",
        "--epochs", "60", "--hidden", "16", "--learning-rate", "0.01", cwd=workdir,
    )  # fmt: skip


def test_train_classifier_reports_and_saves(
    workdir: Path, colour_model: subprocess.CompletedProcess[str]
) -> None:
    result = colour_model
    assert result.returncode == 0, result.stderr
    progress_lines_only(result.stderr)  # no bar: stderr is not a terminal
    out = result.stdout
    assert "task: classify (from the target column" in out
    assert "3 classes: blue, green, red" in out
    assert "150 rows (120 training, 30 validation), 3 features" in out
    assert "MLP(3-16-3" in out
    train_line = line_with("training:", out)
    validation_line = line_with("validation:", out)
    for line in (train_line, validation_line):
        scores = scores_in(line)
        assert list(scores) == [
            name for name in metric_names("classify") if name != "confusion_matrix"
        ]
        assert scores["accuracy"] > 0.9, out
    assert "saved the model to colours.nncore" in out

    model = nncore.load(str(workdir / "colours.nncore"))
    assert model.metadata["task"] == "classify"
    assert model.metadata["classes"] == ["blue", "green", "red"]
    assert model.metadata["feature_names"] == ["x1", "x2", "x3"]
    assert model.metadata["target"] == "colour"
    assert model.activations[-1] == "softmax"
    mean = model.metadata_arrays["scaler_mean"]
    scale = model.metadata_arrays["scaler_scale"]
    assert mean.shape == scale.shape == (3,)
    assert 1000 < scale[1] < 5000  # x2 is in the thousands: the scaler brings it to unit scale
    assert model.history is not None and model.history.epochs >= 1


def test_info(workdir: Path, colour_model: subprocess.CompletedProcess[str]) -> None:
    assert colour_model.returncode == 0, colour_model.stderr
    result = run("info", "colours.nncore", cwd=workdir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "architecture: 3-16-3" in out
    assert "activations: relu, softmax" in out
    model = nncore.load(str(workdir / "colours.nncore"))
    assert f"parameters: {model.n_parameters:,} (float32)" in out
    assert "optimizer: adam (learning rate 0.01)" in out
    assert model.history is not None
    assert f"training: {model.history.epochs} epochs, final loss" in out
    assert f"stopped: {model.history.stop_reason}" in out
    assert "task: classify, target 'colour', 3 classes: blue, green, red" in out
    assert "features (3): x1, x2, x3" in out


def test_evaluate(
    workdir: Path,
    colour_model: subprocess.CompletedProcess[str],
    run_here: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    assert colour_model.returncode == 0, colour_model.stderr
    # the target column is found by the model's metadata, or named with --target
    for runner, extra in ((run, []), (run_here, ["--target", "colour"])):
        result = runner("evaluate", "colours.nncore", "colours_test.csv", *extra, cwd=workdir)
        assert result.returncode == 0, result.stderr
        assert "60 rows, target 'colour', task classify" in result.stdout
        scores = scores_in(line_with("accuracy", result.stdout))
        assert scores["accuracy"] > 0.9 and scores["log_loss"] > 0
        lines = result.stdout.splitlines()
        matrix = lines.index("confusion matrix (rows: true class, columns: predicted class):")
        assert lines[matrix + 1].split() == COLOURS_SORTED
        counts = [[int(cell) for cell in line.split()[1:]] for line in lines[matrix + 2 :]]
        assert [line.split()[0] for line in lines[matrix + 2 :]] == COLOURS_SORTED
        assert np.sum(counts) == 60 and np.trace(counts) / 60 == pytest.approx(
            scores["accuracy"], abs=1e-4
        )


def test_predict_to_stdout_and_file(
    workdir: Path, colour_model: subprocess.CompletedProcess[str]
) -> None:
    assert colour_model.returncode == 0, colour_model.stderr
    to_stdout = run("predict", "colours.nncore", "colours_test.csv", cwd=workdir)
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stderr == ""
    rows = list(csv.reader(io.StringIO(to_stdout.stdout)))
    header = ["prediction", "probability_blue", "probability_green", "probability_red"]
    assert rows[0] == header
    assert len(rows) == 61
    truth = [row[2] for row in read_rows(workdir / "colours_test.csv")][1:]
    predicted = [row[0] for row in rows[1:]]
    assert set(predicted) <= set(COLOURS)
    assert np.mean(np.array(predicted) == np.array(truth)) > 0.9
    for row in rows[1:]:
        probabilities = [float(p) for p in row[1:]]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert row[0] == COLOURS_SORTED[int(np.argmax(probabilities))]

    # the same rows without the target and with the columns in the model's order: same output
    to_file = run(
        "predict", "colours.nncore", "colours_unlabelled.csv", "--out", "predictions.csv",
        cwd=workdir,
    )  # fmt: skip
    assert to_file.returncode == 0, to_file.stderr
    assert "wrote 60 predictions to predictions.csv" in to_file.stdout
    assert read_rows(workdir / "predictions.csv") == rows


COLOURS_SORTED = sorted(COLOURS)


def test_regression_round_trip(
    workdir: Path, run_here: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    trained = run(
        "train", "sine.csv", "--target", "y", "--out", "sine.nncore", "--epochs", "150",
        "--learning-rate", "0.01", "--dtype", "float64", "--seed", "3", cwd=workdir,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "task: regress (from the target column" in trained.stdout
    assert scores_in(line_with("validation:", trained.stdout))["r2"] > 0.9, trained.stdout

    model = nncore.load(str(workdir / "sine.nncore"))
    assert model.metadata["task"] == "regress"
    assert "classes" not in model.metadata
    assert model.dtype == np.float64
    assert model.metadata_arrays["target_mean"][0] == pytest.approx(10.0, abs=0.5)

    evaluated = run("evaluate", "sine.nncore", "sine.csv", cwd=workdir)
    assert evaluated.returncode == 0, evaluated.stderr
    scores = scores_in(line_with("r2", evaluated.stdout))
    assert list(scores) == list(metric_names("regress"))
    assert scores["r2"] > 0.9

    predicted = run("predict", "sine.nncore", "sine.csv", cwd=workdir)
    assert predicted.returncode == 0, predicted.stderr
    rows = list(csv.reader(io.StringIO(predicted.stdout)))
    assert rows[0] == ["prediction"]
    values = np.array([float(row[0]) for row in rows[1:]])
    truth = np.array([float(row[2]) for row in sine_rows(200, seed=0)])
    assert np.mean((values - truth) ** 2) < 0.1 * np.var(truth)  # original units, not scaled

    info = run_here("info", "sine.nncore", cwd=workdir)
    assert info.returncode == 0, info.stderr
    assert "task: regress, target 'y'" in info.stdout
    assert "(float64)" in info.stdout


def test_train_task_option_and_quiet(
    workdir: Path, run_here: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    # an integer target with few values is a class label unless --task regress says otherwise
    rows = [[i % 7, (i * 3) % 5] for i in range(40)]
    write_csv(workdir / "integers.csv", ["x", "level"], rows)
    auto = run("train", "integers.csv", "--target", "level", "--out", "int.nncore",
               "--epochs", "2", cwd=workdir)  # fmt: skip
    assert auto.returncode == 0, auto.stderr
    assert "task: classify" in auto.stdout
    assert "5 classes: 0, 1, 2, 3, 4" in auto.stdout
    forced = run_here("train", "integers.csv", "--target", "level", "--out", "int.nncore",
                 "--epochs", "2", "--task", "regress", "--quiet", cwd=workdir)  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == ""
    assert forced.stderr == ""
    assert nncore.load(str(workdir / "int.nncore")).metadata["task"] == "regress"


def test_train_without_validation_and_hidden_layers(
    workdir: Path, run_here: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    result = run_here(
        "train", "colours.csv", "--target", "colour", "--out", "linear.nncore", "--hidden",
        "none", "--validation-split", "0", "--epochs", "3", "--optimizer", "sgd",
        "--activation", "tanh", "--batch-size", "8", cwd=workdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "(150 training, 0 validation)" in result.stdout
    assert "MLP(3-3," in result.stdout
    assert "validation:" not in result.stdout
    assert nncore.load(str(workdir / "linear.nncore")).layer_sizes == (3, 3)


# --------------------------------------------------------------------------------------------
# What a new user ran into (issue 16): index columns, models made in Python, huge values, options
# --------------------------------------------------------------------------------------------


def flat(model: nncore.MLP) -> np.ndarray:
    """All of a model's parameters in one vector."""
    return np.concatenate([array.ravel() for part in model.get_parameters() for array in part])


def notes_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("epoch ")]


def test_the_index_column_of_dataframe_to_csv_is_dropped_with_a_note(
    workdir: Path, run_here: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    rows = blobs(60, seed=2)
    lines = [",x1,x2,x3,colour", *(",".join(map(str, [i, *row])) for i, row in enumerate(rows))]
    (workdir / "indexed.csv").write_text("\n".join(lines) + "\n")
    result = run_here("train", "indexed.csv", "--target", "colour", "--out", "indexed.nncore",
                      "--epochs", "2", cwd=workdir)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert notes_in(result.stderr) == [
        "nncore: note: indexed.csv: dropped the unnamed first column: it holds 0..59, the row "
        "index of DataFrame.to_csv() (to_csv(index=False) leaves it out)"
    ]
    assert "60 rows (48 training, 12 validation), 3 features" in result.stdout
    assert nncore.load(str(workdir / "indexed.nncore")).metadata["feature_names"] == [
        "x1", "x2", "x3"
    ]  # fmt: skip
    # an unnamed column that is not such an index: refused, with what to do
    (workdir / "unnamed.csv").write_text("\n".join([lines[0], "7,1,2,3,red", "8,1,2,3,blue"]))
    refused = run_here("train", "unnamed.csv", "--target", "colour", "--out", "u.nncore",
                       cwd=workdir)  # fmt: skip
    assert refused.returncode == 1
    assert_clean_error(refused, "column 1 of the header has no name", "to_csv(index=False)")


def test_a_file_written_by_pandas_predicts_like_the_same_file_without_index(
    workdir: Path,
    colour_model: subprocess.CompletedProcess[str],
    run_here: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    pandas = pytest.importorskip("pandas", reason="the file is written by pandas itself")
    assert colour_model.returncode == 0, colour_model.stderr
    frame = pandas.read_csv(workdir / "colours_test.csv")
    frame.to_csv(workdir / "pandas.csv")
    frame.to_csv(workdir / "pandas_no_index.csv", index=False)
    with_index = run_here("predict", "colours.nncore", "pandas.csv", cwd=workdir)
    without = run_here("predict", "colours.nncore", "pandas_no_index.csv", cwd=workdir)
    assert with_index.returncode == without.returncode == 0, with_index.stderr
    assert with_index.stdout == without.stdout
    assert "dropped the unnamed first column: it holds 0..59" in with_index.stderr
    assert without.stderr == ""


def test_a_model_made_in_python_is_used_by_column_position(
    workdir: Path, run_here: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """No feature names in its metadata: the columns in order when their count is the model's
    (a note says so), classes 0, 1, ...; or the metadata the message describes, by name."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    model = nncore.MLP([3, 8, 3], output_activation="softmax", seed=0)
    model.fit(X, y, epochs=30, learning_rate=0.1)
    model.save(str(workdir / "python.nncore"))
    write_csv(workdir / "abc.csv", ["a", "b", "c"], X.tolist())
    labelled = [[x[0], label, x[1], x[2]] for x, label in zip(X.tolist(), y, strict=True)]
    write_csv(workdir / "abc_label.csv", ["a", "label", "b", "c"], labelled)

    predicted = run_here("predict", "python.nncore", "abc.csv", cwd=workdir)
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stderr == (
        "nncore: note: python.nncore names no features: the columns a, b, c of abc.csv are its "
        "3 features, in this order\n"
    )
    rows = list(csv.reader(io.StringIO(predicted.stdout)))
    assert rows[0] == ["prediction", "probability_0", "probability_1", "probability_2"]
    features = X.astype(np.float32)
    assert [int(row[0]) for row in rows[1:]] == model.predict(features).tolist()
    np.testing.assert_allclose(
        [[float(p) for p in row[1:]] for row in rows[1:]], model.predict_proba(features),
        rtol=1e-5,
    )  # fmt: skip

    evaluated = run_here("evaluate", "python.nncore", "abc_label.csv", "--target", "label",
                         cwd=workdir)  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    assert "the columns a, b, c of abc_label.csv" in evaluated.stderr
    expected = model.evaluate(X, y)
    scores = scores_in(line_with("accuracy", evaluated.stdout))
    for name in ("accuracy", "f1_macro", "roc_auc", "log_loss"):
        assert scores[name] == pytest.approx(expected[name], abs=5e-5), name

    # what the message says to do: name the features (and the task, classes and target)
    model.metadata.update(feature_names=["a", "b", "c"], task="classify",
                          classes=["low", "middle", "high"], target="label")  # fmt: skip
    model.save(str(workdir / "named.nncore"))
    names = ["low", "middle", "high"]
    named = [[x[2], names[label], x[0], x[1]] for x, label in zip(X.tolist(), y, strict=True)]
    write_csv(workdir / "abc_named.csv", ["c", "label", "a", "b"], named)
    by_name = run_here("evaluate", "named.nncore", "abc_named.csv", cwd=workdir)
    assert by_name.returncode == 0, by_name.stderr
    assert by_name.stderr == ""
    assert scores_in(line_with("accuracy", by_name.stdout))["accuracy"] == pytest.approx(
        expected["accuracy"], abs=5e-5
    )
    assert "low" in by_name.stdout


def test_a_sigmoid_model_made_in_python_predicts_two_class_probabilities(
    workdir: Path, run_here: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    X = np.random.default_rng(6).normal(size=(10, 2))
    model = nncore.MLP([2, 1], output_activation="sigmoid", seed=0)
    model.save(str(workdir / "sigmoid.nncore"))
    write_csv(workdir / "two.csv", ["u", "v"], X.tolist())
    result = run_here("predict", "sigmoid.nncore", "two.csv", cwd=workdir)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["prediction", "probability_0", "probability_1"]
    p = model.forward(X.astype(np.float32))[:, 0]
    np.testing.assert_allclose([float(row[2]) for row in rows[1:]], p, rtol=1e-5)
    assert [row[0] for row in rows[1:]] == [str(label) for label in model.predict(X)]


def test_values_too_large_to_standardise_name_the_column(
    workdir: Path,
    colour_model: subprocess.CompletedProcess[str],
    run_here: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """Values near the float64 limit: an error naming the column (no NumPy warning: pytest
    turns warnings into errors, and so does the subprocess)."""
    rows = [[1, 1.7e308, "red"], [2, -1.7e308, "blue"], [3, 1.5e308, "red"], [4, 0, "blue"]]
    write_csv(workdir / "huge.csv", ["x1", "x2", "colour"], rows)
    for runner in (run, run_here):
        result = runner("train", "huge.csv", "--target", "colour", "--out", "h.nncore",
                        "--validation-split", "0", cwd=workdir)  # fmt: skip
        assert_clean_error(
            result, "huge.csv", "column 'x2'", "1.7e+308", "too large to standardise"
        )
    write_csv(workdir / "huge_target.csv", ["x", "y"], [[i, 1e308 * (-1) ** i] for i in range(8)])
    result = run_here("train", "huge_target.csv", "--target", "y", "--task", "regress",
                      "--out", "h.nncore", cwd=workdir)  # fmt: skip
    assert_clean_error(result, "column 'y'", "too large to standardise")
    # a trained model meeting a value its float32 cannot hold once standardised
    assert colour_model.returncode == 0, colour_model.stderr
    write_csv(workdir / "huge_rows.csv", ["x1", "x2", "x3"], [[0, 0, 0], [0, 1e308, 0]])
    result = run_here("predict", "colours.nncore", "huge_rows.csv", cwd=workdir)
    assert_clean_error(result, "line 3 (data row 2), column 'x2'", "1e+308", "too large", "float32")


def test_train_options_reach_the_model(
    workdir: Path, run_here: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    def train(out: str, *options: str, data: str = "colours.csv") -> nncore.MLP:
        target = "y" if data.startswith("sine") else "colour"
        result = run_here("train", data, "--target", target, "--out", out, "--epochs", "3",
                          *options, cwd=workdir)  # fmt: skip
        assert result.returncode == 0, result.stderr
        model: nncore.MLP = nncore.load(str(workdir / out))
        model.metadata["stdout"] = result.stdout
        return model

    default = train("default.nncore")
    for flag in ("--weight-decay", "--alpha"):
        model = train("decay.nncore", flag, "0.125")
        assert model.optimizer is not None and model.optimizer.weight_decay == 0.125
        assert model.metadata["training"]["weight_decay"] == 0.125
        assert "optimizer adam (weight decay 0.125)" in model.metadata["stdout"]
    weighted = train("weighted.nncore", "--class-weight", f'{{"{COLOURS[1]}": 5}}')
    assert flat(weighted).tobytes() != flat(default).tobytes()  # other losses, other updates
    train("balanced.nncore", "--class-weight", "balanced")
    dropout = train("dropout.nncore", "--dropout", "0.25", "--hidden", "8,8")
    assert dropout.dropout == (0.25, 0.25)
    batch = train("batch.nncore", "--batch-size", "7")
    assert batch.metadata["training"]["batch_size"] == 7
    assert flat(batch).tobytes() != flat(default).tobytes()  # other updates
    split = train("split.nncore", "--validation-split", "0.4")
    assert "(90 training, 60 validation)" in split.metadata["stdout"]
    squared, absolute = (
        train(f"{loss}.nncore", "--loss", loss, data="sine.csv") for loss in ("mse", "mae")
    )
    assert squared.metadata["training"]["loss"] == "mean_squared_error"
    assert absolute.metadata["training"]["loss"] == "mean_absolute_error"
    assert "loss mean_absolute_error" in absolute.metadata["stdout"]
    assert flat(squared).tobytes() != flat(absolute).tobytes()


def test_test_split_reports_the_held_out_scores(
    workdir: Path, run_here: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    result = run_here(
        "train", "colours.csv", "--target", "colour", "--out", "tested.nncore", "--epochs", "20",
        "--test-split", "0.2", "--seed", "5", cwd=workdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "150 rows (90 training, 30 validation, 30 test)" in result.stdout
    printed = scores_in(line_with("test:", result.stdout))
    assert list(printed) == [n for n in metric_names("classify") if n != "confusion_matrix"]
    assert "confusion matrix (rows: true class, columns: predicted class):" in result.stdout
    # the same scores from Python: the last 30 rows of the seed's order, scaled as saved
    model = nncore.load(str(workdir / "tested.nncore"))
    assert model.metadata["training"]["test_rows"] == 30
    info = run_here("info", "tested.nncore", cwd=workdir)
    assert "90 training, 30 validation and 30 test rows" in info.stdout
    table = read_csv(workdir / "colours.csv")
    X = table.numeric(["x1", "x2", "x3"])
    X = (X - model.metadata_arrays["scaler_mean"]) / model.metadata_arrays["scaler_scale"]
    y = encode_classes(table, "colour", model.metadata["classes"])
    test_rows = np.random.default_rng(5).permutation(150)[-30:]
    expected = model.evaluate(X[test_rows], y[test_rows])
    for name, value in printed.items():
        assert value == pytest.approx(expected[name], abs=5e-5), name


def test_separator_option(
    workdir: Path, run_here: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """A ';' or tab file trains the same model as the comma file; predict writes with it."""
    rows = read_rows(workdir / "colours.csv")
    for name, separator, option in (("semicolon.csv", ";", ";"), ("tabs.tsv", "\t", "tab")):
        (workdir / name).write_text("\n".join(separator.join(row) for row in rows) + "\n")
        models = []
        for data, extra in ((name, ["--sep", option]), ("colours.csv", [])):
            result = run_here("train", data, "--target", "colour", "--out", "sep.nncore",
                              "--epochs", "2", *extra, cwd=workdir)  # fmt: skip
            assert result.returncode == 0, result.stderr
            models.append(nncore.load(str(workdir / "sep.nncore")))
        assert flat(models[0]).tobytes() == flat(models[1]).tobytes()
        predicted = run_here("predict", "sep.nncore", name, "--sep", option, cwd=workdir)
        assert predicted.returncode == 0, predicted.stderr
        assert predicted.stdout.splitlines()[0] == separator.join(
            ["prediction", "probability_blue", "probability_green", "probability_red"]
        )


def test_evaluate_metrics_option(
    workdir: Path,
    colour_model: subprocess.CompletedProcess[str],
    run_here: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    assert colour_model.returncode == 0, colour_model.stderr
    result = run_here("evaluate", "colours.nncore", "colours_test.csv", "--metrics",
                      "f1_macro,accuracy", cwd=workdir)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert list(scores_in(result.stdout.splitlines()[1])) == ["f1_macro", "accuracy"]
    assert "confusion matrix" not in result.stdout


# Every mistake a user can make: (arguments, exit status, words of the one error line).
USAGE = 2
RUNTIME = 1
ERROR_CASES: dict[str, tuple[tuple[str, ...], int, tuple[str, ...]]] = {
    # the data file
    "missing file": (("train", "absent.csv", "--target", "colour", "--out", "m.nncore"),
                     RUNTIME, ("absent.csv", "no such file")),
    "directory as data": (("train", "subdir", "--target", "colour", "--out", "m.nncore"),
                          RUNTIME, ("subdir", "directory")),
    "empty file": (("train", "empty.csv", "--target", "colour", "--out", "m.nncore"),
                   RUNTIME, ("empty.csv", "empty")),
    "header only": (("train", "header_only.csv", "--target", "colour", "--out", "m.nncore"),
                    RUNTIME, ("header_only.csv", "no data rows")),
    "non-numeric cell": (("train", "bad_cell.csv", "--target", "colour", "--out", "m.nncore"),
                         RUNTIME, ("bad_cell.csv", "line 4 (data row 3)", "column 'x2'", "'abc'")),
    "empty cell": (("train", "empty_cell.csv", "--target", "colour", "--out", "m.nncore"),
                   RUNTIME, ("line 3 (data row 2)", "column 'x2'", "empty")),
    "ragged row": (("train", "ragged.csv", "--target", "colour", "--out", "m.nncore"),
                   RUNTIME, ("line 3 (data row 2)", "2 cells")),
    "binary file": (("train", "binary.csv", "--target", "colour", "--out", "m.nncore"),
                    RUNTIME, ("binary.csv", "not a text file")),
    "missing target column": (("train", "colours.csv", "--target", "size", "--out", "m.nncore"),
                              RUNTIME, ("no column 'size'", "x1, x2, x3, colour")),
    "no feature columns": (("train", "only_target.csv", "--target", "colour", "--out",
                            "m.nncore"), RUNTIME, ("no feature columns",)),
    "empty target cell": (("train", "empty_target.csv", "--target", "colour", "--out",
                           "m.nncore"), RUNTIME,
                          ("line 3 (data row 2)", "column 'colour'", "empty")),
    "one class": (("train", "one_class.csv", "--target", "colour", "--out", "m.nncore"),
                  RUNTIME, ("single class", "'red'")),
    "too few rows to split": (("train", "one_row.csv", "--target", "y", "--out", "m.nncore"),
                              RUNTIME, ("1 row", "--validation-split")),
    "regress a text target": (("train", "colours.csv", "--target", "colour", "--task", "regress",
                               "--out", "m.nncore"), RUNTIME, ("column 'colour'", "not a")),
    "output directory missing": (("train", "colours.csv", "--target", "colour", "--out",
                                  "nowhere/m.nncore"), RUNTIME, ("--out", "does not exist")),
    "output is a directory": (("train", "colours.csv", "--target", "colour", "--out", "subdir"),
                              RUNTIME, ("--out", "directory")),
    # model files
    "info missing model": (("info", "absent.nncore"), RUNTIME, ("absent.nncore", "no such file")),
    "info not a model": (("info", "not_a_model.nncore"), RUNTIME, ("not_a_model.nncore",)),
    "info CSV as model": (("info", "colours.csv"), RUNTIME, ("colours.csv",)),
    "info directory": (("info", "subdir"), RUNTIME, ("subdir", "directory")),
    "predict not a model": (("predict", "not_a_model.nncore", "colours.csv"), RUNTIME,
                            ("not_a_model.nncore",)),
    "predict plain model": (("predict", "plain.nncore", "colours.csv"), RUNTIME,
                            ("plain.nncore", "no feature names", "4 columns, not the model's 3",
                             "model.metadata['feature_names']")),
    "evaluate plain model": (("evaluate", "plain.nncore", "colours.csv"), RUNTIME,
                             ("plain.nncore", "no target column", "--target")),
    "evaluate plain model too many columns": (("evaluate", "plain.nncore", "colours_test.csv",
                                               "--target", "colour"), RUNTIME,
                                              ("4 feature columns (all but the target)",
                                               "model.metadata['feature_names']")),
    # data for a trained model
    "predict missing data": (("predict", "colours.nncore", "absent.csv"), RUNTIME,
                             ("absent.csv", "no such file")),
    "class weight of no class": (("train", "colours.csv", "--target", "colour", "--out",
                                  "m.nncore", "--class-weight", '{"pink": 2}'), RUNTIME,
                                 ("--class-weight", "'pink'", "blue")),
    "class weight to regress": (("train", "sine.csv", "--target", "y", "--out", "m.nncore",
                                 "--class-weight", "balanced"), RUNTIME,
                                ("--class-weight", "regress")),
    "predict missing feature": (("predict", "colours.nncore", "missing_feature.csv"), RUNTIME,
                                ("missing feature column", "'x2'")),
    "predict bad feature cell": (("predict", "colours.nncore", "bad_feature.csv"), RUNTIME,
                                 ("line 3 (data row 2)", "column 'x2'", "'x'")),
    "predict header only": (("predict", "colours.nncore", "header_only.csv"), RUNTIME,
                            ("no data rows",)),
    "predict output directory missing": (("predict", "colours.nncore", "colours.csv", "--out",
                                          "nowhere/p.csv"), RUNTIME, ("does not exist",)),
    "evaluate missing target": (("evaluate", "colours.nncore", "colours_unlabelled.csv"),
                                RUNTIME, ("no column 'colour'",)),
    "evaluate unknown class": (("evaluate", "colours.nncore", "unknown_colour.csv"), RUNTIME,
                               ("line 3 (data row 2)", "'purple'", "blue, green, red")),
    "evaluate named target missing": (("evaluate", "colours.nncore", "colours.csv", "--target",
                                       "size"), RUNTIME, ("no column 'size'",)),
    # demo
    "demo plot without matplotlib": (("demo", "--epochs", "1", "--plot", "x.png"), RUNTIME,
                                     ("--plot", "matplotlib", 'pip install "nncore[plot]"')),
    "demo plot unknown format": (("demo", "--epochs", "1", "--plot", "x.docx"), RUNTIME,
                                 ("--plot", ".docx", "png")),
    # options
    "dropout without hidden layers": (("train", "colours.csv", "--target", "colour", "--out",
                                       "m.nncore", "--hidden", "none", "--dropout", "0.5"),
                                      RUNTIME, ("--dropout", "no hidden layer")),
    "loss of the other task": (("train", "colours.csv", "--target", "colour", "--out",
                                "m.nncore", "--loss", "mse"), RUNTIME,
                               ("--loss mse", "categorical_cross_entropy")),
    "validation and test leave no training rows": (("train", "one_row.csv", "--target", "y",
                                                    "--out", "m.nncore", "--validation-split",
                                                    "0", "--test-split", "0.5"), RUNTIME,
                                                   ("--test-split 0.5", "smaller fractions")),
    "metric of the other task": (("evaluate", "colours.nncore", "colours_test.csv",
                                  "--metrics", "r2"), RUNTIME,
                                 ("--metrics", "'r2' is a metric for the task 'regress'")),
    "demo plot directory missing": (("demo", "--epochs", "1", "--plot", "nowhere/x.png"),
                                    RUNTIME, ("--plot", "does not exist")),
}  # fmt: skip


# Mistakes in the command line itself, which argparse reports (a usage line, then the error line;
# status 2): (arguments, words of the error line). A few run as subprocesses, all run in-process
# through ``main`` (the same code, without the interpreter start-up of each case).
USAGE_CASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "train without arguments": (("train",), ("train", "required")),
    "train without --target": (("train", "colours.csv", "--out", "m.nncore"),
                               ("--target",)),
    "train without --out": (("train", "colours.csv", "--target", "colour"), ("--out",)),
    "hidden zero": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                     "--hidden", "0"), ("--hidden",)),
    "hidden text": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                     "--hidden", "64,wide"), ("--hidden", "64,wide")),
    "negative learning rate": (("train", "colours.csv", "--target", "colour", "--out",
                                "m.nncore", "--learning-rate", "-0.1"),
                               ("--learning-rate",)),
    "learning rate text": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                            "--learning-rate", "fast"), ("--learning-rate", "fast")),
    "zero epochs": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                     "--epochs", "0"), ("--epochs",)),
    "zero batch size": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                         "--batch-size", "0"), ("--batch-size",)),
    "validation split 1": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                            "--validation-split", "1"), ("--validation-split",)),
    "negative seed": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                       "--seed", "-1"), ("--seed",)),
    "unknown activation": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                            "--activation", "softmax"), ("--activation", "softmax")),
    "unknown optimizer": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                           "--optimizer", "newton"), ("--optimizer", "newton")),
    "negative weight decay": (("train", "colours.csv", "--target", "colour", "--out",
                               "m.nncore", "--alpha", "-1"), ("--weight-decay/--alpha",)),
    "class weight not JSON": (("train", "colours.csv", "--target", "colour", "--out",
                               "m.nncore", "--class-weight", "{red: 2}"), ("--class-weight",)),
    "dropout 1": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                   "--dropout", "1"), ("--dropout",)),
    "test split 1": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                      "--test-split", "1"), ("--test-split",)),
    "unknown loss": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                      "--loss", "hinge"), ("--loss", "hinge")),
    "separator of two characters": (("predict", "colours.nncore", "colours.csv", "--sep",
                                     ";;"), ("--sep", "';;'")),
    "unknown metric": (("evaluate", "colours.nncore", "colours.csv", "--metrics",
                        "accuracy,auc"), ("--metrics", "auc")),
    "unknown task": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                      "--task", "cluster"), ("--task", "cluster")),
    "unknown dtype": (("train", "colours.csv", "--target", "colour", "--out", "m.nncore",
                       "--dtype", "float16"), ("--dtype", "float16")),
    "predict without data": (("predict", "colours.nncore"), ("predict", "DATA.csv")),
    "evaluate without arguments": (("evaluate",), ("evaluate", "required")),
    "info without model": (("info",), ("info", "MODEL")),
    "unknown command": (("fit",), ("'fit'",)),
    "bench unknown size": (("bench", "--sizes", "XL"), ("--sizes", "XL")),
    "bench zero repeats": (("bench", "--repeats", "0"), ("--repeats",)),
}  # fmt: skip
USAGE_CASES_AS_SUBPROCESS = ("train without --target", "hidden zero")


# The error cases that also run as separate ``python -m nncore`` processes, as a user runs
# them: one of every kind. All of them run in-process through ``main`` (the code the console
# script calls) — an interpreter start-up for each of the ~50 cases would take most of the time
# budget of this file.
SUBPROCESS_ERROR_CASES = (
    "missing file", "header only", "non-numeric cell", "info not a model",
    "predict missing feature", "demo plot without matplotlib",
)  # fmt: skip


@pytest.fixture(scope="module")
def error_results(
    workdir: Path, colour_model: subprocess.CompletedProcess[str]
) -> dict[str, subprocess.CompletedProcess[str]]:
    """The subprocess error cases, run concurrently."""
    assert colour_model.returncode == 0, colour_model.stderr
    cases = {name: ERROR_CASES[name][0] for name in SUBPROCESS_ERROR_CASES}
    cases.update({name: USAGE_CASES[name][0] for name in USAGE_CASES_AS_SUBPROCESS})

    def run_case(name: str) -> subprocess.CompletedProcess[str]:
        env = None
        if name == "demo plot without matplotlib":
            # first on the path, before whatever finds nncore itself (an in-place build)
            paths = [str(workdir / "no_matplotlib"), os.environ.get("PYTHONPATH", "")]
            env = {"PYTHONPATH": os.pathsep.join(filter(None, paths))}
        return run(*cases[name], cwd=workdir, env=env)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(cases, pool.map(run_case, cases), strict=True))


@pytest.mark.parametrize("case", SUBPROCESS_ERROR_CASES)
def test_user_errors_give_one_line_and_status_1(
    case: str, workdir: Path, error_results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    _, status, words = ERROR_CASES[case]
    result = error_results[case]
    assert_clean_error(result, *words)
    assert result.returncode == status, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("nncore: error: "), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not (workdir / "m.nncore").exists()  # nothing is written when a command fails


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_user_errors_in_process(
    case: str,
    workdir: Path,
    colour_model: subprocess.CompletedProcess[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from nncore.cli import main

    assert colour_model.returncode == 0, colour_model.stderr
    args, status, words = ERROR_CASES[case]
    monkeypatch.chdir(workdir)
    if case == "demo plot without matplotlib":
        monkeypatch.setitem(sys.modules, "matplotlib", None)  # ``import matplotlib`` fails
    assert main(args) == status
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("nncore: error: ")
    for word in words:
        assert word in lines[0], captured.err
    assert not (workdir / "m.nncore").exists()


def assert_usage_error(stderr: str, *words: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 2, stderr
    assert lines[0].startswith("usage: nncore"), stderr
    assert lines[1].startswith("nncore: error: "), stderr
    for word in words:
        assert word in lines[1], stderr


@pytest.mark.parametrize("case", USAGE_CASES_AS_SUBPROCESS)
def test_usage_errors_give_usage_error_line_and_status_2(
    case: str, error_results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = error_results[case]
    assert_clean_error(result, *USAGE_CASES[case][1])
    assert result.returncode == 2, result.stderr
    assert_usage_error(result.stderr, *USAGE_CASES[case][1])


@pytest.mark.parametrize("case", list(USAGE_CASES))
def test_usage_errors_in_process(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    from nncore.cli import main

    args, words = USAGE_CASES[case]
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_usage_error(captured.err, *words)


SUBCOMMANDS = ("train", "predict", "evaluate", "info", "demo", "bench")


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help_with_an_example(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from nncore.cli import main

    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: nncore {name}"), out
    assert "example" in out
    assert f"nncore {name}" in out.split("example")[1]


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from nncore.cli import main

    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert all(f"    {name} " in out for name in SUBCOMMANDS)


def test_bench_quick(workdir: Path) -> None:
    result = run("bench", "--quick", "--sizes", "T", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert "nncore" in out and "NumPy ref" in out and "pure Python" in out
    row = line_with("| T ", out)
    assert "2-16-1" in row
    speedups = [cell.strip() for cell in row.strip("|").split("|")][-2:]
    assert all(cell.endswith("x") and float(cell[:-1]) > 0 for cell in speedups)


def test_demo_plot_writes_a_png(workdir: Path) -> None:
    pytest.importorskip("matplotlib")
    result = run("demo", "--epochs", "3", "--plot", "demo.png", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout
    assert "saved to demo.png" in result.stdout
    assert (workdir / "demo.png").read_bytes().startswith(b"\x89PNG")


def line_with(text: str, output: str) -> str:
    return next(line for line in output.splitlines() if text in line)


def scores_in(line: str) -> dict[str, float]:
    """``{name: value}`` of a score line ``[label:] name value  name value ...``."""
    words = line.split(":", 1)[-1].split()
    return {name: float(value) for name, value in zip(words[::2], words[1::2], strict=True)}


def progress_lines_only(stderr: str) -> None:
    """``verbose=1`` in a pipe: plain epoch lines on stderr, nothing else."""
    lines = stderr.splitlines()
    assert lines and all(line.startswith("epoch ") for line in lines), stderr


def test_config_shows_the_chosen_level_and_threads() -> None:
    result = run("config", env={**os.environ, "NNCORE_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert f"isa:                {nncore.config()['isa']}" in result.stdout
    assert "num_threads:        1" in result.stdout


def test_non_numeric_feature_columns_are_embedded(tmp_path: Path, run_here) -> None:
    """A feature column with no number in it is categorical: its sorted categories become codes
    of an Embedding layer in front of the hidden layers; the scaler leaves the codes alone;
    predict maps the same categories and refuses one it never saw."""
    rng = np.random.default_rng(0)
    regions, kinds = ["north", "south", "east"], ["b", "a"]
    rows = []
    for _ in range(120):
        x, region, kind = rng.normal(), rng.choice(regions), rng.choice(kinds)
        rows.append([f"{x:.4f}", region, kind, "yes" if x + (region == "north") > 0.5 else "no"])
    write_csv(tmp_path / "t.csv", ["x", "region", "kind", "label"], rows)
    new = [["0.25", "south", "a"], ["-1.5", "north", "b"], ["2.0", "east", "a"]]
    write_csv(tmp_path / "new.csv", ["x", "region", "kind"], new)
    result = run_here("train", "t.csv", "--target", "label", "--out", "m.nncore", "--epochs",
                      "5", "--hidden", "6", "--embedding-dim", "3", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    model = nncore.load(tmp_path / "m.nncore")
    assert isinstance(model, nncore.Sequential) and not isinstance(model, nncore.MLP)
    assert model.layers[0] == nncore.layers.Embedding([1, 2], [3, 2], 3)
    categories = {"region": sorted(regions), "kind": sorted(kinds)}
    assert model.metadata["categories"] == categories
    np.testing.assert_array_equal(model.metadata_arrays["scaler_mean"][1:], [0.0, 0.0])
    np.testing.assert_array_equal(model.metadata_arrays["scaler_scale"][1:], [1.0, 1.0])
    # predict = the model on [standardised x, code of region, code of kind]
    mean, scale = model.metadata_arrays["scaler_mean"][0], model.metadata_arrays["scaler_scale"][0]
    X = np.array(
        [[(float(x) - mean) / scale, categories["region"].index(r), categories["kind"].index(k)]
         for x, r, k in new]
    )  # fmt: skip
    expected = np.asarray(model.metadata["classes"])[model.predict(X)]
    result = run_here("predict", "m.nncore", "new.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    predicted = [row.split(",")[0] for row in result.stdout.strip().splitlines()[1:]]
    assert predicted == list(expected)
    assert run_here("info", "m.nncore", cwd=tmp_path).stdout.count("Embedding(") == 1
    write_csv(tmp_path / "unseen.csv", ["x", "region", "kind"], [["0.1", "west", "a"]])
    result = run_here("predict", "m.nncore", "unseen.csv", cwd=tmp_path)
    assert result.returncode == 1
    assert "column 'region': 'west' is not a category of the training data" in result.stderr
