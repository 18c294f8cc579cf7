"""The ``nncore`` command line (also ``python -m nncore``): train on a CSV file, predict,
evaluate, describe a saved model, the spirals demo and a speed benchmark.

Run ``nncore --help`` and ``nncore COMMAND --help``. A mistake in the command (an unknown option,
a bad value) exits with status 2, any other problem (a missing file or column, a cell that is not
a number, a file that is not a model) with status 1; either way the last line on stderr is a
single ``nncore: error: ...`` line, never a traceback (set ``NNCORE_TRACEBACK=1`` to see the
traceback of an unexpected error). Notes on what was assumed (an index column dropped, columns
taken in order) are ``nncore: note: ...`` lines on stderr.

A model made in Python can be used by ``predict`` and ``evaluate``: without ``feature_names`` in
its metadata it takes the file's columns (all but ``--target``) in order when there are exactly
as many as its features, and its classes are 0, 1, ... To use named columns and classes, set in
Python ``model.metadata["feature_names"] = [...]``, ``model.metadata["task"] = "classify"``
(with ``model.metadata["classes"] = [...]``, one name per output) or ``"regress"``, and
``model.metadata["target"] = "column"``, then ``model.save(path)``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from . import __version__, onnx_export
from . import layers as L
from ._core import DivergenceError
from ._validation import (
    ACTIVATION_ALIASES,
    ACTIVATIONS,
    LOSS_ALIASES,
    LOSS_OUTPUT,
    LOSSES,
    check_loss,
)
from .config import show_config
from .csv_data import (
    MAX_INTEGER_CLASSES,
    CSVError,
    Standardizer,
    Table,
    class_names,
    encode_classes,
    feature_values,
    find_categories,
    infer_task,
    read_csv,
)
from .datasets import make_spirals
from .metrics import METRICS, check_metrics, metric_names
from .metrics import evaluate as evaluate_predictions
from .mlp import MLP
from .optim import OPTIMIZERS, Optimizer, get_optimizer
from .sequential import Sequential

Array = npt.NDArray[Any]

HIDDEN_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name != "softmax") + tuple(
    ACTIVATION_ALIASES
)
#: The losses of a softmax (classify) or linear (regress) output: all but binary cross-entropy
#: and poisson (whose linear output is a log-rate, not a prediction).
LOSS_NAMES = tuple(
    name
    for name in LOSSES + tuple(LOSS_ALIASES)
    if LOSS_OUTPUT.get(LOSS_ALIASES.get(name, name)) in (None, "softmax")
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


def _separator(text: str) -> str:
    """The cell separator of ``--sep``: one character; ``tab`` or ``\\t`` for a tab."""
    separator = "\t" if text in ("tab", "\\t") else text
    if len(separator) != 1 or separator in ('"', "\n", "\r"):
        raise argparse.ArgumentTypeError(
            f"expected one character such as ';' (or 'tab'), got {text!r}"
        )
    return separator


def _fraction_option(parser: argparse.ArgumentParser, flag: str, default: float, what: str) -> None:
    """An option taking a fraction in [0, 1): the ``what`` fraction."""
    parser.add_argument(
        flag,
        type=_float_in(0.0, 1.0, closed_low=True),
        default=default,
        metavar="F",
        help=f"the fraction in [0, 1) {what}",
    )


def _separator_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sep",
        type=_separator,
        default=",",
        metavar="C",
        help="the character between the cells of the CSV files (default ','; 'tab' for tabs)",
    )


def _metric_list(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in METRICS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated names from {','.join(METRICS)}, got {text!r}"
        )
    return names


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
  a CSV file with a header row (cells separated by --sep); every column but the target is a
  feature: numeric, or categorical when none of its cells is a number — its sorted distinct
  values are then codes of an embedding layer (--embedding-dim wide) before the hidden layers,
  and predict refuses a category the training data did not have. An unnamed first column
  holding 0, 1, 2, ... (the index that pandas' DataFrame.to_csv() writes) is dropped, with a
  note. Rows are shuffled (with --seed); the last --test-split of them are held out for the
  test scores reported at the end, the --validation-split before those for validation (with
  early stopping on the validation loss); both are fractions of all rows. The features are
  standardised with the mean and standard deviation of the training rows (the categorical ones
  are left as codes). The saved model keeps the class names, feature names, categories and
  scaler, so `nncore predict` takes the raw columns.

the scores:
  classify: {", ".join(metric_names("classify"))};
  regress: {", ".join(metric_names("regress"))} (in the target's units).
  Definitions: nncore.metrics (scikit-learn's).

examples:
  nncore train iris.csv --target species --out iris.nncore
  nncore train houses.csv --target price --task regress --hidden 128,64 --epochs 500 \\
      --learning-rate 0.003 --loss huber --dropout 0.1 --test-split 0.2 --out houses.nncore
  nncore train data.tsv --sep tab --target label --weight-decay 1e-4 --out model.nncore
"""

#: Where a model's columns come from when its metadata does not name them (a model made in
#: Python): the message for predict/evaluate, which the help texts repeat.
NAMES_HINT = (
    "to use the columns by name, add to the model in Python: model.metadata['feature_names'] "
    "= [...] (and 'task': 'classify' with 'classes': [...], or 'regress'; 'target': name), "
    "then model.save(path)"
)
MODEL_COLUMNS_HELP = (
    "A model made by 'nncore train' takes its feature columns by name (other columns are "
    "ignored). A model made in Python with no 'feature_names' in its metadata takes the "
    "file's columns in order when there are exactly as many as the model's features (a note "
    "on stderr says so); its classes are then 0, 1, ...; " + NAMES_HINT + "."
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (one ``_add_<command>`` function each)."""
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
    for add in COMMANDS:
        add(commands)
    return parser


Commands = Any  # argparse's private _SubParsersAction


def _command(
    commands: Commands, name: str, usage: str, help: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    """A subcommand's parser, formatted as every other's."""
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


def _add_train(commands: Commands) -> None:
    train = _command(
        commands,
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
    _network_options(train)
    _training_options(train)
    train.add_argument(
        "--seed", type=_int_at_least(0), default=0, metavar="S", help="random seed (0)"
    )
    train.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32", help="precision (float32)"
    )
    train.add_argument(
        "--quiet", action="store_true", help="no progress and no report (errors only)"
    )
    _separator_option(train)
    train.set_defaults(handler=train_command)


def _network_options(train: argparse.ArgumentParser) -> None:
    """``nncore train``'s architecture: hidden widths, activation, dropout."""
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
    _fraction_option(
        train, "--dropout", 0.0, "of each hidden layer's units dropped in training (0)"
    )


def _class_weight_text(text: str) -> str | dict[str, float]:
    """``balanced``, or a JSON object of class names and weights (checked against the classes
    once the data is read)."""
    if text == "balanced":
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not all(
        isinstance(weight, (int, float)) and not isinstance(weight, bool)
        for weight in value.values()
    ):
        raise argparse.ArgumentTypeError(
            f"expected 'balanced' or a JSON object of class names and weights, got {text!r}"
        )
    return {str(name): float(weight) for name, weight in value.items()}


def _training_options(train: argparse.ArgumentParser) -> None:
    """``nncore train``'s optimisation: rule, rate, epochs, batches, splits, loss, decay."""
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
    _fraction_option(
        train, "--validation-split", 0.2, "of the rows held out for validation (0.2; 0 for none)"
    )
    _fraction_option(
        train, "--test-split", 0.0, "of the rows held out for the test scores at the end (0)"
    )
    train.add_argument(
        "--loss",
        choices=LOSS_NAMES,
        metavar="NAME",
        help=f"{', '.join(LOSS_NAMES)} (default: categorical_cross_entropy to classify, "
        "mean_squared_error to regress)",
    )
    train.add_argument(
        "--weight-decay",
        "--alpha",
        dest="weight_decay",
        type=_float_in(0.0, None, closed_low=True),
        metavar="F",
        help="the optimizer's weight decay λ, an L2 penalty (default: the optimizer's own)",
    )
    train.add_argument(
        "--embedding-dim",
        type=_int_at_least(1),
        metavar="D",
        help="the vector width of each embedded (non-numeric) feature column (default: "
        "min(8, (most categories + 1) // 2))",
    )
    train.add_argument(
        "--class-weight",
        type=_class_weight_text,
        metavar="balanced|JSON",
        help="classify: weigh each class in the loss, 'balanced' (n / (classes · n_c)) or "
        "a JSON object such as '{\"spam\": 5}' (other classes weigh 1; default: all 1)",
    )


def _add_predict(commands: Commands) -> None:
    predict = _command(
        commands,
        "predict",
        "nncore predict MODEL DATA.csv [--out PREDICTIONS.csv]",
        "predict the rows of a CSV file",
        "Predict every row of a CSV file with a model. The output is a CSV file (separated "
        "by --sep) with a 'prediction' column (the class name, or the predicted value) and, "
        "for a classifier, one 'probability_<class>' column per class. " + MODEL_COLUMNS_HELP,
        "examples:\n  nncore predict iris.nncore new_flowers.csv --out predictions.csv\n"
        "  nncore predict houses.nncore houses.csv | head",
    )
    predict.add_argument("model", metavar="MODEL", help="a saved model")
    predict.add_argument("data", metavar="DATA.csv", help="the rows to predict (CSV)")
    predict.add_argument(
        "--out", metavar="PREDICTIONS.csv", help="write the predictions here (default: stdout)"
    )
    _separator_option(predict)
    predict.set_defaults(handler=predict_command)


def _add_evaluate(commands: Commands) -> None:
    evaluate = _command(
        commands,
        "evaluate",
        "nncore evaluate MODEL DATA.csv [--target COL] [--metrics NAME,NAME]",
        "measure a model on a labelled CSV file",
        "Print the scores of a model on a CSV file with the true values (scikit-learn's "
        "definitions, nncore.metrics): for a classifier "
        f"{', '.join(metric_names('classify'))}; for a regressor "
        f"{', '.join(metric_names('regress'))}. " + MODEL_COLUMNS_HELP,
        "examples:\n  nncore evaluate iris.nncore iris_test.csv --target species\n"
        "  nncore evaluate iris.nncore iris_test.csv --metrics accuracy,f1_macro",
    )
    evaluate.add_argument("model", metavar="MODEL", help="a saved model")
    evaluate.add_argument("data", metavar="DATA.csv", help="labelled rows (CSV)")
    evaluate.add_argument(
        "--target",
        metavar="COL",
        help="the column with the true values (default: the one the model was trained on)",
    )
    evaluate.add_argument(
        "--metrics",
        type=_metric_list,
        metavar="NAME,NAME",
        help="the scores to print (default: all of the model's task)",
    )
    _separator_option(evaluate)
    evaluate.set_defaults(handler=evaluate_command)


def _add_info(commands: Commands) -> None:
    info = _command(
        commands,
        "info",
        "nncore info MODEL",
        "describe a saved model",
        "Print a saved model's architecture, parameter count, precision, optimizer, how its "
        "training went, and its task, classes and features.",
        "example:\n  nncore info iris.nncore",
    )
    info.add_argument("model", metavar="MODEL", help="a saved model")
    info.set_defaults(handler=info_command)


def _add_config(commands: Commands) -> None:
    config = _command(
        commands,
        "config",
        "nncore config",
        "show how nncore was built and runs here",
        "Print the version, the instruction-set level chosen at import (and those built and "
        "supported), the threads, the compiler and Eigen's configuration.",
        "example:\n  NNCORE_ISA=avx2 nncore config",
    )
    config.set_defaults(handler=config_command)


def _add_export(commands: Commands) -> None:
    export = _command(
        commands,
        "export",
        "nncore export MODEL --onnx OUT.onnx [--opset N]",
        "write a saved model as an ONNX file",
        "Write a saved model as an ONNX file that takes the raw feature columns (float64 "
        "input 'features', one row per sample, the columns of 'nncore info'; a categorical "
        "column as its code, the index of its category in that list) and standardises them "
        "with the model's saved scaler. A classifier gives 'probabilities' (one column per "
        "class) and 'label' (the class index); a regressor 'prediction', in the target's "
        "units. The class and feature names and the categories are in the file's metadata "
        "('classes', 'feature_names', 'categories', JSON). Needs the onnx package (pip "
        "install 'nncore[onnx]').",
        "example:\n  nncore export iris.nncore --onnx iris.onnx",
    )
    export.add_argument("model", metavar="MODEL", help="a saved model")
    export.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    export.add_argument(
        "--opset",
        type=_int_at_least(onnx_export.OPSET_MIN),
        metavar="N",
        help=f"the ONNX opset, {onnx_export.OPSET_MIN} to the newest of the installed onnx "
        f"(default: {onnx_export.DEFAULT_OPSET})",
    )
    export.set_defaults(handler=export_command)


def _add_demo(commands: Commands) -> None:
    demo = _command(
        commands,
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


def _add_bench(commands: Commands) -> None:
    bench = _command(
        commands,
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


#: The subcommands, in the order of ``nncore --help``: one function each.
COMMANDS = (
    _add_train,
    _add_predict,
    _add_evaluate,
    _add_info,
    _add_config,
    _add_export,
    _add_demo,
    _add_bench,
)


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


def _say(quiet: bool) -> Callable[..., None]:
    def say(*parts: Any) -> None:
        if not quiet:
            print(*parts, flush=True)

    return say


def _load_model(path: str) -> Sequential:
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
    if not isinstance(model, Sequential):
        raise CommandError(f"{path}: the file does not hold an nncore model")
    return model


@dataclass
class _Schema:
    """How a model reads a CSV file: its task, class names (empty to regress), the file's
    columns it takes as features (in its order), and the target column (None: none named)."""

    task: str
    classes: list[str]
    features: list[str]
    target: str | None


def _schema(model: Sequential, path: str, table: Table, target: str | None) -> _Schema:
    """What ``model``'s metadata says about its columns (``nncore train`` writes all of it), the
    rest from the model: a classifier's classes are then 0, 1, ..., and without feature names
    the file's columns but the target are the features, in order, when their count is right."""
    metadata = model.metadata
    task = metadata.get("task") or ("classify" if model.is_classifier else "regress")
    if task not in TASKS:
        raise CommandError(f"{path}: the metadata's task {task!r} is not one of {TASKS}")
    if task == "classify" and model.output_activation == "sigmoid" and model.n_outputs > 1:
        raise CommandError(f"{path}: a multi-label model (sigmoid outputs) cannot be used here")
    n_classes = max(model.n_outputs, 2)
    classes = [str(name) for name in metadata.get("classes", range(n_classes))]
    if task == "classify" and len(classes) != n_classes:
        raise CommandError(
            f"{path}: the metadata names {len(classes)} classes but the model has {n_classes}"
        )
    names = metadata.get("feature_names")
    if names is not None:
        names = [str(name) for name in names]
        if len(names) != model.n_features:
            raise CommandError(
                f"{path}: the metadata names {len(names)} features but the model takes "
                f"{model.n_features}"
            )
        missing = [name for name in names if name not in table.columns]
        if missing:
            raise CommandError(
                f"{table.path}: missing feature column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))} (the model needs {', '.join(names)})"
            )
        return _Schema(task, classes if task == "classify" else [], names, target)
    columns = [column for column in table.columns if column != target]
    if len(columns) != model.n_features:
        kind = "feature columns (all but the target)" if target else "columns"
        raise CommandError(
            f"{path}: the model has no feature names in its metadata (it was not made by "
            f"'nncore train') and {table.path} has {len(columns)} {kind}, not the model's "
            f"{model.n_features} to take in order; {NAMES_HINT}"
        )
    table.notes.append(
        f"{path} names no features: the columns {', '.join(columns)} of {table.path} are its "
        f"{model.n_features} features, in this order"
    )
    return _Schema(task, classes if task == "classify" else [], columns, target)


def _feature_matrix(model: Sequential, schema: _Schema, table: Table) -> Array:
    """The model's feature columns of ``table``, standardised with the saved scaler (if any), in
    the model's dtype; ``CSVError`` naming a cell that becomes infinite on the way."""
    categories = model.metadata.get("categories") or {}
    if not isinstance(categories, dict) or not all(
        isinstance(names, list) for names in categories.values()
    ):
        raise CommandError("the model's metadata 'categories' is not {column: [category, ...]}")
    X = feature_values(table, schema.features, categories)
    mean = model.metadata_arrays.get("scaler_mean")
    scale = model.metadata_arrays.get("scaler_scale")
    scaled = mean is not None and scale is not None
    if scaled:
        X = Standardizer(np.asarray(mean), np.asarray(scale)).transform(X)
    with np.errstate(over="ignore"):
        X = X.astype(model.dtype)
    scaling = " once standardised" if scaled else ""
    table.check_finite(X, schema.features, f"is too large for the model{scaling} ({model.dtype})")
    return X


def _target_scaler(model: Sequential) -> Standardizer:
    mean = model.metadata_arrays.get("target_mean", np.zeros(1))
    scale = model.metadata_arrays.get("target_scale", np.ones(1))
    return Standardizer(np.asarray(mean), np.asarray(scale))


def _scores(
    model: Sequential,
    task: str,
    X: Array,
    y: Array,
    target_scaler: Standardizer,
    metrics: Any = None,
) -> dict[str, Any]:
    """``model.evaluate`` on standardised features ``X``; a regressor's predictions are put back
    into the target's units first (``nncore.metrics.evaluate`` on them)."""
    if task == "classify":
        return model.evaluate(X, y, metrics)
    predicted = target_scaler.inverse_transform(model.forward(X).astype(np.float64))
    return evaluate_predictions("regress", y, predicted, metrics=metrics)


def _format_scores(scores: dict[str, Any], classes: Sequence[str] = ()) -> list[str]:
    """One line of the numeric scores, then the confusion matrix (if there is one) with the
    class names: a row per true class, a column per predicted class."""
    numbers = [
        f"{name} {value:{'.4f' if METRICS[name].task == 'classify' else '.6g'}}"
        for name, value in scores.items()
        if np.ndim(value) == 0
    ]
    lines = ["  ".join(numbers)] if numbers else []
    matrix = scores.get("confusion_matrix")
    if matrix is not None:
        names = [str(name) for name in classes] or [str(k) for k in range(len(matrix))]
        cells = [[f"{value:g}" for value in row] for row in np.asarray(matrix).tolist()]
        width = max(len(text) for text in [*names, *(c for row in cells for c in row)])
        lines.append("confusion matrix (rows: true class, columns: predicted class):")
        lines.append(" " * (width + 2) + " ".join(name.rjust(width) for name in names))
        lines += [
            f"  {name.rjust(width)} " + " ".join(cell.rjust(width) for cell in row)
            for name, row in zip(names, cells, strict=True)
        ]
    return lines


def _print_notes(table: Table) -> None:
    for note in table.notes:
        print(f"nncore: note: {note}", file=sys.stderr, flush=True)


def _format_number(value: float, dtype: np.dtype[Any]) -> str:
    """A predicted value with the digits its precision has."""
    return format(float(value), ".8g" if dtype == np.float32 else ".17g")


def _write_csv(rows: list[list[str]], out: str | None, delimiter: str) -> None:
    if out is None:
        csv.writer(sys.stdout, delimiter=delimiter, lineterminator="\n").writerows(rows)
        sys.stdout.flush()
        return
    try:
        with open(out, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, delimiter=delimiter).writerows(rows)
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


@dataclass
class _TrainingData:
    """The columns of a training file: features ``X``, target ``y`` (class indices, or values
    ``(n, 1)`` to regress), the task and the class names."""

    table: Table
    target: str
    features: list[str]
    X: Array
    y: Array
    task: str
    classes: list[str]
    #: The categorical feature columns and their categories (codes: indices), embedded.
    categories: dict[str, list[str]]


def _training_data(args: argparse.Namespace) -> _TrainingData:
    table = read_csv(args.data, args.sep)
    target: str = args.target
    table.index(target)  # a missing target column is an error before anything else
    features = [column for column in table.columns if column != target]
    if not features:
        raise CommandError(f"{args.data}: no feature columns (the file has only {target!r})")
    categories = find_categories(table, features)
    X = feature_values(table, features, categories)
    raw_target = table.column(target)
    task = args.task or infer_task(raw_target)
    if "" in raw_target:
        where = table.where(raw_target.index(""))
        raise CommandError(f"{args.data}: {where}, column {target!r}: the cell is empty")
    if task == "regress":
        y = table.numeric([target])
        return _TrainingData(table, target, features, X, y, task, [], categories)
    classes = class_names(raw_target)
    if len(classes) < 2:
        raise CommandError(
            f"{args.data}: column {target!r} has a single class ({classes[0]!r}); a "
            "classifier needs at least 2"
        )
    y = encode_classes(table, target, classes)
    return _TrainingData(table, target, features, X, y, task, classes, categories)


def _split_rows(n: int, args: argparse.Namespace) -> tuple[Array, Array, Array]:
    """The shuffled rows as (training, validation, test): the test rows last, the validation
    rows before them, each ``ceil(fraction · n)`` rows."""
    counts = [
        math.ceil(round(fraction * n, 9)) if fraction else 0  # 0.07·100 holds out 7 rows, not 8
        for fraction in (args.validation_split, args.test_split)
    ]
    n_validation, n_test = counts
    if n_validation + n_test >= n:
        raise CommandError(
            f"{args.data}: {n} row{'s' if n > 1 else ''} cannot be split into training, "
            f"validation and test rows (--validation-split {args.validation_split}, --test-split "
            f"{args.test_split}); use smaller fractions (0 for none) or more rows"
        )
    order = np.random.default_rng(args.seed).permutation(n)
    n_train = n - n_validation - n_test
    return order[:n_train], order[n_train : n_train + n_validation], order[n_train + n_validation :]


def _optimizer(args: argparse.Namespace) -> Optimizer:
    """The ``--optimizer`` with the defaults of its rule, but ``--weight-decay``."""
    optimizer = get_optimizer(args.optimizer)
    if args.weight_decay is None:
        return optimizer
    return type(optimizer)(**{**optimizer.hyperparameters(), "weight_decay": args.weight_decay})


def _training_loss(args: argparse.Namespace, task: str) -> str:
    """The loss of ``--loss`` for ``task``'s output (None: the output's own)."""
    output_activation = "softmax" if task == "classify" else "identity"
    try:
        loss = check_loss(args.loss, output_activation)
    except ValueError as error:
        raise CommandError(f"--loss {args.loss}: {error} (the task is {task})") from None
    if task == "classify" and loss != "categorical_cross_entropy":
        raise CommandError(
            f"--loss {args.loss}: a classifier trains with categorical_cross_entropy (its "
            "softmax output's loss); the other losses are for --task regress"
        )
    return loss


@dataclass
class _Scaled:
    """The standardised features and training targets, with the scalers of the training rows
    (the target's: identity unless the task is regress)."""

    X: Array
    y: Array
    scaler: Standardizer
    target_scaler: Standardizer


def _scaled(data: _TrainingData, train_rows: Array, source: str) -> _Scaled:
    scaler = Standardizer.fit(data.X[train_rows], data.features, source)
    embedded = [j for j, name in enumerate(data.features) if name in data.categories]
    scaler.mean[embedded], scaler.scale[embedded] = 0.0, 1.0  # codes stay codes
    X = scaler.transform(data.X)
    data.table.check_finite(X, data.features, "is too large once standardised")
    if data.task != "regress":
        return _Scaled(X, data.y, scaler, Standardizer(np.zeros(1), np.ones(1)))
    target_scaler = Standardizer.fit(data.y[train_rows], [data.target], source)
    y = target_scaler.transform(data.y)
    data.table.check_finite(y, [data.target], "is too large once standardised")
    return _Scaled(X, y, scaler, target_scaler)


def _report_scores(
    say: Callable[..., None],
    model: Sequential,
    data: _TrainingData,
    rows: dict[str, Array],
    scaled: _Scaled,
) -> None:
    """A line of scores for the training and validation rows; for the test rows, also the
    confusion matrix."""
    for name, indices in rows.items():
        if len(indices):
            scores = _scores(
                model, data.task, scaled.X[indices], data.y[indices], scaled.target_scaler
            )
            lines = _format_scores(scores, data.classes)
            if name != "test":
                lines = lines[:1]  # no confusion matrix
            say("\n".join([f"{name + ':':<12}{lines[0]}", *lines[1:]]))


def train_command(args: argparse.Namespace) -> int:
    say = _say(args.quiet)
    _check_writable(args.out, "--out")
    if args.dropout and not args.hidden:
        raise CommandError(f"--dropout {args.dropout}: there is no hidden layer (--hidden none)")
    data = _training_data(args)
    _print_notes(data.table)
    loss = _training_loss(args, data.task)
    train_rows, validation_rows, test_rows = _split_rows(data.table.n_rows, args)
    scaled = _scaled(data, train_rows, args.data)
    model = _model(args, data)
    optimizer = _optimizer(args)
    class_weight = _class_weight(args, data)
    why = "" if args.task else " (from the target column; --task to choose)"
    if data.task == "classify":
        shown = ", ".join(data.classes[:10]) + (", ..." if len(data.classes) > 10 else "")
        say(f"task: classify{why}, {len(data.classes)} classes: {shown}")
    else:
        say(f"task: regress{why}")
    test = f", {len(test_rows)} test" if len(test_rows) else ""
    say(
        f"data: {args.data}, {data.table.n_rows} rows ({len(train_rows)} training, "
        f"{len(validation_rows)} validation{test}), {len(data.features)} features, target "
        f"{data.target!r}"
    )
    decay = f" (weight decay {optimizer.weight_decay:g})" if optimizer.weight_decay else ""
    say(
        f"model: {model}, {model.n_parameters:,} parameters, optimizer {optimizer.name}{decay}, "
        f"loss {loss}"
    )

    start = time.perf_counter()
    history = model.fit(
        scaled.X[train_rows],
        scaled.y[train_rows],
        loss=loss,
        optimizer=optimizer,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=(
            (scaled.X[validation_rows], scaled.y[validation_rows]) if len(validation_rows) else None
        ),
        verbose=0 if args.quiet else 1,
        class_weight=class_weight,
    )
    seconds = time.perf_counter() - start
    best = f", weights of epoch {history.best_epoch}" if history.best_epoch is not None else ""
    units = " (standardised target)" if data.task == "regress" else ""
    say(
        f"trained {history.epochs} epochs in {seconds:.2f} s "
        f"(stopped: {history.stop_reason}{best}); final loss {history.loss[-1]:.4f}{units}"
    )
    rows = {"training": train_rows, "validation": validation_rows, "test": test_rows}
    _report_scores(say, model, data, rows, scaled)
    counts = {name: len(indices) for name, indices in rows.items()}
    _describe_in_metadata(model, args, data, loss, counts, scaled)
    try:
        model.save(args.out)
    except OSError as error:
        raise CommandError(f"{args.out}: cannot write it ({error.strerror or error})") from None
    say(f"saved the model to {args.out}")
    return 0


def _model(args: argparse.Namespace, data: _TrainingData) -> Sequential:
    """The MLP of ``--hidden``, ``--activation`` and ``--dropout``; with categorical columns, the
    same layers after an ``Embedding`` of those columns (``--embedding-dim`` each)."""
    output = "softmax" if data.task == "classify" else "identity"
    n_outputs = len(data.classes) or 1
    if not data.categories:
        return MLP(
            [len(data.features), *args.hidden, n_outputs],
            activation=args.activation,
            output_activation=output,
            dtype=args.dtype,
            seed=args.seed,
            dropout=args.dropout,
        )
    columns = [j for j, name in enumerate(data.features) if name in data.categories]
    cardinalities = [len(data.categories[data.features[j]]) for j in columns]
    dim = args.embedding_dim or min(8, (max(cardinalities) + 1) // 2)
    stack: list[L.Layer] = [L.Embedding(columns, cardinalities, dim)]
    for width in args.hidden:
        stack.append(L.Dense(width, args.activation))
        if args.dropout:
            stack.append(L.Dropout(args.dropout))
    stack.append(L.Dense(n_outputs, output))
    return Sequential(stack, len(data.features), args.dtype, args.seed)


def _class_weight(args: argparse.Namespace, data: _TrainingData) -> str | dict[int, float] | None:
    """``--class-weight`` for ``fit``: class names turned into the model's class indices."""
    chosen = args.class_weight
    if chosen is None:
        return None
    if data.task != "classify":
        raise CommandError("--class-weight: only to classify (the task is regress)")
    if isinstance(chosen, str):
        return chosen
    index = {name: i for i, name in enumerate(data.classes)}
    unknown = [name for name in chosen if name not in index]
    if unknown:
        shown = ", ".join(data.classes[:10]) + (", ..." if len(data.classes) > 10 else "")
        raise CommandError(
            f"--class-weight names {', '.join(map(repr, unknown))}, not a class of the target "
            f"(the classes: {shown})"
        )
    return {index[name]: weight for name, weight in chosen.items()}


def _describe_in_metadata(
    model: Sequential,
    args: argparse.Namespace,
    data: _TrainingData,
    loss: str,
    counts: dict[str, int],
    scaled: _Scaled,
) -> None:
    """What ``predict``/``evaluate``/``info`` read: the task, target, features, classes,
    scalers, and how training went (after ``fit``)."""
    history, optimizer = model.history, model.optimizer
    assert history is not None and optimizer is not None
    model.metadata.update(
        task=data.task,
        target=data.target,
        feature_names=data.features,
        created_by=f"nncore {__version__} train",
        training={
            "data": str(args.data),
            "rows": data.table.n_rows,
            "training_rows": counts["training"],
            "validation_rows": counts["validation"],
            "test_rows": counts["test"],
            "optimizer": optimizer.name,
            "learning_rate": optimizer.learning_rate,
            "weight_decay": optimizer.weight_decay,
            "loss": loss,
            "dropout": args.dropout,
            "batch_size": args.batch_size,
            "max_epochs": args.epochs,
            "epochs": history.epochs,
            "stop_reason": history.stop_reason,
            "best_epoch": history.best_epoch,
            "final_loss": history.loss[-1],
            "seed": args.seed,
        },
    )
    if data.task == "classify":
        model.metadata["classes"] = data.classes
    if data.categories:
        model.metadata["categories"] = data.categories
    model.metadata_arrays["scaler_mean"] = scaled.scaler.mean
    model.metadata_arrays["scaler_scale"] = scaled.scaler.scale
    if data.task == "regress":
        model.metadata_arrays["target_mean"] = scaled.target_scaler.mean
        model.metadata_arrays["target_scale"] = scaled.target_scaler.scale


def predict_command(args: argparse.Namespace) -> int:
    if args.out is not None:
        _check_writable(args.out, "--out")
    model = _load_model(args.model)
    table = read_csv(args.data, args.sep)
    schema = _schema(model, args.model, table, None)
    _print_notes(table)
    X = _feature_matrix(model, schema, table)
    if schema.task == "classify":
        probabilities = model.predict_proba(X)
        if probabilities.shape[1] == 1:  # one sigmoid output: p of class 1
            probabilities = np.hstack([1 - probabilities, probabilities])
        rows = [["prediction", *(f"probability_{name}" for name in schema.classes)]]
        rows += [
            [schema.classes[label], *(f"{p:.6g}" for p in row)]
            for label, row in zip(model.predict(X).tolist(), probabilities.tolist(), strict=True)
        ]
    else:
        values = _target_scaler(model).inverse_transform(model.forward(X).astype(np.float64))
        rows = [["prediction"]]
        rows += [[_format_number(value, model.dtype)] for value in values[:, 0]]
    _write_csv(rows, args.out, args.sep)
    if args.out is not None:
        print(f"wrote {len(rows) - 1} predictions to {args.out}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    table = read_csv(args.data, args.sep)
    target = args.target or model.metadata.get("target")
    if target is None:
        raise CommandError(
            f"{args.model} names no target column in its metadata: give it with --target COL"
        )
    table.index(target)
    schema = _schema(model, args.model, table, target)
    _print_notes(table)
    try:
        metrics = check_metrics(args.metrics, schema.task)
    except ValueError as error:
        raise CommandError(f"--metrics: {error}") from None
    X = _feature_matrix(model, schema, table)
    if schema.task == "classify":
        y = encode_classes(table, target, schema.classes)
    else:
        y = table.numeric([target])
    scores = _scores(model, schema.task, X, y, _target_scaler(model), metrics)
    print(
        f"{args.model} on {args.data}: {table.n_rows} rows, target {target!r}, task {schema.task}"
    )
    print("\n".join(_format_scores(scores, schema.classes)))
    return 0


def config_command(args: argparse.Namespace) -> int:
    show_config()
    return 0


def info_command(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    metadata = model.metadata
    training: dict[str, Any] = metadata.get("training") or {}
    print(f"model: {args.model}")
    if isinstance(model, MLP):
        sizes = "-".join(map(str, model.layer_sizes))
        print(f"architecture: {sizes} ({model.n_layers} dense layers)")
        print(f"activations: {', '.join(model.activations)}")
        print(f"parameters: {model.n_parameters:,} ({model.dtype.name}), bias {model.use_bias}")
    else:
        print(f"architecture: {model.n_inputs} inputs, {model.n_outputs} outputs")
        for index, layer in enumerate(model.layers):
            print(f"  layer {index}: {layer!r}")
        print(f"parameters: {model.n_parameters:,} ({model.dtype.name})")
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
                f"training data: {training['data']}, {training['training_rows']} training, "
                f"{training['validation_rows']} validation and {training.get('test_rows', 0)} "
                f"test rows, batch size {training['batch_size']}"
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


def export_command(args: argparse.Namespace) -> int:
    _check_writable(args.onnx, "--onnx")
    try:
        opset = onnx_export.check_opset(args.opset)
    except ImportError as error:
        raise CommandError(str(error)) from None
    except ValueError as error:
        raise CommandError(f"--opset: {error}") from None
    model = _load_model(args.model)
    try:
        proto = _onnx_model(model, args.model, opset)
        onnx_export.save_proto(proto, args.onnx)
    except ImportError as error:
        raise CommandError(str(error)) from None
    except ValueError as error:
        raise CommandError(f"{args.model}: {error}") from None
    except OSError as error:
        raise CommandError(f"{args.onnx}: cannot write it ({error.strerror or error})") from None
    outputs = ", ".join(repr(output.name) for output in proto.graph.output)
    print(
        f"wrote {args.onnx} (opset {proto.opset_import[0].version}): input 'features' "
        f"({model.n_features} columns), outputs {outputs}"
    )
    return 0


def _onnx_model(model: Sequential, path: str, opset: int) -> Any:
    """The ONNX model of ``nncore export``: raw features in, the saved scaler, the network,
    then a classifier's probabilities and class index or a regressor's values in the target's
    units."""
    metadata = model.metadata
    task = metadata.get("task") or ("classify" if model.is_classifier else "regress")
    if task == "classify" and model.output_activation == "sigmoid" and model.n_outputs > 1:
        raise CommandError(f"{path}: a multi-label model (sigmoid outputs) cannot be exported")
    graph = onnx_export.OnnxGraph(opset, model.dtype)
    x, double = "features", np.float64
    mean, scale = (model.metadata_arrays.get(f"scaler_{name}") for name in ("mean", "scale"))
    if mean is not None and scale is not None:  # (x − mean) / scale, in float64
        centred = graph.node("Sub", x, graph.constant(mean, "scaler_mean", double))
        x = graph.node("Div", centred, graph.constant(scale, "scaler_scale", double))
    if model.dtype != double:
        x = graph.node("Cast", x, to=graph.tensor_type(model.dtype))
    output = onnx_export.network_nodes(graph, model, x)
    if task == "classify":
        if model.n_outputs == 1:  # one sigmoid output p: [1 − p, p], label p >= 0.5 as predict
            at_least_half = graph.node("Not", graph.node("Less", output, graph.constant(0.5)))
            label = graph.node("Cast", at_least_half, to=graph.tensor_type(np.int64))
            flat = graph.constant([-1], "shape", np.int64)
            graph.add_node("Reshape", [label, flat], ["label"])
            output = graph.node(
                "Concat", graph.node("Sub", graph.constant(1.0), output), output, axis=1
            )
        else:
            graph.add_node("ArgMax", [output], ["label"], axis=1, keepdims=0)
        graph.add_node("Identity", [output], ["probabilities"])
        width = max(model.n_outputs, 2)
        outputs = [("probabilities", model.dtype, width), ("label", np.int64, None)]
    else:
        value = graph.node("Cast", output, to=graph.tensor_type(double))
        target = _target_scaler(model)  # values · scale + mean, as predict does
        value = graph.node("Mul", value, graph.constant(target.scale, "target_scale", double))
        graph.add_node(
            "Add", [value, graph.constant(target.mean, "target_mean", double)], ["prediction"]
        )
        outputs = [("prediction", double, model.n_outputs)]
    proto = graph.model([("features", double, model.n_features)], outputs)
    names = {
        key: metadata[key] for key in ("classes", "feature_names", "categories") if key in metadata
    }
    graph.onnx.helper.set_model_props(
        proto, {key: json.dumps(value) for key, value in names.items()}
    )
    return proto


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


def _save_demo_plot(model: Sequential, X: Array, y: Array, path: str) -> None:
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
