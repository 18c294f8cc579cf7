"""``MLP``: a multi-layer perceptron whose forward, backward, update and training loop are the
native core's; this class checks inputs, converts them once, and presents the results."""

from __future__ import annotations

import secrets
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from . import _core
from ._validation import (
    ACTIVATIONS,
    INITIALIZERS,
    as_features,
    as_float_array,
    as_targets,
    check_choice,
    check_dtype,
    check_float,
    check_int,
    check_loss,
)
from .history import History

Array = npt.NDArray[Any]
Gradients = list[tuple[Array, Union[Array, None]]]
#: A callback receives the epoch's record ``{"epoch": int, "loss": float}``; a truthy return
#: value stops training after that epoch.
Callback = Callable[[dict[str, Any]], Any]


class MLP:
    """A multi-layer perceptron (a stack of dense layers).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_features, hidden_1, ..., n_outputs]``; at least two entries, each >= 1.
    activation : str
        Activation of every hidden layer: ``"identity"``, ``"sigmoid"``, ``"tanh"``, ``"relu"``
        or ``"leaky_relu"``.
    output_activation : str
        Activation of the output layer: any of the above or ``"softmax"``. A ``"sigmoid"`` or
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

    Each layer computes ``Z = A_prev @ W + b`` and ``A = g(Z)`` with ``W`` of shape
    ``(n_in, n_out)`` and ``b`` of shape ``(n_out,)``, on batches of shape ``(n_samples, n_in)``.
    All parameters live in one flat native buffer; ``weights`` and ``biases`` are views into it.

    Raises ``ValueError``/``TypeError`` for a bad argument.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str = "relu",
        output_activation: str = "identity",
        dtype: Any = "float32",
        seed: int | None = None,
        use_bias: bool = True,
        init: str = "auto",
        leaky_relu_slope: float = 0.01,
    ) -> None:
        if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
            raise TypeError(f"layer_sizes must be a sequence of ints, got {layer_sizes!r}")
        sizes = [check_int(size, "layer_sizes entry", 1) for size in layer_sizes]
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes needs at least 2 entries (inputs, outputs), got {sizes}")
        hidden = check_choice(activation, "activation", ACTIVATIONS)
        if hidden == "softmax":
            raise ValueError("softmax is only available as the output_activation")
        output = check_choice(output_activation, "output_activation", ACTIVATIONS)
        self._dtype = check_dtype(dtype)
        if seed is None:
            seed = secrets.randbits(64)
        self._seed = check_int(seed, "seed", 0)
        if self._seed >= 2**64:
            raise ValueError(f"seed must be below 2**64, got {seed}")
        if not isinstance(use_bias, (bool, np.bool_)):
            raise TypeError(f"use_bias must be a bool, got {use_bias!r}")
        check_choice(init, "init", INITIALIZERS)
        slope = check_float(leaky_relu_slope, "leaky_relu_slope", minimum=0.0)
        if init == "auto":
            init = "he_uniform" if hidden in ("relu", "leaky_relu") and len(sizes) > 2 else (
                "glorot_uniform"
            )

        network_type = _core.NetworkF32 if self._dtype == np.float32 else _core.NetworkF64
        self._network: Any = network_type(
            sizes, [hidden] * (len(sizes) - 2) + [output], slope, bool(use_bias)
        )
        self._random = _core.Random(self._seed)
        self._network.initialize(init, self._random)
        self._init = init
        self._leaky_relu_slope = slope
        self._fit_lock = threading.Lock()

    # ----------------------------------------------------------------- description
    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(n_features, hidden_1, ..., n_outputs)``."""
        return tuple(self._network.layer_sizes)

    @property
    def activations(self) -> tuple[str, ...]:
        """The activation of each layer, output layer last."""
        return tuple(self._network.activations)

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
    def use_bias(self) -> bool:
        return bool(self._network.use_bias)

    @property
    def is_classifier(self) -> bool:
        """True when the output activation is sigmoid or softmax (``predict`` gives labels)."""
        return self.activations[-1] in ("sigmoid", "softmax")

    @property
    def n_parameters(self) -> int:
        return int(self._network.parameters.size)

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in self.layer_sizes)
        return (
            f"MLP({sizes}, activation={self.activations[0]!r}, "
            f"output_activation={self.activations[-1]!r}, dtype={self.dtype.name!r})"
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

    def get_parameters(self) -> tuple[list[Array], list[Array]]:
        """Copies of ``(weights, biases)``."""
        weights, biases = self._layer_views(self._network.parameters.copy())
        return weights, biases

    def set_parameters(self, weights: Sequence[Any], biases: Sequence[Any] | None = None) -> None:
        """Replace all weights (and biases) with copies of the given arrays.

        Shapes must match ``weights``/``biases``; values must be finite. ``biases`` must be
        given exactly when the model has biases. Nothing changes if any check fails.
        """
        flat = self._flatten(weights, biases, "weights", "biases")
        self._network.parameters[:] = flat

    def _flatten(
        self, weights: Sequence[Any], biases: Sequence[Any] | None, w_name: str, b_name: str
    ) -> Array:
        """One flat buffer in the core's layout from per-layer arrays (checked)."""
        if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence):
            raise TypeError(f"{w_name} must be a list with one array per layer")
        if len(weights) != self.n_layers:
            raise ValueError(f"{w_name} needs {self.n_layers} arrays, got {len(weights)}")
        if self.use_bias:
            if biases is None or isinstance(biases, np.ndarray) or not isinstance(biases, Sequence):
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
                assert biases is not None
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
        return as_features(X, self.dtype, self.n_features)

    def _targets(self, X: Array, y: Any, loss: str) -> Array:
        return as_targets(y, loss, self.n_outputs, X.shape[0], self.dtype)

    def forward(self, X: Any) -> Array:
        """Forward propagation: the output layer's activations, shape ``(n_samples, n_outputs)``.

        ``X`` has shape ``(n_samples, n_features)``; a C-contiguous array of the model's dtype is
        used in place, anything else is converted once.
        """
        return self._network.forward(self._features(X))  # type: ignore[no-any-return]

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
        output = self.forward(X)
        if self.activations[-1] == "softmax":
            return np.argmax(output, axis=1)
        if self.activations[-1] == "sigmoid":
            labels = (output >= 0.5).astype(np.intp)
            return labels[:, 0] if self.n_outputs == 1 else labels
        return output

    def loss(self, X: Any, y: Any, loss: str | None = None) -> float:
        """The mean loss over the samples (see ``nncore.reference`` for the formulas).

        ``loss=None`` picks the loss fused with the output activation: binary_cross_entropy for
        sigmoid, categorical_cross_entropy for softmax, mean_squared_error otherwise.
        """
        name = check_loss(loss, self.activations[-1])
        features = self._features(X)
        return float(self._network.loss(features, self._targets(features, y, name), name))

    def backward(self, X: Any, y: Any, loss: str | None = None) -> Gradients:
        """Backward propagation of the batch-mean loss over ``(X, y)``.

        Returns one ``(dL/dW, dL/db)`` pair per layer, shaped like ``(W, b)`` (``dL/db`` is None
        without bias). The parameters do not change.
        """
        name = check_loss(loss, self.activations[-1])
        features = self._features(X)
        self._network.backward(features, self._targets(features, y, name), name)
        weights, biases = self._layer_views(self._network.gradients.copy())
        return [(w, biases[i] if self.use_bias else None) for i, w in enumerate(weights)]

    def step(self, gradients: Sequence[tuple[Any, Any]], learning_rate: float) -> None:
        """One gradient-descent update: ``W -= learning_rate * dW`` and ``b -= learning_rate * db``
        for every layer, with ``gradients`` as returned by ``backward``. Runs the same native
        update as ``fit``.
        """
        lr = check_float(learning_rate, "learning_rate", minimum=0.0)
        if isinstance(gradients, np.ndarray) or not isinstance(gradients, Sequence):
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
        self._optimizer(lr).step(self._network.parameters, flat)

    def _optimizer(self, learning_rate: float) -> Any:
        optimizer_type = _core.SGDF32 if self.dtype == np.float32 else _core.SGDF64
        return optimizer_type(learning_rate)

    # ----------------------------------------------------------------- training
    def fit(
        self,
        X: Any,
        y: Any,
        loss: str | None = None,
        learning_rate: float = 0.01,
        epochs: int = 100,
        batch_size: int = 32,
        shuffle: bool = True,
        target_loss: float | None = None,
        tol: float = 0.0,
        n_iter_no_change: int | None = 10,
        verbose: int = 0,
        callbacks: Sequence[Callback] | None = None,
    ) -> History:
        """Train by mini-batch gradient descent in the native loop (the GIL is released).

        Each epoch visits every sample once, in a fresh order from the model's generator when
        ``shuffle`` (else in order), in batches of ``batch_size`` rows (the last may be smaller):
        forward, loss, backward, ``θ ← θ − learning_rate·dL/dθ``.

        Training stops after ``epochs`` epochs, or when the epoch loss is ``<= target_loss``, or
        when it has not dropped below the best loss so far minus ``tol`` for
        ``n_iter_no_change`` consecutive epochs (``None`` disables this), or when a callback
        returns a true value, or on Ctrl-C (the model then holds the weights after the last
        complete batch and the history says ``"interrupted"``; no exception is raised).

        ``verbose=1`` or ``2`` prints one line per epoch. ``callbacks`` are called at each
        epoch end with ``{"epoch": int, "loss": float}``; the loop takes the GIL only then.

        Raises ``ValueError``/``TypeError`` for bad input (the model is left unchanged), and
        ``nncore.DivergenceError`` (a ``FloatingPointError``) when a batch gives a non-finite
        loss or gradient: the model then keeps the weights from before that batch.
        """
        name = check_loss(loss, self.activations[-1])
        features = self._features(X)
        targets = self._targets(features, y, name)
        lr = check_float(learning_rate, "learning_rate", minimum=0.0)
        epochs = check_int(epochs, "epochs", 1)
        batch_size = check_int(batch_size, "batch_size", 1)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
        if target_loss is not None:
            target_loss = check_float(target_loss, "target_loss")
        tol = check_float(tol, "tol", minimum=0.0)
        patience = 0 if n_iter_no_change is None else check_int(n_iter_no_change, "n_iter_no_change", 1)
        verbose = check_int(verbose, "verbose", 0)
        callback_list = list(callbacks or [])
        for callback in callback_list:
            if not callable(callback):
                raise TypeError(f"callbacks must be callables, got {callback!r}")

        def on_epoch_end(epoch: int, epoch_loss: float) -> bool:
            if verbose:
                print(f"epoch {epoch:>{len(str(epochs))}}/{epochs}  loss {epoch_loss:.6g}")
                sys.stdout.flush()
            record = {"epoch": epoch, "loss": epoch_loss}
            stop = False
            for callback in callback_list:
                stop = bool(callback(record)) or stop
            return stop

        if not self._fit_lock.acquire(blocking=False):
            raise RuntimeError("fit is already running on this model in another thread")
        try:
            losses, stop_reason = _core.fit(
                self._network,
                self._optimizer(lr),
                self._random,
                features,
                targets,
                name,
                epochs,
                batch_size,
                bool(shuffle),
                target_loss,
                tol,
                patience,
                on_epoch_end if (verbose or callback_list) else None,
            )
        finally:
            self._fit_lock.release()
        return History(losses, stop_reason)
