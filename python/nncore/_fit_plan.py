"""The arguments of one ``fit`` (``Sequential.fit``, ``MLP.fit``, ``nncore.distributed.fit``),
checked and converted into a ``FitPlan`` before anything changes. Works on any model of
``nncore.sequential`` (its ``_loss_inputs``, dtype, widths, optimizer)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._class_weight import class_weight_rows
from ._monitor import Monitor, make_monitor
from ._validation import INDEX_MAX, as_features, as_targets, check_float, check_int
from ._validation import as_sample_weight as _weights
from .optim import Optimizer, get_optimizer
from .schedules import Schedule, get_schedule

Array = npt.NDArray[Any]
#: A callback receives the epoch's record (a dict, see ``Sequential.fit``); a true return value
#: stops training after that epoch.
Callback = Callable[[dict[str, Any]], Any]
Validation = tuple[Array | None, Array | None, Array | None]
#: ``fit(n_iter_no_change="auto")`` without early stopping: the training-loss rule's patience.
N_ITER_NO_CHANGE = 10


@dataclass
class FitPlan:
    """The arguments of one ``fit``, checked and converted (``make_plan``)."""

    features: Array
    targets: Array
    weights: Array  # empty: all ones
    loss: str
    huber_delta: float
    validation: Validation
    learning_rate: float | None
    epochs: int
    batch_size: int
    shuffle: bool
    target_loss: float | None
    tol: float
    n_iter_no_change: int  # 0: never
    verbose: int
    callbacks: list[Callback]
    optimizer: Optimizer  # checked against the model (its native object is made by run_fit)
    schedule: Schedule
    early_stopping: bool
    patience: int
    min_delta: float
    restore_best_weights: bool
    monitor: Monitor  # what early stopping and reduce_on_plateau watch; the extra metrics
    # Set by nncore.sklearn only (not arguments of fit): the core's L2 penalty λ_j per parameter
    # (FitOptions.penalty; None: none) and how an epoch's loss averages its batches.
    penalty: Array | None = None
    epoch_loss: str = "weighted_mean"

    def native_options(self) -> Any:
        """The settings of the native loop (``_core.FitOptions``)."""
        return _core.FitOptions(
            epochs=self.epochs,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            target_loss=self.target_loss,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            loss=self.loss,
            huber_delta=self.huber_delta,
            penalty=() if self.penalty is None else self.penalty,
            epoch_loss=self.epoch_loss,
        )

    def validation_data(self) -> tuple[Array, Array, Array] | None:
        """``(X_val, Y_val, weights_val)`` as the native loop takes it, or None for none."""
        X_val, Y_val, w_val = self.validation
        if X_val is None or Y_val is None or w_val is None:
            return None
        return X_val, Y_val, w_val


def make_plan(
    model: Any, X: Any, y: Any, options: dict[str, Any], defaults: dict[str, Any]
) -> FitPlan:
    """Every argument of ``fit`` checked and converted (see ``Sequential.fit``); ``options``
    beyond ``defaults`` (the keywords of ``fit``) are a ``TypeError``. The model is unchanged."""
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f"fit got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    o = {**defaults, **options}
    features, targets, weights, name, delta = model._loss_inputs(
        X, y, o["loss"], o["sample_weight"], o["huber_delta"]
    )
    validation = _validation(
        model, (features, targets, weights), o["validation_data"], o["validation_split"], name
    )
    features, targets, weights = _training_part(
        validation, o["validation_data"], features, targets, weights
    )
    if o["class_weight"] is not None:
        weights, validation = _class_weighted(
            o["class_weight"], model, (targets, weights), validation
        )
    learning_rate = o["learning_rate"]
    if learning_rate is not None:
        learning_rate = check_float(learning_rate, "learning_rate", minimum=0.0)
    loop = _loop_settings(o)
    user_callbacks = _callbacks(o["callbacks"])
    optimizer = o["optimizer"]
    chosen = (
        model.optimizer
        if optimizer is None and model.optimizer is not None
        else (get_optimizer(optimizer or "sgd"))
    )
    chosen._check_model(model.dtype, model.n_parameters, learning_rate)  # changes nothing
    if chosen.full_batch:
        o = _full_batch_options(o, model)
    schedule = get_schedule(o["lr_schedule"])
    early_stopping = o["early_stopping"]
    if early_stopping is None:
        early_stopping = validation[0] is not None
    _check_bool(early_stopping, "early_stopping", "a bool or None")
    monitor = make_monitor(
        model, o["monitor"], o["mode"], o["metrics"], validation[0] is not None, early_stopping
    )
    return FitPlan(
        features=features,
        targets=targets,
        weights=weights,
        loss=name,
        huber_delta=delta,
        validation=validation,
        learning_rate=learning_rate,
        callbacks=user_callbacks,
        optimizer=chosen,
        schedule=schedule,
        early_stopping=bool(early_stopping),
        monitor=monitor,
        **loop,
        **_stop_settings(o, bool(early_stopping)),
    )


def _full_batch_options(o: dict[str, Any], model: Any) -> dict[str, Any]:
    """``o`` for a full-batch solver (L-BFGS), which picks its steps by line search and stops on
    its own tolerances: ``learning_rate``, ``lr_schedule``, ``tol`` and an explicit
    ``n_iter_no_change`` are refused (``ValueError``); ``batch_size`` and ``shuffle`` do not
    apply (every iteration uses all the rows)."""
    for name, default in (("learning_rate", None), ("lr_schedule", None), ("tol", 0.0)):
        if o[name] is not default and o[name] != default:
            raise ValueError(
                f"{name} does not apply to optimizer='lbfgs' (its line search picks each step; "
                "it stops on LBFGS(tol=..., ftol=...)); leave it at its default"
            )
    if o["n_iter_no_change"] not in ("auto", None):
        raise ValueError(
            "n_iter_no_change does not apply to optimizer='lbfgs' (it stops on LBFGS(tol=..., "
            "ftol=...)); use early_stopping with validation data to stop on the validation loss"
        )
    if model._network.state.size:
        raise ValueError(
            "optimizer='lbfgs' does not learn a batch normalisation's running statistics; "
            "train this model with a mini-batch optimizer"
        )
    return {**o, "n_iter_no_change": None}


def _check_bool(value: Any, name: str, expected: str = "a bool") -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {expected}, got {value!r}")


def _loop_settings(o: dict[str, Any]) -> dict[str, Any]:
    """The epoch, batch, convergence and output settings of ``fit``, checked."""
    epochs = check_int(o["epochs"], "epochs", 1, INDEX_MAX)
    # A batch larger than the data is the whole data (the core clamps it), so any size is
    # accepted; clamped here to what the core's index type holds (the same on every rank).
    batch_size = min(check_int(o["batch_size"], "batch_size", 1), INDEX_MAX)
    _check_bool(o["shuffle"], "shuffle")
    target_loss = o["target_loss"]
    if target_loss is not None:
        target_loss = check_float(target_loss, "target_loss")
    tol = check_float(o["tol"], "tol", minimum=0.0)
    verbose = check_int(o["verbose"], "verbose", 0)
    if verbose > 2:
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose}")
    return {
        "epochs": epochs,
        "batch_size": batch_size,
        "shuffle": bool(o["shuffle"]),
        "target_loss": target_loss,
        "tol": tol,
        "verbose": verbose,
    }


def _stop_settings(o: dict[str, Any], early_stopping: bool) -> dict[str, Any]:
    """The stop rules' settings of ``fit``, checked."""
    n_iter_no_change = o["n_iter_no_change"]
    if isinstance(n_iter_no_change, str) and n_iter_no_change == "auto":
        # early stopping on validation data decides alone unless both rules are asked for
        n_iter_no_change = None if early_stopping else N_ITER_NO_CHANGE
    no_change = (
        0
        if n_iter_no_change is None
        else check_int(n_iter_no_change, "n_iter_no_change", 1, INDEX_MAX)
    )
    patience = check_int(o["patience"], "patience", 1)
    min_delta = check_float(o["min_delta"], "min_delta", minimum=0.0)
    _check_bool(o["restore_best_weights"], "restore_best_weights")
    return {
        "n_iter_no_change": no_change,
        "patience": patience,
        "min_delta": min_delta,
        "restore_best_weights": bool(o["restore_best_weights"]),
    }


def _training_part(
    validation: Validation, validation_data: Any, features: Array, targets: Array, weights: Array
) -> tuple[Array, Array, Array]:
    """The rows to train on: with ``validation_split``, the leading ones (views, no copy)."""
    if validation[0] is not None and validation_data is None:
        n_train = features.shape[0] - validation[0].shape[0]
        features, targets = features[:n_train], targets[:n_train]
        weights = weights[:n_train] if weights.size else weights
        if weights.size and not weights.sum() > 0:
            raise ValueError("sample_weight of the training part must not sum to 0")
    return features, targets, weights


def _class_weighted(
    class_weight: Any, model: Any, train: tuple[Array, Array], validation: Validation
) -> tuple[Array, Validation]:
    """The training and validation rows' weights times their class weights (from the training
    rows' classes, ``nncore._class_weight``), in the model's dtype."""
    targets, weights = train
    rows = class_weight_rows(class_weight, targets, model.output_activation)

    def weigh(Y: Array, w: Array, which: str) -> Array:
        product = rows(Y) * (w if w.size else 1.0)
        if not product.sum() > 0:
            raise ValueError(f"class_weight and sample_weight give the {which} a total weight of 0")
        result: Array = product.astype(model.dtype)
        return result

    X_val, Y_val, w_val = validation
    if X_val is not None and Y_val is not None and w_val is not None:
        validation = X_val, Y_val, weigh(Y_val, w_val, "validation rows")
    return weigh(targets, weights, "training rows"), validation


def _validation(
    model: Any,
    data: tuple[Array, Array, Array],
    validation_data: Any,
    validation_split: Any,
    loss: str,
) -> Validation:
    """``(X_val, Y_val, weights_val)`` from ``validation_data`` or the last rows of the
    training ``data`` for ``validation_split``; ``(None, None, None)`` for no validation."""
    split = check_float(validation_split, "validation_split", minimum=0.0)
    if split >= 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    if validation_data is not None:
        if split > 0:
            raise ValueError("give validation_data or validation_split, not both")
        return _validation_data(model, validation_data, loss)
    if split == 0:
        return None, None, None
    features, targets, weights = data
    n = features.shape[0]
    # ceil(split·n), rounded first so that 0.07·100 = 7.000000000000001 holds out 7 rows
    n_validation = math.ceil(round(split * n, 9))
    if n_validation >= n:
        raise ValueError(f"validation_split={validation_split} leaves no training rows out of {n}")
    start = n - n_validation
    if weights.size and not weights[start:].sum() > 0:
        raise ValueError("sample_weight of the rows held out by validation_split sums to 0")
    return features[start:], targets[start:], weights[start:] if weights.size else weights


def _validation_data(model: Any, validation_data: Any, loss: str) -> Validation:
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise TypeError(
            "validation_data must be (X_val, y_val) or (X_val, y_val, sample_weight_val)"
        )
    X_val = as_features(validation_data[0], model.dtype, model.n_features, "X_val")
    Y_val = as_targets(
        validation_data[1], loss, model.n_outputs, X_val.shape[0], model.dtype, "y_val"
    )
    w_val = _weights(
        validation_data[2] if len(validation_data) == 3 else None,
        X_val.shape[0],
        model.dtype,
        "sample_weight_val",
    )
    return X_val, Y_val, w_val


def _callbacks(callbacks: Any) -> list[Callback]:
    """A list of callables from None, one callable or a list of them."""
    if callbacks is None:
        return []
    if callable(callbacks):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a callable or a list of callables, got {callbacks!r}")
    for callback in callbacks:
        if not callable(callback):
            raise TypeError(f"callbacks must be callables, got {callback!r}")
    return list(callbacks)
