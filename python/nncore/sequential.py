"""``Sequential``: a network as a list of ``nncore.layers`` over one flat parameter buffer (and one
flat state buffer), whose forward, backward, update and training loop are the native core's
(``_core.SequentialF32/F64``). This class checks inputs, converts them once, and presents the
results; ``MLP`` is a ``Sequential`` of ``Dense`` and ``Dropout`` layers."""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import _core, model_file
from ._fit_plan import FitPlan, make_plan
from ._fit_run import Loop, run_fit
from ._validation import (
    UINT64_MAX,
    as_features,
    as_targets,
    check_dtype,
    check_float,
    check_int,
    check_keys,
    check_loss,
)
from ._validation import as_sample_weight as _weights
from .history import History
from .layers import Layer, Site
from .layers._chain import build_chain, check_layer_list
from .metrics import check_metrics, class_indices
from .metrics import evaluate as evaluate_predictions
from .optim import LBFGS, Optimizer
from .schedules import Schedule

Array = npt.NDArray[Any]
Layout = list[tuple[str, tuple[int, ...], int]]
Leaves = list[tuple[Any, str | None]]
#: Any name of ``nncore.layers``' initialisers for layers that have none (it is not used).
_NO_INITIALIZER = "glorot_uniform"


def build_network(layers: list[Layer], n_inputs: int, dtype: np.dtype[Any]) -> tuple[Any, Leaves]:
    """The core's ``SequentialF32/F64`` of ``layers`` for inputs of width ``n_inputs``, and its
    core layers that hold parameters, depth first, with their initialisers."""
    site = Site("", n_inputs, dtype, first=True, last=True)
    built, _ = build_chain(layers, site, "")
    sequential = _core.SequentialF32 if dtype == np.float32 else _core.SequentialF64
    try:
        return sequential(built), site.leaves
    except MemoryError:
        raise MemoryError(
            "the layers' parameters do not fit in memory (twice, with the gradients)"
        ) from None


def initialize(network: Any, leaves: Leaves, random: Any) -> None:
    """Draw the initial parameters of ``network`` from ``random`` in buffer order, each Dense with
    its own initialiser: one core call when all agree (as ``MLP`` does), else layer by layer
    (each drawn as the core would draw it in the whole network)."""
    chosen = {init for _, init in leaves if init is not None}
    if len(chosen) <= 1:
        network.initialize(chosen.pop() if chosen else _NO_INITIALIZER, random)
        return
    sequential, offset = type(network), 0
    for leaf, init in leaves:
        size = sum(math.prod(shape) for _, shape in leaf.parameters)
        if size:
            alone = sequential([leaf])
            alone.initialize(init or _NO_INITIALIZER, random)
            network.parameters[offset : offset + size] = alone.parameters
            offset += size


def _check_seed(seed: Any) -> int:
    if seed is None:
        import secrets  # here: `import nncore` need not import it (and hmac, hashlib)

        seed = secrets.randbits(64)
    return check_int(seed, "seed", 0, UINT64_MAX)


@model_file.register_model
class Sequential:
    """``Sequential(layers, n_inputs, dtype="float32", seed=0)``: the layers of
    ``nncore.layers`` applied one after another to inputs of ``n_inputs`` features.

    ``dtype``: ``"float32"`` or ``"float64"``, the precision of the parameters and of every
    computation. ``seed`` (or None: from the operating system): the model's generator, which
    draws the initial parameters, the shuffling order and the dropout masks.

    All parameters live in one flat buffer (``parameters``, laid out as ``layout`` says, names by
    index path: ``"1.W"``, ``"5.0.gamma"``), the non-trainable state (a BatchNorm's running
    statistics) in another (``state``). Raises ``TypeError``/``ValueError`` for a bad argument,
    naming the layer by its index path (``"layer 5.1 (Dense): ..."``).
    """

    def __init__(
        self, layers: list[Layer], n_inputs: int, dtype: Any = "float32", seed: int | None = 0
    ) -> None:
        layers = check_layer_list(layers, "layers")
        n_inputs = check_int(n_inputs, "n_inputs", 1, 2**24)
        dtype = check_dtype(dtype)
        seed = _check_seed(seed)
        self._layers = tuple(layers)
        network, leaves = build_network(layers, n_inputs, dtype)
        self._setup(network, dtype, seed, layers[-1].output_activation)
        initialize(network, leaves, self._random)

    def _setup(self, network: Any, dtype: np.dtype[Any], seed: int, output_activation: str) -> None:
        """The attributes every model of this class has: the core network, its generator, the fit
        lock, and what ``fit`` leaves (optimizer, history) and ``save`` keeps (metadata)."""
        self._network: Any = network
        self._dtype = dtype
        self._seed = seed
        self._output_activation = output_activation
        self._n_features = int(network.n_inputs)
        self._n_outputs = int(network.n_outputs)
        self._random = _core.Random(seed)
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
    def layers(self) -> tuple[Layer, ...]:
        """The layers (``nncore.layers`` objects), in order."""
        return self._layers

    @property
    def n_features(self) -> int:
        """The width of ``X`` (``n_inputs``)."""
        return self._n_features

    @property
    def n_inputs(self) -> int:
        return self._n_features

    @property
    def n_outputs(self) -> int:
        return self._n_outputs

    @property
    def output_activation(self) -> str:
        """The activation the last layer ends with (what ``predict`` and the loss pair with)."""
        return self._output_activation

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._dtype

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def is_classifier(self) -> bool:
        """True when the output activation is sigmoid or softmax (``predict`` gives labels)."""
        return self.output_activation in ("sigmoid", "softmax")

    @property
    def n_parameters(self) -> int:
        return int(self._network.parameters.size)

    @property
    def layout(self) -> Layout:
        """One ``(name, shape, offset)`` per parameter array, in the order of ``parameters``:
        ``"0.table"``, ``"1.W"`` ``(n_in, n_out)``, ``"1.b"``, ``"2.gamma"``, ``"5.1.W"`` (layer 5
        a Residual, its children numbered inside it)."""
        return [
            (name, tuple(shape), int(offset))
            for name, shape, offset in self._network.parameter_layout
        ]

    @property
    def state(self) -> dict[str, Array]:
        """The non-trainable buffers by name (``"2.running_mean"``, ``"2.running_var"``): views of
        the model's state buffer (writing into them changes the model)."""
        flat = self._network.state
        return {
            name: flat[offset : offset + math.prod(shape)].reshape(shape)
            for name, shape, offset in self._network.state_layout
        }

    def named_parameters(self) -> list[tuple[str, Array]]:
        """Each parameter array with its ``layout`` name, as views of ``parameters``."""
        flat = self.parameters
        return [
            (name, flat[offset : offset + math.prod(shape)].reshape(shape))
            for name, shape, offset in self.layout
        ]

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{layers}], n_inputs={self.n_inputs}, dtype={self.dtype.name!r})"

    # ----------------------------------------------------------------- self-description
    def config(self) -> dict[str, Any]:
        """The constructor's arguments as JSON-compatible values (each layer as its
        ``config()``): ``Sequential.from_config(model.config())`` is a new model of the same
        architecture, seed and initial parameters. The model files of ``save`` hold it."""
        return {
            "layers": [layer.config() for layer in self.layers],
            "n_inputs": self.n_inputs,
            "dtype": self.dtype.name,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """A new model from ``config``, a dict as ``config()`` returns it (every key, no other).
        Raises ``TypeError`` for a non-dict, ``ValueError`` naming the problem otherwise."""
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict (as config() returns), got {config!r:.80}")
        check_keys(
            config,
            ("layers", "n_inputs", "dtype", "seed"),
            "invalid Sequential config: the config",
            ValueError,
        )
        try:
            layers = config["layers"]
            if not isinstance(layers, list):
                raise TypeError(f"layers must be a list of layer configs, got {layers!r:.80}")
            built = [Layer.from_config(entry) for entry in layers]
            return cls(built, config["n_inputs"], config["dtype"], config["seed"])
        except (TypeError, ValueError) as error:
            raise ValueError(f"invalid Sequential config: {error}") from None

    @classmethod
    def count_parameters(cls, config: dict[str, Any]) -> int:
        """The length of ``parameters`` of ``from_config(config)`` (raises as it does)."""
        return cls.from_config(config).n_parameters

    def gradient(
        self,
        X: Any,
        y: Any,
        loss: str | None = None,
        sample_weight: Any = None,
        huber_delta: float = 1.0,
    ) -> Array:
        """The flat gradient of the (weighted) mean loss over ``(X, y)`` (see ``loss``), in the
        layout of ``parameters``: computed in training mode (a BatchNorm with the batch's
        statistics) with dropout off. Nothing changes, running statistics included."""
        features, targets, weights, name, delta = self._loss_inputs(
            X, y, loss, sample_weight, huber_delta
        )
        gradient: Array = self._network.gradient(features, targets, weights, name, delta)[1]
        return gradient

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

    # ----------------------------------------------------------------- propagation
    def _features(self, X: Any) -> Array:
        return as_features(X, self._dtype, self.n_features)

    def _targets(self, X: Array, y: Any, loss: str) -> Array:
        return as_targets(y, loss, self.n_outputs, X.shape[0], self.dtype)

    def forward(self, X: Any) -> Array:
        """Forward propagation: the output layer's activations, shape ``(n_samples, n_outputs)``.

        ``X`` has shape ``(n_samples, n_features)``; a C-contiguous array of the model's dtype is
        used in place, anything else is converted once.
        """
        # The native forward checks the values itself (one vectorised pass).
        features = as_features(X, self._dtype, self.n_features, check_values=False)
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
                f"activation is {self.output_activation!r} (use predict)"
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
        output_activation = self.output_activation
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
        if self.output_activation == "sigmoid" and self.n_outputs > 1:
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
        return self._scores(output, truth, names, weights if weights.size else None)

    def _scores(
        self, output: Array, truth: Array, names: tuple[str, ...], weights: Array | None
    ) -> dict[str, Any]:
        """The metrics ``names`` of the output activations ``output`` against ``truth`` (class
        indices of a classifier, targets of a regressor); shared by ``evaluate`` and the scores
        ``fit(metrics=[...])`` records."""
        if not self.is_classifier:
            return evaluate_predictions("regress", truth, output, None, names, weights)
        probabilities = output if self.n_outputs > 1 else np.hstack([1 - output, output])
        return evaluate_predictions(
            "classify", truth, self._prediction(output), probabilities, names, weights
        )

    def _loss_inputs(
        self, X: Any, y: Any, loss: str | None, sample_weight: Any, huber_delta: float
    ) -> tuple[Array, Array, Array, str, float]:
        name = check_loss(loss, self.output_activation)
        delta = check_float(huber_delta, "huber_delta", minimum=0.0, strict=True)
        features = self._features(X)
        targets = self._targets(features, y, name)
        weights = _weights(sample_weight, features.shape[0], self.dtype, "sample_weight")
        return features, targets, weights, name, delta

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
        class_weight: Any = None,
        monitor: str = "auto",
        mode: str = "auto",
        metrics: str | Sequence[str] | None = None,
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
        - ``class_weight`` (a classifier: softmax or sigmoid output): ``{class: weight}`` or
          ``"balanced"`` (``n / (k · n_c)`` from the training rows), scikit-learn's definitions;
          for several sigmoid outputs ``"balanced"`` or one dict per output, multiplied. It
          multiplies ``sample_weight``, in the training and the validation loss (details:
          ``nncore._class_weight``).
        - ``validation_data=(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)``, or
          ``validation_split=f``: the *last* ``f`` of the rows of ``X``/``y``, taken before any
          shuffling (as Keras does), are held out. Validation loss and metric are computed after
          every epoch without dropout.
        - ``early_stopping`` (default: on when there is validation data): stop when the
          monitored value has not improved on its best by more than ``min_delta`` for
          ``patience`` epochs, and (``restore_best_weights``) put back the weights of the best
          epoch — also when training ends for any other reason, Ctrl-C included.
        - ``monitor``: what early stopping and the ``reduce_on_plateau`` schedule watch:
          ``"loss"``, ``"metric"``, ``"validation_loss"``, ``"validation_metric"``, or a metric
          that ``metrics`` asks for (``"f1_macro"``, ``"validation_f1_macro"``, ...);
          ``"auto"``: ``"validation_loss"`` with validation data or ``early_stopping=True``,
          else ``"loss"``. A ``validation_*`` monitor without ``validation_data`` or
          ``validation_split`` is a ``ValueError``. ``mode``: ``"min"`` (lower is better),
          ``"max"``, or ``"auto"``: ``"max"`` for accuracy, R² and the metrics where greater is
          better, ``"min"`` for losses and errors.
        - ``metrics``: names of ``nncore.metrics`` (those of ``evaluate`` but the confusion
          matrix) to record after every epoch, on the training rows and (as
          ``validation_<name>``) the validation rows, with the epoch's final weights in
          inference mode, as ``evaluate`` scores them; in every callback record and in
          ``history.scores``. Each costs a forward pass over those rows per epoch.
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
            class_weight=class_weight,
            monitor=monitor,
            mode=mode,
            metrics=metrics,
        )
        return self._fit_planned(plan, monitor)

    def _fit_planned(self, plan: FitPlan, monitor: str = "auto") -> History:
        """``fit`` from its checked arguments (``_fit_plan``; nncore.sklearn sets the plan's
        ``penalty`` and ``epoch_loss`` before calling this)."""
        if plan.monitor.name.startswith("validation_") and plan.validation[0] is None:
            # (Here, not in _fit_plan: nncore.distributed.fit allows ranks without validation rows.)
            needs = "early_stopping=True" if plan.early_stopping else f"monitor={monitor!r}"
            raise ValueError(
                f"{needs} needs validation data to monitor: pass "
                "validation_data=(X_val, y_val) or validation_split=f (e.g. 0.2)"
            )

        if plan.optimizer.full_batch:
            return self._run_fit(plan, self._lbfgs_loop(plan), show_progress=True)

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

    def to_onnx(self, path: Any, opset: int | None = None) -> None:
        """Write the model as an ONNX file at ``path``: input ``"input"`` ``(batch,
        n_features)``, output ``"output"`` ``(batch, n_outputs)``, both of the model's dtype
        (any batch size), computing what ``forward`` does. ``opset``: from
        ``nncore.onnx_export.OPSET_MIN`` (9) to the newest of the installed onnx package;
        None for ``DEFAULT_OPSET`` (17). Needs the onnx package (``pip install
        'nncore[onnx]'``; ``ImportError`` without it). The write is atomic, as ``save``'s.
        Raises ``TypeError``/``ValueError`` naming ``path`` or ``opset``; details:
        ``nncore.onnx_export``."""
        from .onnx_export import to_onnx

        to_onnx(self, path, opset)

    def to_torch(self) -> Any:
        """A ``torch.nn.Sequential`` with this model's layers, weights and BatchNorm running
        statistics, in the model's dtype, in eval mode: its outputs are ``forward``'s. Needs
        PyTorch (imported only now); details: ``nncore.torch_convert``."""
        from .torch_convert import to_torch

        return to_torch(self)

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

    def _fit_plan(self, X: Any, y: Any, **options: Any) -> FitPlan:
        """Every argument of ``fit`` checked and converted (see ``fit``); the model is unchanged.
        Shared by ``fit`` and ``nncore.distributed.fit``."""
        return make_plan(self, X, y, options, _FIT_DEFAULTS)

    def _lbfgs_loop(self, plan: FitPlan) -> Loop:
        """The loop of ``fit(optimizer="lbfgs")``: the core's L-BFGS (``_core.fit_lbfgs``) on all
        the training rows, one iteration per epoch, ``weight_decay`` as ``½·λ·‖θ‖²``."""
        optimizer = plan.optimizer
        assert isinstance(optimizer, LBFGS)
        decay = optimizer.weight_decay
        penalty = np.full(self.n_parameters if decay else 0, decay, dtype=np.float64)

        def loop(
            _native: Any, on_epoch_end: Callable[[dict[str, Any]], bool] | None
        ) -> tuple[list[dict[str, Any]], str]:
            records, stop_reason, _, _ = _core.fit_lbfgs(
                self._network,
                optimizer.native_options(plan.epochs, plan.target_loss),
                (plan.features, plan.targets, plan.weights),
                plan.validation_data(),
                plan.loss,
                plan.huber_delta,
                1.0,
                penalty,
                on_epoch_end,
            )
            return records, stop_reason

        return loop

    def _run_fit(self, plan: FitPlan, loop: Loop, show_progress: bool) -> History:
        """Train with ``loop`` around the plan (``nncore._fit_run.run_fit``)."""
        return run_fit(self, plan, loop, show_progress)


# The keyword arguments of fit beyond X and y, with their defaults (read off its signature, so
# that Sequential.fit stays the one place where they are written).
_FIT_DEFAULTS: dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(Sequential.fit).parameters.items()
    if name not in ("self", "X", "y")
}
