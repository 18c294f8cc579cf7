"""A model's arrays in buffer order, for the converters (``nncore.onnx_export``,
``nncore.torch_convert``): each layer takes its own in turn — a Dense ``W`` then ``b``, a
LayerNorm or BatchNorm ``gamma`` then ``beta`` (and a BatchNorm's ``running_mean`` then
``running_var`` from the state), an Embedding its ``table`` — so that no converter reads a
layer's names (an ``MLP`` names them ``weights[0]``, a ``Sequential`` ``"1.W"``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .model_file import MODELS

Array = npt.NDArray[Any]


def check_model(model: Any) -> None:
    """``TypeError`` unless ``model`` is an ``nncore.Sequential`` (``MLP`` included): a class of
    ``nncore.model_file.MODELS`` (no import of ``sequential``, which imports the converters)."""
    if not isinstance(model, tuple(MODELS.values())):
        raise TypeError(f"model must be an nncore.Sequential or MLP, got {model!r:.80}")


class ModelArrays:
    """Copies of a model's parameter arrays and state arrays, handed out in buffer order."""

    def __init__(self, model: Any) -> None:
        self._parameters = iter([array.copy() for _, array in model.named_parameters()])
        self._state = iter([array.copy() for array in model.state.values()])

    def parameter(self) -> Array:
        """The next parameter array (``W`` of shape ``(n_in, n_out)``, ``b``, ...)."""
        return np.asarray(next(self._parameters))

    def state(self) -> Array:
        """The next state array (a BatchNorm's running mean, then its running variance)."""
        return np.asarray(next(self._state))
