"""scikit-learn estimators trained by nncore: ``MLPClassifier`` and ``MLPRegressor``.

Drop-in replacements for ``sklearn.neural_network.MLPClassifier``/``MLPRegressor`` with the same
parameters, attributes and methods wherever the meaning is the same; the epochs run in nncore's
native loop. Needs scikit-learn (``pip install "nncore[sklearn]"``); ``import nncore`` alone never
imports it.

>>> from sklearn.datasets import load_iris
>>> from nncore.sklearn import MLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X / 8, y)
>>> clf.predict_proba(X[:2]).shape
(2, 3)

How the two libraries' training relate (the details are in the class docstrings):

- The same objective: log-loss (classifier) or half squared error / half Poisson deviance
  (regressor, as scikit-learn) plus ``(alpha/2)·‖W‖² / Σ_{i∈B} w_i`` on every batch ``B`` (an L2
  penalty on the weights, not the biases), the same initial weights (drawn from
  ``random_state`` exactly as scikit-learn draws them), the same batches (``batch_size``), the
  same early-stopping split, convergence rule, ``loss_curve_`` (with sample weights too: each
  batch's weighted mean, averaged over the rows) and learning-rate rules; every ``fit`` starts a
  new optimizer (``warm_start`` too), ``partial_fit`` continues it. nncore's losses are means
  (over samples *and* outputs); the estimators rescale the learning rate, ``epsilon`` and the
  penalty so that every update is scikit-learn's.
- What differs: the shuffling order (nncore's generator) and Adam's ``epsilon`` (PyTorch's
  placement, identical once the bias correction has died out).
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import math
import numbers
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils.class_weight import compute_sample_weight
    from sklearn.utils.multiclass import (
        _check_partial_fit_first_call,
        check_classification_targets,
        type_of_target,
        unique_labels,
    )
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted
except ImportError as error:  # pragma: no cover - exercised without scikit-learn only
    raise ImportError('nncore.sklearn needs scikit-learn: pip install "nncore[sklearn]"') from error

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # pragma: no cover - scikit-learn < 1.6

    def _sk_validate_data(estimator: Any, *args: Any, **kwargs: Any) -> Any:
        return estimator._validate_data(*args, **kwargs)


from . import _core, optim
from ._core import DivergenceError
from ._validation import ACTIVATION_ALIASES, ACTIVATIONS, INDEX_MAX, MAX_LAYER_SIZE
from .history import History
from .mlp import MLP
from .schedules import over_power

__all__ = ["MLPClassifier", "MLPRegressor"]

Array = npt.NDArray[Any]

#: scikit-learn's hidden activation names and nncore's equivalents.
_SKLEARN_ACTIVATIONS = {
    "identity": "identity",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
}
#: nncore's name of each output activation as scikit-learn names it in ``out_activation_``.
_OUT_ACTIVATION_NAMES = {"sigmoid": "logistic", "softmax": "softmax", "identity": "identity"}
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
#: What scikit-learn's stochastic solvers record and its lbfgs does not.
_STOCHASTIC_ATTRIBUTES = (
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
)
_REGRESSION_LOSSES = {
    "squared_error": "mean_squared_error",
    "absolute_error": "mean_absolute_error",
    "huber": "huber",
    "poisson": "poisson",
}


# --------------------------------------------------------------------- parameter checks
def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _real(
    value: Any,
    name: str,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A real number in the interval (bounds open or closed); ``ValueError`` naming it else."""
    if not _is_real(value) or math.isnan(float(value)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    result = float(value)
    below = result <= low if low_open else result < low
    above = result >= high if high_open else result > high
    if below or above:
        closing = ")" if high_open or high == math.inf else "]"
        interval = f"{'(' if low_open else '['}{low}, {high}{closing}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return result


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _hidden_sizes(value: Any) -> list[int]:
    sizes = list(value) if hasattr(value, "__iter__") and not isinstance(value, str) else [value]
    if not all(_is_int(size) and 1 <= size <= MAX_LAYER_SIZE for size in sizes):
        raise ValueError(
            f"hidden_layer_sizes must be integers in [1, {MAX_LAYER_SIZE}], got {value!r}"
        )
    return [int(size) for size in sizes]


def _hidden_activation(value: Any) -> str:
    """nncore's name for a hidden activation given by scikit-learn's or nncore's name."""
    if isinstance(value, str):
        name = _SKLEARN_ACTIVATIONS.get(value, ACTIVATION_ALIASES.get(value, value))
        if name in ACTIVATIONS and name != "softmax":
            return name
    choices = sorted({*_SKLEARN_ACTIVATIONS, *ACTIVATIONS, *ACTIVATION_ALIASES} - {"softmax"})
    raise ValueError(f"activation must be one of {', '.join(choices)}; got {value!r}")


def _dropout(value: Any, n_hidden: int) -> float | list[float]:
    rates = list(value) if isinstance(value, (list, tuple)) else [value]
    if isinstance(value, (list, tuple)) and len(rates) != n_hidden:
        raise ValueError(
            f"dropout as a list needs one rate per hidden layer ({n_hidden}), got {len(rates)}"
        )
    checked = [_real(rate, "dropout", 0.0, 1.0, high_open=True) for rate in rates]
    return checked if isinstance(value, (list, tuple)) else checked[0]


# --------------------------------------------------------------------- failed calls
class _Rollback:
    """Puts an estimator's attributes back as they were when a ``fit``/``partial_fit`` fails
    before training has begun (scikit-learn's own input checks already set some, such as
    ``n_features_in_`` and ``classes_``): a refused call changes nothing. Once training has begun
    (``training = True``), a failure keeps what the epochs did, as ``MLP.fit`` does."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        # lists are copied: the training record (``loss_curve_``, ...) grows in place
        self.saved = {
            key: list(value) if isinstance(value, list) else value
            for key, value in vars(estimator).items()
        }
        self.training = False

    def __enter__(self) -> _Rollback:
        return self

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if kind is not None and not self.training:
            attributes = vars(self.estimator)
            attributes.clear()
            attributes.update(self.saved)


def _initial_parameters(
    layer_units: list[int], activation: str, rng: np.random.RandomState
) -> tuple[list[Array], list[Array]]:
    """scikit-learn's initialisation, drawn in its order from the same generator: U(-b, b) for
    weights and biases, b = sqrt(factor / (fan_in + fan_out)), factor 2 for logistic, else 6."""
    factor = 2.0 if activation == "sigmoid" else 6.0
    weights: list[Array] = []
    biases: list[Array] = []
    for fan_in, fan_out in itertools.pairwise(layer_units):
        bound = math.sqrt(factor / (fan_in + fan_out))
        weights.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        biases.append(rng.uniform(-bound, bound, fan_out))
    return weights, biases


def _weights_penalty(model: MLP, value: float) -> Array:
    """The core's L2 penalty vector (``FitOptions.penalty``, ``fit_lbfgs``'s ``penalty``):
    ``value`` on every weight-matrix entry, 0 on the biases, scikit-learn's ``alpha`` term."""
    penalty = np.zeros(model.n_parameters)
    for name, shape, offset in model.layout:
        if name.endswith(".W"):
            penalty[offset : offset + math.prod(shape)] = value
    return penalty


def _product(a: Array | None, b: Array | None) -> Array | None:
    """``a * b`` where both are given, else the one given (or None)."""
    if a is None or b is None:
        return a if b is None else b
    product: Array = a * b
    return product


# --------------------------------------------------------------------- the shared estimator
class _BaseMLP(BaseEstimator):  # type: ignore[misc]
    """What the classifier and the regressor share: parameter checks, the training loop that
    reproduces scikit-learn's ``_fit_stochastic`` around one native ``MLP.fit`` call, pickling.

    Subclasses provide ``_validate_input``, ``_output_activation``, ``_core_loss`` and
    ``_loss_scales``.
    """

    _is_classifier_estimator = False
    # Fitted attributes (set by ``fit``; annotated here for the type checker only).
    model_: MLP
    n_iter_: int
    t_: int
    loss_: float
    loss_curve_: list[float]
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    best_loss_: float | None

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        dtype: str = "float64",
        dropout: float | list[float] = 0.0,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.dropout = dropout

    # ----------------------------------------------------------------- hooks
    def _validate_input(
        self, X: Any, y: Any, incremental: bool, reset: bool, dtype: np.dtype[Any]
    ) -> tuple[Array, Array]:
        """``(X, Y)``: the checked features and the dense 2-D target matrix for nncore."""
        raise NotImplementedError

    def _output_activation(self) -> str:
        raise NotImplementedError

    def _core_loss(self) -> str:
        raise NotImplementedError

    def _loss_scales(self, n_outputs: int) -> tuple[float, float]:
        """``(c, f)``: nncore's loss gradient is ``c`` times scikit-learn's, and scikit-learn
        reports ``f`` times nncore's loss value in ``loss_curve_``."""
        raise NotImplementedError

    def _out_activation_name(self) -> str:
        """``out_activation_``: scikit-learn's name of the output activation."""
        return _OUT_ACTIVATION_NAMES[self._output_activation()]

    def _link(self, output: Array) -> Array:
        """The prediction from the network's output (the regressor's poisson: ``exp``)."""
        return output

    def _validation_record(
        self, record: dict[str, Any], validation: tuple[Array, ...] | None
    ) -> dict[str, Any]:
        """The epoch's record with the validation score as scikit-learn computes it."""
        return record

    # ----------------------------------------------------------------- checks
    def _check_params(self) -> dict[str, Any]:
        """All hyper-parameters checked (at ``fit``, as scikit-learn: never in ``__init__``)."""
        if not isinstance(self.solver, str) or self.solver not in optim.OPTIMIZERS:
            raise ValueError(
                f"solver must be one of {', '.join(optim.OPTIMIZERS)}; got {self.solver!r}"
            )
        if self.learning_rate not in _LEARNING_RATES:
            raise ValueError(
                f"learning_rate must be one of {', '.join(_LEARNING_RATES)}; "
                f"got {self.learning_rate!r}"
            )
        hidden = _hidden_sizes(self.hidden_layer_sizes)
        batch_size: Any = self.batch_size
        if not (batch_size == "auto" or (_is_int(batch_size) and batch_size >= 1)):
            raise ValueError(f"batch_size must be 'auto' or an integer >= 1, got {batch_size!r}")
        if not (_is_int(self.max_iter) and 1 <= self.max_iter <= INDEX_MAX):
            raise ValueError(
                f"max_iter must be an integer in [1, {INDEX_MAX}], got {self.max_iter!r}"
            )
        no_change = self.n_iter_no_change
        if not ((_is_int(no_change) and no_change >= 1) or no_change == math.inf):
            raise ValueError(f"n_iter_no_change must be an integer >= 1 or inf, got {no_change!r}")
        if not (_is_int(self.verbose) or isinstance(self.verbose, (bool, np.bool_))):
            raise ValueError(f"verbose must be a bool or an integer, got {self.verbose!r}")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        return {
            "hidden": hidden,
            "activation": _hidden_activation(self.activation),
            "alpha": _real(self.alpha, "alpha", 0.0),
            "learning_rate_init": _real(
                self.learning_rate_init, "learning_rate_init", 0.0, low_open=True
            ),
            "power_t": _real(self.power_t, "power_t", 0.0),
            "shuffle": _flag(self.shuffle, "shuffle"),
            "tol": _real(self.tol, "tol", 0.0),
            "warm_start": _flag(self.warm_start, "warm_start"),
            "momentum": _real(self.momentum, "momentum", 0.0, 1.0),
            "nesterovs_momentum": _flag(self.nesterovs_momentum, "nesterovs_momentum"),
            "early_stopping": _flag(self.early_stopping, "early_stopping"),
            "validation_fraction": _real(
                self.validation_fraction, "validation_fraction", 0.0, 1.0, high_open=True
            ),
            "beta_1": _real(self.beta_1, "beta_1", 0.0, 1.0, high_open=True),
            "beta_2": _real(self.beta_2, "beta_2", 0.0, 1.0, high_open=True),
            "epsilon": _real(self.epsilon, "epsilon", 0.0, low_open=True),
            "dtype": dtype,
            "dropout": _dropout(self.dropout, len(hidden)),
            "batch_size": None if batch_size == "auto" else int(batch_size),
            **self._lbfgs_params(),
        }

    def _lbfgs_params(self) -> dict[str, Any]:
        """``max_fun`` checked (every solver, as scikit-learn); with ``solver="lbfgs"`` no
        dropout (L-BFGS trains the network without it)."""
        if not (_is_int(self.max_fun) and 1 <= self.max_fun <= INDEX_MAX):
            raise ValueError(
                f"max_fun must be an integer in [1, {INDEX_MAX}], got {self.max_fun!r}"
            )
        if self.solver == "lbfgs" and any(np.atleast_1d(self.dropout)):
            raise ValueError("dropout does not apply to solver='lbfgs'; set dropout=0")
        return {"max_fun": int(self.max_fun)}

    # ----------------------------------------------------------------- fitted state
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    @property
    def coefs_(self) -> list[Array]:
        """Copies of the weight matrices, ``coefs_[i]`` of shape ``(n_in, n_out)``."""
        check_is_fitted(self)
        return self.model_.get_parameters()[0]

    @property
    def intercepts_(self) -> list[Array]:
        """Copies of the bias vectors, ``intercepts_[i]`` of shape ``(n_out,)``."""
        check_is_fitted(self)
        return self.model_.get_parameters()[1]

    def _forward(self, X: Any) -> Array:
        """The output layer's activations for ``X`` (checked against the fitted features)."""
        check_is_fitted(self)
        X = _sk_validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=self.model_.dtype, reset=False
        )
        if hasattr(X, "toarray"):
            X = X.toarray()
        output: Array = self._link(self.model_.forward(X))
        return output

    # ----------------------------------------------------------------- training
    def _build_optimizer(
        self, p: dict[str, Any], c: float, previous: optim.Optimizer | None
    ) -> optim.Optimizer:
        """The nncore optimizer for the solver (no weight decay: ``alpha`` is the core's penalty
        on the weights, but AdamW's decoupled decay), carrying over ``previous``'s state
        (moments, step count) when it is of the same rule and fits (``partial_fit``)."""
        eps = p["epsilon"] * c
        lr = p["learning_rate_init"]
        optimizer: optim.Optimizer
        if self.solver == "sgd":
            momentum = p["momentum"]
            optimizer = optim.SGD(
                learning_rate=lr / c,
                momentum=momentum,
                nesterov=p["nesterovs_momentum"] and momentum > 0,
            )
        elif self.solver == "adam":
            betas = (p["beta_1"], p["beta_2"])
            optimizer = optim.Adam(lr, betas=betas, eps=eps)
        elif self.solver == "adamw":
            betas = (p["beta_1"], p["beta_2"])
            optimizer = optim.AdamW(lr, betas=betas, eps=eps, weight_decay=p["alpha"])
        else:  # any other rule of nncore.optim.OPTIMIZERS: its defaults, with ε when it has one
            rule = optim.OPTIMIZERS[self.solver]
            options = {"eps": eps} if "eps" in inspect.signature(rule).parameters else {}
            optimizer = rule(lr, **options)
        if previous is not None and previous.name == optimizer.name:
            state = previous.state_dict()
            state["hyperparameters"] = optimizer.hyperparameters()
            # (a state that does not fit, e.g. momentum switched on, is not carried over)
            with contextlib.suppress(ValueError, TypeError):
                optimizer = optim.Optimizer.from_state_dict(state)
        return optimizer

    def _class_weights(self, Y: Array, incremental: bool) -> Array | None:
        """The per-sample factors of the class weights (classifiers), or None."""
        return None

    def _fit(
        self, X: Any, y: Any, sample_weight: Any, incremental: bool, rollback: _Rollback
    ) -> _BaseMLP:
        """scikit-learn's ``_fit``, in its steps: check, initialise (first pass) or check the
        fitted architecture, split off the validation set, then train (``_fit_stochastic``)."""
        p = self._check_params()
        dtype: np.dtype[Any] = p["dtype"]
        first_pass = not hasattr(self, "model_") or (not p["warm_start"] and not incremental)
        if not first_pass and self.model_.dtype != dtype:
            raise ValueError(
                f"dtype changed from {self.model_.dtype.name} to {dtype.name}: warm_start and "
                "partial_fit continue the fitted model; fit a new one instead"
            )
        X, Y = self._validate_input(X, y, incremental, reset=first_pass, dtype=dtype)
        if hasattr(X, "toarray"):  # sparse input: nncore trains on dense arrays
            X = X.toarray()
        X = np.ascontiguousarray(X, dtype=dtype)
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=dtype)
        weights = _product(weights, self._class_weights(Y, incremental))
        layer_units = [X.shape[1], *p["hidden"], Y.shape[1]]
        rng = check_random_state(self.random_state)
        if first_pass:
            initial = _initial_parameters(layer_units, p["activation"], rng)
        else:
            self._check_fitted_architecture(layer_units, p)
        if p["early_stopping"] and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if self.solver == "lbfgs":
            if incremental:
                raise ValueError("partial_fit is only available for stochastic optimizers")
            if first_pass:
                self._initialize(layer_units, initial, p, rng)
            return self._fit_lbfgs((X, Y, weights), p, rollback)
        train, validation = self._split(X, Y, weights, p, rng)
        if first_pass:
            self._initialize(layer_units, initial, p, rng)
        if p["early_stopping"] and self.validation_scores_ is None:
            # early stopping switched on for a warm start: start its bookkeeping now
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
        elif not p["early_stopping"] and self.best_loss_ is None:
            self.best_loss_ = np.inf
        return self._fit_stochastic(train, validation, p, incremental, first_pass, rollback)

    def _check_fitted_architecture(self, layer_units: list[int], p: dict[str, Any]) -> None:
        """warm_start and partial_fit continue the fitted network: it must be this one."""
        hidden = [p["activation"]] * len(p["hidden"])
        if list(self.model_.layer_sizes) != layer_units or list(self.model_.activations[:-1]) != (
            hidden
        ):
            raise ValueError(
                f"warm_start/partial_fit needs the fitted architecture {self.model_.layer_sizes} "
                f"with {self.model_.activations[:-1]} hidden activations; got {layer_units} with "
                f"{p['activation']!r}. Set warm_start=False to fit a new model."
            )

    def _split(
        self, X: Array, Y: Array, weights: Array | None, p: dict[str, Any], rng: Any
    ) -> tuple[tuple[Array, Array, Array | None], tuple[Array, ...] | None]:
        """``((X, Y, w) for training, validation (X, Y[, w]) or None)``, the validation set split
        off as scikit-learn does with ``early_stopping`` (stratified for single-output
        classification), each part with its rows' weights."""
        if not p["early_stopping"]:
            return (X, Y, weights), None
        stratify = Y if self._is_classifier_estimator and Y.shape[1] == 1 else None
        arrays = [X, Y] if weights is None else [X, Y, weights]
        parts = train_test_split(
            *arrays, random_state=rng, test_size=p["validation_fraction"], stratify=stratify
        )
        if parts[1].shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        if weights is None:
            return (parts[0], parts[2], None), (parts[1], parts[3])
        return (parts[0], parts[2], parts[4]), (parts[1], parts[3], parts[5])

    def _initialize(
        self,
        layer_units: list[int],
        initial: tuple[list[Array], list[Array]],
        p: dict[str, Any],
        rng: np.random.RandomState,
    ) -> None:
        """A new model from scikit-learn's initial parameters, and fresh fitted attributes."""
        model = MLP(
            layer_units,
            activation=p["activation"],
            output_activation=self._output_activation(),
            dtype=p["dtype"],
            seed=int(rng.randint(0, 2**63 - 1, dtype=np.int64)),
            dropout=p["dropout"],
        )
        model.set_parameters(*initial)
        self.model_ = model
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.n_outputs_ = layer_units[-1]
        self.out_activation_ = self._out_activation_name()
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self._learning_rate_now = p["learning_rate_init"]
        self._best_parameters = initial
        if p["early_stopping"]:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _fit_lbfgs(
        self, train: tuple[Array, Array, Array | None], p: dict[str, Any], rollback: _Rollback
    ) -> _BaseMLP:
        """scikit-learn's ``_fit_lbfgs``: its objective (its loss on all the rows plus
        ``(alpha/2)·‖W‖²/Σw``, weights only) minimised by the core's L-BFGS from the model's
        parameters with scipy's settings as scikit-learn passes them (``maxiter=max_iter``,
        ``maxfun=max_fun``, ``gtol=tol``, scipy's ``ftol`` and ``maxcor=10``)."""
        X, Y, w = train
        model = self.model_
        _, loss_factor = self._loss_scales(Y.shape[1])
        total_weight = X.shape[0] if w is None else float(np.sum(w, dtype=np.float64))
        penalty = _weights_penalty(model, p["alpha"] / total_weight)
        solver = optim.LBFGS(max_fun=p["max_fun"], tol=p["tol"])
        verbose = bool(self.verbose)

        def on_iteration(record: dict[str, Any]) -> bool:
            rollback.training = True
            if verbose:
                print(f"Iteration {record['epoch']}, loss = {record['loss']:.8f}")
            return False

        weights = np.empty(0, dtype=X.dtype) if w is None else w
        try:
            records, reason, loss, _ = _core.fit_lbfgs(
                model._network,
                solver.native_options(self.max_iter),
                (X, Y, weights),
                None,
                self._core_loss(),
                1.0,
                loss_factor,
                penalty,
                on_iteration,
            )
        except DivergenceError as error:
            raise ValueError(
                "The loss at the initial weights is not finite; the input data may contain "
                "large values and need to be preprocessed."
            ) from error
        model.history = History(records, reason, "accuracy" if model.is_classifier else "r2")
        self.n_iter_ = len(records)
        self.loss_ = float(loss)
        for name in _STOCHASTIC_ATTRIBUTES:  # scikit-learn's lbfgs sets none of these
            self.__dict__.pop(name, None)
        if reason not in ("gradient_tolerance", "loss_tolerance"):
            self._warn_lbfgs_not_converged(reason)
        return self

    def _warn_lbfgs_not_converged(self, reason: str) -> None:
        """scikit-learn's ConvergenceWarning of a run that stopped on a limit or failed."""
        status = 1 if reason in ("max_epochs", "max_evaluations") else 2
        message = (
            f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={status}):\n"
            f"STOP: {reason}\n"
        )
        if self.n_iter_ == self.max_iter:
            message += (
                "\nIncrease the number of iterations to improve the convergence "
                f"(max_iter={self.max_iter})."
            )
        warnings.warn(message, ConvergenceWarning, stacklevel=4)

    def _fit_stochastic(
        self,
        train: tuple[Array, Array, Array | None],
        validation: tuple[Array, ...] | None,
        p: dict[str, Any],
        incremental: bool,
        first_pass: bool,
        rollback: _Rollback,
    ) -> _BaseMLP:
        """scikit-learn's ``_fit_stochastic``: its batch size, penalty, optimizer and per-epoch
        bookkeeping (``_epoch_end``) around one native ``MLP.fit`` call."""
        X_train, Y_train, w_train = train
        model = self.model_
        n_train = X_train.shape[0]
        batch_size = self._batch_size(p["batch_size"], n_train)
        total_weight = n_train if w_train is None else float(np.sum(w_train, dtype=np.float64))
        c, loss_factor = self._loss_scales(Y_train.shape[1])
        # scikit-learn: a new optimizer every fit (warm_start too), kept by partial_fit only
        previous = model.optimizer if incremental and not first_pass else None
        optimizer = self._build_optimizer(p, c, previous)
        if not incremental:
            self._learning_rate_now = p["learning_rate_init"]
        is_sgd = self.solver == "sgd"
        # scikit-learn's (alpha/2)·‖W‖²/Σ_{i∈B} w_i on every batch B, weights only, in nncore's
        # gradient units (c): the core's penalty λ = c·alpha/Σw, carried by each batch as
        # λ·Σw/Σ_{i∈B} w_i (AdamW: alpha is its decoupled decay instead)
        penalty = (
            None
            if self.solver == "adamw"
            else _weights_penalty(model, c * p["alpha"] / total_weight)
        )
        self.n_iter_ = 0
        stopped = False

        def on_epoch_end(record: dict[str, Any]) -> bool:
            nonlocal stopped
            rollback.training = True
            # scikit-learn's loss_: Σ_B m_B·(batch B's weighted mean loss + penalty) / n
            loss = float(record["loss"]) * loss_factor + float(record.get("penalty", 0.0)) / c
            record = self._validation_record(record, validation)
            stop = self._epoch_end(loss, record, p, n_train)
            stopped = stopped or stop
            if is_sgd:
                optimizer.learning_rate = self._learning_rate_now / c
            return stop

        try:
            plan = model._fit_plan(
                X_train,
                Y_train,
                loss=self._core_loss(),
                learning_rate=self._learning_rate_now / c if is_sgd else p["learning_rate_init"],
                epochs=1 if incremental else self.max_iter,
                batch_size=batch_size,
                shuffle=p["shuffle"],
                n_iter_no_change=None,
                callbacks=on_epoch_end,
                optimizer=optimizer,
                sample_weight=w_train,
                validation_data=validation,
                early_stopping=False,
            )
            plan.penalty, plan.epoch_loss = penalty, "batch_mean"
            history = model._fit_planned(plan)
        except DivergenceError as error:
            rollback.training = True  # batches before the divergent one have trained
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large "
                "values and need to be preprocessed (or lower learning_rate_init)."
            ) from error
        self._warn_at_the_end(history.stop_reason, incremental, stopped)
        if p["early_stopping"]:
            model.set_parameters(*self._best_parameters)
        return self

    @staticmethod
    def _batch_size(requested: int | None, n_train: int) -> int:
        """scikit-learn's: ``min(200, n)`` for None, else clipped to ``n`` with its warning."""
        if requested is None:
            return min(200, n_train)
        if requested > n_train:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be "
                "clipped",
                stacklevel=4,
            )
        return min(requested, n_train)

    def _epoch_end(self, loss: float, record: dict[str, Any], p: dict[str, Any], n: int) -> bool:
        """scikit-learn's bookkeeping after an epoch of ``n`` samples with (penalised) ``loss``:
        the counters and curves, the no-improvement count, the learning-rate schedule; True to
        stop."""
        verbose = bool(self.verbose)
        self.n_iter_ += 1
        self.loss_ = loss
        self.t_ += n
        self.loss_curve_.append(loss)
        if verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        self._update_no_improvement_count(loss, record, p)
        schedule = self.learning_rate if self.solver == "sgd" else "constant"
        if schedule == "invscaling":
            self._learning_rate_now = over_power(p["learning_rate_init"], self.t_ + 1, p["power_t"])
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        what = "Validation score" if p["early_stopping"] else "Training loss"
        message = (
            f"{what} did not improve more than tol={p['tol']:f} for {self.n_iter_no_change} "
            "consecutive epochs."
        )
        if schedule == "adaptive" and self._learning_rate_now > 1e-6:
            self._learning_rate_now /= 5.0
            self._no_improvement_count = 0
            if verbose:
                print(f"{message} Setting learning rate to {self._learning_rate_now:f}")
            return False
        if verbose:
            print(f"{message} Stopping.")
        return True

    def _update_no_improvement_count(
        self, loss: float, record: dict[str, Any], p: dict[str, Any]
    ) -> None:
        """scikit-learn's: on the validation score with early stopping (keeping the best
        parameters), else on the training loss; an epoch within ``tol`` counts as none."""
        tol = p["tol"]
        if p["early_stopping"]:
            score = float(record["validation_metric"])
            assert self.validation_scores_ is not None
            assert self.best_validation_score_ is not None
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_parameters = self.model_.get_parameters()
            return
        assert self.best_loss_ is not None
        if loss > self.best_loss_ - tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, loss)

    def _warn_at_the_end(self, stop_reason: str, incremental: bool, stopped: bool) -> None:
        """scikit-learn's warnings: an interrupt, or ``max_iter`` reached without converging."""
        if stop_reason == "interrupted":
            warnings.warn("Training interrupted by user.", stacklevel=4)
        elif not incremental and not stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _BaseMLP:
        """Fit the model to data matrix ``X`` and target(s) ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data (sparse input is converted to a dense array).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights: the loss becomes the weighted mean.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            For a bad parameter or bad input, before training: the estimator is then left as it
            was (fitted attributes, model and optimizer state included). Also when training
            diverges (non-finite weights); the epochs before are kept then.
        """
        with _Rollback(self) as rollback:
            return self._fit(X, y, sample_weight, incremental=False, rollback=rollback)


_PARAMETERS_DOC = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The number of units of each hidden layer (an int for one layer; ``()`` for none).

    activation : str, default="relu"
        Activation of the hidden layers: scikit-learn's ``"identity"``, ``"logistic"`` (nncore's
        ``"sigmoid"``), ``"tanh"``, ``"relu"``, or any other name of ``nncore.ACTIVATIONS`` but
        ``"softmax"``, or an alias such as ``"silu"`` (formulas in ``nncore.reference``).

    solver : str, default="adam"
        The update rule, a name of ``nncore.optim.OPTIMIZERS``. ``"sgd"`` (with ``momentum`` and
        ``nesterovs_momentum``) and ``"adam"`` (with ``beta_1``, ``beta_2``, ``epsilon``) are
        scikit-learn's; the others (``"adamw"``, ``"rmsprop"``, ...) are nncore additions
        (``epsilon`` is their ε, the other hyper-parameters are nncore's defaults).
        ``"lbfgs"`` is scikit-learn's full-batch quasi-Newton solver, here the core's L-BFGS
        (``nncore.optim.LBFGS``) on scikit-learn's objective, with scikit-learn's meaning of
        ``max_iter`` (iterations), ``max_fun``, ``tol`` (on ``max_i |∂F/∂θ_i|``) and ``alpha``
        (``(alpha/2)·‖W‖²/Σw``, weights only, exactly); ``n_iter_`` and ``loss_`` as
        scikit-learn's, and, as there, no ``loss_curve_``, ``best_loss_`` or validation
        scores (``batch_size``, ``early_stopping`` and the learning-rate settings do not apply;
        ``dropout`` must be 0; ``partial_fit`` is refused).

    alpha : float, default=0.0001
        Strength of the L2 penalty, as scikit-learn's: ``(alpha/2)·‖W‖²/m`` is added to the loss
        of every batch (``m`` = the batch's sum of sample weights), on the weight matrices only
        (not the biases). nncore's core carries it as a penalty vector (``FitOptions.penalty``,
        the one ``solver="lbfgs"`` uses too), whose gradient ``alpha·W/m`` joins each batch's
        before the optimizer's step. With ``solver="adamw"``, ``alpha`` is AdamW's decoupled
        weight decay instead (``θ ← θ − η·alpha·θ`` every update, biases included).

    batch_size : int or "auto", default="auto"
        Size of the mini-batches; ``"auto"`` is ``min(200, n_samples)``. Larger than the
        training set: clipped to it, with a warning.

    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The learning-rate schedule, used with ``solver="sgd"`` only (as in scikit-learn):
        ``"constant"``: ``learning_rate_init``; ``"invscaling"``: after every epoch
        ``learning_rate_init / (t_ + 1)^power_t`` with ``t_`` the samples seen so far
        (scikit-learn's rule, per epoch; not ``nncore.schedules.InverseScaling``, which counts
        epochs); ``"adaptive"``: like ``nncore.schedules.ReduceOnPlateau`` but with
        scikit-learn's rule exactly: the rate is divided by 5 whenever the training loss (the
        validation score with ``early_stopping``) has not improved by ``tol`` for
        ``n_iter_no_change + 1`` consecutive epochs, and training stops only once the rate is
        at most 1e-6. scikit-learn's momentum velocity carries the old learning rate while
        nncore's momentum buffer does not, so a varying rate gives slightly different updates.

    learning_rate_init : float, default=0.001
        The initial learning rate (every solver).

    power_t : float, default=0.5
        Exponent of ``"invscaling"``.

    max_iter : int, default=200
        The maximum number of epochs (passes over the training data). Reaching it without
        converging emits scikit-learn's ``ConvergenceWarning``, as scikit-learn does.

    shuffle : bool, default=True
        Whether to shuffle the samples every epoch (nncore's seeded generator: the order differs
        from scikit-learn's).

    random_state : int, RandomState instance or None, default=None
        Draws the initial weights (exactly as scikit-learn: the same ``random_state`` gives
        scikit-learn's initial ``coefs_``/``intercepts_``), the early-stopping split (the same
        as scikit-learn's), and the seed of the model's generator (shuffling and dropout).

    tol : float, default=1e-4
        Convergence tolerance: training stops when the training loss (``loss_curve_``) has not
        decreased by ``tol`` — or, with ``early_stopping``, the validation score has not
        increased by ``tol`` — for more than ``n_iter_no_change`` consecutive epochs.

    verbose : bool or int, default=False
        Print the loss of every epoch (and the validation score) to stdout, as scikit-learn.

    warm_start : bool, default=False
        ``fit`` continues from the fitted model's parameters instead of starting anew, with a
        new optimizer (Adam's moments and step count, SGD's momentum start again), as
        scikit-learn; ``partial_fit`` continues the optimizer's state. The architecture and
        ``dtype`` must not change.

    momentum : float, default=0.9
        Momentum of ``solver="sgd"``, in [0, 1].

    nesterovs_momentum : bool, default=True
        Nesterov's momentum for ``solver="sgd"`` (when ``momentum > 0``).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (drawn as scikit-learn draws
        it: a random split, stratified for binary classification only), stop when the
        validation score (accuracy or R², computed natively after every epoch) has not improved
        by ``tol`` for more than ``n_iter_no_change`` epochs, and keep the weights of the best
        epoch. Not available with ``partial_fit``.

    validation_fraction : float, default=0.1
        The held-out fraction for ``early_stopping``, in [0, 1).

    beta_1 : float, default=0.9
        Adam's (and AdamW's) first-moment decay, in [0, 1).

    beta_2 : float, default=0.999
        Adam's (and AdamW's) second-moment decay, in [0, 1).

    epsilon : float, default=1e-8
        The ε of the adaptive solvers. nncore's Adam adds it to the bias-corrected ``√v̂``
        (PyTorch) where scikit-learn adds it to ``√v``: the same update once ``β₂ᵗ`` is
        negligible, a smaller effective ε in the first few hundred updates.

    n_iter_no_change : int, default=10
        The number of epochs without improvement by ``tol`` tolerated (see ``tol``); ``np.inf``
        never stops early.

    max_fun : int, default=15000
        ``solver="lbfgs"`` only: the most evaluations of the loss (and its gradient), the line
        searches' included; never exceeded (scipy may exceed it within an iteration).

    dtype : {"float64", "float32"}, default="float64"
        nncore addition: the precision of the parameters and of all computations. The default
        is float64, not ``nncore.MLP``'s float32, for scikit-learn compatibility (scikit-learn
        computes in float64 for float64 input and its estimator checks compare predictions at
        float64 tolerances); ``"float32"`` trains faster.

    dropout : float or list of float, default=0.0
        nncore addition: the dropout rate after every hidden layer (or one per hidden layer),
        active during training only (inverted dropout; ``predict`` is deterministic).
"""

_ATTRIBUTES_DOC = """
    loss_ : float
        The training loss of the last epoch (``loss_curve_[-1]``).

    best_loss_ : float or None
        The lowest training loss reached (None with ``early_stopping``).

    loss_curve_ : list of float
        The training loss of every epoch, in scikit-learn's units: each batch's weighted mean
        loss plus its penalty ``(alpha/2)·‖W‖²/m``, both measured before its update, averaged
        over the epoch's batches in proportion to their rows (scikit-learn's
        ``Σ_B |B|·batch_loss / n``, with sample weights too).

    validation_scores_ : list of float or None
        The validation score (accuracy or R²) after every epoch with ``early_stopping``, else
        None.

    best_validation_score_ : float or None
        The best of ``validation_scores_`` (None without ``early_stopping``).

    t_ : int
        The number of training samples seen (``n_samples`` per epoch, over all ``fit`` and
        ``partial_fit`` calls since the model was created).

    coefs_ : list of ndarray
        Copies of the weight matrices: ``coefs_[i]`` has shape ``(n_in, n_out)`` of layer ``i``.

    intercepts_ : list of ndarray
        Copies of the bias vectors: ``intercepts_[i]`` has shape ``(n_out,)``.

    n_features_in_ : int
        The number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        The feature names, when ``X`` had string column names (a DataFrame).

    n_iter_ : int
        The number of epochs run by the last ``fit`` (1 after ``partial_fit``).

    n_layers_ : int
        The number of layers, input and output included.

    n_outputs_ : int
        The number of output units.

    out_activation_ : str
        The output activation: ``"logistic"``, ``"softmax"``, ``"identity"`` or ``"exp"``.

    model_ : nncore.MLP
        The underlying network (its ``history`` is the last ``fit``'s ``nncore.History``, its
        ``optimizer`` the ``nncore.optim`` optimizer in use).
"""

_NOTES_DOC = """
    How the training maps onto nncore: nncore's losses average over the samples and the outputs
    (binary cross-entropy and mean squared error), where scikit-learn's gradients sum over the
    outputs (and its squared error is halved). The estimator rescales so that the updates are
    scikit-learn's: with ``c`` = nncore's gradient divided by scikit-learn's (``1/k`` for a
    sigmoid output or the Poisson deviance with ``k`` units, ``1`` for softmax, ``2/k`` for the
    squared error of ``k`` outputs, ``1`` for absolute_error and huber), SGD's learning rate is
    ``η/c``, the penalty ``c·alpha`` on the weights and ε is ``c·epsilon`` (Adam, RMSProp and
    Adagrad are otherwise invariant to the scale). ``loss_curve_`` is reported in
    scikit-learn's units.

    Convergence, ``n_iter_no_change``, ``tol``, ``early_stopping``, the ``"invscaling"`` and
    ``"adaptive"`` rates and the ``ConvergenceWarning`` follow scikit-learn's
    ``_fit_stochastic`` line by line, evaluated after every epoch of one native ``MLP.fit``
    call. Sparse ``X`` is accepted and converted to a dense array. Pickling (and joblib) stores
    the network as its ``.nncore`` model file (``MLP.save``): a copy predicts identically and
    continues training (``warm_start``, ``partial_fit``) exactly as the original would.
"""


def _docstring(summary: str, extra_parameters: str = "", extra_attributes: str = "") -> str:
    return (
        f"{summary}\n\n    Parameters\n    ----------{extra_parameters}{_PARAMETERS_DOC}"
        f"\n    Attributes\n    ----------{extra_attributes}{_ATTRIBUTES_DOC}"
        f"\n    Notes\n    -----{_NOTES_DOC}"
    )


# --------------------------------------------------------------------- the classifier
class MLPClassifier(ClassifierMixin, _BaseMLP):  # type: ignore[misc]
    _is_classifier_estimator = True

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        dtype: str = "float64",
        dropout: float | list[float] = 0.0,
        class_weight: Any = None,
    ) -> None:
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dtype=dtype,
            dropout=dropout,
        )
        self.class_weight = class_weight

    def _class_weights(self, Y: Array, incremental: bool) -> Array | None:
        """scikit-learn's ``compute_sample_weight(class_weight, y)`` of the labels behind ``Y``
        (for multi-label ``Y``, of its columns: the product over the outputs)."""
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str) and self.class_weight == "balanced" and incremental:
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit (the classes' "
                "frequencies of one batch are not the data's); pass a {label: weight} dict, "
                "e.g. from sklearn.utils.class_weight.compute_class_weight on all the labels"
            )
        if not (isinstance(self.class_weight, dict) or self.class_weight == "balanced"):
            raise ValueError(
                "class_weight must be None, 'balanced' or a {label: weight} dict, got "
                f"{self.class_weight!r}"
            )
        if self._label_binarizer.y_type_.startswith("multilabel"):
            labels: Array = Y.astype(np.int64)
        elif Y.shape[1] == 1:
            labels = self.classes_[Y[:, 0].astype(np.int64)]
        else:
            labels = self.classes_[np.argmax(Y, axis=1)]
        factors: Array = compute_sample_weight(self.class_weight, labels)
        if not np.all(np.isfinite(factors)) or np.any(factors < 0):
            raise ValueError("class_weight must give finite weights >= 0")
        return factors.astype(Y.dtype)

    def _output_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "sigmoid"

    def _core_loss(self) -> str:
        return (
            "categorical_cross_entropy"
            if self._output_activation() == "softmax"
            else "binary_cross_entropy"
        )

    def _loss_scales(self, n_outputs: int) -> tuple[float, float]:
        if self._output_activation() == "softmax":
            return 1.0, 1.0
        return 1.0 / n_outputs, float(n_outputs)

    def _validate_input(
        self, X: Any, y: Any, incremental: bool, reset: bool, dtype: np.dtype[Any]
    ) -> tuple[Array, Array]:
        X, y = _sk_validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=dtype,
            order="C",
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        Y = self._label_binarizer.transform(y).astype(dtype)
        return X, Y

    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> MLPClassifier:
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            The target labels (or a 0/1 indicator matrix for multi-label).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        classes : array of shape (n_classes,), default=None
            All the classes over all calls to ``partial_fit``; required on the first call
            (``np.unique(y_all)``), may be omitted afterwards. ``y`` need not hold all of them.

        Returns
        -------
        self : object
            The updated estimator.
        """
        with _Rollback(self) as rollback:
            if _check_partial_fit_first_call(self, classes):
                self._label_binarizer = LabelBinarizer()
                if type_of_target(y).startswith("multilabel"):
                    self._label_binarizer.fit(y)
                else:
                    self._label_binarizer.fit(classes)
            self._fit(X, y, sample_weight, incremental=True, rollback=rollback)
        return self

    def predict(self, X: Any) -> Array:
        """Predict the class labels (a 0/1 indicator matrix for multi-label).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        output = self._forward(X)
        if self.n_outputs_ == 1:
            output = output.ravel()
        labels: Array = self._label_binarizer.inverse_transform(output)
        return labels

    def predict_proba(self, X: Any) -> Array:
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            The probability of each class, classes ordered as in ``classes_``: softmax outputs
            (multiclass), ``[1 − p, p]`` from the single sigmoid unit (binary), or one sigmoid
            probability per label (multi-label).
        """
        output = self._forward(X)
        if self.n_outputs_ == 1:
            p = output.ravel()
            proba: Array = np.vstack([1 - p, p]).T
            return proba
        return output

    def predict_log_proba(self, X: Any) -> Array:
        """The logarithm of ``predict_proba``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``.
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            log_proba: Array = np.log(proba, out=proba)
        return log_proba

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"multilabel": True}


MLPClassifier.__doc__ = _docstring(
    """Multi-layer perceptron classifier trained by nncore: a drop-in for
    ``sklearn.neural_network.MLPClassifier``.

    Optimises the log-loss: binary (one sigmoid unit) for two classes, softmax cross-entropy for
    more, and one sigmoid unit per label for a multi-label indicator ``y``. Class labels may be
    any values ``LabelBinarizer`` accepts (strings included).""",
    extra_parameters="""
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the training loss: ``{label: weight}`` (labels not listed
        weigh 1), ``"balanced"`` (``n_samples / (n_classes * np.bincount(y))``, scikit-learn's
        ``compute_class_weight``), or None (all 1). Multiplied with ``sample_weight``, in the
        training loss and in the validation score of ``early_stopping`` alike. For
        multi-label ``y``, the weight of a row is the product over its labels (scikit-learn's
        ``compute_sample_weight``). ``partial_fit`` refuses ``"balanced"``. With
        ``early_stopping`` and extreme weights (1000 : 0.0001), the class-weighted validation
        accuracy saturates once the heavy class is right and keeps that early epoch, as
        scikit-learn's early stopping does given the same weights as ``sample_weight``.""",
    extra_attributes="""
    classes_ : ndarray of shape (n_classes,)
        The class labels.
""",
)


# --------------------------------------------------------------------- the regressor
class MLPRegressor(RegressorMixin, _BaseMLP):  # type: ignore[misc]
    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        dtype: str = "float64",
        dropout: float | list[float] = 0.0,
    ) -> None:
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dtype=dtype,
            dropout=dropout,
        )
        self.loss = loss

    def _check_params(self) -> dict[str, Any]:
        if not isinstance(self.loss, str) or self.loss not in _REGRESSION_LOSSES:
            raise ValueError(
                f"loss must be one of {', '.join(_REGRESSION_LOSSES)}; got {self.loss!r}"
            )
        return super()._check_params()

    def _output_activation(self) -> str:
        return "identity"

    def _core_loss(self) -> str:
        return _REGRESSION_LOSSES[self.loss]

    def _loss_scales(self, n_outputs: int) -> tuple[float, float]:
        if self.loss == "squared_error":
            return 2.0 / n_outputs, 0.5
        if self.loss == "poisson":  # nncore's deviance is the mean over the outputs
            return 1.0 / n_outputs, float(n_outputs)
        return 1.0, 1.0

    def _out_activation_name(self) -> str:
        # poisson: the network's identity output is the log-rate z, the prediction e^z
        return "exp" if self.loss == "poisson" else "identity"

    def _link(self, output: Array) -> Array:
        if self.loss != "poisson":
            return output
        rates: Array = np.exp(output)
        return rates

    def _validation_record(
        self, record: dict[str, Any], validation: tuple[Array, ...] | None
    ) -> dict[str, Any]:
        """With poisson, R² of the rates (the core scores the network's output, the log-rate)."""
        if self.loss != "poisson" or validation is None:
            return record
        X_val, Y_val = validation[0], validation[1]
        w_val = validation[2] if len(validation) > 2 else None
        rates = self._link(self.model_.forward(X_val))
        return {**record, "validation_metric": float(r2_score(Y_val, rates, sample_weight=w_val))}

    def _validate_input(
        self, X: Any, y: Any, incremental: bool, reset: bool, dtype: np.dtype[Any]
    ) -> tuple[Array, Array]:
        X, y = _sk_validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=dtype,
            order="C",
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y = np.asarray(y, dtype=dtype)
        if self.loss == "poisson" and np.any(Y < 0):
            raise ValueError("loss='poisson' needs y >= 0 (counts or rates); y has negative values")
        return X, Y.reshape(-1, 1) if Y.ndim == 1 else Y

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        with _Rollback(self) as rollback:
            self._fit(X, y, sample_weight, incremental=True, rollback=rollback)
        return self

    def predict(self, X: Any) -> Array:
        """Predict with the network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        output = self._forward(X)
        return output.ravel() if output.shape[1] == 1 else output

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"multioutput": True}


MLPRegressor.__doc__ = _docstring(
    """Multi-layer perceptron regressor trained by nncore: a drop-in for
    ``sklearn.neural_network.MLPRegressor``.

    One output unit per target (multi-output ``y`` of shape ``(n_samples, n_outputs)`` is
    supported): identity, or with ``loss="poisson"`` the exponential (the network's output is
    the log-rate ``z``, the prediction ``e^z``).""",
    extra_parameters="""
    loss : {"squared_error", "poisson", "absolute_error", "huber"}, default="squared_error"
        The training loss. ``"squared_error"`` is scikit-learn's (half the mean squared error);
        ``"poisson"`` is scikit-learn's half Poisson deviance ``y·log(y/μ) − y + μ`` of the rate
        ``μ = e^z`` (an exponential output; ``y`` must be >= 0, else ``ValueError``; nncore's
        ``poisson`` loss, fused with the log link); ``"absolute_error"`` (mean absolute error)
        and ``"huber"`` (nncore's, with δ = 1 on the targets as given: scale them) are nncore
        additions.
""",
)
