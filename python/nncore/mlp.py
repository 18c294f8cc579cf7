"""``MLP``: a multi-layer perceptron, the ``Sequential`` of ``Dense`` (and ``Dropout``) layers
that ``layer_sizes`` describes; its core network is ``_core.NetworkF32/F64`` (a
``SequentialF32/F64`` of those layers), and everything but its constructor's arguments, its
per-layer views and its step API is ``Sequential``'s."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core, model_file
from ._core import DivergenceError
from ._fit_run import FIT_RUNNING
from ._validation import (
    ACTIVATION_ALIASES,
    ACTIVATIONS,
    INITIALIZERS,
    MAX_LAYER_SIZE,
    as_float_array,
    check_choice,
    check_dtype,
    check_float,
    check_int,
    check_keys,
)
from .layers import Dense, Dropout, Layer
from .sequential import Sequential, _check_seed

Array = npt.NDArray[Any]
Gradients = list[tuple[Array, Array | None]]


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


def _layers(
    sizes: list[int],
    activations: list[str],
    rates: list[float],
    use_bias: bool,
    init: str,
    slope: float,
    alpha: float,
) -> tuple[Layer, ...]:
    """The layers of the core's Network of these arguments: a Dense per layer, a Dropout after
    every hidden layer with a rate above 0 (as ``_core.NetworkF*`` lays them out)."""
    layers: list[Layer] = []
    for index, (n_out, activation) in enumerate(zip(sizes[1:], activations, strict=True)):
        dense = Dense(n_out, activation, use_bias, init, leaky_relu_slope=slope, elu_alpha=alpha)
        layers.append(dense)
        if index < len(rates) and rates[index] > 0:
            layers.append(Dropout(rates[index]))
    return tuple(layers)


def _parameter_count(sizes: list[int], use_bias: bool) -> int:
    """``Σ n_in·n_out (+ n_out with bias)`` over the layers."""
    return sum((n_in + use_bias) * n_out for n_in, n_out in itertools.pairwise(sizes))


@model_file.register_model
class MLP(Sequential):
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
        dtype = check_dtype(dtype)
        seed = _check_seed(seed)
        use_bias = _check_use_bias(use_bias)
        check_choice(init, "init", INITIALIZERS)
        slope = check_float(leaky_relu_slope, "leaky_relu_slope", minimum=0.0)
        alpha = check_float(elu_alpha, "elu_alpha", minimum=0.0, strict=True)
        if init == "auto":
            rectifiers = ("relu", "leaky_relu", "elu")
            init = "he_uniform" if hidden and hidden[0] in rectifiers else "glorot_uniform"

        network_type = _core.NetworkF32 if dtype == np.float32 else _core.NetworkF64
        try:
            network = network_type(sizes, [*hidden, output], slope, alpha, use_bias, rates)
        except MemoryError:
            count = _parameter_count(sizes, use_bias)
            raise MemoryError(
                f"layer_sizes {sizes} need {count} parameters (twice {count * dtype.itemsize}"
                " bytes with the gradients); there is not enough memory"
            ) from None
        self._setup(network, dtype, seed, output)
        # Immutable descriptions, kept as Python tuples (predict reads them on every call).
        self._layer_sizes = tuple(network.layer_sizes)
        self._activations = tuple(network.activations)
        self._layers = _layers(sizes, [*hidden, output], rates, use_bias, init, slope, alpha)
        network.initialize(init, self._random)
        self._init = init
        self._leaky_relu_slope = slope
        self._elu_alpha = alpha

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
    def n_layers(self) -> int:
        """Number of dense layers (``len(layer_sizes) - 1``)."""
        return len(self.layer_sizes) - 1

    @property
    def dropout(self) -> tuple[float, ...]:
        """The dropout rate after each hidden layer (training only)."""
        return tuple(self._network.dropout) or (0.0,) * (self.n_layers - 1)

    @property
    def use_bias(self) -> bool:
        return bool(self._network.use_bias)

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


#: The keys of ``MLP.config()``: the constructor's parameters (read off its signature).
_CONFIG_KEYS = tuple(name for name in inspect.signature(MLP.__init__).parameters if name != "self")


def _config_arguments(config: Any) -> dict[str, Any]:
    """``config`` checked to hold exactly the constructor's parameters (``MLP.from_config``)."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict (as MLP.config() returns), got {config!r:.80}")
    check_keys(config, _CONFIG_KEYS, "invalid MLP config: the config", ValueError)
    return dict(config)
