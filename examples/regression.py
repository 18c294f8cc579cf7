"""Regression: learn y = sin(x) from noisy samples, with the mean squared error.

Run it:  python examples/regression.py

A regressor is an MLP whose output layer has no squashing ("identity"): its output is the
predicted number itself, and fit minimises the mean squared error (MSE) between the outputs and
the targets.
"""

import os

import numpy as np

import nncore

# How many epochs to train (the tests set NNCORE_EXAMPLE_EPOCHS to a small number).
EPOCHS = int(os.environ.get("NNCORE_EXAMPLE_EPOCHS", "500"))

# 256 points of sin(x) on [-π, π] with Gaussian noise (standard deviation 0.1) on y.
X, y = nncore.datasets.make_sine(n_samples=256, noise=0.1, seed=0)

# 1 input -> 32 tanh -> 32 tanh -> 1 linear output.
model = nncore.MLP([1, 32, 32, 1], activation="tanh", output_activation="identity", seed=0)

# The identity output makes mean_squared_error the default loss; written out here for clarity.
# n_iter_no_change=None: run all the epochs (the noisy loss would otherwise stop it early).
history = model.fit(
    X,
    y,
    loss="mean_squared_error",
    optimizer="adam",
    learning_rate=0.01,
    epochs=EPOCHS,
    n_iter_no_change=None,
)
print(f"trained {history.epochs} epochs ({history.stop_reason})")

# Compare with the truth: the noise-free sine on points the model has not seen.
X_new = np.linspace(-np.pi, np.pi, 7).reshape(-1, 1)
predictions = model.predict(X_new)
print("     x    sin(x)  predicted")
for x, predicted in zip(X_new[:, 0], predictions[:, 0], strict=True):
    print(f"{x:6.2f}  {np.sin(x):8.3f}  {predicted:9.3f}")

# The training MSE cannot go below the noise variance (0.1² = 0.01); against the clean curve
# a good fit is well below that.
mse_noisy = model.loss(X, y)
mse_clean = float(np.mean((model.predict(X) - np.sin(X)) ** 2))
print(f"MSE against the noisy targets: {mse_noisy:.4f} (the noise alone gives about 0.01)")
print(f"MSE against the clean sine:    {mse_clean:.4f}")
print(f"R² on the training data: {history.metric[-1]:.3f}")
