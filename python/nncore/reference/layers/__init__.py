"""The layers of ``nncore.Sequential``, in NumPy, written to be read: the oracle of the core's.

One file per layer, its forward and backward side by side, formulas beside the code:

* :class:`Dense` (``Z = A·W + b``, ``A = g(Z)``), :class:`Activation`, :class:`Dropout`
  (inverted, with explicit masks), :class:`LayerNorm` (as ``torch.nn.LayerNorm``),
  :class:`BatchNorm` (as ``torch.nn.BatchNorm1d``), :class:`Residual` (``x + f(x)``),
  :class:`Embedding` (integer-coded columns, first layer only);
* :class:`Layer`: what they all are (``build``, ``forward``, ``backward``);
* :class:`Sequential`: ``forward``, ``loss``, ``gradient``, a plain-SGD ``fit``, ``layout`` and
  ``state``. The activations and losses are those of :mod:`nncore.reference.numpy_reference`.

**The layout contract** (the native core produces exactly this):

* ``layout()`` lists one ``(name, shape, offset)`` per parameter array, in the order of the one
  flat parameter vector (and of the flat gradient): ``offset`` is where the array starts, its
  entries follow row-major (C order).
* A name is the dotted index path of the layer, then the parameter: ``"0.table"``, ``"1.W"``,
  ``"1.b"``, ``"2.gamma"``, ``"2.beta"``. The children of a :class:`Residual` are numbered inside
  it: for a Residual at index 5, ``"5.0.gamma"``, ``"5.1.W"``.
* Order: the layers in sequence order (a Residual's children in theirs, depth first), each
  layer's parameters in the order ``W``, ``b`` (Dense; ``W`` is ``(n_in, n_out)``, ``b`` is
  ``(n_out,)``, absent without bias) / ``gamma``, ``beta`` (LayerNorm, BatchNorm; ``(k,)``
  each) / ``table`` (Embedding; ``(Σ cardinalities, dim)``). Activation and Dropout have none.
* ``state()`` is a dict of the non-trainable buffers by the same naming: ``"2.running_mean"``,
  ``"2.running_var"`` (BatchNorm; ``(k,)`` each, initially zeros and ones).
* Dropout masks are passed by the Dropout layer's path: ``masks={"4": M, "5.2": M2}``.

Nothing here imports the native extension.
"""

from ._layer import Layer
from .activation import Activation
from .batch_norm import BatchNorm
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .layer_norm import LayerNorm
from .residual import Residual
from .sequential import Sequential, Step

__all__ = [
    "Activation",
    "BatchNorm",
    "Dense",
    "Dropout",
    "Embedding",
    "Layer",
    "LayerNorm",
    "Residual",
    "Sequential",
    "Step",
]
