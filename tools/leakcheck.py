"""A short workload for a native leak check of nncore: every native object and path, once.

Run under valgrind (the README's Reliability section has the exact command)::

    PYTHONMALLOC=malloc valgrind --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite --error-exitcode=1 python tools/leakcheck.py

or with a sanitizer build of nncore and LeakSanitizer (``ASAN_OPTIONS=detect_leaks=1``).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

import nncore


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5))
    y = rng.integers(0, 3, size=64)
    for dtype in ("float32", "float64"):
        for optimizer in nncore.optim.OPTIMIZERS:
            model = nncore.MLP([5, 8, 3], output_activation="softmax", dtype=dtype, dropout=0.1)
            model.fit(
                X,
                y,
                epochs=2,
                optimizer=optimizer,
                validation_split=0.25,
                callbacks=lambda record: False,
            )
            model.predict(X)
            model.step(model.backward(X, y), 0.01)
            buffer = io.BytesIO()
            model.save(buffer)
            nncore.load(io.BytesIO(buffer.getvalue())).predict(X)
            for bad in (X[:, :2], np.full_like(X, np.nan)):
                with contextlib.suppress(ValueError):
                    model.fit(bad, y)
            with contextlib.suppress(nncore.DivergenceError):
                model.fit(X * 1e30, y, learning_rate=1e30, epochs=3)
    print("leakcheck workload done")


if __name__ == "__main__":
    main()
