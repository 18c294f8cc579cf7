"""Write ``tests/data/format_v1/``: model files in format version 1, as nncore 0.3.0 wrote them.

These files were written once, by nncore 0.3.0 (commit af73298, the last whose writer produced
format version 1), with::

    PYTHONPATH=python python tests/data/format_v1/make_format_v1.py

Run with a later nncore, this script would write that version's format, so it is kept as the
record of how the committed files were made, not to be rerun. For each model ``NAME`` it wrote

- ``NAME.nncore``: the model file;
- ``NAME.inputs.npy``: the inputs ``X`` (float64);
- ``NAME.forward.npy``: ``model.forward(X)`` of the model that wrote the file;
- ``NAME.continued.npy``: ``model.forward(X)`` after that model continued with
  ``fit(X, y, epochs=2)`` (``NAME.targets.npy`` holds ``y``): a loaded file must continue the
  same way (generator, optimizer state and step count restored).

``tests/test_model_file.py`` loads each file with the current nncore and compares.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import nncore

OUTPUT = Path(__file__).resolve().parent


def classifier() -> tuple[nncore.MLP, np.ndarray, np.ndarray]:
    """float32, softmax output, dropout, Adam, validation split with early stopping, metadata."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 5))
    y = rng.integers(0, 3, size=40)
    model = nncore.MLP(
        [5, 8, 6, 3],
        activation=["relu", "tanh"],
        output_activation="softmax",
        seed=11,
        dropout=[0.1, 0.0],
    )
    model.fit(
        X, y, optimizer="adam", learning_rate=0.01, epochs=6, batch_size=8, validation_split=0.25
    )
    model.metadata = {"feature_names": ["a", "b", "c", "d", "e"], "task": "classify"}
    model.metadata_arrays = {"mean": X.mean(axis=0), "classes": np.array(["x", "y", "z"])}
    return model, X, y


def regressor() -> tuple[nncore.MLP, np.ndarray, np.ndarray]:
    """float64, gelu and leaky_relu, no bias, SGD with momentum, a step schedule."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 4))
    y = rng.normal(size=(30, 2))
    model = nncore.MLP(
        [4, 7, 5, 2],
        activation=["gelu", "leaky_relu"],
        dtype="float64",
        seed=2**63 + 5,
        use_bias=False,
        leaky_relu_slope=0.2,
        init="he_normal",
    )
    model.fit(
        X,
        y,
        optimizer=nncore.SGD(learning_rate=0.05, momentum=0.9, weight_decay=1e-3),
        lr_schedule="step",
        epochs=5,
        batch_size=7,
    )
    return model, X, y


def unfitted() -> tuple[nncore.MLP, np.ndarray, np.ndarray]:
    """Never fitted (no optimizer, no history): elu hidden layer, sigmoid outputs."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(10, 3))
    y = rng.integers(0, 2, size=(10, 2))
    model = nncore.MLP(
        [3, 4, 2], activation="elu", elu_alpha=0.5, output_activation="sigmoid", seed=3
    )
    return model, X, y


def main() -> None:
    for name, make in [
        ("classifier", classifier),
        ("regressor", regressor),
        ("unfitted", unfitted),
    ]:
        model, X, y = make()
        model.save(OUTPUT / f"{name}.nncore")
        np.save(OUTPUT / f"{name}.inputs.npy", X)
        np.save(OUTPUT / f"{name}.targets.npy", y)
        np.save(OUTPUT / f"{name}.forward.npy", model.forward(X))
        model.fit(X, y, epochs=2)
        np.save(OUTPUT / f"{name}.continued.npy", model.forward(X))


if __name__ == "__main__":
    main()
