"""Small models with hand-written backward passes: softmax regression and a ReLU MLP, softmax cross-entropy.

The equations (M1-M5: the dense layers, the loss and their backward pass) and the lines that compute them are in
``clara_ref/layers.py``, shared with the CNN's dense head. ``cnn`` and ``paper_cnn`` are ``clara_ref.cnn``'s, named
here too so that every model is built from this module.

Parameters live in one flat vector, ordered W_1, b_1, W_2, b_2, ...; ``block_sizes`` has one entry per weight
matrix and per bias vector, so per-tensor adaptation works as in the CLARA authors' experiments.

Initialisation (explicit ``numpy.random.Generator``): MLP weights He-normal N(0, 2/fan_in) with zero biases;
softmax regression as torch.nn.Linear (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b), the authors' model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import _validate as V
from .cnn import cnn, paper_cnn
from .layers import NO_LABELS, _softmax_xent, check_labels, dense_backward, dense_forward, softmax_cross_entropy

__all__ = ["Model", "mlp", "softmax_regression", "softmax_cross_entropy", "cnn", "paper_cnn"]


@dataclass(frozen=True)
class Model:
    """A feed-forward classifier over a flat parameter vector (see the module box)."""

    sizes: tuple
    init_kind: str

    @cached_property
    def shapes(self) -> tuple:
        """Shape of every parameter tensor, in the order of theta: W_1, b_1, W_2, b_2, ..."""
        out = []
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            out += [(a, b), (b,)]
        return tuple(out)

    @cached_property
    def block_sizes(self) -> tuple:
        """One block per weight matrix and per bias vector, in the order of theta."""
        return tuple(math.prod(s) for s in self.shapes)

    @cached_property
    def _layout(self) -> tuple:
        """(start, stop, shape) of every tensor inside theta, computed once."""
        out, start = [], 0
        for shape, n in zip(self.shapes, self.block_sizes):
            out.append((start, start + n, shape))
            start += n
        return tuple(out)

    @property
    def n_params(self) -> int:
        return sum(self.block_sizes)

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """Initial parameters drawn from ``rng``."""
        V.generator("rng", rng)
        parts = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            if self.init_kind == "he":
                parts += [rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out)).ravel(), np.zeros(fan_out)]
            else:
                bound = 1.0 / np.sqrt(fan_in)
                parts += [rng.uniform(-bound, bound, (fan_in, fan_out)).ravel(), rng.uniform(-bound, bound, fan_out)]
        return np.concatenate(parts)

    def _unpack(self, theta):
        theta = np.asarray(theta)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},) for sizes {self.sizes}, got {theta.shape}")
        views = [theta[a:b].reshape(shape) for a, b, shape in self._layout]
        return views[0::2], views[1::2]

    def _check_data(self, X, y=NO_LABELS):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"X must have shape (batch, {self.sizes[0]}), got {X.shape}")
        if X.dtype.kind != "f":                # complex X gave complex losses and gradients
            raise ValueError(f"X must be a real floating array (float32 or float64), got {X.dtype}")
        if y is not NO_LABELS:
            y = np.asarray(y)
            check_labels(np, y, X.shape[0], self.sizes[-1])
        return X, y

    def logits(self, theta, X) -> np.ndarray:
        """Forward pass (M1)."""
        X, _ = self._check_data(X)
        return self._forward(theta, X)

    def _forward(self, theta, X):
        Ws, bs = self._unpack(theta)
        return dense_forward(np, X, Ws, bs)[-1]                      # layers.py's M1

    def loss_and_grad(self, theta, X, y):
        """Mean softmax cross-entropy over the batch and its gradient wrt theta (M1-M5)."""
        X, y = self._check_data(X, y)
        return self.loss_and_grad_checked(theta, X, y)

    def loss_and_grad_checked(self, theta, X, y):
        """:meth:`loss_and_grad` on data already checked: ``X`` a real floating (batch, n_in) array and ``y``
        integer labels in [0, classes) of shape (batch,), for example rows of a set that :meth:`loss` accepted
        (``clara_ref.training.train`` has its training set checked once per run, by its first full loss, not once
        per minibatch: the checks cost as much as the softmax on a digits minibatch). Only theta's shape is
        checked here."""
        Ws, bs = self._unpack(theta)
        acts = dense_forward(np, X, Ws, bs)                          # layers.py's M1
        loss, dz = _softmax_xent(np, acts[-1], y)                     # layers.py's M2, M3
        g = np.empty(self.n_params, dtype=np.result_type(theta.dtype, X.dtype))
        dWs, dbs = self._unpack(g)                                   # views of g: each gradient written in place
        dense_backward(np, acts, Ws, dz, dWs=dWs, dbs=dbs)           # layers.py's M4, M5
        return loss, g

    def loss(self, theta, X, y) -> float:
        """Mean softmax cross-entropy over the batch (forward pass only, M1-M2)."""
        X, y = self._check_data(X, y)
        return self.loss_checked(theta, X, y)

    def loss_checked(self, theta, X, y) -> float:
        """:meth:`loss` on data already checked (as :meth:`loss_and_grad_checked`): ``clara_ref.training.train``
        records the full training loss every epoch on the set its first call to :meth:`loss` checked."""
        return _softmax_xent(np, self._forward(theta, X), y, grad=False)[0]

    def predict(self, theta, X) -> np.ndarray:
        """Predicted class labels."""
        return np.argmax(self.logits(theta, X), axis=1)

    def accuracy(self, theta, X, y) -> float:
        """Fraction of correctly classified rows."""
        X, y = self._check_data(X, y)
        return self.accuracy_checked(theta, X, y)

    def accuracy_checked(self, theta, X, y) -> float:
        """:meth:`accuracy` on data already checked (``train`` records the test accuracy every epoch on the set
        its first call to :meth:`accuracy` checked)."""
        return float(np.mean(np.argmax(self._forward(theta, X), axis=1) == y))


def _sizes(sizes):
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(f"sizes must be a tuple of positive ints, got {sizes!r}") from None
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"sizes must be at least two positive ints (inputs, ..., classes), got {sizes!r}")
    if sizes[-1] < 2:
        raise ValueError(f"sizes[-1] (the number of classes) must be at least 2, got {sizes!r}")
    return tuple(int(s) for s in sizes)


def mlp(sizes, init: str = "he") -> Model:
    """A ReLU MLP with layer sizes ``sizes = (n_in, hidden..., n_classes)``. ``init="he"``: He-normal weights,
    zero biases; ``init="torch"``: torch.nn.Linear's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
    biases, as the CLARA authors' MNIST MLP 784-256-128-10 (235,146 parameters).

    >>> m = mlp((64, 128, 64, 10))
    >>> m.block_sizes, m.n_params
    ((8192, 128, 8192, 64, 640, 10), 17226)
    >>> mlp((784, 256, 128, 10), init="torch").n_params
    235146
    """
    kind = {"he": "he", "torch": "linear"}[V.one_of("init", init, ("he", "torch"))]
    return Model(_sizes(sizes), kind)


def softmax_regression(n_in: int, n_out: int) -> Model:
    """Multinomial logistic regression (one Linear layer), initialised as torch.nn.Linear.

    >>> softmax_regression(64, 10).block_sizes
    (640, 10)
    """
    n_in = V.integer("n_in", n_in, lo=1)
    n_out = V.integer("n_out", n_out, lo=2)
    return Model(_sizes((n_in, n_out)), "linear")
