"""A hyper-parameter search spread over a Dask cluster: scikit-learn's ``GridSearchCV`` over
``nncore.sklearn.MLPClassifier``, its fits run by Dask workers through joblib's Dask backend.

Run it:  python examples/dask_grid_search.py
         (needs scikit-learn and dask.distributed: pip install scikit-learn "dask[distributed]")

Here the cluster is a ``LocalCluster`` of two single-threaded worker processes on this machine;
to use a real cluster, connect the ``Client`` to its scheduler (``Client("tcp://host:8786")``)
instead. Everything else stays the same: joblib sends each (candidate, fold) fit to a worker.
"""

import os

import joblib
from dask.distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nncore.sklearn import MLPClassifier

# At most this many epochs per fit (the tests set NNCORE_EXAMPLE_EPOCHS to a small number).
EPOCHS = int(os.environ.get("NNCORE_EXAMPLE_EPOCHS", "100"))

GRID = {
    "mlpclassifier__hidden_layer_sizes": [(32,), (64,)],
    "mlpclassifier__alpha": [1e-4, 1e-2],
}


def search(X, y):
    model = make_pipeline(
        StandardScaler(), MLPClassifier(max_iter=EPOCHS, random_state=0, n_iter_no_change=EPOCHS)
    )
    return GridSearchCV(model, GRID, cv=3, n_jobs=-1)


def search_on_cluster(X, y, n_workers=2):
    """The search, its fits run by a LocalCluster of single-threaded worker processes."""
    with (
        LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True) as cluster,
        Client(cluster) as client,
    ):
        print(f"Dask cluster: {len(client.scheduler_info()['workers'])} workers")
        grid = search(X, y)
        with joblib.parallel_backend("dask"):
            grid.fit(X, y)
    return grid


if __name__ == "__main__":  # worker processes import this file: start the cluster only here
    X, y = load_digits(return_X_y=True)
    grid = search_on_cluster(X, y)
    print(f"best parameters: {grid.best_params_}")
    print(f"best cross-validated accuracy: {grid.best_score_:.3f}")
