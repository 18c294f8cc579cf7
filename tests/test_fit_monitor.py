"""fit(monitor=..., mode=..., metrics=[...]): what early stopping and reduce_on_plateau watch, in
which direction, and the scores every epoch records. References: scikit-learn's metrics on the
model's own outputs at each epoch end, a plain-Python early-stopping rule (Keras's), and
torch's ReduceLROnPlateau in max mode."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

import nncore

CLASSIFY = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
REGRESS = ("r2", "mean_absolute_error", "root_mean_squared_error")


def classification(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8)
    return X, y, rng.uniform(0.5, 2.0, size=n)


def classifier() -> nncore.MLP:
    # float64: the scores are computed from the training data as the model holds them (in its
    # dtype), which for float32 differs from the float64 originals the references see.
    return nncore.MLP(
        [4, 8, 3], activation="tanh", output_activation="softmax", dtype="float64", seed=1
    )


def test_the_scores_of_every_epoch_are_scikit_learns_of_the_model_at_that_epoch() -> None:
    metrics = pytest.importorskip("sklearn.metrics", reason="the reference is scikit-learn's")
    X, y, w = classification()
    train, val = slice(0, 180), slice(180, None)
    model = classifier()
    outputs: list[tuple[np.ndarray, np.ndarray]] = []
    history = model.fit(
        X[train],
        y[train],
        sample_weight=w[train],
        validation_data=(X[val], y[val], w[val]),
        optimizer="adam",
        epochs=6,
        early_stopping=False,
        metrics=list(CLASSIFY),
        callbacks=lambda record: outputs.append((model.forward(X[train]), model.forward(X[val]))),
    )
    assert set(history.scores) == {*CLASSIFY, *(f"validation_{name}" for name in CLASSIFY)}
    for epoch, pair in enumerate(outputs):
        for prefix, rows, output in zip(("", "validation_"), (train, val), pair, strict=True):
            truth, weight, labels = y[rows], w[rows], output.argmax(axis=1)
            expected = {
                "accuracy": metrics.accuracy_score(truth, labels, sample_weight=weight),
                "balanced_accuracy": metrics.balanced_accuracy_score(
                    truth, labels, sample_weight=weight
                ),
                "f1_macro": metrics.f1_score(truth, labels, average="macro", sample_weight=weight),
                "roc_auc": metrics.roc_auc_score(
                    truth, output, multi_class="ovr", average="macro", sample_weight=weight
                ),
                "log_loss": metrics.log_loss(truth, output, sample_weight=weight),
            }
            for name, value in expected.items():
                got = history.scores[prefix + name][epoch]
                assert got == pytest.approx(value, rel=1e-9, abs=1e-12), (epoch, prefix + name)


def test_regression_scores_and_a_sigmoid_classifiers() -> None:
    metrics = pytest.importorskip("sklearn.metrics", reason="the reference is scikit-learn's")
    X, y, _ = classification()
    target = np.column_stack([X[:, 0] - X[:, 1], X[:, 2] ** 2])
    model = nncore.MLP([4, 8, 2], activation="tanh", dtype="float64", seed=2)
    outputs: list[np.ndarray] = []
    history = model.fit(
        X,
        target,
        epochs=4,
        metrics=REGRESS,
        callbacks=lambda record: outputs.append(model.forward(X)),
    )
    for epoch, output in enumerate(outputs):
        assert history["r2"][epoch] == pytest.approx(metrics.r2_score(target, output), rel=1e-9)
        assert history["mean_absolute_error"][epoch] == pytest.approx(
            metrics.mean_absolute_error(target, output), rel=1e-9
        )
        assert history["root_mean_squared_error"][epoch] == pytest.approx(
            metrics.root_mean_squared_error(target, output), rel=1e-9
        )
    binary = nncore.MLP([4, 6, 1], output_activation="sigmoid", dtype="float64", seed=3)
    probabilities: list[np.ndarray] = []
    history = binary.fit(
        X,
        y > 0,
        epochs=3,
        metrics="roc_auc",
        callbacks=lambda record: probabilities.append(binary.forward(X)[:, 0]),
    )
    expected = [metrics.roc_auc_score(y > 0, p) for p in probabilities]
    np.testing.assert_allclose(history.scores["roc_auc"], expected, rtol=1e-12)


def keras_rule(values: list[float], mode: str, patience: int, min_delta: float) -> tuple[int, int]:
    """``(stop epoch, best epoch)``, 1-based, of Keras's EarlyStopping on ``values``."""
    sign = 1.0 if mode == "min" else -1.0
    best, best_epoch, wait = np.inf, 0, 0
    for epoch, value in enumerate(values, start=1):
        if sign * value < best - min_delta:
            best, best_epoch, wait = sign * value, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return len(values), best_epoch


@pytest.mark.parametrize(
    ("monitor", "mode", "min_delta"),
    [
        ("validation_metric", "auto", 0.0),
        ("validation_f1_macro", "max", 0.01),
        ("validation_log_loss", "auto", 0.0),
        ("loss", "min", 0.001),
        ("metric", "max", 0.0),
    ],
)
def test_early_stopping_stops_and_restores_where_the_rule_says(
    monitor: str, mode: str, min_delta: float
) -> None:
    X, y, _ = classification(seed=4)
    settings: dict[str, Any] = dict(
        validation_split=0.3,
        optimizer="adam",
        learning_rate=0.05,
        epochs=40,
        metrics=["f1_macro", "log_loss"],
    )
    reference, snapshots = classifier(), []
    free = reference.fit(
        X,
        y,
        early_stopping=False,
        n_iter_no_change=None,
        callbacks=lambda record: snapshots.append(reference.parameters.copy()),
        **settings,
    )
    values = free[monitor] if monitor in free else free.scores[monitor]
    direction = {"validation_metric": "max", "validation_log_loss": "min"}.get(monitor, mode)
    stop, best = keras_rule(values, direction, patience=3, min_delta=min_delta)
    model = classifier()
    history = model.fit(
        X,
        y,
        early_stopping=True,
        patience=3,
        min_delta=min_delta,
        monitor=monitor,
        mode=mode,
        n_iter_no_change=None,
        **settings,
    )
    assert history.epochs == stop
    assert history.best_epoch == best
    np.testing.assert_array_equal(model.parameters, snapshots[best - 1])
    assert history.stop_reason == ("early_stopping" if stop < 40 else "max_epochs")


def test_the_default_monitor_is_the_validation_loss_bit_for_bit() -> None:
    X, y, _ = classification(seed=5)
    runs = []
    for extra in ({}, {"monitor": "validation_loss", "mode": "min"}):
        model = classifier()
        history = model.fit(
            X, y, validation_split=0.25, lr_schedule="reduce_on_plateau", epochs=15, **extra
        )
        runs.append((model.parameters.copy(), history.to_dict()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_reduce_on_plateau_in_max_mode_is_torchs() -> None:
    torch = pytest.importorskip("torch", reason="the reference is torch's ReduceLROnPlateau")
    X, y, _ = classification(seed=6)
    schedule = nncore.schedules.ReduceOnPlateau(factor=0.5, patience=1, threshold=0.01)
    history = classifier().fit(
        X,
        y,
        validation_split=0.3,
        optimizer="sgd",
        learning_rate=0.5,
        epochs=25,
        early_stopping=False,
        n_iter_no_change=None,
        lr_schedule=schedule,
        monitor="validation_metric",
    )
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.5)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=0.5, patience=1, threshold=0.01, threshold_mode="rel"
    )
    expected = [0.5]
    for value in history.validation_metric[:-1]:
        scheduler.step(value)
        expected.append(optimizer.param_groups[0]["lr"])
    assert history.learning_rate == pytest.approx(expected, rel=1e-15)
    assert min(expected) < 0.5  # the plateau was reached: the comparison tested a reduction


def test_monitor_auto_and_mode_auto_resolve_as_documented() -> None:
    X, y, _ = classification()
    model = classifier()

    def plan(**options: Any) -> tuple[str, str]:
        monitor = model._fit_plan(X, y, **{**nncore.sequential._FIT_DEFAULTS, **options}).monitor
        return monitor.name, monitor.mode

    assert plan() == ("loss", "min")
    assert plan(validation_split=0.2) == ("validation_loss", "min")
    assert plan(monitor="metric") == ("metric", "max")
    assert plan(monitor="validation_metric", validation_split=0.2) == ("validation_metric", "max")
    assert plan(monitor="log_loss", metrics=["log_loss"]) == ("log_loss", "min")
    assert plan(monitor="f1_macro", metrics=["f1_macro"]) == ("f1_macro", "max")
    assert plan(monitor="loss", mode="max") == ("loss", "max")


def test_early_stopping_on_the_training_loss_needs_no_validation_data() -> None:
    X, y, _ = classification()
    history = classifier().fit(
        X, y, early_stopping=True, monitor="loss", patience=2, min_delta=1e-3, epochs=500
    )
    assert history.stop_reason == "early_stopping"
    assert history.validation_loss == []


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"monitor": "val_loss"}, ValueError, "unknown monitor 'val_loss'"),
        ({"monitor": "f1_macro"}, ValueError, "when fit\\(metrics=\\[...\\]\\) asks for it"),
        ({"monitor": 3}, TypeError, "monitor must be a string"),
        ({"mode": "up"}, ValueError, "mode must be one of auto, min, max"),
        ({"metrics": ["r2"]}, ValueError, "'r2' is a metric for the task 'regress'"),
        ({"metrics": ["confusion_matrix"]}, ValueError, "not one number per epoch"),
        ({"metrics": "nonsense"}, ValueError, "unknown metric 'nonsense'"),
        ({"metrics": [1]}, TypeError, "metrics must be None, a metric name or a list"),
        ({"monitor": "validation_loss"}, ValueError, "monitor='validation_loss' needs validation"),
        ({"early_stopping": True}, ValueError, "early_stopping=True needs validation data"),
    ],
)
def test_bad_monitoring_arguments_are_refused_and_change_nothing(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    X, y, _ = classification()
    model = classifier()
    before = model.parameters.copy(), model.generator_state
    with pytest.raises(error, match=message):
        model.fit(X, y, epochs=2, **options)
    np.testing.assert_array_equal(model.parameters, before[0])
    assert model.generator_state == before[1]
    assert model.history is None and model.optimizer is None


def test_a_multi_label_model_has_no_per_epoch_scores() -> None:
    X, y, _ = classification()
    model = nncore.MLP([4, 5, 2], output_activation="sigmoid", seed=0)
    with pytest.raises(ValueError, match="multi-label"):
        model.fit(X, np.column_stack([y > 0, y > 1]), metrics="accuracy")


def test_the_scores_survive_save_load_and_pickle(tmp_path: Any) -> None:
    X, y, _ = classification()
    model = classifier()
    model.fit(X, y, epochs=3, validation_split=0.2, metrics=["accuracy", "log_loss"])
    path = tmp_path / "m.nncore"
    model.save(path)
    for copy in (nncore.load(path), pickle.loads(pickle.dumps(model))):
        assert copy.history is not None and model.history is not None
        assert copy.history.scores == model.history.scores
        assert copy.history["validation_log_loss"] == model.history["validation_log_loss"]


def test_a_score_series_of_the_wrong_length_is_not_saved(tmp_path: Any) -> None:
    X, y, _ = classification()
    model = classifier()
    model.fit(X, y, epochs=3, metrics="accuracy")
    assert model.history is not None
    model.history.scores["accuracy"].pop()
    with pytest.raises(ValueError, match="must be 3 numbers"):
        model.save(tmp_path / "m.nncore")
    assert not (tmp_path / "m.nncore").exists()
