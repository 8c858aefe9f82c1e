"""Real data, offline: scikit-learn's bundled datasets, a seeded stratified 80/20 split, and minibatches.

Only the loaders that read files shipped inside scikit-learn's wheel are used (``load_digits``, ``load_iris``,
``load_wine``, ``load_breast_cancer``); nothing is ever downloaded. The CLARA authors split with NumPy's unseeded
global RNG; here the split is stratified and seeded, so every optimizer sees the same split. Standardisation is
fitted on the training part only; ``standardize=False`` keeps the raw features the authors used.
"""

from __future__ import annotations

import numpy as np

__all__ = ["load", "minibatches", "NAMES"]

NAMES = ("digits", "iris", "wine", "breast_cancer")


def load(name: str, seed: int = 0, standardize: bool = True):
    """``(X_train, y_train, X_test, y_test)`` for ``name`` in NAMES (float64 features, int64 labels).

    >>> X, y, Xt, yt = load("iris")
    >>> X.shape, Xt.shape, sorted(set(y.tolist()))
    ((120, 4), (30, 4), [0, 1, 2])
    """
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loaders = {"digits": datasets.load_digits, "iris": datasets.load_iris, "wine": datasets.load_wine,
               "breast_cancer": datasets.load_breast_cancer}
    if not isinstance(name, str) or name not in loaders:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(NAMES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    X, y = loaders[name](return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X.astype(np.float64), y.astype(np.int64), test_size=0.2,
                                              stratify=y, random_state=int(seed))
    if standardize:
        mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
        std = np.where(std > 0, std, 1.0)           # constant features (digits' blank pixels) stay as they are
        X_tr, X_te = (X_tr - mean) / std, (X_te - mean) / std
    return X_tr, y_tr, X_te, y_te


def minibatches(X, y, batch_size: int, rng: np.random.Generator):
    """One epoch of shuffled minibatches ``(X_b, y_b)``; the last one may be smaller (as torch's DataLoader).

    >>> rng = np.random.default_rng(0)
    >>> [len(yb) for _, yb in minibatches(np.zeros((5, 1)), np.arange(5), 2, rng)]
    [2, 2, 1]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    order = rng.permutation(len(y))
    for start in range(0, len(y), batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]
