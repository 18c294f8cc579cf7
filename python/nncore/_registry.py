"""Registries: one dict per concept, filled by the classes that define the concept's members.

``nncore.optim.OPTIMIZERS`` and ``nncore.schedules.SCHEDULES`` map a name to a class; a class joins
its registry by defining a ``name`` of its own (``Optimizer.__init_subclass__`` and
``Schedule.__init_subclass__`` call ``register``), so there is no hand-kept list to update when a
member is added. Everything else (``get_optimizer``, the model file, the command line's choices,
the scikit-learn estimators' ``solver`` check, error messages, tests) reads the registry.
"""

from __future__ import annotations

import re
from typing import TypeVar

T = TypeVar("T")

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def register(registry: dict[str, type[T]], cls: type[T], concept: str) -> None:
    """Add ``cls`` to ``registry`` under ``cls.name`` if the class defines ``name`` itself (a
    subclass that inherits its parent's name is a variant, not a new member).

    Raises ``TypeError`` for a name that is not lower-case letters, digits and underscores, or
    that another class has already taken.
    """
    if "name" not in vars(cls):
        return
    name = vars(cls)["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TypeError(
            f"{cls.__qualname__}.name must be lower-case letters, digits and underscores, "
            f"got {name!r}"
        )
    if name in registry:
        raise TypeError(
            f"the {concept} name {name!r} of {cls.__qualname__} is taken by "
            f"{registry[name].__module__}.{registry[name].__qualname__}"
        )
    registry[name] = cls
