"""The ``nncore`` command line (also ``python -m nncore``): train on a CSV file, predict,
evaluate, describe a saved model, the spirals demo and a speed benchmark.

Run ``nncore --help`` and ``nncore COMMAND --help``. A mistake in the command (an unknown option,
a bad value) exits with status 2, any other problem (a missing file or column, a cell that is not
a number, a file that is not a model) with status 1; either way the last line on stderr is a
single ``nncore: error: ...`` line, never a traceback (set ``NNCORE_TRACEBACK=1`` to see the
traceback of an unexpected error).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from . import __version__
from ._core import DivergenceError
from ._validation import ACTIVATION_ALIASES, ACTIVATIONS
from .config import show_config
from .csv_data import (
    MAX_INTEGER_CLASSES,
    CSVError,
    Standardizer,
    Table,
    class_names,
    encode_classes,
    infer_task,
    read_csv,
)
from .datasets import make_spirals
from .mlp import MLP
from .optim import OPTIMIZERS

Array = npt.NDArray[Any]

HIDDEN_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name != "softmax") + tuple(
    ACTIVATION_ALIASES
)
TASKS = ("classify", "regress")


class CommandError(Exception):
    """A problem to report as ``nncore: error: <message>`` with exit status 1."""


# --------------------------------------------------------------------------------------------
# Argument parsing
# --------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as ``nncore: error: [COMMAND: ]message`` (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        command = self.prog.split(" ", 1)[1] + ": " if " " in self.prog else ""
        self.exit(2, f"nncore: error: {command}{message}\n")


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _float_in(low: float, high: float | None, closed_low: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value < low if closed_low else value <= low
        if not math.isfinite(value) or too_low or (high is not None and value >= high):
            bound = f"[{low:g}, {high:g})" if high is not None else f"> {low:g}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    return parse


def _hidden_sizes(text: str) -> list[int]:
    """``"64,64"`` → ``[64, 64]``; ``""`` or ``"none"``: no hidden layer."""
    if text.strip().lower() in ("", "none"):
        return []
    sizes = []
    for part in text.split(","):
        try:
            size = int(part)
        except ValueError:
            size = 0
        if size < 1:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated layer widths >= 1 such as 64,64, got {text!r}"
            )
        sizes.append(size)
    return sizes


def _bench_sizes(text: str) -> list[str]:
    from .bench import SIZES

    names = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SIZES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated sizes from {','.join(SIZES)}, got {text!r}"
        )
    return names


TRAIN_EPILOG = f"""\
the task:
  --task classify: the target's distinct values are the classes (any text; integers such as
  3 and 3.0 are the same class); the model gets a softmax output and predicts class names.
  --task regress: the target must be numeric; the model gets a linear output.
  Without --task: classify when the target has a value that is not a number, or when all its
  values are integers with at most {MAX_INTEGER_CLASSES} distinct ones; regress otherwise.

the data:
  a CSV file with a header row; every column but the target is a feature and must be numeric.
  Rows are shuffled (with --seed), the last --validation-split of them held out for validation
  (with early stopping on the validation loss), and the features standardised with the mean
  and standard deviation of the training rows. The saved model keeps the class names, feature
  names and scaler, so `nncore predict` takes the raw columns.

examples:
  nncore train iris.csv --target species --out iris.nncore
  nncore train houses.csv --target price --task regress --hidden 128,64 --epochs 500 \\
      --learning-rate 0.003 --out houses.nncore
"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nncore",
        usage="nncore [-h] [--version] COMMAND ...",
        description="Train multi-layer perceptrons on CSV files and use them.",
        epilog="example: nncore train data.csv --target label --out model.nncore\n"
        "run 'nncore COMMAND --help' for the options of a command",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"nncore {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", title="commands"
    )

    def command(
        name: str, usage: str, help: str, description: str, epilog: str
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name,
            prog=f"nncore {name}",
            usage=usage,
            help=help,
            description=description,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return sub

    # ---- train
    train = command(
        "train",
        "nncore train DATA.csv --target COL --out MODEL [options]",
        "train a model on a CSV file",
        "Train a classifier or regressor on a CSV file and save it.",
        TRAIN_EPILOG,
    )
    train.add_argument("data", metavar="DATA.csv", help="the training data (CSV with a header)")
    train.add_argument("--target", required=True, metavar="COL", help="the column to predict")
    train.add_argument("--out", required=True, metavar="MODEL", help="where to save the model")
    train.add_argument(
        "--task", choices=TASKS, help="classify or regress (default: from the target, see below)"
    )
    train.add_argument(
        "--hidden",
        type=_hidden_sizes,
        default=[64, 64],
        metavar="N,N",
        help="hidden layer widths (default 64,64; 'none' for no hidden layer)",
    )
    train.add_argument(
        "--activation",
        choices=HIDDEN_ACTIVATIONS,
        default="relu",
        metavar="NAME",
        help=f"hidden activation: {', '.join(HIDDEN_ACTIVATIONS)} (default relu)",
    )
    train.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="adam",
        help="update rule (default adam)",
    )
    train.add_argument(
        "--learning-rate",
        type=_float_in(0.0, None, closed_low=False),
        metavar="F",
        help="learning rate (default: the optimizer's, 0.001 for adam)",
    )
    train.add_argument(
        "--epochs", type=_int_at_least(1), default=200, metavar="N", help="at most N epochs (200)"
    )
    train.add_argument(
        "--batch-size", type=_int_at_least(1), default=32, metavar="B", help="batch size (32)"
    )
    train.add_argument(
        "--validation-split",
        type=_float_in(0.0, 1.0, closed_low=True),
        default=0.2,
        metavar="F",
        help="fraction of the rows held out for validation (0.2; 0 for none)",
    )
    train.add_argument(
        "--seed", type=_int_at_least(0), default=0, metavar="S", help="random seed (0)"
    )
    train.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32", help="precision (float32)"
    )
    train.add_argument(
        "--quiet", action="store_true", help="no progress bar and no report (errors only)"
    )
    train.set_defaults(handler=train_command)

    # ---- predict
    predict = command(
        "predict",
        "nncore predict MODEL DATA.csv [--out PREDICTIONS.csv]",
        "predict the rows of a CSV file",
        "Predict every row of a CSV file with a model saved by 'nncore train'. The model's "
        "feature columns are taken by name (other columns are ignored). The output is a CSV "
        "file with a 'prediction' column (the class name, or the predicted value) and, for a "
        "classifier, one 'probability_<class>' column per class.",
        "examples:\n  nncore predict iris.nncore new_flowers.csv --out predictions.csv\n"
        "  nncore predict houses.nncore houses.csv | head",
    )
    predict.add_argument("model", metavar="MODEL", help="a model saved by 'nncore train'")
    predict.add_argument("data", metavar="DATA.csv", help="the rows to predict (CSV)")
    predict.add_argument(
        "--out", metavar="PREDICTIONS.csv", help="write the predictions here (default: stdout)"
    )
    predict.set_defaults(handler=predict_command)

    # ---- evaluate
    evaluate = command(
        "evaluate",
        "nncore evaluate MODEL DATA.csv [--target COL]",
        "measure a model on a labelled CSV file",
        "Print the loss and the accuracy (classifier, with the accuracy of each class) or the "
        "mean squared error and R² (regressor) of a model on a CSV file with the true values.",
        "example:\n  nncore evaluate iris.nncore iris_test.csv --target species",
    )
    evaluate.add_argument("model", metavar="MODEL", help="a model saved by 'nncore train'")
    evaluate.add_argument("data", metavar="DATA.csv", help="labelled rows (CSV)")
    evaluate.add_argument(
        "--target",
        metavar="COL",
        help="the column with the true values (default: the one the model was trained on)",
    )
    evaluate.set_defaults(handler=evaluate_command)

    # ---- info
    info = command(
        "info",
        "nncore info MODEL",
        "describe a saved model",
        "Print a saved model's architecture, parameter count, precision, optimizer, how its "
        "training went, and its task, classes and features.",
        "example:\n  nncore info iris.nncore",
    )
    info.add_argument("model", metavar="MODEL", help="a saved model")
    info.set_defaults(handler=info_command)

    # ---- config
    config = command(
        "config",
        "nncore config",
        "show how nncore was built and runs here",
        "Print the version, the instruction-set level chosen at import (and those built and "
        "supported), the threads, the compiler and Eigen's configuration.",
        "example:\n  NNCORE_ISA=avx2 nncore config",
    )
    config.set_defaults(handler=config_command)

    # ---- demo
    demo = command(
        "demo",
        "nncore demo [--epochs N] [--seed S] [--plot OUT.png]",
        "train a small network on a built-in data set",
        "Train a network on three interleaved spirals (generated, no download).",
        "example: python -m nncore demo --epochs 300 --plot spirals.png",
    )
    demo.add_argument(
        "--epochs", type=_int_at_least(1), default=300, metavar="N", help="epochs (default 300)"
    )
    demo.add_argument(
        "--seed", type=_int_at_least(0), default=0, metavar="S", help="random seed (default 0)"
    )
    demo.add_argument(
        "--plot",
        metavar="OUT.png",
        help="save the decision regions and the loss curve to this image (needs matplotlib)",
    )
    demo.set_defaults(handler=demo_command)

    # ---- bench
    bench = command(
        "bench",
        "nncore bench [--sizes T,S] [--quick] [--repeats N] [--dtype float32|float64]",
        "time training against the NumPy and pure-Python references",
        "Time how many samples per second nncore, its NumPy reference and its pure-Python "
        "reference train (tanh MLP, mean squared error, SGD) on this machine. Sizes: "
        "T 2-16-1 (batch 1), S 64-128-128-10 (batch 32), M 784-256-256-10 (batch 128), "
        "L 1024-2048-2048-1024 (batch 256). The references train on a subset of the rows.",
        "examples:\n  nncore bench\n  nncore bench --sizes T --quick",
    )
    bench.add_argument(
        "--sizes",
        type=_bench_sizes,
        default=["T", "S"],
        metavar="T,S",
        help="workloads to time (default T,S)",
    )
    bench.add_argument(
        "--quick", action="store_true", help="tiny sample counts and one run: a smoke test"
    )
    bench.add_argument(
        "--repeats", type=_int_at_least(1), default=3, metavar="N", help="timed runs (3)"
    )
    bench.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32", help="precision (float32)"
    )
    bench.set_defaults(handler=bench_command)
    return parser


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


def _say(quiet: bool) -> Callable[..., None]:
    def say(*parts: Any) -> None:
        if not quiet:
            print(*parts, flush=True)

    return say


def _load_model(path: str) -> MLP:
    import nncore

    load = getattr(nncore, "load", None)
    if load is None:
        raise CommandError("this nncore cannot load models (it has no nncore.load)")
    file = Path(path)
    if not file.exists():
        raise CommandError(f"{path}: no such file")
    if file.is_dir():
        raise CommandError(f"{path}: is a directory, not a model file")
    try:
        model = load(path)
    except Exception as error:  # the loader's reasons are many; all mean "not a usable model"
        reason = str(error) or type(error).__name__  # never an empty reason
        message = reason if path in reason else f"{path}: cannot load the model: {reason}"
        raise CommandError(message) from error
    if not isinstance(model, MLP):
        raise CommandError(f"{path}: the file does not hold an nncore model")
    return model


def _trained_metadata(model: MLP, path: str) -> dict[str, Any]:
    """The model's metadata, checked to be what ``nncore train`` writes."""
    metadata = model.metadata
    needed = ("task", "feature_names", "target")
    missing = [key for key in needed if key not in metadata]
    if missing or (metadata.get("task") == "classify" and "classes" not in metadata):
        raise CommandError(
            f"{path}: the model has no feature names/task in its metadata (it was not made by "
            "'nncore train'); use it from Python instead"
        )
    if len(metadata["feature_names"]) != model.n_features:
        raise CommandError(
            f"{path}: the metadata names {len(metadata['feature_names'])} features but the "
            f"model takes {model.n_features}"
        )
    return metadata


def _feature_matrix(model: MLP, metadata: dict[str, Any], table: Table) -> Array:
    """The model's feature columns of ``table`` by name, standardised with the saved scaler."""
    names = list(metadata["feature_names"])
    missing = [name for name in names if name not in table.columns]
    if missing:
        raise CommandError(
            f"{table.path}: missing feature column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))} (the model needs {', '.join(names)})"
        )
    X = table.numeric(names)
    mean = model.metadata_arrays.get("scaler_mean")
    scale = model.metadata_arrays.get("scaler_scale")
    if mean is not None and scale is not None:
        X = Standardizer(np.asarray(mean), np.asarray(scale)).transform(X)
    return X


def _target_scaler(model: MLP) -> Standardizer:
    mean = model.metadata_arrays.get("target_mean", np.zeros(1))
    scale = model.metadata_arrays.get("target_scale", np.ones(1))
    return Standardizer(np.asarray(mean), np.asarray(scale))


def _metrics(model: MLP, task: str, X: Array, y: Array, target_scaler: Standardizer) -> str:
    """One line of metrics: loss and accuracy (classify), or MSE and R² in the target's units."""
    if task == "classify":
        loss = model.loss(X, y)
        accuracy = float(np.mean(model.predict(X) == y))
        return f"loss {loss:.4f}  accuracy {accuracy:.3f}"
    predicted = target_scaler.inverse_transform(model.forward(X).astype(np.float64))[:, 0]
    truth = y.reshape(-1)
    mse = float(np.mean((predicted - truth) ** 2))
    total = float(np.sum((truth - truth.mean()) ** 2))
    r2 = f"{1.0 - mse * truth.size / total:.3f}" if total > 0 else "n/a (constant target)"
    return f"mse {mse:.6g}  r2 {r2}"


def _format_number(value: float, dtype: np.dtype[Any]) -> str:
    """A predicted value with the digits its precision has."""
    return format(float(value), ".8g" if dtype == np.float32 else ".17g")


def _write_csv(rows: list[list[str]], out: str | None) -> None:
    if out is None:
        csv.writer(sys.stdout, lineterminator="\n").writerows(rows)
        sys.stdout.flush()
        return
    try:
        with open(out, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
    except OSError as error:
        raise CommandError(f"{out}: cannot write it ({error.strerror or error})") from None


def _check_writable(path: str, what: str) -> None:
    """Fail before any work when ``path`` cannot be a file we write."""
    target = Path(path)
    if target.is_dir():
        raise CommandError(f"{what} {path}: is a directory")
    parent = target.parent
    if not parent.is_dir():
        raise CommandError(f"{what} {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise CommandError(f"{what} {path}: the directory {parent} is not writable")


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def train_command(args: argparse.Namespace) -> int:
    say = _say(args.quiet)
    model_file: str = args.out
    _check_writable(model_file, "--out")
    table = read_csv(args.data)
    target: str = args.target
    table.index(target)  # a missing target column is an error before anything else
    features = [column for column in table.columns if column != target]
    if not features:
        raise CommandError(f"{args.data}: no feature columns (the file has only {target!r})")
    X = table.numeric(features)
    raw_target = table.column(target)
    task = args.task or infer_task(raw_target)
    if "" in raw_target:
        row = table.line_numbers[raw_target.index("")]
        raise CommandError(f"{args.data}: row {row}, column {target!r}: the cell is empty")
    if task == "classify":
        classes = class_names(raw_target)
        if len(classes) < 2:
            raise CommandError(
                f"{args.data}: column {target!r} has a single class ({classes[0]!r}); a "
                "classifier needs at least 2"
            )
        y: Array = encode_classes(table, target, classes)
    else:
        classes = []
        y = table.numeric([target])

    n = table.n_rows
    order = np.random.default_rng(args.seed).permutation(n)
    n_validation = math.ceil(round(args.validation_split * n, 9)) if args.validation_split else 0
    if n_validation >= n:
        raise CommandError(
            f"{args.data}: {n} row{'s' if n > 1 else ''} cannot be split into training and "
            f"validation rows (--validation-split {args.validation_split}); use "
            "--validation-split 0 or more rows"
        )
    train_rows, validation_rows = order[: n - n_validation], order[n - n_validation :]
    scaler = Standardizer.fit(X[train_rows])
    X_scaled = scaler.transform(X)
    target_scaler = Standardizer(np.zeros(1), np.ones(1))
    if task == "regress":
        target_scaler = Standardizer.fit(y[train_rows])
        y_fit = target_scaler.transform(y)
    else:
        y_fit = y

    n_outputs = len(classes) if task == "classify" else 1
    model = MLP(
        [len(features), *args.hidden, n_outputs],
        activation=args.activation,
        output_activation="softmax" if task == "classify" else "identity",
        dtype=args.dtype,
        seed=args.seed,
    )
    why = "" if args.task else " (from the target column; --task to choose)"
    if task == "classify":
        shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
        say(f"task: classify{why}, {len(classes)} classes: {shown}")
    else:
        say(f"task: regress{why}")
    say(
        f"data: {args.data}, {n} rows ({len(train_rows)} training, {n_validation} validation), "
        f"{len(features)} features, target {target!r}"
    )
    say(f"model: {model}, {model.n_parameters:,} parameters, optimizer {args.optimizer}")

    validation = (X_scaled[validation_rows], y_fit[validation_rows]) if n_validation else None
    start = time.perf_counter()
    history = model.fit(
        X_scaled[train_rows],
        y_fit[train_rows],
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=validation,
        verbose=0 if args.quiet else 1,
    )
    seconds = time.perf_counter() - start
    assert model.optimizer is not None
    best = f", weights of epoch {history.best_epoch}" if history.best_epoch is not None else ""
    units = " (standardised target)" if task == "regress" else ""
    say(
        f"trained {history.epochs} epochs in {seconds:.2f} s "
        f"(stopped: {history.stop_reason}{best}); final loss {history.loss[-1]:.4f}{units}"
    )
    train_metrics = _metrics(model, task, X_scaled[train_rows], y[train_rows], target_scaler)
    say(f"training:   {train_metrics}")
    if n_validation:
        validation_metrics = _metrics(
            model, task, X_scaled[validation_rows], y[validation_rows], target_scaler
        )
        say(f"validation: {validation_metrics}")

    model.metadata.update(
        task=task,
        target=target,
        feature_names=features,
        created_by=f"nncore {__version__} train",
        training={
            "data": str(args.data),
            "rows": n,
            "training_rows": len(train_rows),
            "validation_rows": n_validation,
            "optimizer": model.optimizer.name,
            "learning_rate": model.optimizer.learning_rate,
            "batch_size": args.batch_size,
            "max_epochs": args.epochs,
            "epochs": history.epochs,
            "stop_reason": history.stop_reason,
            "best_epoch": history.best_epoch,
            "final_loss": history.loss[-1],
            "seed": args.seed,
        },
    )
    if task == "classify":
        model.metadata["classes"] = classes
    model.metadata_arrays["scaler_mean"] = scaler.mean
    model.metadata_arrays["scaler_scale"] = scaler.scale
    if task == "regress":
        model.metadata_arrays["target_mean"] = target_scaler.mean
        model.metadata_arrays["target_scale"] = target_scaler.scale
    save = getattr(model, "save", None)
    if save is None:
        raise CommandError("this nncore cannot save models (MLP has no save method)")
    try:
        save(model_file)
    except OSError as error:
        raise CommandError(f"{model_file}: cannot write it ({error.strerror or error})") from None
    say(f"saved the model to {model_file}")
    return 0


def predict_command(args: argparse.Namespace) -> int:
    if args.out is not None:
        _check_writable(args.out, "--out")
    model = _load_model(args.model)
    metadata = _trained_metadata(model, args.model)
    table = read_csv(args.data)
    X = _feature_matrix(model, metadata, table)
    if metadata["task"] == "classify":
        classes = list(metadata["classes"])
        probabilities = model.predict_proba(X)
        labels = np.argmax(probabilities, axis=1)
        rows = [["prediction", *(f"probability_{name}" for name in classes)]]
        rows += [
            [classes[label], *(f"{p:.6g}" for p in row)]
            for label, row in zip(labels.tolist(), probabilities.tolist(), strict=True)
        ]
    else:
        values = _target_scaler(model).inverse_transform(model.forward(X).astype(np.float64))
        rows = [["prediction"]]
        rows += [[_format_number(value, model.dtype)] for value in values[:, 0]]
    _write_csv(rows, args.out)
    if args.out is not None:
        print(f"wrote {len(rows) - 1} predictions to {args.out}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    metadata = _trained_metadata(model, args.model)
    table = read_csv(args.data)
    target = args.target or metadata["target"]
    table.index(target)
    X = _feature_matrix(model, metadata, table)
    task = metadata["task"]
    lines = [f"{args.model} on {args.data}: {table.n_rows} rows, target {target!r}, task {task}"]
    if task == "classify":
        classes = list(metadata["classes"])
        y = encode_classes(table, target, classes)
        lines.append(_metrics(model, task, X, y, _target_scaler(model)))
        predicted = model.predict(X)
        per_class = []
        for index, name in enumerate(classes):
            rows = y == index
            if rows.any():
                accuracy = float(np.mean(predicted[rows] == index))
                per_class.append(f"{name} {accuracy:.3f} ({int(rows.sum())})")
        lines.append(f"per-class accuracy: {', '.join(per_class)}")
    else:
        y = table.numeric([target])
        lines.append(_metrics(model, task, X, y, _target_scaler(model)))
    print("\n".join(lines))
    return 0


def config_command(args: argparse.Namespace) -> int:
    show_config()
    return 0


def info_command(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    metadata = model.metadata
    training: dict[str, Any] = metadata.get("training") or {}
    sizes = "-".join(map(str, model.layer_sizes))
    print(f"model: {args.model}")
    print(f"architecture: {sizes} ({model.n_layers} dense layers)")
    print(f"activations: {', '.join(model.activations)}")
    print(f"parameters: {model.n_parameters:,} ({model.dtype.name}), bias {model.use_bias}")
    if model.optimizer is not None:
        print(
            f"optimizer: {model.optimizer.name} (learning rate {model.optimizer.learning_rate:g})"
        )
    elif "optimizer" in training:
        print(f"optimizer: {training['optimizer']} (learning rate {training['learning_rate']:g})")
    else:
        print("optimizer: none (the model has not been trained)")
    history = model.history
    if history is not None and history.epochs:
        summary: dict[str, Any] = {
            "epochs": history.epochs,
            "final_loss": history.loss[-1],
            "stop_reason": history.stop_reason,
            "best_epoch": history.best_epoch,
        }
    else:
        summary = training
    if "epochs" in summary:
        best = f", weights of epoch {summary['best_epoch']}" if summary.get("best_epoch") else ""
        units = " (standardised target)" if "target_scale" in model.metadata_arrays else ""
        print(
            f"training: {summary['epochs']} epochs, final loss {summary['final_loss']:.4g}"
            f"{units}, stopped: {summary['stop_reason']}{best}"
        )
        if "rows" in training:
            print(
                f"training data: {training['data']}, {training['training_rows']} training and "
                f"{training['validation_rows']} validation rows, batch size "
                f"{training['batch_size']}"
            )
    else:
        print("training: none recorded (the model has not been trained)")
    if "task" in metadata:
        line = f"task: {metadata['task']}, target {metadata.get('target')!r}"
        if metadata["task"] == "classify" and "classes" in metadata:
            classes = list(metadata["classes"])
            line += f", {len(classes)} classes: {', '.join(map(str, classes))}"
        print(line)
    else:
        print("task: not recorded (the model was not made by 'nncore train')")
    if "feature_names" in metadata:
        names = list(metadata["feature_names"])
        print(f"features ({len(names)}): {', '.join(map(str, names))}")
    if "scaler_mean" in model.metadata_arrays:
        print("scaling: features standardised with the training rows' mean and std")
    return 0


def demo(epochs: int, seed: int, plot: str | None = None) -> int:
    """Train a 2-64-64-3 network on three interleaved spirals and report what it learned."""
    if plot is not None:
        from .plot import require_matplotlib

        _check_writable(plot, "--plot")
        try:
            require_matplotlib()
        except ImportError as error:
            raise CommandError(f"--plot: {error}") from None
        from matplotlib.figure import Figure  # type: ignore[import-not-found, unused-ignore]

        formats = Figure().canvas.get_supported_filetypes()
        suffix = Path(plot).suffix.lower().lstrip(".")
        if suffix and suffix not in formats:
            raise CommandError(
                f"--plot {plot}: matplotlib cannot write .{suffix} images (use one of "
                f"{', '.join(sorted(formats))})"
            )
    X, y = make_spirals(n_samples=900, n_classes=3, noise=0.15, seed=seed)
    order = np.random.default_rng(seed).permutation(len(X))
    train, test = order[:600], order[600:]
    print(f"nncore {__version__} demo: 3 interleaved spirals, 600 training / 300 test points")
    model = MLP([2, 64, 64, 3], activation="tanh", output_activation="softmax", seed=seed)
    print(f"model: {model}, {model.n_parameters} parameters")
    report_every = max(1, epochs // 10)

    def progress(record: dict[str, float]) -> None:
        epoch = int(record["epoch"])
        if epoch % report_every == 0 or epoch == 1:
            print(f"  epoch {epoch:>4}/{epochs}  loss {record['loss']:.4f}")

    start = time.perf_counter()
    history = model.fit(
        X[train],
        y[train],
        learning_rate=0.1,
        epochs=epochs,
        batch_size=16,
        n_iter_no_change=None,
        callbacks=[progress],
    )
    seconds = time.perf_counter() - start
    train_accuracy = float(np.mean(model.predict(X[train]) == y[train]))
    test_accuracy = float(np.mean(model.predict(X[test]) == y[test]))
    print(
        f"trained {history.epochs} epochs in {seconds:.2f} s ({history.stop_reason}); "
        f"final loss {history.loss[-1]:.4f}"
    )
    print(f"accuracy: train {train_accuracy:.3f}, test {test_accuracy:.3f}")
    if plot is not None:
        _save_demo_plot(model, X, y, plot)
        print(f"plot: decision regions and loss curve saved to {plot}")
    return 0


def _save_demo_plot(model: MLP, X: Array, y: Array, path: str) -> None:
    from matplotlib.figure import Figure  # type: ignore[import-not-found, unused-ignore]

    from .plot import plot_decision_boundary, plot_history

    figure = Figure(figsize=(11, 4.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    plot_decision_boundary(model, X, y, ax=left)
    plot_history(model, ax=right)
    try:
        figure.savefig(path, dpi=100)
    except (OSError, ValueError) as error:
        raise CommandError(f"--plot {path}: cannot save the image: {error}") from None


def demo_command(args: argparse.Namespace) -> int:
    return demo(args.epochs, args.seed, args.plot)


def bench_command(args: argparse.Namespace) -> int:
    from . import bench

    def progress(line: str) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\rtiming {line} ...".ljust(60))
            sys.stderr.flush()

    print(
        f"nncore {__version__} training benchmark: tanh MLP, mean squared error, SGD "
        f"(learning rate {bench.LEARNING_RATE}), {args.dtype}"
        + (", --quick: tiny sample counts, one run" if args.quick else "")
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, NumPy {np.__version__}"
    )
    results = bench.run(
        args.sizes, quick=args.quick, repeats=args.repeats, dtype=args.dtype, progress=progress
    )
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 60 + "\r")
    print()
    print(bench.format_table(results))
    return 0


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _fail(message: str) -> int:
    text = " ".join(str(message).split())  # always one line
    print(f"nncore: error: {text}", file=sys.stderr, flush=True)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Usage errors exit through argparse (``SystemExit`` with status 2).
    """
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (CommandError, CSVError) as error:
        return _fail(str(error))
    except DivergenceError as error:
        return _fail(f"training diverged ({error}); try a smaller --learning-rate")
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (``nncore predict ... | head``): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as error:
        if os.environ.get("NNCORE_TRACEBACK"):
            raise
        return _fail(
            f"{type(error).__name__}: {error} (set NNCORE_TRACEBACK=1 to see the traceback)"
        )
