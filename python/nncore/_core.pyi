"""Type stub of the private native module ``nncore._core`` (see cpp/bindings/)."""

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

__version__: str
_sanitized: bool

_F = TypeVar("_F", np.float32, np.float64)

class DivergenceError(FloatingPointError): ...

def _last_input_address() -> int: ...

class Random:
    def __init__(self, seed: int) -> None: ...
    state: tuple[int, int, int, int]
    def uniform01(self) -> float: ...
    def normal(self) -> float: ...

# The core's lists of names (cpp/src/activation.cpp, cpp/src/loss.cpp; bound in bind_network.cpp):
# every name it parses, aliases included, mapped to the kind's own name.
def activation_names() -> dict[str, str]: ...
def loss_names() -> dict[str, str]: ...

# The layers (bind_layers.cpp): one class per layer type and dtype, all derived from Layer<dtype>.
class _Layer:
    @property
    def n_inputs(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def parameters(self) -> list[tuple[str, list[int]]]: ...
    @property
    def state(self) -> list[tuple[str, list[int]]]: ...

class LayerF32(_Layer): ...
class LayerF64(_Layer): ...

class _Dense:
    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        activation: str,
        leaky_relu_slope: float,
        elu_alpha: float,
        use_bias: bool,
    ) -> None: ...

class DenseF32(_Dense, LayerF32): ...
class DenseF64(_Dense, LayerF64): ...

class _Dropout:
    def __init__(self, width: int, rate: float) -> None: ...

class DropoutF32(_Dropout, LayerF32): ...
class DropoutF64(_Dropout, LayerF64): ...

class _Embedding:
    def __init__(
        self, n_inputs: int, columns: list[int], cardinalities: list[int], dim: int
    ) -> None: ...

class EmbeddingF32(_Embedding, LayerF32): ...
class EmbeddingF64(_Embedding, LayerF64): ...

class _Activation:
    def __init__(
        self, width: int, name: str, leaky_relu_slope: float, elu_alpha: float
    ) -> None: ...

class ActivationF32(_Activation, LayerF32): ...
class ActivationF64(_Activation, LayerF64): ...

class ResidualF32(LayerF32):
    def __init__(self, layers: list[LayerF32]) -> None: ...

class ResidualF64(LayerF64):
    def __init__(self, layers: list[LayerF64]) -> None: ...

# A layer stack over flat buffers (bind_sequential.cpp); a Network is one.
class _Sequential(Generic[_F]):
    @property
    def n_inputs(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def min_training_rows(self) -> int: ...
    @property
    def parameter_layout(self) -> list[tuple[str, tuple[int, ...], int]]: ...
    @property
    def state_layout(self) -> list[tuple[str, tuple[int, ...], int]]: ...
    @property
    def parameters(self) -> npt.NDArray[_F]: ...
    @property
    def gradients(self) -> npt.NDArray[_F]: ...
    @property
    def state(self) -> npt.NDArray[_F]: ...
    def initialize(self, initializer: str, random: Random) -> None: ...
    def forward(self, X: npt.NDArray[_F]) -> npt.NDArray[_F]: ...
    def evaluate(
        self,
        X: npt.NDArray[_F],
        Y: npt.NDArray[_F],
        weights: npt.NDArray[_F],
        loss: str,
        delta: float,
    ) -> tuple[float, float]: ...
    def backward(
        self,
        X: npt.NDArray[_F],
        Y: npt.NDArray[_F],
        weights: npt.NDArray[_F],
        loss: str,
        delta: float,
    ) -> float: ...
    def gradient(
        self,
        X: npt.NDArray[_F],
        Y: npt.NDArray[_F],
        weights: npt.NDArray[_F],
        loss: str,
        delta: float,
    ) -> tuple[float, npt.NDArray[_F]]: ...

class SequentialF32(_Sequential[np.float32]):
    def __init__(self, layers: list[LayerF32]) -> None: ...

class SequentialF64(_Sequential[np.float64]):
    def __init__(self, layers: list[LayerF64]) -> None: ...

class _Network:
    def __init__(
        self,
        layer_sizes: list[int],
        activations: list[str],
        leaky_relu_slope: float,
        elu_alpha: float,
        use_bias: bool,
        dropout: list[float],
    ) -> None: ...
    @property
    def layer_sizes(self) -> list[int]: ...
    @property
    def activations(self) -> list[str]: ...
    @property
    def dropout(self) -> list[float]: ...
    @property
    def use_bias(self) -> bool: ...
    def offsets(self, layer: int) -> tuple[int, int]: ...

class NetworkF32(_Network, SequentialF32): ...
class NetworkF64(_Network, SequentialF64): ...

class _Optimizer(Generic[_F]):
    @property
    def name(self) -> str: ...
    @property
    def learning_rate(self) -> float: ...
    @learning_rate.setter
    def learning_rate(self, value: float) -> None: ...
    @property
    def weight_decay(self) -> float: ...
    @property
    def clip_norm(self) -> float | None: ...
    @property
    def clip_value(self) -> float | None: ...
    @property
    def step_count(self) -> int: ...
    @property
    def parameter_count(self) -> int | None: ...
    @property
    def state_names(self) -> list[str]: ...
    @property
    def state(self) -> dict[str, Any]: ...
    @state.setter
    def state(self, value: dict[str, Any]) -> None: ...
    def reset(self) -> None: ...
    def step(self, parameters: npt.NDArray[_F], gradients: npt.NDArray[_F]) -> None: ...

class OptimizerF32(_Optimizer[np.float32]): ...
class OptimizerF64(_Optimizer[np.float64]): ...

class _SGD:
    def __init__(
        self,
        learning_rate: float = 0.01,
        *,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None: ...
    @property
    def momentum(self) -> float: ...
    @property
    def dampening(self) -> float: ...
    @property
    def nesterov(self) -> bool: ...

class SGDF32(_SGD, OptimizerF32): ...
class SGDF64(_SGD, OptimizerF64): ...

class _Adam:
    def __init__(
        self,
        learning_rate: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None: ...
    @property
    def betas(self) -> tuple[float, float]: ...
    @property
    def eps(self) -> float: ...

class AdamF32(_Adam, OptimizerF32): ...
class AdamF64(_Adam, OptimizerF64): ...

class AdamWF32(AdamF32):
    def __init__(
        self,
        learning_rate: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None: ...

class AdamWF64(AdamF64):
    def __init__(
        self,
        learning_rate: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None: ...

class _RMSProp:
    def __init__(
        self,
        learning_rate: float = 1e-2,
        *,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        centered: bool = False,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None: ...
    @property
    def alpha(self) -> float: ...
    @property
    def eps(self) -> float: ...
    @property
    def momentum(self) -> float: ...
    @property
    def centered(self) -> bool: ...

class RMSPropF32(_RMSProp, OptimizerF32): ...
class RMSPropF64(_RMSProp, OptimizerF64): ...

class _Adagrad:
    def __init__(
        self,
        learning_rate: float = 1e-2,
        *,
        lr_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
    ) -> None: ...
    @property
    def lr_decay(self) -> float: ...
    @property
    def initial_accumulator_value(self) -> float: ...
    @property
    def eps(self) -> float: ...

class AdagradF32(_Adagrad, OptimizerF32): ...
class AdagradF64(_Adagrad, OptimizerF64): ...

class FitOptions:
    """Every setting of one fit (cpp/bindings/bind_fit_options.cpp), each checked when set:
    TypeError for a wrong type, ValueError out of range, naming the setting."""

    def __init__(
        self,
        *,
        epochs: int = 100,
        batch_size: int = 32,
        shuffle: bool = True,
        target_loss: float | None = None,
        tol: float = 0.0,
        n_iter_no_change: int = 0,
        loss: str = "mean_squared_error",
        huber_delta: float = 1.0,
    ) -> None: ...
    epochs: int
    batch_size: int
    shuffle: bool
    target_loss: float | None
    tol: float
    n_iter_no_change: int
    loss: str
    huber_delta: float

class _Reduction(Protocol):
    """A data-parallel fit's collective calls (cpp/include/nncore/reduction.hpp)."""

    def sum(self, values: npt.NDArray[Any]) -> None: ...
    def max(self, value: int) -> int: ...
    def agree(self, error: BaseException | None) -> None: ...

_Data = tuple[npt.NDArray[_F], npt.NDArray[_F], npt.NDArray[_F]]

def fit(
    network: _Sequential[_F],
    optimizer: _Optimizer[_F],
    random: Random,
    train: _Data[_F],
    validation: _Data[_F] | None,
    options: FitOptions,
    on_epoch_end: Callable[[dict[str, Any]], bool] | None = None,
    reduction: _Reduction | None = None,
) -> tuple[list[dict[str, Any]], str]: ...

# L-BFGS (cpp/bindings/bind_lbfgs.cpp, bind_training.cpp; cpp/include/nncore/lbfgs.hpp)
class LBFGSOptions:
    """The settings of one L-BFGS run, checked by the core when it runs."""

    def __init__(
        self,
        m: int = 10,
        max_iter: int = 15000,
        max_fun: int = 15000,
        tol: float = 1e-5,
        ftol: float = 2.220446049250313e-09,
        max_line_search: int = 20,
        target_loss: float | None = None,
    ) -> None: ...
    @property
    def m(self) -> int: ...
    @property
    def max_iter(self) -> int: ...
    @property
    def max_fun(self) -> int: ...
    @property
    def tol(self) -> float: ...
    @property
    def ftol(self) -> float: ...
    @property
    def max_line_search(self) -> int: ...
    @property
    def target_loss(self) -> float | None: ...

#: (c1, c2) of the strong Wolfe conditions the line search satisfies.
lbfgs_wolfe_constants: tuple[float, float]

def fit_lbfgs(
    network: _Sequential[_F],
    options: LBFGSOptions,
    train: _Data[_F],
    validation: _Data[_F] | None,
    loss: str,
    delta: float,
    loss_scale: float,
    penalty: npt.NDArray[np.float64],
    on_iteration: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[list[dict[str, Any]], str, float, int]: ...
def minimize_lbfgs(
    fun: Callable[[npt.NDArray[np.float64]], tuple[float, npt.NDArray[np.float64]]],
    x0: npt.NDArray[np.float64],
    options: LBFGSOptions,
) -> tuple[npt.NDArray[np.float64], list[dict[str, Any]], str, float, int]: ...
def lbfgs_direction(
    g: npt.NDArray[np.float64], S: npt.NDArray[np.float64], Y: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]: ...

# Threads (cpp/bindings/bind_threads.cpp)
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def build_info() -> dict[str, Any]: ...

# The external BLAS for large products (cpp/bindings/bind_threads.cpp, nncore/_blas.py)
def _set_blas(sgemm: int, dgemm: int, get_threads: int, set_threads: int, name: str) -> None: ...
def _clear_blas() -> None: ...
def _blas_calls() -> int: ...
def _split_batches() -> int: ...
def blas_name() -> str: ...
