"""nncore: multi-layer perceptrons trained by a fused C++/Eigen loop.

>>> import numpy as np, nncore
>>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
>>> y = np.array([0, 1, 1, 0])
>>> model = nncore.MLP([2, 16, 1], activation="tanh", output_activation="sigmoid", seed=0)
>>> history = model.fit(X, y, learning_rate=0.5, epochs=500, batch_size=4)
>>> model.predict(X).tolist()
[0, 1, 1, 0]
"""

from . import datasets, optim, reference, schedules
from ._core import DivergenceError
from ._core import __version__ as __version__
from ._validation import ACTIVATIONS, LOSSES
from .config import config, get_num_threads, set_num_threads, show_config
from .history import History
from .mlp import MLP
from .model_file import load
from .optim import SGD, Adagrad, Adam, AdamW, RMSProp

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
    "__version__",
    "config",
    "datasets",
    "distributed",
    "get_num_threads",
    "load",
    "optim",
    "reference",
    "schedules",
    "set_num_threads",
    "show_config",
]


def __getattr__(name: str) -> object:
    # nncore.distributed is imported on first use: it needs mpi4py (the optional extra "mpi"),
    # and importing nncore must not start MPI.
    if name == "distributed":
        import importlib

        return importlib.import_module(".distributed", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
