"""Update rules for ``MLP.fit``, each a subclass of ``Optimizer`` registered in ``OPTIMIZERS`` under
its ``name`` (``"sgd"``, ``"adam"``, ...), the names ``fit(optimizer=...)``, ``get_optimizer``,
model files, the command line's ``--optimizer`` and the scikit-learn estimators' ``solver`` accept.

Each is exactly the PyTorch optimizer of the same name (``torch.optim.SGD``, ``Adam``, ``AdamW``,
``RMSprop``, ``Adagrad`` with ``maximize=False``, ``amsgrad=False``), run natively on the model's
flat parameter vector ``θ`` and flat gradient vector ``g``. Every update is, in this order:

1. ``t ← t + 1`` (one count per update of the whole vector)
2. with ``clip_norm = c``: ``g ← g · min(1, c / (‖g‖₂ + 1e-6))``, exactly
   ``torch.nn.utils.clip_grad_norm_(params, c)`` (including its ``1e-6``) over all parameters;
3. with ``clip_value = c``: ``g ← clamp(g, −c, c)``, as ``torch.nn.utils.clip_grad_value_``;
4. weight decay ``λ``: ``g ← g + λ·θ`` (L2, coupled) for SGD, Adam, RMSProp and Adagrad,
   ``θ ← θ − η·λ·θ`` (decoupled) for AdamW;
5. the rule itself (see each class).

The clipped and decayed gradient is a scratch copy: the caller's gradient array is not changed.
An optimizer's state (moment vectors, ``t``) is created by its first update, sized from that
gradient, and carries over between ``fit`` calls; ``state_dict``/``load_state_dict`` copy it out
and in, ``reset`` forgets it. One optimizer serves one model: a model with another number of
parameters raises ``ValueError`` until ``reset()``, and another dtype always does. The core
computes in the model's dtype: a nonzero hyper-parameter that float32 cannot hold (one that
overflows it, above about 3.4e38, or rounds to 0 in it, below about 1.4e-45) raises
``ValueError`` when the optimizer meets a float32 model (``fit``, ``step``). These checks run
before anything changes: a refused ``fit`` or ``step`` leaves the optimizer as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from . import _core
from ._registry import register
from ._validation import (
    MAX_STEP_COUNT,
    as_float_array,
    check_dtype,
    check_float,
    check_int,
    check_representable,
)

__all__ = [
    "LBFGS",
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSProp",
    "get_optimizer",
]

#: Every update rule by its ``name``: each subclass of ``Optimizer`` that sets a ``name`` of its
#: own adds itself here when it is defined (``Optimizer.__init_subclass__``).
OPTIMIZERS: dict[str, type[Optimizer]] = {}


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _check_fraction(value: Any, name: str, closed: bool = False) -> float:
    """A real number in ``[0, 1)`` (``[0, 1]`` when ``closed``)."""
    result = check_float(value, name, minimum=0.0)
    if result > 1.0 or (result == 1.0 and not closed):
        raise ValueError(f"{name} must be in [0, 1{']' if closed else ')'}, got {value}")
    return result


def _check_clip(value: Any, name: str) -> float | None:
    return None if value is None else check_float(value, name, minimum=0.0, strict=True)


class Optimizer:
    """Base class of the update rules: the options they share and their state.

    Parameters (every rule)
    -----------------------
    learning_rate : float
        ``η >= 0``. Readable and settable (``opt.learning_rate = 0.01``) at any time; a
        learning-rate schedule in ``fit`` varies the rate of each epoch starting from it.
    weight_decay : float
        ``λ >= 0``; coupled (``g ← g + λ·θ``) except for ``AdamW`` (``θ ← θ − η·λ·θ``).
    clip_norm : float or None
        ``c > 0``: rescale ``g`` to global L2 norm at most ``c``, as
        ``torch.nn.utils.clip_grad_norm_`` (``g ← g · min(1, c / (‖g‖₂ + 1e-6))``).
    clip_value : float or None
        ``c > 0``: clamp every gradient entry to ``[−c, c]`` (after ``clip_norm``).

    Raises ``ValueError``/``TypeError`` naming a hyper-parameter out of range.
    """

    #: The name the rule is registered under in ``OPTIMIZERS`` (lower case; the base has none).
    name: ClassVar[str] = ""
    #: Whether this is a full-batch solver that runs its own iterations over all the training
    #: rows (``LBFGS``) rather than an update rule of the mini-batch loop.
    full_batch: ClassVar[bool] = False
    _native_types: ClassVar[dict[np.dtype[Any], Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that sets its own ``name`` is a new rule and joins ``OPTIMIZERS``
        (``TypeError`` for a name that is taken); one that inherits its name does not."""
        super().__init_subclass__(**kwargs)
        register(OPTIMIZERS, cls, "optimizer")

    def __init__(
        self,
        learning_rate: float = 0.01,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        self._learning_rate = check_float(learning_rate, "learning_rate", minimum=0.0)
        self._weight_decay = check_float(weight_decay, "weight_decay", minimum=0.0)
        self._clip_norm = _check_clip(clip_norm, "clip_norm")
        self._clip_value = _check_clip(clip_value, "clip_value")
        self._native_optimizer: Any = None

    # ----------------------------------------------------------------- hyper-parameters
    @property
    def learning_rate(self) -> float:
        """``η``, the rate of this optimizer's updates.

        Inside ``fit`` a learning-rate schedule sets the rate of each epoch on the native object,
        starting from this value, and leaves this value as it is: the next ``fit`` starts its
        schedule from it again (the rates used are in the history).
        """
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = check_float(value, "learning_rate", minimum=0.0)
        if self._native_optimizer is not None:
            self._native_optimizer.learning_rate = self._learning_rate

    @property
    def weight_decay(self) -> float:
        return self._weight_decay

    @property
    def clip_norm(self) -> float | None:
        return self._clip_norm

    @property
    def clip_value(self) -> float | None:
        return self._clip_value

    def _rule_hyperparameters(self) -> dict[str, Any]:
        """The hyper-parameters of the rule itself, as keyword arguments of the native type."""
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        """All constructor arguments: ``type(opt)(**opt.hyperparameters())`` is a fresh copy."""
        return {
            "learning_rate": self.learning_rate,
            **self._rule_hyperparameters(),
            "weight_decay": self._weight_decay,
            "clip_norm": self._clip_norm,
            "clip_value": self._clip_value,
        }

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self.hyperparameters().items())
        return f"{type(self).__name__}({fields})"

    # ----------------------------------------------------------------- native object and state
    @property
    def dtype(self) -> np.dtype[Any] | None:
        """The dtype this optimizer works in: fixed by its first use, ``None`` before."""
        if self._native_optimizer is None:
            return None
        is_f32 = isinstance(self._native_optimizer, _core.OptimizerF32)
        return np.dtype(np.float32 if is_f32 else np.float64)

    @property
    def parameter_count(self) -> int | None:
        """The number of parameters the state is for (fixed by the first update or the loaded
        state), or None while it is not fixed (before the first update, after ``reset``)."""
        if self._native_optimizer is None:
            return None
        count: int | None = self._native_optimizer.parameter_count
        return count

    def _check_model(
        self, dtype: Any, n_parameters: int, learning_rate: float | None = None
    ) -> np.dtype[Any]:
        """Whether this optimizer can update ``n_parameters`` parameters of ``dtype`` (at
        ``learning_rate``, default its own): the dtype it works in, the number of parameters
        its state is for, and every nonzero hyper-parameter nonzero and finite in ``dtype``.
        Raises ``ValueError`` otherwise; changes nothing. Returns the checked dtype."""
        wanted = self._usable_dtype(dtype)
        count = self.parameter_count
        if count is not None and count != n_parameters:
            raise ValueError(
                f"this {type(self).__name__} optimizer's state is for {count} parameters, the "
                f"model has {n_parameters}; call its reset() (or use another optimizer) to train "
                "another model with it"
            )
        hyperparameters = self.hyperparameters()
        if learning_rate is not None:
            hyperparameters["learning_rate"] = learning_rate
        for name, value in hyperparameters.items():
            values = value if isinstance(value, tuple) else (value,)
            for i, item in enumerate(values):
                if isinstance(item, float):
                    where = f"{name}[{i}]" if isinstance(value, tuple) else name
                    check_representable(item, where, wanted)
        return wanted

    def _usable_dtype(self, dtype: Any) -> np.dtype[Any]:
        """``dtype`` checked, if this optimizer can work in it (the dtype of its first use)."""
        wanted = check_dtype(dtype)
        if self.dtype is not None and self.dtype != wanted:
            raise ValueError(
                f"this {type(self).__name__} optimizer works in {self.dtype} (its first model's "
                f"dtype); create another one for a {wanted} model"
            )
        return wanted

    def _native(self, dtype: Any) -> Any:
        """The native optimizer (``_core.<Rule>F32``/``F64``) for models of ``dtype``.

        Created on the first call and the same object afterwards, so its state carries over;
        every call sets its learning rate to ``learning_rate`` (a schedule may have changed it).
        Raises ``ValueError`` when asked for another dtype than the first call's.
        """
        wanted = self._usable_dtype(dtype)
        if self._native_optimizer is None:
            self._native_optimizer = self._native_types[wanted](
                self._learning_rate,
                **self._rule_hyperparameters(),
                weight_decay=self._weight_decay,
                clip_norm=self._clip_norm,
                clip_value=self._clip_value,
            )
        else:
            self._native_optimizer.learning_rate = self._learning_rate
        return self._native_optimizer

    def _undoer(self) -> Callable[[], None]:
        """A function that puts back this optimizer's learning rate and, if it has no native
        object yet, that absence (so its dtype is free again): for a ``fit`` that is refused
        before its first update."""
        rate, native = self._learning_rate, self._native_optimizer

        def undo() -> None:
            self._native_optimizer = native
            self.learning_rate = rate

        return undo

    @property
    def step_count(self) -> int:
        """``t``: the number of updates since creation, ``reset`` or the loaded state."""
        return 0 if self._native_optimizer is None else int(self._native_optimizer.step_count)

    def step(self, parameters: npt.NDArray[Any], gradients: Any) -> None:
        """One update of ``parameters`` in place from ``gradients`` (for custom loops).

        ``parameters``: a writeable, aligned, C-contiguous, non-empty 1-D float32 or float64
        array (the optimizer's dtype is fixed by the first call); ``gradients``: real numbers of
        the same length, finite, converted to that dtype (copied only if needed; never modified).
        Raises ``TypeError`` for a non-array or non-numeric input, ``ValueError`` for anything
        else (another dtype or length than the state's, a hyper-parameter float32 cannot hold);
        the parameters and the state are then unchanged.
        """
        if not isinstance(parameters, np.ndarray):
            raise TypeError(f"parameters must be a NumPy array, got {type(parameters).__name__}")
        if parameters.ndim != 1 or not parameters.flags.c_contiguous or parameters.size == 0:
            raise ValueError("parameters must be a non-empty C-contiguous 1-D array")
        if not parameters.flags.writeable or not parameters.flags.aligned:
            raise ValueError("parameters must be a writeable, aligned array (updated in place)")
        if parameters.dtype not in (np.float32, np.float64):
            raise ValueError(f"parameters must be float32 or float64, got {parameters.dtype}")
        grads = as_float_array(gradients, "gradients", parameters.dtype, ndim=1)
        if grads.shape != parameters.shape:
            raise ValueError(f"gradients must have shape {parameters.shape}, got {grads.shape}")
        self._check_model(parameters.dtype, parameters.size)
        self._native(parameters.dtype).step(parameters, grads)

    def reset(self) -> None:
        """Forget the state (moments and ``t``), as before the first update. The dtype stays."""
        if self._native_optimizer is not None:
            self._native_optimizer.reset()

    def state_dict(self) -> dict[str, Any]:
        """A copy of everything needed to continue training with this optimizer::

            {"name": "adam", "dtype": "float32" or None,
             "hyperparameters": {...},            # as hyperparameters()
             "state": {"step": t, "exp_avg": 1-D array, ...}}

        The state vectors (named as PyTorch's state keys) are copies, as long as the model's
        parameter vector; before the first update ``state`` is ``{"step": 0}``.
        """
        dtype = self.dtype
        state: dict[str, Any] = (
            {"step": 0} if self._native_optimizer is None else self._native_optimizer.state
        )
        return {
            "name": self.name,
            "dtype": None if dtype is None else dtype.name,
            "hyperparameters": self.hyperparameters(),
            "state": state,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a ``state_dict`` of an optimizer of the same rule and hyper-parameters (the
        learning rate may differ: it is restored too). Use ``Optimizer.from_state_dict`` to
        create the optimizer from it instead. ``state["step"]`` must be an integer in
        ``[0, 2**62 − 1]`` and the state vectors finite 1-D arrays of one length. Raises
        ``ValueError``/``TypeError``; nothing changes then.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        missing = {"name", "dtype", "hyperparameters", "state"} - set(state_dict)
        if missing:
            raise ValueError(f"state_dict lacks {', '.join(sorted(missing))}")
        if state_dict["name"] != self.name:
            raise ValueError(
                f"state_dict is of a {state_dict['name']!r} optimizer, this one is {self.name!r}"
            )
        if not isinstance(state_dict["hyperparameters"], dict):
            raise TypeError("state_dict['hyperparameters'] must be a dict")
        theirs = dict(state_dict["hyperparameters"])
        ours = self.hyperparameters()
        learning_rate = check_float(
            theirs.pop("learning_rate", None), "state_dict learning_rate", minimum=0.0
        )
        ours.pop("learning_rate")
        if {key: _plain(value) for key, value in theirs.items()} != ours:
            raise ValueError(
                f"state_dict hyper-parameters {theirs} differ from this optimizer's {ours}; "
                "create the optimizer with Optimizer.from_state_dict"
            )
        state = state_dict["state"]
        if not isinstance(state, dict) or "step" not in state:
            raise ValueError("state_dict['state'] must be a dict with a 'step' entry")
        step = check_int(state["step"], "state_dict['state']['step']", 0, MAX_STEP_COUNT)
        if state_dict["dtype"] is None:
            if step != 0 or len(state) != 1:
                raise ValueError("a state_dict without dtype must have the state {'step': 0}")
            self.reset()
            self.learning_rate = learning_rate
            return
        dtype = self._usable_dtype(state_dict["dtype"])
        vectors = {
            key: np.array(
                as_float_array(value, f"state_dict['state'][{key!r}]", dtype, ndim=1), copy=True
            )
            for key, value in state.items()
            if key != "step"
        }
        created = self._native_optimizer is None
        native = self._native(dtype)
        try:
            native.state = {"step": step, **vectors}
        except (ValueError, TypeError):
            if created:
                self._native_optimizer = None
            raise
        self.learning_rate = learning_rate

    def __getstate__(self) -> dict[str, Any]:
        """Pickling and ``copy.deepcopy`` go through ``state_dict`` (the native object is not
        picklable itself); a copy has its own state."""
        return self.state_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, **state["hyperparameters"])
        self.load_state_dict(state)

    @staticmethod
    def from_state_dict(state_dict: dict[str, Any]) -> Optimizer:
        """A new optimizer of the rule and hyper-parameters of ``state_dict``, holding its state."""
        if not isinstance(state_dict, dict) or "name" not in state_dict:
            raise ValueError("state_dict must be a dict from Optimizer.state_dict()")
        rule = OPTIMIZERS.get(state_dict["name"]) if isinstance(state_dict["name"], str) else None
        if rule is None:
            raise ValueError(f"unknown optimizer {state_dict['name']!r} in state_dict")
        optimizer = rule(**state_dict.get("hyperparameters", {}))
        optimizer.load_state_dict(state_dict)
        return optimizer


def _plain(value: Any) -> Any:
    """Hyper-parameter values as ``hyperparameters()`` holds them (tuples, not lists)."""
    return tuple(value) if isinstance(value, list) else value


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum: exactly ``torch.optim.SGD``.

    With ``g`` the gradient after clipping and weight decay (module docstring), momentum ``μ``,
    dampening ``τ``, learning rate ``η`` and ``t`` the update count::

        μ = 0:  θ ← θ − η·g
        μ > 0:  b ← g                      if t = 1
                b ← μ·b + (1 − τ)·g        otherwise
                θ ← θ − η·(g + μ·b)        nesterov=True
                θ ← θ − η·b                nesterov=False

    Parameters: ``learning_rate=0.01`` (torch has no default), ``momentum=0`` (``μ >= 0``),
    ``dampening=0`` (``τ`` in ``[0, 1]``; torch does not restrict it), ``nesterov=False``
    (needs ``μ > 0`` and ``τ = 0``, as torch), and the shared ``weight_decay=0``,
    ``clip_norm=None``, ``clip_value=None`` (see ``Optimizer``). State: ``"momentum_buffer"``
    ``b`` when ``μ > 0``.
    """

    name = "sgd"
    _native_types: ClassVar[dict[np.dtype[Any], Any]] = {
        np.dtype(np.float32): _core.SGDF32,
        np.dtype(np.float64): _core.SGDF64,
    }

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clip_norm, clip_value)
        self._momentum = check_float(momentum, "momentum", minimum=0.0)
        self._dampening = _check_fraction(dampening, "dampening", closed=True)
        self._nesterov = _check_bool(nesterov, "nesterov")
        if self._nesterov and (self._momentum <= 0.0 or self._dampening != 0.0):
            raise ValueError("nesterov=True requires momentum > 0 and dampening = 0")

    @property
    def momentum(self) -> float:
        return self._momentum

    @property
    def dampening(self) -> float:
        return self._dampening

    @property
    def nesterov(self) -> bool:
        return self._nesterov

    def _rule_hyperparameters(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "dampening": self.dampening, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam: exactly ``torch.optim.Adam`` (``amsgrad=False``).

    With ``g`` the gradient after clipping and weight decay ``g ← g + λ·θ`` (module docstring),
    ``t`` the update count, ``betas = (β₁, β₂)``::

        m ← β₁·m + (1 − β₁)·g
        v ← β₂·v + (1 − β₂)·g²
        θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)

    Parameters: ``learning_rate=1e-3``, ``betas=(0.9, 0.999)`` (each in ``[0, 1)``),
    ``eps=1e-8`` (``ε > 0``; torch allows 0), and the shared ``weight_decay=0``,
    ``clip_norm=None``, ``clip_value=None`` (see ``Optimizer``); all PyTorch's defaults.
    State: ``"exp_avg"`` ``m`` and ``"exp_avg_sq"`` ``v``, starting at 0.
    """

    name = "adam"
    _native_types: ClassVar[dict[np.dtype[Any], Any]] = {
        np.dtype(np.float32): _core.AdamF32,
        np.dtype(np.float64): _core.AdamF64,
    }

    def __init__(
        self,
        learning_rate: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clip_norm, clip_value)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self._betas = (_check_fraction(betas[0], "betas[0]"), _check_fraction(betas[1], "betas[1]"))
        self._eps = check_float(eps, "eps", minimum=0.0, strict=True)

    @property
    def betas(self) -> tuple[float, float]:
        return self._betas

    @property
    def eps(self) -> float:
        return self._eps

    def _rule_hyperparameters(self) -> dict[str, Any]:
        return {"betas": self.betas, "eps": self.eps}


class AdamW(Adam):
    """AdamW, Adam with decoupled weight decay: exactly ``torch.optim.AdamW`` (``amsgrad=False``).

    With ``g`` the gradient after clipping (module docstring; no ``λ·θ`` is added to it)::

        θ ← θ − η·λ·θ
        m ← β₁·m + (1 − β₁)·g
        v ← β₂·v + (1 − β₂)·g²
        θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)

    Parameters as ``Adam``, with PyTorch's AdamW default ``weight_decay=1e-2``.
    State: ``"exp_avg"`` and ``"exp_avg_sq"``.
    """

    name = "adamw"
    _native_types: ClassVar[dict[np.dtype[Any], Any]] = {
        np.dtype(np.float32): _core.AdamWF32,
        np.dtype(np.float64): _core.AdamWF64,
    }

    def __init__(
        self,
        learning_rate: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        super().__init__(learning_rate, betas, eps, weight_decay, clip_norm, clip_value)


class RMSProp(Optimizer):
    """RMSProp, optionally centred and with momentum: exactly ``torch.optim.RMSprop``.

    With ``g`` the gradient after clipping and weight decay (module docstring), smoothing
    constant ``α``::

        v ← α·v + (1 − α)·g²
        centered:      ḡ ← α·ḡ + (1 − α)·g,   d = √(v − ḡ²) + ε
        not centered:  d = √v + ε
        μ > 0:         b ← μ·b + g/d,   θ ← θ − η·b
        μ = 0:         θ ← θ − η·g/d

    Parameters: ``learning_rate=1e-2``, ``alpha=0.99`` (in ``[0, 1)``; torch allows any
    ``α >= 0``), ``eps=1e-8`` (``> 0``), ``momentum=0`` (``μ >= 0``), ``centered=False``, and
    the shared ``weight_decay=0``, ``clip_norm=None``, ``clip_value=None``; all PyTorch's
    defaults. State: ``"square_avg"`` ``v``, ``"momentum_buffer"`` ``b`` (when ``μ > 0``),
    ``"grad_avg"`` ``ḡ`` (when centred), starting at 0.
    """

    name = "rmsprop"
    _native_types: ClassVar[dict[np.dtype[Any], Any]] = {
        np.dtype(np.float32): _core.RMSPropF32,
        np.dtype(np.float64): _core.RMSPropF64,
    }

    def __init__(
        self,
        learning_rate: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        centered: bool = False,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clip_norm, clip_value)
        self._alpha = _check_fraction(alpha, "alpha")
        self._eps = check_float(eps, "eps", minimum=0.0, strict=True)
        self._momentum = check_float(momentum, "momentum", minimum=0.0)
        self._centered = _check_bool(centered, "centered")

    @property
    def alpha(self) -> float:
        return self._alpha

    @property
    def eps(self) -> float:
        return self._eps

    @property
    def momentum(self) -> float:
        return self._momentum

    @property
    def centered(self) -> bool:
        return self._centered

    def _rule_hyperparameters(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "eps": self.eps,
            "momentum": self.momentum,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """Adagrad: exactly ``torch.optim.Adagrad``.

    With ``g`` the gradient after clipping and weight decay (module docstring), ``t`` the update
    count and learning-rate decay ``δ``::

        η_t = η / (1 + (t − 1)·δ)
        s ← s + g²
        θ ← θ − η_t · g / (√s + ε)

    Parameters: ``learning_rate=1e-2``, ``lr_decay=0`` (``δ >= 0``),
    ``initial_accumulator_value=0`` (``>= 0``, the initial ``s``), ``eps=1e-10`` (``> 0``), and
    the shared ``weight_decay=0``, ``clip_norm=None``, ``clip_value=None``; all PyTorch's
    defaults. State: ``"sum"`` ``s``.
    """

    name = "adagrad"
    _native_types: ClassVar[dict[np.dtype[Any], Any]] = {
        np.dtype(np.float32): _core.AdagradF32,
        np.dtype(np.float64): _core.AdagradF64,
    }

    def __init__(
        self,
        learning_rate: float = 1e-2,
        lr_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None:
        super().__init__(learning_rate, weight_decay, clip_norm, clip_value)
        self._lr_decay = check_float(lr_decay, "lr_decay", minimum=0.0)
        self._initial_accumulator_value = check_float(
            initial_accumulator_value, "initial_accumulator_value", minimum=0.0
        )
        self._eps = check_float(eps, "eps", minimum=0.0, strict=True)

    @property
    def lr_decay(self) -> float:
        return self._lr_decay

    @property
    def initial_accumulator_value(self) -> float:
        return self._initial_accumulator_value

    @property
    def eps(self) -> float:
        return self._eps

    def _rule_hyperparameters(self) -> dict[str, Any]:
        return {
            "lr_decay": self.lr_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
        }


class LBFGS(Optimizer):
    """Full-batch L-BFGS, the quasi-Newton method of scikit-learn's ``solver="lbfgs"`` (which
    calls scipy's L-BFGS-B without bounds), run natively on the model's flat parameter vector.

    ``fit(optimizer=LBFGS(...))`` minimises, over all the training rows at once (no batches, no
    dropout), ``F(θ) = Σ_i w_i ℓ_i(θ) / Σ_i w_i + ½·λ·‖θ‖²`` (``λ = weight_decay``, every
    parameter, as the other rules' coupled decay). Each iteration (an epoch of ``fit``)::

        d = −H·∇F(θ)           two-loop recursion over the last m pairs (s, y), H⁰ = (sᵀy/yᵀy)·I
        θ ← θ + α·d            α from a line search satisfying the strong Wolfe conditions
                               (c1 = 1e-4, c2 = 0.9; bracketing, then cubic/quadratic zoom)

    and stops, as scipy's does, when ``max_i |∂F/∂θ_i| <= tol`` (``"gradient_tolerance"``), when
    ``(F_prev − F) / max(|F_prev|, |F|, 1) <= ftol`` (``"loss_tolerance"``), after ``epochs``
    iterations (``"max_epochs"``) or ``max_fun`` evaluations of ``F`` (``"max_evaluations"``;
    never exceeded, the line searches' evaluations included). A direction that is not a descent
    direction resets the memory (steepest descent); a failed line search is retried once from
    steepest descent and then stops with ``"line_search_failed"``; a trial point with a
    non-finite loss shrinks the step and is never accepted; the model ends with the parameters of
    the lowest loss evaluated.

    Parameters: ``m=10`` (``>= 1``, correction pairs), ``max_fun=15000`` (``>= 1``), ``tol=1e-5``
    and ``ftol=2.220446049250313e-09`` (``>= 0``; scipy's ``gtol`` and ``ftol`` defaults),
    ``max_line_search=20`` (``>= 1``, evaluations per line search, scipy's ``maxls``),
    ``weight_decay=0`` (``λ >= 0``). No state carries over between ``fit`` calls (each starts a
    new memory, as scipy does); ``step`` is refused (L-BFGS needs the loss, not only a gradient).
    The history's ``learning_rate`` of an iteration is its step ``α``.
    """

    name = "lbfgs"
    full_batch = True

    def __init__(
        self,
        m: int = 10,
        max_fun: int = 15000,
        tol: float = 1e-5,
        ftol: float = 2.220446049250313e-09,
        max_line_search: int = 20,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(learning_rate=1.0, weight_decay=weight_decay)
        self._m = check_int(m, "m", 1, MAX_STEP_COUNT)
        self._max_fun = check_int(max_fun, "max_fun", 1, MAX_STEP_COUNT)
        self._tol = check_float(tol, "tol", minimum=0.0)
        self._ftol = check_float(ftol, "ftol", minimum=0.0)
        self._max_line_search = check_int(max_line_search, "max_line_search", 1, MAX_STEP_COUNT)

    @property
    def m(self) -> int:
        return self._m

    @property
    def max_fun(self) -> int:
        return self._max_fun

    @property
    def tol(self) -> float:
        return self._tol

    @property
    def ftol(self) -> float:
        return self._ftol

    @property
    def max_line_search(self) -> int:
        return self._max_line_search

    def _rule_hyperparameters(self) -> dict[str, Any]:
        return {
            "m": self.m,
            "max_fun": self.max_fun,
            "tol": self.tol,
            "ftol": self.ftol,
            "max_line_search": self.max_line_search,
        }

    def hyperparameters(self) -> dict[str, Any]:
        """All constructor arguments: ``LBFGS(**opt.hyperparameters())`` is a fresh copy."""
        return {**self._rule_hyperparameters(), "weight_decay": self.weight_decay}

    def native_options(self, max_iter: int, target_loss: float | None = None) -> Any:
        """The core's settings of one run (``_core.LBFGSOptions``) of at most ``max_iter``
        iterations, stopping early once the loss is ``<= target_loss`` (None: never)."""
        return _core.LBFGSOptions(
            m=self.m,
            max_iter=max_iter,
            max_fun=self.max_fun,
            tol=self.tol,
            ftol=self.ftol,
            max_line_search=self.max_line_search,
            target_loss=target_loss,
        )

    def _native(self, dtype: Any) -> Any:
        """The core's settings of a run with no limit of its own on iterations (``fit`` sets
        them): L-BFGS has no native object with state."""
        self._usable_dtype(dtype)
        return self.native_options(MAX_STEP_COUNT)

    def step(self, parameters: npt.NDArray[Any], gradients: Any) -> None:
        """Refused with ``TypeError``: L-BFGS cannot update parameters from a gradient alone (its
        line search evaluates the loss); train with ``fit(optimizer="lbfgs")``."""
        raise TypeError(
            "LBFGS cannot update parameters from gradients alone: its line search evaluates the "
            "loss; train with fit(optimizer='lbfgs') instead"
        )

    def state_dict(self) -> dict[str, Any]:
        """``{"name": "lbfgs", "dtype": None, "hyperparameters": {...}, "state": {"step": 0}}``:
        L-BFGS keeps no state between ``fit`` calls."""
        return {
            "name": self.name,
            "dtype": None,
            "hyperparameters": self.hyperparameters(),
            "state": {"step": 0},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Accept a ``state_dict`` of an LBFGS with these hyper-parameters (there is no state to
        restore); ``ValueError``/``TypeError`` otherwise."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        if state_dict.get("name") != self.name:
            raise ValueError(f"state_dict is of a {state_dict.get('name')!r} optimizer, not lbfgs")
        if state_dict.get("hyperparameters") != self.hyperparameters():
            raise ValueError(
                f"state_dict hyper-parameters {state_dict.get('hyperparameters')} differ from "
                f"this optimizer's {self.hyperparameters()}"
            )
        if state_dict.get("dtype") is not None or state_dict.get("state") != {"step": 0}:
            raise ValueError("an lbfgs state_dict has dtype None and the state {'step': 0}")


def get_optimizer(
    optimizer: str | Optimizer | type[Optimizer], learning_rate: float | None = None
) -> Optimizer:
    """The optimizer for ``optimizer``: a name of ``OPTIMIZERS`` (any case) gives a new one with
    that rule's defaults, a class a new instance of it, and an instance is returned as it is.

    ``learning_rate``, when not None, sets the learning rate of the result (of the given instance
    too). Raises ``ValueError`` for an unknown name or a bad learning rate, ``TypeError`` for
    anything else.
    """
    if isinstance(optimizer, Optimizer):
        result = optimizer
    elif isinstance(optimizer, type) and issubclass(optimizer, Optimizer) and optimizer.name:
        result = optimizer()
    elif isinstance(optimizer, str):
        rule = OPTIMIZERS.get(optimizer.lower())
        if rule is None:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZERS)} or an "
                "nncore.optim optimizer"
            )
        result = rule()
    else:
        raise TypeError(
            f"optimizer must be a name ({', '.join(OPTIMIZERS)}) or an nncore.optim optimizer, "
            f"got {optimizer!r}"
        )
    if learning_rate is not None:
        result.learning_rate = learning_rate
    return result
