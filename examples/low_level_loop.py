"""The training loop written out, step by step, as in the textbook pseudo-code:

    initialise the weights with small random values
    repeat
        forward propagation:  compute the network's outputs for the training inputs
        error:                compare the outputs with the targets
        back propagation:     compute the gradient of the error for every weight
        update:               move every weight a little against its gradient
    until the error is small enough (or we give up)

``model.fit`` runs exactly this loop in C++; here every step is a Python call you can print,
change or replace. The task: tell the points inside a circle from the points outside it.

Run it:  python examples/low_level_loop.py
"""

import os

import numpy as np

import nncore

# At most this many passes over the data (the tests set NNCORE_EXAMPLE_EPOCHS to a small number).
MAX_EPOCHS = int(os.environ.get("NNCORE_EXAMPLE_EPOCHS", "3000"))
TARGET_ERROR = 0.05  # "small enough": stop when the mean cross-entropy drops below this
LEARNING_RATE = 1.0

# The data: 400 points in the square [-1, 1]², label 1 inside the circle of radius 0.6.
rng = np.random.default_rng(0)
X = rng.uniform(-1.0, 1.0, size=(400, 2))
y = (np.hypot(X[:, 0], X[:, 1]) < 0.6).astype(int)

# Initialise: 2 inputs -> 16 tanh units -> 1 sigmoid output; the seed fixes the random weights.
model = nncore.MLP([2, 16, 1], activation="tanh", output_activation="sigmoid", seed=0)
print(f"model: {model}")

epoch = 0
error = float("inf")
while error > TARGET_ERROR and epoch < MAX_EPOCHS:  # "until the error is small"
    epoch += 1
    # Forward propagation: outputs = g(... g(X·W1 + b1) ... · Wn + bn), one row per point.
    outputs = model.forward(X)
    # Error: the mean binary cross-entropy of the outputs against the labels.
    error = model.loss(X, y)
    # Back propagation: dError/dW and dError/db for every layer, from the output backwards.
    gradients = model.backward(X, y)
    # Update: W <- W - learning_rate * dError/dW (and the same for every b).
    model.step(gradients, learning_rate=LEARNING_RATE)

    if epoch == 1 or epoch % 250 == 0:
        accuracy = np.mean((outputs[:, 0] >= 0.5) == y)
        print(f"epoch {epoch:>5}  error {error:.4f}  accuracy {accuracy:.3f}")

reason = "the error is small enough" if error <= TARGET_ERROR else "out of epochs"
accuracy = np.mean(model.predict(X) == y)
print(f"stopped after {epoch} epochs ({reason}): error {model.loss(X, y):.4f}")
print(f"final accuracy: {accuracy:.3f}")
