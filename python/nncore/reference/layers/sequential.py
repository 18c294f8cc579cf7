"""A network as a sequence of layers over one flat parameter vector: forward, loss, gradient, SGD.

``Sequential(layers, n_inputs)`` builds the layers for inputs of width ``n_inputs`` and lays
their parameters out in one flat vector (the layout contract of :mod:`nncore.reference.layers`).
Every method is a pure function of its arguments and the model's parameters and state: nothing
is modified, so a failed call changes nothing; :meth:`Sequential.fit` returns the trajectory.

The loss is the (weighted) mean batch loss of ``numpy_reference.loss_value`` on the network's
output, with its formulas: binary and categorical cross-entropy need a network that ends in a
sigmoid or softmax (a Dense with that activation, or an Activation layer) and are fused with it
(computed from the logits Z, stable); the other losses take the output as it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ..numpy_reference import (
    _REQUIRED_OUTPUT_ACTIVATION,
    Array,
    _as_float,
    _check_loss_activation,
    _sample_weights,
    loss_value,
    output_delta,
)
from ._chain import backward_chain, build_chain, check_layers, forward_chain
from ._checks import check_bool, check_int, check_non_negative
from ._layer import Build, Cache, Layer, Pass

Masks = Mapping[str, npt.ArrayLike]
"""Dropout masks by the Dropout layer's path (``{"3": M3, "5.2": M52}``), see ``dropout``."""


def flatten(arrays: Sequence[Array], dtype: np.dtype[Any]) -> Array:
    """The arrays' entries one after another, each row-major (empty for no arrays)."""
    flat: Array = np.concatenate([np.zeros(0, dtype)] + [a.ravel() for a in arrays])
    return flat


class Step(NamedTuple):
    """One mini-batch step of :meth:`Sequential.fit`."""

    parameters: Array  # the flat parameter vector after the step
    state: dict[str, Array]  # the running statistics after the step
    loss: float  # the batch's loss before the step


class Sequential:
    """``Sequential(layers, n_inputs, *, dtype="float64", seed=0, parameters=None, state=None)``.

    ``layers``: a non-empty list of layers; ``n_inputs``: the width of X. ``parameters`` (the
    flat vector, length ``sum of the layout's sizes``) and ``state`` (a dict like
    :meth:`state`) default to the layers' initial values, drawn from
    ``np.random.default_rng(seed)`` in buffer order. ``dtype`` is float32 or float64: every
    computation is done in it. Raises ``ValueError``/``TypeError`` naming the layer (by path) or
    the argument.
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        n_inputs: int,
        *,
        dtype: Any = "float64",
        seed: int = 0,
        parameters: npt.ArrayLike | None = None,
        state: Mapping[str, npt.ArrayLike] | None = None,
    ) -> None:
        self.layers = check_layers(layers, "Sequential")
        self.n_inputs = check_int(n_inputs, "Sequential", "n_inputs", 1)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"Sequential: dtype must be float32 or float64, got {dtype!r}")
        rng = np.random.default_rng(check_int(seed, "Sequential", "seed", 0))
        build = Build(self.dtype, rng)
        self.n_outputs = build_chain(self.layers, self.n_inputs, "", build, first=True, last=True)
        self._layout: list[tuple[str, tuple[int, ...], int]] = []
        offset = 0
        for name, initial in build.parameters:
            self._layout.append((name, initial.shape, offset))
            offset += initial.size
        self._dropout_paths = build.dropout_paths
        initial = flatten([value for _, value in build.parameters], self.dtype)
        self._parameters = self._check_parameters(initial if parameters is None else parameters)
        self._state = self._check_state(dict(build.state) if state is None else state, build)

    # ----------------------------------------------------------------------------------------
    # The layout contract
    # ----------------------------------------------------------------------------------------

    def layout(self) -> list[tuple[str, tuple[int, ...], int]]:
        """One ``(name, shape, offset)`` per parameter array, in buffer order."""
        return list(self._layout)

    def parameters(self) -> Array:
        """A copy of the flat parameter vector (1-D, the model's dtype)."""
        copy: Array = self._parameters.copy()
        return copy

    def state(self) -> dict[str, Array]:
        """A copy of the non-trainable buffers by name (``"2.running_mean"``, ...)."""
        return {name: value.copy() for name, value in self._state.items()}

    def _arrays(self, flat: Array) -> dict[str, Array]:
        """The parameter arrays by name, as views of ``flat``."""
        return {
            name: flat[offset : offset + math.prod(shape)].reshape(shape)
            for name, shape, offset in self._layout
        }

    def _check_parameters(self, parameters: npt.ArrayLike) -> Array:
        size = sum(math.prod(shape) for _, shape, _ in self._layout)
        flat = np.array(parameters, dtype=self.dtype)  # a copy
        if flat.shape != (size,):
            raise ValueError(f"parameters must have shape ({size},), got {flat.shape}")
        if not np.all(np.isfinite(flat)):
            raise ValueError("parameters must be finite")
        return flat

    def _check_state(self, state: Mapping[str, npt.ArrayLike], build: Build) -> dict[str, Array]:
        expected = {name: initial.shape for name, initial in build.state}
        if not isinstance(state, Mapping) or set(state) != set(expected):
            raise ValueError(f"state must be a dict with the keys {sorted(expected)}")
        checked = {name: np.array(state[name], dtype=self.dtype) for name in expected}
        for name, value in checked.items():
            if value.shape != expected[name] or not np.all(np.isfinite(value)):
                raise ValueError(f"state[{name!r}] must be finite of shape {expected[name]}")
            if name.endswith("running_var") and np.any(value < 0):
                raise ValueError(f"state[{name!r}] must be non-negative")
        return checked

    # ----------------------------------------------------------------------------------------
    # Input checks
    # ----------------------------------------------------------------------------------------

    def _check_X(self, X: npt.ArrayLike) -> Array:
        Xa = _as_float(X, "X", 2).astype(self.dtype, copy=False)
        if Xa.shape[1] != self.n_inputs:
            raise ValueError(f"X has {Xa.shape[1]} columns, expected n_inputs={self.n_inputs}")
        bad = np.argwhere(~np.isfinite(Xa))
        if len(bad) > 0:
            row, column = bad[0]
            raise ValueError(f"X must be finite: column {column} holds {Xa[row, column]!r}")
        return Xa

    def _check_Y(self, Y: npt.ArrayLike, n: int) -> Array:
        Ya = _as_float(Y, "Y", 2).astype(self.dtype, copy=False)
        if Ya.shape != (n, self.n_outputs):
            raise ValueError(f"Y must have shape ({n}, {self.n_outputs}), got {Ya.shape}")
        if not np.all(np.isfinite(Ya)):
            raise ValueError("Y must be finite")
        return Ya

    def _check_masks(self, masks: Masks | None) -> Masks | None:
        """``None`` (dropout off) or a mapping with one mask per Dropout layer's path."""
        if masks is None:
            return None
        if not isinstance(masks, Mapping) or set(masks) != set(self._dropout_paths):
            given = list(masks) if isinstance(masks, Mapping) else type(masks).__name__
            raise ValueError(
                f"masks must be None or a dict with one mask per Dropout layer, keys "
                f"{self._dropout_paths}; got {given}"
            )
        return masks

    # ----------------------------------------------------------------------------------------
    # Forward, loss, gradient
    # ----------------------------------------------------------------------------------------

    def _forward(
        self, flat: Array, state: Mapping[str, Array], X: Array, training: bool, masks: Masks | None
    ) -> tuple[Array, list[Cache], Pass]:
        run = Pass(self._arrays(flat), state, training, self._check_masks(masks))
        output, caches = forward_chain(self.layers, X, "", run)
        return output, caches, run

    def forward(self, X: npt.ArrayLike, training: bool, masks: Masks | None = None) -> Array:
        """The network's output, shape ``(n, n_outputs)``, for ``X`` of shape ``(n, n_inputs)``.

        ``training=True``: BatchNorm uses the batch's statistics (the running statistics are not
        changed here, see :meth:`fit`) and Dropout applies ``masks`` (``None``: dropout off).
        ``training=False`` (inference): running statistics, no dropout (``masks`` not applied).
        """
        check_bool(training, "forward", "training")
        Xa = self._check_X(X)
        output, _, _ = self._forward(self._parameters, self._state, Xa, training, masks)
        return output

    def loss(
        self,
        X: npt.ArrayLike,
        Y: npt.ArrayLike,
        loss: str,
        sample_weight: npt.ArrayLike | None = None,
        *,
        training: bool = False,
        masks: Masks | None = None,
        delta: float = 1.0,
    ) -> float:
        """The (weighted) mean loss on ``(X, Y)``; ``Y`` is the dense ``(n, n_outputs)`` target.

        ``loss`` is a name of ``numpy_reference.LOSSES`` (``delta``: Huber's threshold);
        ``training`` and ``masks`` as in :meth:`forward`.
        """
        check_bool(training, "loss", "training")
        _check_loss_activation(loss, self.layers[-1].output_activation)
        Xa = self._check_X(X)
        Ya = self._check_Y(Y, Xa.shape[0])
        output, caches, _ = self._forward(self._parameters, self._state, Xa, training, masks)
        Z = self.layers[-1].pre_activation(caches[-1], output)
        return loss_value(loss, Z, output, Ya, delta=delta, sample_weight=sample_weight)

    def _loss_and_gradient(
        self,
        flat: Array,
        state: Mapping[str, Array],
        X: Array,
        Y: Array,
        loss: str,
        sample_weight: npt.ArrayLike | None,
        masks: Masks | None,
        delta: float,
    ) -> tuple[float, Array, dict[str, Array]]:
        """Training-mode loss, flat gradient and the running statistics after this batch."""
        output, caches, run = self._forward(flat, state, X, True, masks)
        last, last_cache, last_path = self.layers[-1], caches[-1], str(len(self.layers) - 1)
        Z = last.pre_activation(last_cache, output)
        value = loss_value(loss, Z, output, Y, delta=delta, sample_weight=sample_weight)
        gradients: dict[str, Array] = {}
        if loss in _REQUIRED_OUTPUT_ACTIVATION:  # fused with sigmoid/softmax: dL/dZ = w(ŷ − y)/N
            dZ = output_delta(
                loss, last.output_activation, Z, output, Y, delta=delta, sample_weight=sample_weight
            )
            dA = last.backward_from_pre_activation(last_cache, dZ, last_path, run, gradients)
        else:  # dL/d(output), then back through the last layer (its activation included)
            dOut = output_delta(
                loss, "identity", output, output, Y, delta=delta, sample_weight=sample_weight
            )
            dA = last.backward(last_cache, dOut, last_path, run, gradients)
        backward_chain(self.layers[:-1], caches[:-1], dA, "", run, gradients)
        flat_gradient = flatten([gradients[name] for name, _, _ in self._layout], self.dtype)
        return value, flat_gradient, {**state, **run.new_state}

    def gradient(
        self,
        X: npt.ArrayLike,
        Y: npt.ArrayLike,
        loss: str,
        sample_weight: npt.ArrayLike | None = None,
        *,
        masks: Masks | None = None,
        delta: float = 1.0,
    ) -> Array:
        """The flat gradient of the (weighted) mean loss, in :meth:`layout` order.

        Computed in training mode (BatchNorm with the batch's statistics; Dropout with ``masks``,
        off when ``None``). Nothing changes, running statistics included.
        """
        _check_loss_activation(loss, self.layers[-1].output_activation)
        Xa = self._check_X(X)
        Ya = self._check_Y(Y, Xa.shape[0])
        _, flat_gradient, _ = self._loss_and_gradient(
            self._parameters, self._state, Xa, Ya, loss, sample_weight, masks, delta
        )
        return flat_gradient

    # ----------------------------------------------------------------------------------------
    # Training
    # ----------------------------------------------------------------------------------------

    def fit(
        self,
        X: npt.ArrayLike,
        Y: npt.ArrayLike,
        loss: str,
        learning_rate: float,
        epochs: int,
        batch_size: int,
        sample_weight: npt.ArrayLike | None = None,
        *,
        masks: Sequence[Masks] | None = None,
        delta: float = 1.0,
    ) -> list[Step]:
        """Plain mini-batch SGD without shuffling; returns one :class:`Step` per batch.

        Every epoch cuts the rows, in order, into batches ``[0:B]``, ``[B:2B]``, ... (the last
        may be smaller). Per batch, in training mode::

            forward (batch statistics; running statistics updated from this batch)
            batch loss (before the update), flat gradient g (see :meth:`gradient`)
            θ ← θ − learning_rate·g

        ``sample_weight`` (shape ``(n,)``) travels with its rows. ``masks``: ``None`` (dropout
        off) or one masks dict per step, ``epochs·⌈n/B⌉`` of them in step order. The model
        itself is not changed; the last step holds the trained parameters and state.
        """
        _check_loss_activation(loss, self.layers[-1].output_activation)
        Xa = self._check_X(X)
        n = Xa.shape[0]
        Ya = self._check_Y(Y, n)
        lr = check_non_negative(learning_rate, "fit", "learning_rate")
        n_epochs = check_int(epochs, "fit", "epochs", 0)
        batch = check_int(batch_size, "fit", "batch_size", 1)
        weights = _sample_weights(sample_weight, n, self.dtype)
        n_steps = n_epochs * math.ceil(n / batch)
        if masks is not None and len(masks) != n_steps:
            raise ValueError(f"masks must hold one dict per step ({n_steps}), got {len(masks)}")
        flat, state = self.parameters(), self.state()
        steps: list[Step] = []
        for _epoch in range(n_epochs):
            for start in range(0, n, batch):
                rows = slice(start, start + batch)
                step_masks = None if masks is None else masks[len(steps)]
                batch_loss, gradient, state = self._loss_and_gradient(
                    flat, state, Xa[rows], Ya[rows], loss, weights[rows], step_masks, delta
                )
                flat = flat - lr * gradient  # θ ← θ − lr·g
                steps.append(Step(flat, {name: v.copy() for name, v in state.items()}, batch_loss))
        return steps
