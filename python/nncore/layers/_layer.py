"""What a layer of ``nncore.Sequential`` is on the Python side: a checked description (its
constructor's arguments) that builds the core's layer object for a given input width and dtype.

Every subclass registers itself in ``LAYERS`` under its class name (``__init_subclass__``), so a
new layer is one file; ``config()``/``from_config()`` and model files derive from that registry.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

import nncore._core as _core  # (not `from .. import`: the package would be a dependency)

#: Every layer class, by its name (``"Dense"``): filled by ``Layer.__init_subclass__``.
LAYERS: dict[str, type[Layer]] = {}


@dataclass(frozen=True)
class Site:
    """Where a layer is built: its index path (``"5.1"``), input width, dtype, and whether it is
    the network's first and last layer (an Embedding must be first, a softmax last)."""

    path: str
    n_inputs: int
    dtype: np.dtype[Any]
    first: bool
    last: bool
    #: Every core layer built that holds its own parameters, depth first, with its initialiser
    #: (filled by ``build_chain``; shared by a site and its children).
    leaves: list[tuple[Any, str | None]] = field(default_factory=list)

    def core(self, name: str) -> Any:
        """The core's class ``name`` for this dtype (``DenseF32``); ``ValueError`` if this build
        of the core does not have it."""
        suffix = "F32" if self.dtype == np.float32 else "F64"
        cls = getattr(_core, name + suffix, None)
        if cls is None:
            raise ValueError(f"this build of nncore's core has no {name} layer")
        return cls

    def error(self, layer: Layer, message: str) -> ValueError:
        """``ValueError("layer 5.1 (Dense): message")``."""
        return ValueError(f"layer {self.path} ({type(layer).__name__}): {message}")

    def child(self, index: int, n_inputs: int, *, first: bool, last: bool) -> Site:
        return Site(f"{self.path}.{index}", n_inputs, self.dtype, first, last, self.leaves)


class Layer:
    """A layer of ``nncore.Sequential``. Subclasses check their arguments in ``__init__``
    (``TypeError``/``ValueError`` naming the layer and the argument) and implement ``build``."""

    #: The activation the layer's output ends with (what ``predict`` and the loss pair with).
    output_activation: str = "identity"
    #: Whether the core layer it builds holds its parameters itself (a Residual: its children).
    leaf: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__name__
        if name.startswith("_"):
            return
        if LAYERS.get(name, cls) is not cls:
            raise TypeError(f"a layer class named {name!r} is registered already")
        LAYERS[name] = cls

    def build(self, site: Site) -> tuple[Any, int]:
        """The core's layer object for ``site`` and its output width; ``ValueError`` naming the
        layer by ``site.path`` when it does not fit there."""
        raise NotImplementedError

    def initializer(self) -> str | None:
        """The initialiser of its weights (a name of ``nncore`` initialisers), None for none."""
        return None

    def config(self) -> dict[str, Any]:
        """The constructor's arguments, as JSON-compatible values: ``{"layer": name, ...}``."""
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        values = {name: _plain(getattr(self, name)) for name in names}
        return {"layer": type(self).__name__, **values}

    @classmethod
    def from_config(cls, config: Any) -> Layer:
        """The layer of ``config`` (as ``config()`` returns it, of any registered layer class);
        ``ValueError`` for an unknown layer or a bad entry, ``TypeError`` for a non-dict."""
        if not isinstance(config, dict):
            raise TypeError(f"a layer config must be a dict, got {config!r:.80}")
        name = config.get("layer")
        layer_class = LAYERS.get(name) if isinstance(name, str) else None
        if layer_class is None or not issubclass(layer_class, cls):
            raise ValueError(f"unknown layer {name!r:.60}; the layers are {', '.join(LAYERS)}")
        arguments = {key: value for key, value in config.items() if key != "layer"}
        try:
            return layer_class._from_arguments(arguments)
        except TypeError as error:
            raise ValueError(f"invalid {name} config: {error}") from None

    @classmethod
    def _from_arguments(cls, arguments: dict[str, Any]) -> Layer:
        return cls(**arguments)

    def __repr__(self) -> str:
        config = self.config()
        del config["layer"]
        arguments = ", ".join(f"{key}={value!r}" for key, value in config.items())
        return f"{type(self).__name__}({arguments})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layer) and self.config() == other.config()

    __hash__ = None  # type: ignore[assignment]


def _plain(value: Any) -> Any:
    """Tuples as lists, layers as their configs (JSON-compatible)."""
    if isinstance(value, (list, tuple)):
        return [_plain(entry) for entry in value]
    if isinstance(value, Layer):
        return value.config()
    return value
