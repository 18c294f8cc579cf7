"""XOR, the classic first network: one hidden layer learns what no straight line can separate.

Run it:  python examples/xor.py

It shows one training step by hand — forward propagation, the error, back propagation, the
update — and then lets ``fit`` repeat those steps until the network has learned the truth table.
"""

import os

import nncore

# How many epochs fit runs (the tests set NNCORE_EXAMPLE_EPOCHS to a small number).
EPOCHS = int(os.environ.get("NNCORE_EXAMPLE_EPOCHS", "2000"))

# The four inputs of XOR and the wanted outputs: 1 exactly when the two inputs differ.
X, y = nncore.datasets.make_xor()

# 2 inputs -> 8 tanh units -> 1 sigmoid output (the probability that the answer is 1).
model = nncore.MLP([2, 8, 1], activation="tanh", output_activation="sigmoid", seed=0)
print(f"model: {model}, {model.n_parameters} parameters")

# --- One step by hand -------------------------------------------------------------------
# 1. Forward propagation: the network's output for every input (before any training).
output = model.forward(X)
print("untrained outputs:", ", ".join(f"{value:.3f}" for value in output[:, 0]))

# 2. The error: binary cross-entropy between the outputs and the targets.
print(f"error before the step: {model.loss(X, y):.4f}")

# 3. Back propagation: the gradient of the error with respect to every weight and bias.
gradients = model.backward(X, y)

# 4. Update: move every parameter a little against its gradient.
model.step(gradients, learning_rate=0.5)
print(f"error after one step:  {model.loss(X, y):.4f}")

# --- Repeat: fit runs the same four steps, epoch after epoch, in the native loop ---------
history = model.fit(X, y, learning_rate=0.5, epochs=EPOCHS, batch_size=4, n_iter_no_change=None)
print(f"after {history.epochs} epochs: error {history.loss[-1]:.4f}")

print("x1 x2 | XOR  network")
for (x1, x2), target, p in zip(X, y, model.predict_proba(X)[:, 0], strict=True):
    print(f" {x1:.0f}  {x2:.0f} |  {target}   {p:.3f}")
predictions = model.predict(X).tolist()
print("predictions:", predictions, "(correct)" if predictions == y.tolist() else "(not yet)")
