"""The native module, as compiled for this CPU (see ``_dispatch``; its API is in ``_core.pyi``).

Every name of the chosen ``nncore._core_<level>`` is re-exported here, so the rest of the package
imports ``nncore._core`` whatever the variant.
"""

from ._dispatch import load

_variant = load()
globals().update({k: v for k, v in vars(_variant).items() if not k.startswith("__")})
__version__ = _variant.__version__
