"""Handwritten digits with the scikit-learn interface: ``nncore.sklearn.MLPClassifier`` works
like scikit-learn's own estimators (fit / predict / score, pipelines, grid search).

Run it:  python examples/digits_sklearn.py      (needs scikit-learn: pip install scikit-learn)

The data: scikit-learn's 1,797 images of 8×8 pixels (shipped with scikit-learn, no download),
each a digit 0-9; the features are the 64 grey levels (0-16).
"""

import os

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nncore.sklearn import MLPClassifier

# At most this many epochs (the tests set NNCORE_EXAMPLE_EPOCHS to a small number).
EPOCHS = int(os.environ.get("NNCORE_EXAMPLE_EPOCHS", "200"))

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)
print(f"digits: {len(X_train)} training and {len(X_test)} test images of 8x8 pixels")

# One hidden layer of 64 units; scale the pixels to mean 0 / std 1 first (as for any MLP).
classifier = MLPClassifier(hidden_layer_sizes=(64,), max_iter=EPOCHS, random_state=0)
model = make_pipeline(StandardScaler(), classifier)
model.fit(X_train, y_train)

accuracy = model.score(X_test, y_test)  # the fraction of test digits recognised
print(f"test accuracy: {accuracy:.3f}")
print("first test digits:", y_test[:10].tolist())
print("predicted:        ", model.predict(X_test[:10]).tolist())
