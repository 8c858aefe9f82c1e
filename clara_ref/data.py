"""Real data: scikit-learn's bundled datasets (offline) with a seeded stratified 80/20 split, the paper's image
datasets from their official files, and minibatches.

For the tabular sets only the loaders that read files shipped inside scikit-learn's wheel are used
(``load_digits``, ``load_iris``, ``load_wine``, ``load_breast_cancer``); nothing is ever downloaded. MNIST,
Fashion-MNIST and CIFAR-10 are read from their official files in a data folder, downloaded only on request
(``download=True``), with their official train/test split and the paper's scaling (``clara_ref.images``). The
CLARA authors split with NumPy's unseeded global RNG; here the split is stratified and seeded, so every optimizer sees the same split. Standardisation is
fitted on the training part only; ``standardize=False`` keeps the raw features the authors used, and
``stratify=False`` gives a plain shuffled 80/20 split like theirs (still seeded).
"""

from __future__ import annotations

import math

import numpy as np

from . import _validate as V
from ._backend import is_array
from . import images
from .images import NAMES as IMAGES

__all__ = ["load", "minibatches", "permuted", "n_train", "NAMES", "TABULAR", "IMAGES", "N_SAMPLES", "TEST_FRACTION",
           "PERMUTATIONS"]

#: scikit-learn's bundled tabular sets
TABULAR = ("digits", "iris", "wine", "breast_cancer")
#: every dataset ``load`` knows: the tabular sets, then the paper's image sets (``IMAGES``, official files read by
#: ``clara_ref.images``)
NAMES = TABULAR + IMAGES
#: rows of each bundled dataset (scikit-learn's documentation of load_digits, load_iris, load_wine,
#: load_breast_cancer); tests/test_models.py checks them against the loaded data
N_SAMPLES = {"digits": 1797, "iris": 150, "wine": 178, "breast_cancer": 569}
#: share of the rows held out for testing (the CLARA authors' 80/20 split)
TEST_FRACTION = 0.2
#: what ``permuted`` permutes: the features (pixels) or the class labels
PERMUTATIONS = ("pixels", "labels")


def n_train(name: str) -> int:
    """Rows in the training part of ``name``: scikit-learn's ``train_test_split`` puts ceil(0.2 n) rows in the
    test part, so that a run's optimizer steps per epoch are known without loading the data.

    The image sets have their official split: 60,000 (MNIST, Fashion-MNIST) and 50,000 (CIFAR-10) training images.

    >>> n_train("digits"), n_train("iris"), n_train("mnist")
    (1437, 120, 60000)
    """
    if isinstance(name, str) and name in images.N_TRAIN:
        return images.N_TRAIN[name]
    if not isinstance(name, str) or name not in N_SAMPLES:
        raise ValueError(f"name must be one of {', '.join(NAMES)}; unknown dataset {name!r}")
    n = N_SAMPLES[name]
    return n - math.ceil(TEST_FRACTION * n)


def load(name: str, seed: int = 0, standardize: bool = True, stratify: bool = True, *, data_dir=None,
         download: bool = False, verify: bool = True):
    """``(X_train, y_train, X_test, y_test)`` for ``name`` in NAMES (int64 labels).

    Tabular sets (float64 features): ``seed`` fixes the split; ``standardize`` scales each feature by the training
    part's mean and std; ``stratify`` keeps the class proportions equal in both parts (False: a plain shuffled
    split, as the authors).

    Image sets (``mnist``, ``fashion_mnist``, ``cifar10``; float32 features in [-1, 1], flattened): the official
    split and the paper's scaling, read from ``<data_dir>/<name>/`` (``data_dir`` default: ``$CLARA_REF_DATA``,
    else the user cache folder). ``download=True`` fetches missing files (checked against the published MD5s);
    ``verify=True`` checks the files on disk; missing files raise an error naming the folder, the files and how
    to get them. ``seed`` does not change the official split; ``standardize`` and ``stratify`` must keep their
    defaults (the scaling and the split are the paper's). See ``clara_ref.images``.

    >>> X, y, Xt, yt = load("iris")
    >>> X.shape, Xt.shape, sorted(set(y.tolist()))
    ((120, 4), (30, 4), [0, 1, 2])
    """
    if isinstance(name, str) and name in IMAGES:
        V.seed(seed)
        for flag, value in (("standardize", standardize), ("stratify", stratify)):
            if V.flag(flag, value) is not True:
                raise ValueError(f"{flag} must be True for {name}: the official split and the paper's scaling "
                                 "(x / 255 - 0.5) / 0.5 are fixed")
        return images.load(name, data_dir, download=V.flag("download", download),
                           verify=V.flag("verify", verify))
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loaders = {"digits": datasets.load_digits, "iris": datasets.load_iris, "wine": datasets.load_wine,
               "breast_cancer": datasets.load_breast_cancer}
    if not isinstance(name, str) or name not in loaders:
        raise ValueError(f"name must be one of {', '.join(NAMES)}; unknown dataset {name!r}")
    seed = V.seed(seed)
    V.flag("standardize", standardize)
    V.flag("stratify", stratify)
    X, y = loaders[name](return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X.astype(np.float64), y.astype(np.int64), test_size=TEST_FRACTION,
                                              stratify=y if stratify else None, random_state=int(seed))
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
    batch_size = V.integer("batch_size", batch_size, lo=1)
    V.generator("rng", rng)
    for name, a in (("X", X), ("y", y)):
        if not is_array(a) or len(a.shape) < 1:
            raise TypeError(f"{name} must be an array with one row per sample, got {type(a).__name__}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} and {y.shape[0]}")
    return _batches(X, y, batch_size, rng)


def _batches(X, y, batch_size: int, rng: np.random.Generator):
    """:func:`minibatches` on arguments already checked (``clara_ref.training.train`` checks them once per run,
    not once per epoch): the same permutation drawn from ``rng``, so the same batches."""
    order = rng.permutation(len(y))
    for start in range(0, len(y), batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]


def permuted(data, what: str, seed: int):
    """A second task made from ``data = (X_train, y_train, X_test, y_test)``, the continual-learning benchmarks'
    way (permuted MNIST, Goodfellow et al. 2013, arXiv 1312.6211): ``what="pixels"`` reorders the feature columns of
    both parts by one permutation drawn from ``default_rng(seed)``; ``what="labels"`` maps every class k to
    perm[k]. New arrays; the caller's are not touched.

    >>> X, y = np.arange(6.0).reshape(2, 3), np.array([0, 1])
    >>> Xp, yp, _, _ = permuted((X, y, X, y), "pixels", seed=0)
    >>> sorted(Xp[0].tolist()) == X[0].tolist(), yp.tolist()
    (True, [0, 1])
    """
    if what not in PERMUTATIONS:
        raise ValueError(f"what must be one of {PERMUTATIONS}, got {what!r}")
    seed = V.seed(seed)
    X_tr, y_tr, X_te, y_te = (np.asarray(a) for a in data)
    rng = np.random.default_rng(seed)
    if what == "pixels":
        perm = rng.permutation(X_tr.shape[1])
        return X_tr[:, perm], y_tr.copy(), X_te[:, perm], y_te.copy()
    classes = int(max(y_tr.max(), y_te.max())) + 1
    perm = rng.permutation(classes)
    return X_tr.copy(), perm[y_tr], X_te.copy(), perm[y_te]
