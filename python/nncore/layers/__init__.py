"""The layers of ``nncore.Sequential``: checked descriptions that the model builds into the
core's layer objects (``nncore._core.DenseF32``, ...). One file per layer; each registers itself
in ``LAYERS``.

* ``Dense(units, activation="identity", use_bias=True, init="auto")``: ``Y = g(X·W + b)``
* ``Activation(name)``: ``Y = g(X)``
* ``Dropout(rate)``: inverted dropout, in ``fit`` only
* ``LayerNorm(eps=1e-5)``, ``BatchNorm(momentum=0.1, eps=1e-5)``: as torch's
* ``Residual(layers)``: ``Y = X + f(X)``
* ``Embedding(columns, cardinalities, dim)``: integer-coded columns → vectors (first layer)

The formulas, and the NumPy oracle of each, are in ``nncore.reference.layers``.
"""

from ._layer import LAYERS, Layer, Site
from .activation import Activation
from .batch_norm import BatchNorm
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .layer_norm import LayerNorm
from .residual import Residual

__all__ = [
    "LAYERS",
    "Activation",
    "BatchNorm",
    "Dense",
    "Dropout",
    "Embedding",
    "Layer",
    "LayerNorm",
    "Residual",
    "Site",
]
