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
    activate(name, Z, slope=0.01) -> A
    activation_backward(name, Z, A, dA, slope=0.01) -> dZ
    forward(weights, biases, X, activations, slope=0.01) -> (Zs, As)
    loss_value(loss, Z_out, A_out, Y) -> float
    output_delta(loss, activation, Z_out, A_out, Y, slope=0.01) -> dZ_out
    loss(weights, biases, X, Y, activations, loss, slope=0.01) -> float
    backward(weights, biases, X, Y, activations, loss, slope=0.01) -> (dWs, dbs)
    sgd_step(weights, biases, dWs, dbs, learning_rate) -> (weights, biases)
    fit(weights, biases, X, Y, activations, loss, learning_rate, epochs, batch_size,
        slope=0.01, shuffle=False, seed=0) -> (weights, biases, epoch_losses)

The conventions, shared with the C++ core:

* Batch-major storage: ``X`` is ``(n_samples, n_features)``; layer ``l`` has ``W`` of shape
  ``(n_in, n_out)`` and ``b`` of shape ``(n_out,)``; ``Z = A_prev·W + b`` and ``A = g(Z)``.
  ``biases=None`` means a network without biases (and ``dbs`` is then ``None``).
* Activations: identity, sigmoid, tanh, relu, leaky_relu (``slope``, default 0.01) and softmax
  (row-wise). relu'(0) = 0 and leaky_relu'(0) = slope.
* ``Y`` is always the dense ``(n_samples, n_out)`` target matrix (one-hot rows for categorical
  cross-entropy).
* Losses are batch means: mean squared error averages over samples *and* outputs; binary
  cross-entropy needs a sigmoid output and is computed from the logits ``Z``; categorical
  cross-entropy needs a softmax output and averages over samples. Both cross-entropies are
  numerically stable for logits of any size.
* Gradient descent: ``W ← W − lr·dW``; ``fit`` walks the rows in order in batches of
  ``batch_size`` and records the sample-weighted mean of the batch losses of each epoch.

These modules never import the native extension.
"""

from . import numpy_reference, pure_python

__all__ = ["numpy_reference", "pure_python"]
