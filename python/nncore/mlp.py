"""``MLP``: a multi-layer perceptron whose forward, backward, update and training loop are the
native core's; this class checks inputs, converts them once, and presents the results."""

from __future__ import annotations

import inspect
import itertools
import math
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import _core, model_file
from ._core import DivergenceError
from ._validation import (
    ACTIVATION_ALIASES,
    ACTIVATIONS,
    INDEX_MAX,
    INITIALIZERS,
    MAX_LAYER_SIZE,
    UINT64_MAX,
    as_features,
    as_float_array,
    as_targets,
    check_choice,
    check_dtype,
    check_float,
    check_int,
    check_keys,
    check_loss,
)
from ._validation import as_sample_weight as _weights
from .callbacks import EarlyStopping, progress_output
from .history import History
from .metrics import check_metrics, class_indices
from .metrics import evaluate as evaluate_predictions
from .optim import Optimizer, get_optimizer
from .schedules import Constant, Schedule, get_schedule

Array = npt.NDArray[Any]
Gradients = list[tuple[Array, Array | None]]
#: Why a call is refused while another holds the model's fit lock (``RuntimeError``).
FIT_RUNNING = "fit is already running on this model in another thread"
#: A callback receives the epoch's record (a dict, see ``MLP.fit``); a true return value stops
#: training after that epoch.
Callback = Callable[[dict[str, Any]], Any]
#: ``fit(n_iter_no_change="auto")`` without early stopping: the training-loss rule's patience.
_N_ITER_NO_CHANGE = 10


@dataclass
class _FitPlan:
    """The arguments of one ``fit``, checked and converted (``MLP._fit_plan``)."""

    features: Array
    targets: Array
    weights: Array  # empty: all ones
    loss: str
    huber_delta: float
    validation: tuple[Array | None, Array | None, Array | None]
    learning_rate: float | None
    epochs: int
    batch_size: int
    shuffle: bool
    target_loss: float | None
    tol: float
    n_iter_no_change: int  # 0: never
    verbose: int
    callbacks: list[Callback]
    optimizer: Optimizer  # checked against the model (its native object is made by _run_fit)
    schedule: Schedule
    early_stopping: bool
    patience: int
    min_delta: float
    restore_best_weights: bool

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
        )

    def validation_data(self) -> tuple[Array, Array, Array] | None:
        """``(X_val, Y_val, weights_val)`` as the native loop takes it, or None for none."""
        X_val, Y_val, w_val = self.validation
        if X_val is None or Y_val is None or w_val is None:
            return None
        return X_val, Y_val, w_val


def _activation_name(name: Any, argument: str) -> str:
    """The core's name of an activation (``"silu"`` is ``"swish"``); ``ValueError`` naming
    ``argument`` for an unknown name, ``TypeError`` for a non-string."""
    if isinstance(name, str):
        name = ACTIVATION_ALIASES.get(name, name)
    return check_choice(name, argument, ACTIVATIONS)


def _hidden_activation(name: Any) -> str:
    result = _activation_name(name, "activation")
    if result == "softmax":
        raise ValueError("softmax is only available as the output_activation")
    return result


def _dropout_rate(rate: Any) -> float:
    result = check_float(rate, "dropout", minimum=0.0)
    if result >= 1.0:
        raise ValueError(f"dropout rates must be in [0, 1), got {rate}")
    return result


def _per_layer(value: Any, name: str, n_hidden: int, check: Callable[[Any], Any]) -> list[Any]:
    """One value for every hidden layer from a single value or a list of ``n_hidden``, each
    passed through ``check``: every value given is checked, also without hidden layers."""
    if isinstance(value, (list, tuple)):
        if len(value) != n_hidden:
            raise ValueError(
                f"{name} as a list needs one entry per hidden layer ({n_hidden}), got {len(value)}"
            )
        return [check(entry) for entry in value]
    return [check(value)] * n_hidden


def _layer_sizes(layer_sizes: Any) -> list[int]:
    """``layer_sizes`` checked: a sequence of at least two ints in ``[1, MAX_LAYER_SIZE]``."""
    if isinstance(layer_sizes, np.ndarray):
        layer_sizes = layer_sizes.tolist()
    if not isinstance(layer_sizes, (list, tuple)):
        raise TypeError(f"layer_sizes must be a sequence of ints, got {layer_sizes!r}")
    sizes = [
        check_int(size, f"layer_sizes[{i}]", 1, MAX_LAYER_SIZE)
        for i, size in enumerate(layer_sizes)
    ]
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least 2 entries (inputs, outputs), got {sizes}")
    return sizes


def _check_use_bias(use_bias: Any) -> bool:
    if not isinstance(use_bias, (bool, np.bool_)):
        raise TypeError(f"use_bias must be a bool, got {use_bias!r}")
    return bool(use_bias)


def _parameter_count(sizes: list[int], use_bias: bool) -> int:
    """``Σ n_in·n_out (+ n_out with bias)`` over the layers."""
    return sum((n_in + use_bias) * n_out for n_in, n_out in itertools.pairwise(sizes))


@model_file.register_model
class MLP:
    """A multi-layer perceptron (a stack of dense layers).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_features, hidden_1, ..., n_outputs]``; at least two entries, each >= 1.
    activation : str or list of str
        Activation of the hidden layers — one name for all, or a list with one per hidden
        layer: any name of ``nncore.ACTIVATIONS`` but ``"softmax"`` (``"gelu"`` is exact, with
        erf; ``"gelu_tanh"`` the tanh approximation; ``"swish"`` is also called ``"silu"``).
        Formulas in ``nncore.reference``.
    output_activation : str
        Activation of the output layer: any name of ``nncore.ACTIVATIONS``. A ``"sigmoid"`` or
        ``"softmax"`` output makes ``predict`` return class labels.
    dtype : ``"float32"`` (default) or ``"float64"``
        Precision of the parameters and of every computation.
    seed : int or None
        Seed of the model's generator, which draws the initial weights and the shuffling order.
        The same seed gives bit-identical weights after the same ``fit``; ``None`` draws a seed
        from the operating system.
    use_bias : bool
        Whether the layers have biases.
    init : str
        Weight initialisation: ``"glorot_uniform"``, ``"glorot_normal"``, ``"he_uniform"``,
        ``"he_normal"``, or ``"auto"``: He for relu/leaky_relu hidden layers, Glorot otherwise.
        Biases start at zero.
    leaky_relu_slope : float
        Slope ``s`` of ``leaky_relu`` for negative inputs, ``s >= 0``.
    elu_alpha : float
        ``α`` of ``elu``: ``α(e^z − 1)`` for negative inputs, ``α > 0``.
    dropout : float or list of float
        Dropout rate ``p`` in [0, 1) after every hidden layer (or one per hidden layer). Active in
        ``fit`` only, as inverted dropout: kept units are scaled by ``1/(1 − p)``, so ``forward``
        and ``predict`` are deterministic and need no rescaling. Masks come from the model's
        seeded generator.

    Each layer computes ``Z = A_prev @ W + b`` and ``A = g(Z)`` with ``W`` of shape
    ``(n_in, n_out)`` and ``b`` of shape ``(n_out,)``, on batches of shape ``(n_samples, n_in)``.
    All parameters live in one flat native buffer; ``weights`` and ``biases`` are views into it.

    Raises ``ValueError``/``TypeError`` for a bad argument.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int] | npt.NDArray[np.integer[Any]],
        activation: str | Sequence[str] = "relu",
        output_activation: str = "identity",
        dtype: Any = "float32",
        seed: int | None = None,
        use_bias: bool = True,
        init: str = "auto",
        leaky_relu_slope: float = 0.01,
        elu_alpha: float = 1.0,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        sizes = _layer_sizes(layer_sizes)
        n_hidden = len(sizes) - 2
        hidden = _per_layer(activation, "activation", n_hidden, _hidden_activation)
        output = _activation_name(output_activation, "output_activation")
        rates = _per_layer(dropout, "dropout", n_hidden, _dropout_rate)
        self._dtype = check_dtype(dtype)
        if seed is None:
            seed = secrets.randbits(64)
        self._seed = check_int(seed, "seed", 0, UINT64_MAX)
        use_bias = _check_use_bias(use_bias)
        check_choice(init, "init", INITIALIZERS)
        slope = check_float(leaky_relu_slope, "leaky_relu_slope", minimum=0.0)
        alpha = check_float(elu_alpha, "elu_alpha", minimum=0.0, strict=True)
        if init == "auto":
            rectifiers = ("relu", "leaky_relu", "elu")
            init = "he_uniform" if hidden and hidden[0] in rectifiers else "glorot_uniform"

        network_type = _core.NetworkF32 if self._dtype == np.float32 else _core.NetworkF64
        try:
            self._network: Any = network_type(
                sizes, [*hidden, output], slope, alpha, use_bias, rates
            )
        except MemoryError:
            count = _parameter_count(sizes, use_bias)
            raise MemoryError(
                f"layer_sizes {sizes} need {count} parameters (twice {count * self._dtype.itemsize}"
                " bytes with the gradients); there is not enough memory"
            ) from None
        # Immutable descriptions, kept as Python tuples (predict reads them on every call).
        self._layer_sizes = tuple(self._network.layer_sizes)
        self._activations = tuple(self._network.activations)
        self._random = _core.Random(self._seed)
        self._network.initialize(init, self._random)
        self._init = init
        self._leaky_relu_slope = slope
        self._elu_alpha = alpha
        self._fit_lock = threading.Lock()
        self._fit_thread: int | None = None  # the thread running fit (under the lock)
        #: The optimizer of the last ``fit`` (its state carries over to the next ``fit``).
        self.optimizer: Optimizer | None = None
        #: The ``History`` of the last ``fit`` (None before the first).
        self.history: History | None = None
        #: Free-form, JSON-serialisable information saved with the model (``save``/``load``).
        self.metadata: dict[str, Any] = {}
        #: Named NumPy arrays saved with the model (e.g. a feature scaler's mean and scale).
        self.metadata_arrays: dict[str, Array] = {}

    # ----------------------------------------------------------------- description
    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(n_features, hidden_1, ..., n_outputs)``."""
        return self._layer_sizes

    @property
    def activations(self) -> tuple[str, ...]:
        """The activation of each layer, output layer last."""
        return self._activations

    @property
    def n_features(self) -> int:
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.layer_sizes[-1]

    @property
    def n_layers(self) -> int:
        """Number of dense layers (``len(layer_sizes) - 1``)."""
        return len(self.layer_sizes) - 1

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def dropout(self) -> tuple[float, ...]:
        """The dropout rate after each hidden layer (training only)."""
        return tuple(self._network.dropout) or (0.0,) * (self.n_layers - 1)

    @property
    def use_bias(self) -> bool:
        return bool(self._network.use_bias)

    @property
    def is_classifier(self) -> bool:
        """True when the output activation is sigmoid or softmax (``predict`` gives labels)."""
        return self.activations[-1] in ("sigmoid", "softmax")

    @property
    def n_parameters(self) -> int:
        return int(self._network.parameters.size)

    # ----------------------------------------------------------------- self-description
    def config(self) -> dict[str, Any]:
        """The constructor's arguments of this model, as JSON-compatible values (lists, not
        tuples; ``init`` as ``"auto"`` resolved): ``MLP(**model.config())`` or
        ``MLP.from_config(model.config())`` is a new model of the same architecture, seed and
        initial parameters. The model files of ``save`` hold it.
        """
        return {
            "layer_sizes": list(self.layer_sizes),
            "activation": list(self.activations[:-1]),
            "output_activation": self.activations[-1],
            "dtype": self.dtype.name,
            "seed": self.seed,
            "use_bias": self.use_bias,
            "init": self._init,
            "leaky_relu_slope": self._leaky_relu_slope,
            "elu_alpha": self._elu_alpha,
            "dropout": list(self.dropout),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MLP:
        """A new model from ``config``, a dict as ``config()`` returns it (every key, no other).

        Raises ``TypeError`` if ``config`` is not a dict, ``ValueError`` naming the key for a
        missing, unknown or invalid entry.
        """
        arguments = _config_arguments(config)
        try:
            return cls(**arguments)
        except (TypeError, ValueError) as error:
            raise ValueError(f"invalid MLP config: {error}") from None

    @classmethod
    def count_parameters(cls, config: dict[str, Any]) -> int:
        """The length of ``parameters`` of ``from_config(config)``, computed without building the
        model (a file reader checks a file's sizes with it before allocating anything). Raises
        as ``from_config`` for a config that is not a dict, misses or adds keys, or has invalid
        ``layer_sizes`` or ``use_bias``; the other entries are checked by ``from_config``."""
        arguments = _config_arguments(config)
        try:
            sizes = _layer_sizes(arguments["layer_sizes"])
            use_bias = _check_use_bias(arguments["use_bias"])
        except (TypeError, ValueError) as error:
            raise ValueError(f"invalid MLP config: {error}") from None
        return _parameter_count(sizes, use_bias)

    @property
    def parameters(self) -> Array:
        """Every parameter in one flat 1-D array of the model's dtype, ``n_parameters`` long, layer
        by layer: each layer's ``W`` in row-major order, then its ``b`` (absent without bias).

        A view of the model's parameter buffer: writing into it (``model.parameters[...] = v``)
        changes the model, with no check of the values. Copy it to keep a snapshot.
        """
        parameters: Array = self._network.parameters
        return parameters

    @property
    def generator_state(self) -> tuple[int, int, int, int]:
        """The state of the model's generator (xoshiro256**, which draws shuffling orders and
        dropout masks): four integers in ``[0, 2**64)``, not all zero.

        Assigning a state read earlier makes the next ``fit`` shuffle and drop out as it would have
        then. Raises ``TypeError``/``ValueError`` for anything but four such integers; the state
        is then unchanged.
        """
        state = tuple(int(word) for word in self._random.state)
        return state[0], state[1], state[2], state[3]

    @generator_state.setter
    def generator_state(self, state: Any) -> None:
        if not isinstance(state, (tuple, list)) or len(state) != 4:
            raise TypeError(f"generator_state must be four integers, got {state!r:.80}")
        words = [check_int(word, "generator_state entry", 0, 2**64 - 1) for word in state]
        if not any(words):
            raise ValueError("generator_state must not be all zeros (xoshiro256** would be stuck)")
        self._random.state = (words[0], words[1], words[2], words[3])

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in self.layer_sizes)
        hidden = self.activations[:-1]  # none without hidden layers
        shown = hidden[0] if len(set(hidden)) == 1 else list(hidden)
        activation = f"activation={shown!r}, " if hidden else ""
        return (
            f"MLP({sizes}, {activation}output_activation={self.activations[-1]!r}, "
            f"dtype={self.dtype.name!r})"
        )

    # ----------------------------------------------------------------- parameters
    def _layer_views(self, buffer: Array) -> tuple[list[Array], list[Array]]:
        weights, biases = [], []
        sizes = self.layer_sizes
        for layer in range(self.n_layers):
            n_in, n_out = sizes[layer], sizes[layer + 1]
            w_offset, b_offset = self._network.offsets(layer)
            weights.append(buffer[w_offset : w_offset + n_in * n_out].reshape(n_in, n_out))
            if self.use_bias:
                biases.append(buffer[b_offset : b_offset + n_out])
        return weights, biases

    @property
    def weights(self) -> list[Array]:
        """``W`` of each layer, shape ``(n_in, n_out)``: views of the model's parameters.

        Writing into these arrays changes the model (``model.weights[0][:] = 0``); assigning a
        new list does not. Use ``get_parameters``/``set_parameters`` for copies.
        """
        return self._layer_views(self._network.parameters)[0]

    @property
    def biases(self) -> list[Array]:
        """``b`` of each layer, shape ``(n_out,)``: views, like ``weights``. Empty without bias."""
        return self._layer_views(self._network.parameters)[1]

    def named_parameters(self) -> list[tuple[str, Array]]:
        """Each parameter array with its name, in the order in which they tile ``parameters``:
        ``[("weights[0]", W of layer 0), ("biases[0]", b of layer 0), ("weights[1]", ...), ...]``
        (no ``biases`` entries without bias). Views, like ``weights`` and ``biases``; the names
        are the attributes that hold them (``model.weights[0]``), for messages."""
        weights, biases = self._layer_views(self._network.parameters)
        named = []
        for layer, weight in enumerate(weights):
            named.append((f"weights[{layer}]", weight))
            if self.use_bias:
                named.append((f"biases[{layer}]", biases[layer]))
        return named

    def get_parameters(self) -> tuple[list[Array], list[Array]]:
        """Copies of ``(weights, biases)``."""
        weights, biases = self._layer_views(self._network.parameters.copy())
        return weights, biases

    def set_parameters(self, weights: Any, biases: Any = None) -> None:
        """Replace all weights (and biases) with copies of the given arrays.

        Shapes must match ``weights``/``biases``; values must be finite. ``biases`` must be
        given exactly when the model has biases. Nothing changes if any check fails.
        """
        flat = self._flatten(weights, biases, "weights", "biases")
        self._network.parameters[:] = flat

    def _flatten(self, weights: Any, biases: Any, w_name: str, b_name: str) -> Array:
        """One flat buffer in the core's layout from per-layer arrays (checked)."""
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"{w_name} must be a list with one array per layer")
        if len(weights) != self.n_layers:
            raise ValueError(f"{w_name} needs {self.n_layers} arrays, got {len(weights)}")
        if self.use_bias:
            if not isinstance(biases, (list, tuple)):
                raise TypeError(f"{b_name} must be a list with one array per layer")
            if len(biases) != self.n_layers:
                raise ValueError(f"{b_name} needs {self.n_layers} arrays, got {len(biases)}")
        elif biases is not None and any(b is not None for b in biases):
            raise ValueError(f"this model has no biases (use_bias=False); {b_name} must be None")
        flat = np.empty(self.n_parameters, dtype=self.dtype)
        flat_weights, flat_biases = self._layer_views(flat)
        for layer in range(self.n_layers):
            name = f"{w_name}[{layer}]"
            value = as_float_array(weights[layer], name, self.dtype, ndim=2)
            if value.shape != flat_weights[layer].shape:
                raise ValueError(
                    f"{name} must have shape {flat_weights[layer].shape}, got {value.shape}"
                )
            flat_weights[layer][...] = value
            if self.use_bias:
                name = f"{b_name}[{layer}]"
                bias = as_float_array(biases[layer], name, self.dtype, ndim=1)
                if bias.shape != flat_biases[layer].shape:
                    raise ValueError(
                        f"{name} must have shape {flat_biases[layer].shape}, got {bias.shape}"
                    )
                flat_biases[layer][...] = bias
        return flat

    # ----------------------------------------------------------------- propagation
    def _features(self, X: Any) -> Array:
        return as_features(X, self._dtype, self._layer_sizes[0])

    def _targets(self, X: Array, y: Any, loss: str) -> Array:
        return as_targets(y, loss, self.n_outputs, X.shape[0], self.dtype)

    def forward(self, X: Any) -> Array:
        """Forward propagation: the output layer's activations, shape ``(n_samples, n_outputs)``.

        ``X`` has shape ``(n_samples, n_features)``; a C-contiguous array of the model's dtype is
        used in place, anything else is converted once.
        """
        # The native forward checks the values itself (one vectorised pass).
        features = as_features(X, self._dtype, self._layer_sizes[0], check_values=False)
        output: Array = self._network.forward(features)
        return output

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities, shape ``(n_samples, n_outputs)``: the sigmoid outputs (one
        probability per output) or the softmax outputs (rows sum to 1).

        Raises ``ValueError`` when the output activation is neither sigmoid nor softmax.
        """
        if not self.is_classifier:
            raise ValueError(
                "predict_proba needs a sigmoid or softmax output layer; this model's output "
                f"activation is {self.activations[-1]!r} (use predict)"
            )
        return self.forward(X)

    def predict(self, X: Any) -> Array:
        """Predictions for ``X`` of shape ``(n_samples, n_features)``.

        - softmax output: class indices, shape ``(n_samples,)``;
        - sigmoid output: 0/1 labels (probability >= 0.5), shape ``(n_samples,)`` for one output,
          ``(n_samples, n_outputs)`` for several (multi-label);
        - any other output: the output activations, shape ``(n_samples, n_outputs)``.
        """
        return self._prediction(self.forward(X))

    def _prediction(self, output: Array) -> Array:
        """What ``predict`` returns for the output activations ``output``."""
        output_activation = self._activations[-1]
        if output_activation == "softmax":
            indices: Array = np.argmax(output, axis=1)
            return indices
        if output_activation == "sigmoid":
            labels = (output >= 0.5).astype(np.intp)
            return labels[:, 0] if self.n_outputs == 1 else labels
        return output

    def loss(
        self,
        X: Any,
        y: Any,
        loss: str | None = None,
        sample_weight: Any = None,
        huber_delta: float = 1.0,
    ) -> float:
        """The (weighted) mean loss over the samples: ``Σ w_i ℓ_i / Σ w_i``.

        ``loss=None`` picks the loss fused with the output activation: binary_cross_entropy for
        sigmoid, categorical_cross_entropy for softmax, mean_squared_error otherwise; any name of
        ``nncore.LOSSES`` (or an alias such as ``mse``, ``mae``) picks that loss (``huber`` with
        ``huber_delta``). The per-sample formulas are in ``nncore.reference``.
        ``sample_weight``: ``(n_samples,)``, non-negative, or None for equal weights. Dropout is
        off.
        """
        features, targets, weights, name, delta = self._loss_inputs(
            X, y, loss, sample_weight, huber_delta
        )
        return float(self._network.evaluate(features, targets, weights, name, delta)[0])

    def evaluate(
        self, X: Any, y: Any, metrics: str | Sequence[str] | None = None, sample_weight: Any = None
    ) -> dict[str, Any]:
        """Scores of the model's predictions for ``X`` ``(n_samples, n_features)`` against ``y``,
        with scikit-learn's definitions (``nncore.metrics``; scikit-learn is not needed).

        - A classifier (softmax output, or sigmoid with one output): ``y`` holds class indices
          ``(n_samples,)`` (0/1 for a sigmoid output); the metrics are ``accuracy``,
          ``balanced_accuracy``, ``f1_macro``, ``roc_auc`` (one-vs-rest macro for more than two
          classes), ``log_loss`` and ``confusion_matrix`` (rows: true classes, columns:
          predicted, an ``(n_classes, n_classes)`` array).
        - A regressor (any other output): ``y`` as for ``fit``; the metrics are ``r2``,
          ``mean_absolute_error`` and ``root_mean_squared_error`` (averaged over the outputs).

        ``metrics``: None for all of the task's (``nncore.metrics.metric_names``), or a name or
        list of names. ``sample_weight``: ``(n_samples,)`` non-negative weights, or None.
        Returns ``{name: float}`` (the confusion matrix as an array). Raises ``ValueError`` for
        an unknown metric or one of the other task, a multi-label model (sigmoid with several
        outputs), and bad ``X``/``y``/``sample_weight``; ``TypeError`` for non-numeric data.
        """
        task = "classify" if self.is_classifier else "regress"
        names = check_metrics(metrics, task)
        if self.activations[-1] == "sigmoid" and self.n_outputs > 1:
            raise ValueError(
                "evaluate scores one class per sample; this model is multi-label (sigmoid with "
                f"{self.n_outputs} outputs)"
            )
        features = self._features(X)
        weights = _weights(sample_weight, features.shape[0], np.dtype(np.float64), "sample_weight")
        output = self.forward(features)
        if task == "regress":
            truth = as_targets(
                y, "mean_squared_error", self.n_outputs, features.shape[0], np.dtype(np.float64)
            )
            probabilities = None
        else:
            truth = class_indices(y, "y")
            n_classes = max(self.n_outputs, 2)
            if truth.shape[0] != features.shape[0]:
                raise ValueError(
                    f"y has {truth.shape[0]} labels but X has {features.shape[0]} rows"
                )
            if truth.max() >= n_classes:
                raise ValueError(
                    f"y holds class {truth.max()}; this model's classes are 0..{n_classes - 1}"
                )
            probabilities = output if self.n_outputs > 1 else np.hstack([1 - output, output])
        return evaluate_predictions(
            task,
            truth,
            self._prediction(output),
            probabilities,
            names,
            weights if weights.size else None,
        )

    def _loss_inputs(
        self, X: Any, y: Any, loss: str | None, sample_weight: Any, huber_delta: float
    ) -> tuple[Array, Array, Array, str, float]:
        name = check_loss(loss, self.activations[-1])
        delta = check_float(huber_delta, "huber_delta", minimum=0.0, strict=True)
        features = self._features(X)
        targets = self._targets(features, y, name)
        weights = _weights(sample_weight, features.shape[0], self.dtype, "sample_weight")
        return features, targets, weights, name, delta

    def backward(
        self,
        X: Any,
        y: Any,
        loss: str | None = None,
        sample_weight: Any = None,
        huber_delta: float = 1.0,
    ) -> Gradients:
        """Backward propagation of the (weighted) mean loss over ``(X, y)`` (see ``loss``).

        Returns one ``(dL/dW, dL/db)`` pair per layer, shaped like ``(W, b)`` (``dL/db`` is None
        without bias). The parameters do not change. Dropout is off: this is the gradient of the
        network ``predict`` uses.

        Raises ``RuntimeError`` while ``fit`` runs on this model (from another thread or from
        one of its callbacks): ``backward`` and ``fit`` share the model's gradient buffer. A
        ``fit`` started while ``backward`` runs is refused the same way.
        """
        features, targets, weights, name, delta = self._loss_inputs(
            X, y, loss, sample_weight, huber_delta
        )
        if not self._fit_lock.acquire(blocking=False):
            raise RuntimeError(
                f"backward is refused: {FIT_RUNNING} (or in one of its callbacks), and the two "
                "share the model's gradient buffer"
            )
        try:
            self._network.backward(features, targets, weights, name, delta)
            gradients = self._network.gradients.copy()
        finally:
            self._fit_lock.release()
        weights_, biases = self._layer_views(gradients)
        return [(w, biases[i] if self.use_bias else None) for i, w in enumerate(weights_)]

    def step(self, gradients: Any, learning_rate: float) -> None:
        """One gradient-descent update: ``W -= learning_rate * dW`` and ``b -= learning_rate * db``
        for every layer, with ``gradients`` as returned by ``backward``. Runs the same native
        update as ``fit`` with plain SGD.

        Raises ``ValueError``/``TypeError`` for gradients of the wrong shapes or non-finite
        values, and ``nncore.DivergenceError`` when the update would make a parameter infinite;
        in both cases the model is unchanged.
        """
        lr = check_float(learning_rate, "learning_rate", minimum=0.0)
        if not isinstance(gradients, (list, tuple)):
            raise TypeError("gradients must be a list of (dW, db) pairs, one per layer")
        pairs = list(gradients)
        if len(pairs) != self.n_layers or not all(
            isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in pairs
        ):
            raise ValueError(f"gradients must hold {self.n_layers} (dW, db) pairs")
        flat = self._flatten(
            [pair[0] for pair in pairs],
            [pair[1] for pair in pairs],
            "gradients dW",
            "gradients db",
        )
        sgd = _core.SGDF32 if self.dtype == np.float32 else _core.SGDF64
        parameters = self._network.parameters
        before = parameters.copy()
        sgd(learning_rate=lr).step(parameters, flat)
        if not np.isfinite(parameters).all():
            parameters[...] = before
            raise DivergenceError(
                "the update would make parameters non-finite (learning_rate or gradients too "
                "large); the model is unchanged"
            )

    # ----------------------------------------------------------------- training
    def fit(
        self,
        X: Any,
        y: Any,
        loss: str | None = None,
        learning_rate: float | None = None,
        epochs: int = 100,
        batch_size: int = 32,
        shuffle: bool = True,
        target_loss: float | None = None,
        tol: float = 0.0,
        n_iter_no_change: int | Literal["auto"] | None = "auto",
        verbose: int = 0,
        callbacks: Any = None,
        *,
        optimizer: str | Optimizer | None = None,
        lr_schedule: str | Schedule | None = None,
        sample_weight: Any = None,
        validation_data: tuple[Any, ...] | None = None,
        validation_split: float = 0.0,
        early_stopping: bool | None = None,
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
        huber_delta: float = 1.0,
    ) -> History:
        """Train by mini-batch gradient descent in the native loop (the GIL is released).

        Each epoch visits every training sample once, in a fresh order from the model's generator
        when ``shuffle`` (else in order), in batches of ``batch_size`` rows (the last may be
        smaller): forward (with dropout), loss, backward, one optimizer update.

        Parameters beyond the data (``X`` ``(n_samples, n_features)``, ``y`` as for ``loss``):

        - ``loss``: see ``MLP.loss``; ``huber_delta`` is δ of the huber loss.
        - ``optimizer``: a name of ``nncore.optim.OPTIMIZERS`` (``"sgd"``, ``"adam"``, ...) or a
          ``nncore.optim`` instance. ``None`` continues with the optimizer of
          the previous ``fit`` (its state — moments, step count — carries over: a warm start),
          or starts plain SGD. It is kept as ``model.optimizer``.
        - ``learning_rate``: sets the optimizer's (initial) learning rate; None keeps its own
          (SGD: 0.01).
        - ``lr_schedule``: a ``nncore.schedules`` object or name; the rate of every epoch is in
          ``history.learning_rate``. The schedule starts from the optimizer's rate and changes it
          during this ``fit`` only: afterwards the optimizer has its starting rate again.
        - ``sample_weight``: ``(n_samples,)`` non-negative weights; losses become weighted means.
        - ``validation_data=(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)``, or
          ``validation_split=f``: the *last* ``f`` of the rows of ``X``/``y``, taken before any
          shuffling (as Keras does), are held out. Validation loss and metric are computed after
          every epoch without dropout.
        - ``early_stopping`` (default: on when there is validation data): stop when the
          validation loss has not dropped below its best minus ``min_delta`` for ``patience``
          epochs, and (``restore_best_weights``) put back the weights of the best epoch — also
          when training ends for any other reason, Ctrl-C included. ``early_stopping=True``
          without ``validation_data`` or ``validation_split`` is a ``ValueError``.
        - Convergence on the training loss: stop when it is ``<= target_loss``, or when it has
          not dropped below the best so far minus ``tol`` for ``n_iter_no_change`` epochs in a
          row. ``None`` disables this rule; ``"auto"`` (the default) is 10 epochs, except with
          early stopping on validation data, which then decides alone (pass an integer to have
          both rules).
        - ``verbose``: 0 silent; 2 one line per epoch on stdout; 1 progress on stderr: a tqdm bar
          (``tqdm.auto``, a widget in Jupyter) when tqdm is installed and stderr is a terminal
          or this is a notebook, otherwise plain epoch lines — the first, about ten evenly
          spaced ones, the last, and one at least every 30 seconds (a pipe, a CI log).
        - ``callbacks``: a callable or list of callables ``f(record)`` called at every epoch end
          with the epoch's record (a dict with ``epoch``, ``loss``, ``metric``,
          ``gradient_norm``, ``learning_rate`` and, with validation, ``validation_loss`` and
          ``validation_metric``); a true return value stops training. Without callbacks,
          schedules, validation or progress output the loop never takes the GIL.

        Ctrl-C stops at the next batch boundary: ``fit`` returns normally with
        ``stop_reason="interrupted"``, the model holding the weights after the last complete
        batch (or the best ones, with early stopping). Nothing is re-raised; check the reason.

        Raises ``ValueError``/``TypeError`` for bad input, including an optimizer whose state
        is for another number of parameters or dtype (the model and the optimizer are then
        left as they were: parameters, generator, history, the optimizer's rate and state),
        ``RuntimeError`` if this model is being fitted already (by another thread, or by the
        ``fit`` whose callback calls this one) or another thread runs its ``backward``, and
        ``nncore.DivergenceError`` (a ``FloatingPointError``) when a batch gives a non-finite
        loss or gradient: the model then keeps the weights from before that batch. An
        exception raised by a callback stops training and propagates; the model keeps the
        weights of the last completed epoch.
        """
        plan = self._fit_plan(
            X,
            y,
            loss=loss,
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=shuffle,
            target_loss=target_loss,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            verbose=verbose,
            callbacks=callbacks,
            optimizer=optimizer,
            lr_schedule=lr_schedule,
            sample_weight=sample_weight,
            validation_data=validation_data,
            validation_split=validation_split,
            early_stopping=early_stopping,
            patience=patience,
            min_delta=min_delta,
            restore_best_weights=restore_best_weights,
            huber_delta=huber_delta,
        )
        if plan.early_stopping and plan.validation[0] is None:
            # (Here, not in _fit_plan: nncore.distributed.fit allows ranks without validation rows.)
            raise ValueError(
                "early_stopping=True needs validation data to monitor: pass "
                "validation_data=(X_val, y_val) or validation_split=f (e.g. 0.2)"
            )

        def native_loop(
            native_optimizer: Any, on_epoch_end: Callable[[dict[str, Any]], bool] | None
        ) -> tuple[list[dict[str, Any]], str]:
            records, stop_reason = _core.fit(
                self._network,
                native_optimizer,
                self._random,
                (plan.features, plan.targets, plan.weights),
                plan.validation_data(),
                plan.native_options(),
                on_epoch_end,
            )
            return records, stop_reason

        return self._run_fit(plan, native_loop, show_progress=True)

    def _fit_plan(self, X: Any, y: Any, **options: Any) -> _FitPlan:
        """Every argument of ``fit`` checked and converted (see ``fit``); the model is unchanged.
        Shared by ``fit`` and ``nncore.distributed.fit``."""
        unknown = set(options) - _FIT_OPTIONS
        if unknown:
            raise TypeError(f"fit got unexpected keyword arguments: {', '.join(sorted(unknown))}")
        o = {**_FIT_DEFAULTS, **options}
        sample_weight, validation_data = o["sample_weight"], o["validation_data"]
        features, targets, weights, name, delta = self._loss_inputs(
            X, y, o["loss"], sample_weight, o["huber_delta"]
        )
        validation = self._validation(
            features, targets, weights, validation_data, o["validation_split"], name
        )
        if validation[0] is not None:
            n_train = features.shape[0] - validation[0].shape[0]
            if validation_data is None:  # a split: train on the leading rows (views, no copy)
                features, targets = features[:n_train], targets[:n_train]
                weights = weights[:n_train] if weights.size else weights
                if weights.size and not weights.sum() > 0:
                    raise ValueError("sample_weight of the training part must not sum to 0")
        learning_rate = o["learning_rate"]
        if learning_rate is not None:
            learning_rate = check_float(learning_rate, "learning_rate", minimum=0.0)
        epochs = check_int(o["epochs"], "epochs", 1, INDEX_MAX)
        # A batch larger than the data is the whole data (the core clamps it), so any size is
        # accepted; clamped here to what the core's index type holds (the same on every rank).
        batch_size = min(check_int(o["batch_size"], "batch_size", 1), INDEX_MAX)
        shuffle = o["shuffle"]
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
        target_loss = o["target_loss"]
        if target_loss is not None:
            target_loss = check_float(target_loss, "target_loss")
        tol = check_float(o["tol"], "tol", minimum=0.0)
        verbose = check_int(o["verbose"], "verbose", 0)
        if verbose > 2:
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose}")
        user_callbacks = _callbacks(o["callbacks"])
        optimizer = o["optimizer"]
        chosen = (
            self.optimizer
            if optimizer is None and self.optimizer is not None
            else (get_optimizer(optimizer or "sgd"))
        )
        chosen._check_model(self.dtype, self.n_parameters, learning_rate)  # changes nothing
        schedule = get_schedule(o["lr_schedule"])
        early_stopping = o["early_stopping"]
        if early_stopping is None:
            early_stopping = validation[0] is not None
        if not isinstance(early_stopping, (bool, np.bool_)):
            raise TypeError(f"early_stopping must be a bool or None, got {early_stopping!r}")
        n_iter_no_change = o["n_iter_no_change"]
        if isinstance(n_iter_no_change, str) and n_iter_no_change == "auto":
            # early stopping on validation data decides alone unless both rules are asked for
            n_iter_no_change = None if early_stopping else _N_ITER_NO_CHANGE
        no_change = (
            0
            if n_iter_no_change is None
            else check_int(n_iter_no_change, "n_iter_no_change", 1, INDEX_MAX)
        )
        patience = check_int(o["patience"], "patience", 1)
        min_delta = check_float(o["min_delta"], "min_delta", minimum=0.0)
        restore_best_weights = o["restore_best_weights"]
        if not isinstance(restore_best_weights, (bool, np.bool_)):
            raise TypeError(f"restore_best_weights must be a bool, got {restore_best_weights!r}")
        return _FitPlan(
            features=features,
            targets=targets,
            weights=weights,
            loss=name,
            huber_delta=delta,
            validation=validation,
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=bool(shuffle),
            target_loss=target_loss,
            tol=tol,
            n_iter_no_change=no_change,
            verbose=verbose,
            callbacks=user_callbacks,
            optimizer=chosen,
            schedule=schedule,
            early_stopping=bool(early_stopping),
            patience=patience,
            min_delta=min_delta,
            restore_best_weights=bool(restore_best_weights),
        )

    def _run_fit(
        self,
        plan: _FitPlan,
        loop: Callable[
            [Any, Callable[[dict[str, Any]], bool] | None], tuple[list[dict[str, Any]], str]
        ],
        show_progress: bool,
    ) -> History:
        """Train with ``loop(native_optimizer, on_epoch_end)``, which runs the epochs and returns
        ``(records, stop_reason)``, around it: the fit lock, the optimizer and its learning rate,
        the schedule, progress output (when ``show_progress``), early stopping, user callbacks,
        best-weight restoring and the ``History``. ``on_epoch_end`` is None when nothing needs
        it (the native loop then never takes the GIL)."""
        chosen, schedule = plan.optimizer, plan.schedule
        epochs, verbose, user_callbacks = plan.epochs, plan.verbose, plan.callbacks
        if not self._fit_lock.acquire(blocking=False):
            if self._fit_thread == threading.get_ident():
                raise RuntimeError(
                    "fit was called from a callback of this model's running fit (a re-entrant "
                    "call), which cannot train the model the outer fit is training; return True "
                    "from the callback to stop that fit, then call fit again"
                )
            raise RuntimeError(FIT_RUNNING)
        self._fit_thread = threading.get_ident()
        try:
            # Everything is checked: from here on the model and the optimizer change.
            native_optimizer = chosen._native(self.dtype)
            if plan.learning_rate is not None:
                chosen.learning_rate = plan.learning_rate
            self.optimizer = chosen
            initial_learning_rate = chosen.learning_rate
            schedule.start(initial_learning_rate, epochs)
            native_optimizer.learning_rate = schedule.learning_rate(1)
            stopper = (
                EarlyStopping(self._network.parameters, plan.patience, plan.min_delta)
                if plan.early_stopping
                else None
            )
            metric_name = "accuracy" if self.is_classifier else "r2"
            # The history so far, extended at every epoch end before the user's callbacks: a
            # callback that saves the model saves it. On an exception the old one comes back.
            previous_history, running = self.history, History([], "running", metric_name)
            self.history = running
            progress = progress_output(verbose, epochs, metric_name) if show_progress else None
            stopped_early = False
            stopper_epoch = 0  # the last epoch the stopper has seen

            def on_epoch_end(record: dict[str, Any]) -> bool:
                # A KeyboardInterrupt raised in here is turned into a clean stop by the binding,
                # with this epoch's record kept: the stopper catches up after the loop.
                nonlocal stopped_early, stopper_epoch
                epoch = int(record["epoch"])
                monitored = record.get("validation_loss", record["loss"])
                stop = False
                if stopper is not None:
                    if stopper(epoch, monitored):
                        stop = stopped_early = True
                    stopper_epoch = epoch
                schedule.observe(epoch, monitored)
                native_optimizer.learning_rate = schedule.learning_rate(epoch + 1)
                running.append(record)
                if progress is not None:
                    progress(record)
                for callback in user_callbacks:
                    stop = bool(callback(dict(record))) or stop
                return stop

            needs_callback = (
                bool(user_callbacks)
                or progress is not None
                or stopper is not None
                or not isinstance(schedule, Constant)
            )
            try:
                records, stop_reason = loop(
                    native_optimizer, on_epoch_end if needs_callback else None
                )
            except BaseException:
                self.history = previous_history
                raise
            finally:
                if progress is not None:
                    progress.close()
                # The schedule's rates belong to this fit: the optimizer leaves with its base rate
                # (the one it came with, unless a callback set another), where the next fit's
                # schedule starts.
                native_optimizer.learning_rate = chosen.learning_rate
            if stopper is not None and records and int(records[-1]["epoch"]) > stopper_epoch:
                # Ctrl-C reached Python inside the last epoch's callback before the stopper saw
                # that epoch; training stopped right there, so the weights are still that epoch's.
                last = records[-1]
                stopper(int(last["epoch"]), last.get("validation_loss", last["loss"]))
            best_epoch = None
            if (
                stopper is not None
                and plan.restore_best_weights
                and stopper.best_parameters is not None
            ):
                stopper.restore()
                best_epoch = stopper.best_epoch
            if stopped_early and stop_reason == "callback":
                stop_reason = "early_stopping"
        finally:
            self._fit_thread = None
            self._fit_lock.release()
        self.history = History(records, stop_reason, metric_name, best_epoch)
        return self.history

    def _validation(
        self,
        features: Array,
        targets: Array,
        weights: Array,
        validation_data: tuple[Any, ...] | None,
        validation_split: float,
        loss: str,
    ) -> tuple[Array | None, Array | None, Array | None]:
        """``(X_val, Y_val, weights_val)`` from ``validation_data`` or the last rows of the
        training data for ``validation_split``; ``(None, None, None)`` for no validation."""
        split = check_float(validation_split, "validation_split", minimum=0.0)
        if split >= 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        if validation_data is not None:
            if split > 0:
                raise ValueError("give validation_data or validation_split, not both")
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise TypeError(
                    "validation_data must be (X_val, y_val) or (X_val, y_val, sample_weight_val)"
                )
            X_val = as_features(validation_data[0], self.dtype, self.n_features, "X_val")
            Y_val = as_targets(
                validation_data[1], loss, self.n_outputs, X_val.shape[0], self.dtype, "y_val"
            )
            w_val = _weights(
                validation_data[2] if len(validation_data) == 3 else None,
                X_val.shape[0],
                self.dtype,
                "sample_weight_val",
            )
            return X_val, Y_val, w_val
        if split == 0:
            return None, None, None
        n = features.shape[0]
        # ceil(split·n), rounded first so that 0.07·100 = 7.000000000000001 holds out 7 rows
        n_validation = math.ceil(round(split * n, 9))
        if n_validation >= n:
            raise ValueError(
                f"validation_split={validation_split} leaves no training rows out of {n}"
            )
        start = n - n_validation
        if weights.size and not weights[start:].sum() > 0:
            raise ValueError("sample_weight of the rows held out by validation_split sums to 0")
        return features[start:], targets[start:], weights[start:] if weights.size else weights

    # ----------------------------------------------------------------- saving and copying
    def save(self, file: Any) -> None:
        """Save the model to ``file`` (a path, written atomically, or a binary file object) in the
        ``.nncore`` format; ``nncore.load(file)`` gives it back — architecture, parameters,
        generator, optimizer state, ``history``, ``metadata`` and ``metadata_arrays`` — so that
        predictions are identical and ``fit`` continues exactly. What a file holds:
        ``nncore.model_file``; the format: ``nncore.serialization``.

        Raises ``ValueError`` if the parameters or the optimizer's state hold NaN or an infinity
        (naming the array, ``model.weights[1][0, 2]``), and as ``nncore.model_file.save`` says
        (``TypeError``, ``ValueError``, ``OSError``); a refused call writes nothing. To a path the
        write is atomic: an interrupt (``KeyboardInterrupt`` at any point) leaves no temporary
        file and the old file as it was.
        """
        model_file.save(self, file)

    def __getstate__(self) -> dict[str, bytes]:
        """Pickling, ``copy.copy`` and ``copy.deepcopy`` go through the bytes of the model file
        (the native objects, views and the lock are never pickled): a copy is independent.
        Raises ``ValueError``, as ``save`` does, for non-finite parameters or optimizer state."""
        return {"nncore_model_file": model_file.dumps(self)}

    def __setstate__(self, state: dict[str, bytes]) -> None:
        model = model_file.loads(state["nncore_model_file"])
        if not isinstance(self, type(model)):  # a subclass of MLP pickles as an MLP file
            raise ValueError(
                f"the pickled model is a {type(model).__name__}, not a {type(self).__name__}"
            )
        self.__dict__.update(vars(model))


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


#: The keys of ``MLP.config()``: the constructor's parameters (read off its signature).
_CONFIG_KEYS = tuple(name for name in inspect.signature(MLP.__init__).parameters if name != "self")


def _config_arguments(config: Any) -> dict[str, Any]:
    """``config`` checked to hold exactly the constructor's parameters (``MLP.from_config``)."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict (as MLP.config() returns), got {config!r:.80}")
    check_keys(config, _CONFIG_KEYS, "invalid MLP config: the config", ValueError)
    return dict(config)


# The keyword arguments of MLP.fit beyond X and y, with their defaults (read off its signature,
# so that MLP.fit stays the one place where they are written).
_FIT_DEFAULTS: dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(MLP.fit).parameters.items()
    if name not in ("self", "X", "y")
}
_FIT_OPTIONS = frozenset(_FIT_DEFAULTS)
