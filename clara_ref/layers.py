"""The dense layers and the softmax cross-entropy, shared by the MLPs (``clara_ref.models``) and the CNN's head
(``clara_ref.cnn``)::

    forward (layer l = 1..L):  z_l = a_{l-1} W_l + b_l,   a_l = relu(z_l) (l < L),   logits = z_L     (M1)
    loss:                      J = -(1/B) sum_i log softmax(logits_i)[y_i]                             (M2)
    backward:                  dz_L = dJ/dlogits = (softmax(logits) - onehot(y)) / B                   (M3)
                               dW_l = a_{l-1}^T dz_l,  db_l = sum_i dz_l,  da_{l-1} = dz_l W_l^T       (M4)
                               dz_{l-1} = da_{l-1} * [z_{l-1} > 0]                                     (M5)

Computed stably: log softmax = z - max(z) - log sum exp(z - max(z)). [z > 0] is read as [a > 0] (relu(z) > 0
exactly where z > 0), so the forward pass keeps only the activations, each layer's bias and ReLU applied in place
on its fresh product. Both model modules import these functions from here, so neither imports the other.
"""

from __future__ import annotations

import numpy as np

from ._backend import array_namespace, is_array

__all__ = ["softmax_cross_entropy", "check_labels", "dense_forward", "dense_backward", "NO_LABELS"]


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of integer labels ``y`` under softmax(logits), and its gradient wrt the logits (M2, M3).

    Computed stably: log softmax = z - max(z) - log sum exp(z - max(z)). Written in the array namespace of
    ``logits`` (the MLPs here and the CNN of ``clara_ref.cnn``, on NumPy, CuPy, ...).

    ``logits`` must be a real floating (batch, classes) array and ``y`` integer labels in [0, classes) of shape
    (batch,): a label of -1 used to pick the last class silently.

    >>> loss, d = softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([0]))
    >>> round(loss, 12), d.round(12).tolist()
    (0.0, [[0.0, 0.0]])
    """
    if not is_array(logits):
        raise ValueError(f"logits must be a real floating (batch, classes) array, got {type(logits).__name__}")
    xp = array_namespace(logits)
    if len(logits.shape) != 2 or not xp.isdtype(logits.dtype, "real floating"):
        raise ValueError(f"logits must be a real floating (batch, classes) array, got {logits.dtype} "
                         f"{tuple(logits.shape)}")
    check_labels(xp, y, logits.shape[0], logits.shape[1], "the rows and columns of logits")
    return _softmax_xent(xp, logits, y)


def check_labels(xp, y, batch: int, classes: int, source: str = "X and the model") -> None:
    """``y`` must be integer class labels of shape (batch,) in [0, classes) (``source``: where batch and classes
    come from, named in the message)."""
    if not hasattr(y, "dtype") or tuple(y.shape) != (batch,) or not xp.isdtype(y.dtype, "integral"):
        got = f"{y.dtype} {tuple(y.shape)}" if hasattr(y, "dtype") else type(y).__name__
        raise ValueError(f"y must be integer labels of shape ({batch},), got {got} ({source} give {batch} rows)")
    if batch and (int(xp.min(y)) < 0 or int(xp.max(y)) >= classes):
        raise ValueError(f"y: labels must lie in [0, {classes - 1}] ({source} give {classes} classes), got range "
                         f"[{int(xp.min(y))}, {int(xp.max(y))}]")


def _softmax_xent(xp, logits, y, *, grad: bool = True):
    """(M2, M3) on inputs already checked (the models check their data once per public call); ``grad=False``
    computes the loss alone (the same lines, so the same bits), for the loss of a forward pass."""
    if xp is np:
        return _softmax_cross_entropy_numpy(logits, y, grad)
    B, K = logits.shape
    labels = xp.reshape(y, (B, 1))
    shifted = logits - xp.max(logits, axis=1, keepdims=True)
    e = xp.exp(shifted)
    z = xp.sum(e, axis=1, keepdims=True)
    # -mean_i log softmax(logits_i)[y_i] = mean_i (log z_i - shifted_{i, y_i})                       (M2)
    loss = float(xp.sum(xp.log(z)) - xp.sum(xp.take_along_axis(shifted, labels, axis=1))) / B
    if not grad:
        return loss, None
    onehot = xp.astype(labels == xp.reshape(xp.arange(K), (1, K)), logits.dtype)
    return loss, (e / z - onehot) * (1.0 / B)                                  # (M3) (softmax - onehot(y)) / B


def _softmax_cross_entropy_numpy(logits, y, grad=True):
    """The same lines for NumPy arrays, with array methods and fancy indexing instead of the namespace's functions:
    the same operations in the same order, so the same bits (tests/test_models.py), at half the cost per call on
    a minibatch (the namespace's wrappers cost more than the arithmetic on 32 x 10 logits). The one-hot row is
    subtracted as 1 at (i, y_i) alone: x - 0 = x exactly elsewhere, so these are the bits of softmax - onehot.
    Entry (i, y_i) is picked as entry i K + y_i of the flattened array: one index array instead of two, the same
    entries in the same order (a few microseconds less per call on a minibatch). The fresh arrays are made
    C-ordered whatever the order of ``logits`` (a ufunc's output follows its input's by default), so that the
    flattened d is a view and the subtraction lands in d."""
    B, K = logits.shape
    at_label = np.arange(0, B * K, K) + y                                      # flat index of (i, y_i)
    shifted = np.subtract(logits, logits.max(axis=1, keepdims=True), order="C")
    e = np.exp(shifted)
    z = e.sum(axis=1, keepdims=True)
    loss = float(np.log(z).sum() - shifted.ravel()[at_label].sum()) / B         # (M2)
    if not grad:
        return loss, None
    d = e / z
    d.ravel()[at_label] -= 1.0                                                  # (M3) softmax - onehot(y)
    d *= 1.0 / B
    return loss, d


def dense_forward(xp, a, Ws, bs) -> list:
    """(M1) through every layer: the list [a_0 = a, a_1, ..., a_L = logits] (``Ws[l]`` stored (in, out)).

    On a whole data set (the per-epoch losses and accuracies) a temporary is hundreds of kB, and three per layer
    cost more in page faults than the arithmetic: one fresh array per layer, bias and ReLU in place on it.

    In float32, NumPy takes the ReLU's maximum against a row of zeros instead of the scalar 0: the same
    ``maximum(z, 0)`` entry by entry (the same bits, NaN passed on, +0 for -0: tests/test_models.py), but NumPy
    2.4's float32 maximum with a scalar operand does not run the SIMD loop it runs when both operands advance along
    the row: 1.6x to 2.1x slower on a 128 x 128 minibatch and on digits' 1,437 training rows in one run, 2.1x to 3x
    in another. In float64 neither form wins in every run (the row read 0.7x to 1.0x the scalar's speed in one run,
    1.0x to 1.5x in another), and the scalar stays (``python benchmarks/relu_maximum.py``,
    docs/benchmarks/relu_maximum.txt).
    """
    acts = [a]
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = acts[-1] @ W
        z += b                                                         # (M1) z_l = a_{l-1} W_l + b_l
        if l < len(Ws) - 1:
            z = _relu(xp, z)                                           # (M1) a_l = relu(z_l)
        acts.append(z)
    return acts


def _relu(xp, z):
    """relu(z) = max(z, 0), in place on NumPy's fresh ``z`` (see :func:`dense_forward` for the row of zeros)."""
    if xp is not np:
        return xp.maximum(z, 0.0)
    zero = np.zeros(z.shape[-1], z.dtype) if z.dtype == np.float32 else 0.0
    return np.maximum(z, zero, out=z)


def dense_backward(xp, acts, Ws, dz, *, dWs=None, dbs=None, input_grad: bool = False):
    """(M4, M5) from dz_L = ``dz`` down to the first layer, given the activations of :func:`dense_forward`.

    NumPy with ``dWs``, ``dbs`` (views of one flat gradient, in layer order): each gradient is written into its
    view. Otherwise they are returned new. Returns ``(dWs, dbs, da_0)``, da_0 the gradient wrt the input when
    ``input_grad`` (the CNN's head passes it on to the convolutions), else None: nobody needs it for an MLP.
    """
    L = len(Ws)
    into = dWs is not None
    if not into:
        dWs, dbs = [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        if into:
            dz.sum(axis=0, out=dbs[l])                                 # (M4) db_l
            np.matmul(acts[l].T, dz, out=dWs[l])                       # (M4) dW_l
        else:
            dbs[l] = xp.sum(dz, axis=0)                                # (M4) db_l
            dWs[l] = xp.matrix_transpose(acts[l]) @ dz                 # (M4) dW_l
        if l > 0 or input_grad:
            dz = dz @ xp.matrix_transpose(Ws[l])                       # (M4) da_{l-1}
        if l > 0:
            dz *= xp.astype(acts[l] > 0, dz.dtype) if xp is not np else acts[l] > 0   # (M5) through the ReLU
    return dWs, dbs, (dz if input_grad else None)


#: what a model's data check is given for "no labels" (forward passes), so that y=None is refused like any bad y
NO_LABELS = object()
