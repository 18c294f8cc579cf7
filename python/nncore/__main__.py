"""The ``nncore`` command line: ``python -m nncore demo``."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import __version__
from .datasets import make_spirals
from .mlp import MLP


def demo(epochs: int, seed: int) -> int:
    """Train a 2-64-64-3 network on three interleaved spirals and report what it learned."""
    X, y = make_spirals(n_samples=900, n_classes=3, noise=0.15, seed=seed)
    order = np.random.default_rng(seed).permutation(len(X))
    train, test = order[:600], order[600:]
    print(f"nncore {__version__} demo: 3 interleaved spirals, 600 training / 300 test points")
    model = MLP([2, 64, 64, 3], activation="tanh", output_activation="softmax", seed=seed)
    print(f"model: {model}, {model.n_parameters} parameters")
    report_every = max(1, epochs // 10)

    def progress(record: dict[str, float]) -> None:
        epoch = int(record["epoch"])
        if epoch % report_every == 0 or epoch == 1:
            print(f"  epoch {epoch:>4}/{epochs}  loss {record['loss']:.4f}")

    start = time.perf_counter()
    history = model.fit(
        X[train],
        y[train],
        learning_rate=0.1,
        epochs=epochs,
        batch_size=16,
        n_iter_no_change=None,
        callbacks=[progress],
    )
    seconds = time.perf_counter() - start
    train_accuracy = float(np.mean(model.predict(X[train]) == y[train]))
    test_accuracy = float(np.mean(model.predict(X[test]) == y[test]))
    print(
        f"trained {history.epochs} epochs in {seconds:.2f} s ({history.stop_reason}); "
        f"final loss {history.loss[-1]:.4f}"
    )
    print(f"accuracy: train {train_accuracy:.3f}, test {test_accuracy:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nncore", description="nncore command line")
    parser.add_argument("--version", action="version", version=f"nncore {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser(
        "demo",
        help="train a small network on a built-in data set",
        description="Train a network on three interleaved spirals (generated, no download).",
        epilog="example: python -m nncore demo --epochs 300",
    )
    demo_parser.add_argument("--epochs", type=int, default=300, help="epochs (default 300)")
    demo_parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.epochs < 1:
            parser.error("--epochs must be >= 1")
        return demo(args.epochs, args.seed)
    return 2  # unreachable: argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
