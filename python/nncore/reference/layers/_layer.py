"""What a reference layer is: the interface a chain of layers runs, and the records it shares.

A layer object holds only its configuration (``Dense(16, "tanh")``); it can sit in several
networks. The numbers live outside it, keyed by the layer's dotted path in its network
(``"1.W"``, ``"5.0.gamma"``, ``"2.running_mean"``):

* :class:`Build` collects, in buffer order, every parameter array and every state array that the
  layers declare while their widths are checked (``Layer.build``);
* :class:`Pass` carries one forward/backward pass: the parameters and state it reads, the mode
  (training or inference), the dropout masks, and the running statistics it produces.

Each layer file holds its forward and its backward side by side.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..numpy_reference import Array

Cache = Any
"""What a layer's forward keeps for its backward (each layer its own record)."""


@dataclass
class Build:
    """The parameters and state arrays of a network, collected in buffer order.

    ``rng`` draws the initial values, ``dtype`` is their floating dtype. ``dropout_paths`` lists
    the paths of the Dropout layers (the keys a ``masks`` dict must have).
    """

    dtype: np.dtype[Any]
    rng: np.random.Generator
    parameters: list[tuple[str, Array]] = field(default_factory=list)
    state: list[tuple[str, Array]] = field(default_factory=list)
    dropout_paths: list[str] = field(default_factory=list)

    def add_parameter(self, name: str, initial: Array) -> None:
        """Declare a trainable array (its shape is ``initial``'s)."""
        self.parameters.append((name, np.asarray(initial, dtype=self.dtype)))

    def add_state(self, name: str, initial: Array) -> None:
        """Declare a non-trainable buffer (running statistics)."""
        self.state.append((name, np.asarray(initial, dtype=self.dtype)))


@dataclass
class Pass:
    """One pass through a network: what every layer reads, and the state it leaves behind.

    ``parameters`` and ``state`` map full dotted names to arrays; ``masks`` maps a Dropout
    layer's path to its mask (``None``: every dropout is the identity). In training mode a
    BatchNorm writes its updated running statistics into ``new_state``.
    """

    parameters: Mapping[str, Array]
    state: Mapping[str, Array]
    training: bool
    masks: Mapping[str, npt.ArrayLike] | None = None
    new_state: dict[str, Array] = field(default_factory=dict)


def child_path(path: str, index: int) -> str:
    """The path of child ``index`` of the layer at ``path`` (``""`` is the network itself)."""
    return str(index) if path == "" else f"{path}.{index}"


def layer_error(layer: Layer, path: str, message: str) -> ValueError:
    """A ``ValueError`` naming the layer by its path and type."""
    return ValueError(f"layer {path} ({type(layer).__name__}): {message}")


class Layer(ABC):
    """A layer: ``build`` (widths and arrays), ``forward`` and ``backward``.

    Shapes: the input ``X`` is ``(n, n_in)``, the output ``(n, n_out)``; ``backward`` takes
    ``dL/d(output)`` and returns ``dL/d(input)``, writing ``dL/d(parameter)`` into ``gradients``
    under the parameter's full name.
    """

    output_activation = "identity"
    """The activation the layer ends with (what a fused loss needs: sigmoid, softmax)."""

    @abstractmethod
    def build(self, n_in: int, path: str, build: Build, *, first: bool, last: bool) -> int:
        """Check the layer at ``path`` for an input of width ``n_in``, declare its arrays in
        ``build`` and return its output width. ``first``/``last``: whether it is the network's
        first/last layer (an Embedding must be first, a softmax last)."""

    @abstractmethod
    def forward(self, X: Array, path: str, run: Pass) -> tuple[Array, Cache]:
        """The output for the input ``X``, and what the backward needs."""

    @abstractmethod
    def backward(
        self, cache: Cache, dY: Array, path: str, run: Pass, gradients: dict[str, Array]
    ) -> Array:
        """``dL/dX`` from ``dY = dL/d(output)``; parameter gradients go into ``gradients``."""

    def pre_activation(self, cache: Cache, output: Array) -> Array:
        """``Z`` with ``output = g(Z)``, ``g`` the :attr:`output_activation` (identity: the
        output itself)."""
        return output

    def backward_from_pre_activation(
        self, cache: Cache, dZ: Array, path: str, run: Pass, gradients: dict[str, Array]
    ) -> Array:
        """:meth:`backward` given ``dL/dZ`` instead of ``dL/d(output)`` (for the fused losses)."""
        return self.backward(cache, dZ, path, run, gradients)
