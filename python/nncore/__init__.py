"""nncore: multi-layer perceptrons trained by a fused C++/Eigen loop.

>>> import numpy as np, nncore
>>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
>>> y = np.array([0, 1, 1, 0])
>>> model = nncore.MLP([2, 16, 1], activation="tanh", output_activation="sigmoid", seed=0)
>>> history = model.fit(X, y, learning_rate=0.5, epochs=500, batch_size=4)
>>> model.predict(X).tolist()
[0, 1, 1, 0]
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from . import layers, metrics, optim, schedules
from ._core import DivergenceError
from ._core import __version__ as __version__
from ._validation import ACTIVATIONS, LOSSES
from .config import config, get_num_threads, set_num_threads, show_config
from .history import History
from .mlp import MLP
from .model_file import load
from .optim import SGD, Adagrad, Adam, AdamW, RMSProp
from .sequential import Sequential

if _TYPE_CHECKING:  # imported on first use (``_LAZY_SUBMODULES``); type checkers see them here
    from . import datasets, reference
    from . import serialization as serialization

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "MLP",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "DivergenceError",
    "History",
    "RMSProp",
    "Sequential",
    "__version__",
    "config",
    "datasets",
    "distributed",
    "from_torch",
    "get_num_threads",
    "layers",
    "load",
    "metrics",
    "optim",
    "plot",
    "reference",
    "schedules",
    "set_num_threads",
    "show_config",
]


#: Submodules imported on first use (``nncore.plot``): ``distributed``, ``plot`` and ``sklearn``
#: need an optional package — mpi4py (which would start MPI), matplotlib, scikit-learn — that
#: ``import nncore`` must not import; ``datasets``, ``reference`` (the pure-NumPy and
#: pure-Python references) and ``serialization`` (the file format: zipfile, json, ...; the first
#: ``save``/``load`` imports it) are not needed to build, train or predict, and importing them
#: would lengthen every ``import nncore``. Neither ``sklearn`` (``from nncore import *`` must work
#: without scikit-learn) nor ``serialization`` (which it would import) is in ``__all__``.
_LAZY_SUBMODULES = ("datasets", "distributed", "plot", "reference", "serialization", "sklearn")


#: Functions of submodules that need an optional package when called, by the submodule.
_LAZY_FUNCTIONS = {"from_torch": "torch_convert"}


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES or name in _LAZY_FUNCTIONS:
        import importlib

        module = importlib.import_module(f".{_LAZY_FUNCTIONS.get(name, name)}", __name__)
        return getattr(module, name) if name in _LAZY_FUNCTIONS else module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_SUBMODULES, *_LAZY_FUNCTIONS})
