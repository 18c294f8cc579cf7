"""Three interleaved spirals: a 3-class problem no linear model can solve, and a picture of the
regions the trained network assigns to each class.

Run it:  python examples/spiral.py [--out spiral.png]

Needs matplotlib for the picture (pip install "nncore[plot]"); without it the training still runs.
"""

import argparse
import os

import numpy as np

import nncore

# How many epochs to train (the tests set NNCORE_EXAMPLE_EPOCHS to a small number).
EPOCHS = int(os.environ.get("NNCORE_EXAMPLE_EPOCHS", "150"))

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="spiral.png", help="where to save the plot (spiral.png)")
args = parser.parse_args()

# 900 points on 3 spiral arms (class = arm), split into 600 for training and 300 for testing.
X, y = nncore.datasets.make_spirals(n_samples=900, n_classes=3, noise=0.15, seed=0)
order = np.random.default_rng(0).permutation(len(X))
train, test = order[:600], order[600:]

# Two hidden layers of 64 tanh units; a softmax output gives one probability per class.
model = nncore.MLP([2, 64, 64, 3], activation="tanh", output_activation="softmax", seed=0)

# Adam with mini-batches of 32; the test points serve as validation data, so fit reports the
# validation loss every epoch and stops early (keeping the best weights) once it stops improving.
history = model.fit(
    X[train],
    y[train],
    optimizer="adam",
    learning_rate=0.01,
    epochs=EPOCHS,
    batch_size=32,
    validation_data=(X[test], y[test]),
    patience=30,
)
print(f"trained {history.epochs} epochs ({history.stop_reason}), final loss {history.loss[-1]:.4f}")
test_accuracy = np.mean(model.predict(X[test]) == y[test])
print(f"test accuracy: {test_accuracy:.3f}")

try:
    import matplotlib

    matplotlib.use("Agg")  # draw into an image file; no window needed
    import matplotlib.pyplot as plt
except ImportError:
    print('no plot: matplotlib is not installed (pip install "nncore[plot]")')
else:
    from nncore.plot import plot_decision_boundary, plot_history

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
    plot_decision_boundary(model, X, y, ax=left)  # coloured regions: what the model predicts
    plot_history(history, ax=right)  # training and validation loss per epoch
    figure.savefig(args.out, dpi=100)
    print(f"saved the plot to {args.out}")
