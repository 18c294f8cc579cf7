"""Reference implementations of nncore's learning algorithm, written to be read.

nncore's training loop runs in C++ (Eigen). This subpackage contains the *same* algorithm twice,
in plain Python, so that it can be studied and so that the test suite has an independent
implementation to check the native core against:

* :mod:`nncore.reference.pure_python` -- lists, loops and :mod:`math` only. Every sum is a visible
  ``for`` loop; read it to learn how backpropagation works.
* :mod:`nncore.reference.numpy_reference` -- the same functions, vectorised with NumPy. Read it
  next to the pure version to see how the loops become matrix products.

Both modules expose identical names and signatures::

    ACTIVATIONS, LOSSES
    activate(name, Z, slope=0.01, *, alpha=1.0) -> A
    activation_backward(name, Z, A, dA, slope=0.01, *, alpha=1.0) -> dZ
    forward(weights, biases, X, activations, slope=0.01, *, alpha=1.0) -> (Zs, As)
    loss_value(loss, Z_out, A_out, Y, *, delta=1.0, sample_weight=None) -> float
    output_delta(loss, activation, Z_out, A_out, Y, slope=0.01, *,
                 alpha=1.0, delta=1.0, sample_weight=None) -> dZ_out
    loss(weights, biases, X, Y, activations, loss, slope=0.01, *,
         alpha=1.0, delta=1.0, sample_weight=None) -> float
    backward(weights, biases, X, Y, activations, loss, slope=0.01, *,
             alpha=1.0, delta=1.0, sample_weight=None) -> (dWs, dbs)
    sgd_step(weights, biases, dWs, dbs, learning_rate) -> (weights, biases)
    fit(weights, biases, X, Y, activations, loss, learning_rate, epochs, batch_size,
        slope=0.01, shuffle=False, seed=0, *, alpha=1.0, delta=1.0, sample_weight=None)
        -> (weights, biases, epoch_losses)

The conventions, shared with the C++ core:

* Batch-major storage: ``X`` is ``(n_samples, n_features)``; layer ``l`` has ``W`` of shape
  ``(n_in, n_out)`` and ``b`` of shape ``(n_out,)``; ``Z = A_prev·W + b`` and ``A = g(Z)``.
  ``biases=None`` means a network without biases (and ``dbs`` is then ``None``).
* Activations: identity, sigmoid, tanh, relu, leaky_relu (``slope``, default 0.01), softmax
  (row-wise), elu (``alpha``, default 1.0), gelu (exact, z·Φ(z)), gelu_tanh (PyTorch's
  ``approximate='tanh'``), softplus (exact, no linearisation threshold) and swish (z·σ(z), SiLU).
  relu'(0) = 0, leaky_relu'(0) = slope and elu'(0) = alpha (the left-hand derivatives at the kink
  for the last two).
* ``Y`` is always the dense ``(n_samples, n_out)`` target matrix (one-hot rows for categorical
  cross-entropy).
* Losses are batch means: mean squared error, mean absolute error (dL/dA uses sign(0) = 0) and
  Huber (``delta``, default 1.0; ½r² for |r| ≤ delta, delta·(|r| − ½delta) beyond) take any output
  activation and average over samples *and* outputs; binary cross-entropy needs a sigmoid output,
  is computed from the logits ``Z`` and averages over samples and outputs; categorical
  cross-entropy needs a softmax output and averages over samples. Both cross-entropies are
  numerically stable for logits of any size.
* ``sample_weight`` (length n, finite, non-negative; ``None`` = all ones) turns the batch mean into
  the weighted mean of the per-sample losses ℓ_i: L = Σ_i w_i·ℓ_i / Σ_i w_i, where ℓ_i is the mean
  over sample i's outputs (mse, mae, huber, bce) or −Σ_k y_ik·log softmax(z_i)_k (cce). A batch
  whose weights sum to 0 has loss 0 and gradient 0. Bad weights raise ``ValueError``.
* Gradient descent: ``W ← W − lr·dW``; ``fit`` walks the rows in order in batches of
  ``batch_size`` (the weights travel with their rows) and records, per epoch, the weighted mean
  of the per-sample losses, Σ_batches batch_loss·(Σ_batch w) / Σ w (without weights: the
  sample-weighted mean of the batch losses; 0 if every weight is 0).

:mod:`nncore.reference.layers` adds the layers of ``nncore.Sequential`` in NumPy (Dense,
Activation, Dropout, LayerNorm, BatchNorm, Residual, Embedding and a ``Sequential`` with a flat
gradient and a plain-SGD ``fit``), on the activations and losses above, and states the layout
of the flat parameter vector that the native core follows.

These modules never import the native extension.
"""

from . import layers, numpy_reference, pure_python

__all__ = ["layers", "numpy_reference", "pure_python"]
