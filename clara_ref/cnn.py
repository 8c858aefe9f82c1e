"""A small convolutional network with hand-written backward passes: the CNN of the CLARA paper's CIFAR-10 runs.

::

    conv (3 x 3, padding 1, stride 1), as a matrix product over im2col columns:
        cols[b, (c, i, j), (y, x)] = x_pad[b, c, y + i, x + j]                        (N1)
        z[b, o, (y, x)] = sum_k W[o, k] cols[b, k, (y, x)] + bias[o],  W = weight reshaped to (O, C 9)   (N2)
    backward:
        dbias[o] = sum_{b, y, x} dz[b, o, y, x]                                       (N3)
        dW[o, k] = sum_{b, (y, x)} dz[b, o, (y, x)] cols[b, k, (y, x)]                 (N4)
        dcols = W^T dz;   dx_pad[b, c, y + i, x + j] += dcols[b, (c, i, j), (y, x)]   (col2im)   (N5)
    relu:      a = max(z, 0);   dz = da [z > 0]                                        (N6)
    max-pool (2 x 2, stride 2): out = max over each window; the gradient goes to the first maximum of its window
        (row-major order, as torch.nn.MaxPool2d); the window's four entries are four strided views   (N7)
    dense layers, softmax cross-entropy: ``clara_ref.layers`` (M1-M5), shared with ``clara_ref.models``

The paper's network (the CLARA authors' ``src/models.py``; arXiv 2508.05408) on 3 x 32 x 32 images::

    conv 32, relu, conv 64, relu, max-pool, conv 128, relu, max-pool, flatten (128 x 8 x 8), fc 256, relu, fc 10

2,193,226 parameters, the key of the authors' Adam table for CIFAR-10. Parameters live in one flat vector in the
order of torch's ``model.parameters()``: conv weights (O, C, 3, 3) and biases, then dense weights stored (in, out)
as ``clara_ref.models`` does (the transpose of torch's ``Linear.weight``) and biases; ``block_sizes`` has one entry
per tensor. Initialisation as torch's defaults for Conv2d and Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
weights and biases (fan_in = C 9 for a convolution).

Inputs are rows of C H W values in channel, row, column order (``clara_ref.images`` gives CIFAR-10 so); they are
reshaped to (batch, C, H, W). The arithmetic uses the array namespace of theta (NumPy, CuPy, ...): slicing,
``matmul``, ``reshape``, ``permute_dims``, ``maximum``/``where``, strided slices, no NumPy-only stride tricks.
The first convolution computes no input gradient (its input is the data). The pooling by strided views, col2im
adding in place and no first-layer input gradient replaced a reshape of a permuted copy with max/argmax over it, a
one-hot backward, fresh temporaries and a needless product: the same gradients bit for bit, and the CIFAR-10 step
went from 2.94x to 2.56x torch's time in two runs of benchmarks/image_step_time.py (its medians; the
minima of docs/benchmarks/image_step_time.txt now: 2.1x on 1 thread, 2.7x on 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import _validate as V
from ._backend import array_namespace, is_array
from .layers import NO_LABELS, _softmax_xent, check_labels, dense_backward, dense_forward

__all__ = ["ConvNet", "cnn", "paper_cnn", "conv3x3_forward", "conv3x3_backward", "maxpool2_forward",
           "maxpool2_backward"]

_OFFSETS = tuple((i, j) for i in range(3) for j in range(3))


def _im2col(xp, x):
    """(N1): the 9 shifted copies of the zero-padded input, as (B, C 9, H W) with k = c 9 + i 3 + j."""
    B, C, H, W = x.shape
    pad = xp.zeros((B, C, H + 2, W + 2), dtype=x.dtype)
    pad[:, :, 1:H + 1, 1:W + 1] = x
    cols = xp.stack([pad[:, :, i:i + H, j:j + W] for i, j in _OFFSETS], axis=2)     # (N1): (B, C, 9, H, W)
    return xp.reshape(cols, (B, C * 9, H * W))


def conv3x3_forward(x, weight, bias):
    """A 3 x 3 convolution with padding 1 (N1, N2): x (B, C, H, W), weight (O, C, 3, 3), bias (O,) -> (z, cols).

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> z, _ = conv3x3_forward(x, np.ones((1, 1, 3, 3)), np.zeros(1))
    >>> z[0, 0].tolist()                     # sums over each 3 x 3 neighbourhood, zeros outside
    [[8.0, 15.0, 12.0], [21.0, 36.0, 27.0], [20.0, 33.0, 24.0]]
    """
    xp = array_namespace(x)
    B, C, H, W = x.shape
    O = weight.shape[0]
    cols = _im2col(xp, x)
    z = xp.reshape(weight, (O, C * 9)) @ cols                                  # (N2): (B, O, H W)
    z = z + xp.reshape(bias, (1, O, 1))
    return xp.reshape(z, (B, O, H, W)), cols


def conv3x3_backward(dz, cols, weight, x_shape, *, input_grad: bool = True):
    """(N3-N5): gradients of the convolution wrt its input (None with ``input_grad=False``: the first layer's input
    is the data, whose gradient nobody needs), weight and bias."""
    xp = array_namespace(dz)
    B, C, H, W = x_shape
    O = weight.shape[0]
    dz = xp.reshape(dz, (B, O, H * W))
    dbias = xp.sum(dz, axis=(0, 2))                                             # (N3)
    # one product per image, dz_b (O, H W) @ cols_b^T (H W, C 9), summed over the batch (the transpose is a view:
    # no copy of the large cols)
    dweight = xp.reshape(xp.sum(dz @ xp.matrix_transpose(cols), axis=0), (O, C, 3, 3))      # (N4)
    if not input_grad:
        return None, dweight, dbias
    dcols = xp.reshape(xp.matrix_transpose(xp.reshape(weight, (O, C * 9))) @ dz, (B, C, 9, H, W))   # (N5)
    dpad = xp.zeros((B, C, H + 2, W + 2), dtype=dz.dtype)
    for k, (i, j) in enumerate(_OFFSETS):
        dpad[:, :, i:i + H, j:j + W] += dcols[:, :, k, ...]                    # col2im, added in place
    return dpad[:, :, 1:H + 1, 1:W + 1], dweight, dbias


def _corners(x):
    """The four entries of every 2 x 2 window as strided views, in row-major order: (0, 0), (0, 1), (1, 0), (1, 1)."""
    return x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]


def maxpool2_forward(x):
    """2 x 2 max-pooling with stride 2 (N7): -> (out, index of the first maximum in each window, row-major).

    The window's four entries are read as four strided views (no copy of a permuted array): out is the maximum of
    the four, and the index the first of them that equals it.

    >>> out, idx = maxpool2_forward(np.array([[[[1.0, 3.0], [3.0, 0.0]]]]))
    >>> out.tolist(), idx.tolist()
    ([[[[3.0]]]], [[[[1]]]])
    """
    xp = array_namespace(x)
    if x.shape[2] % 2 or x.shape[3] % 2:
        raise ValueError(f"max-pooling 2 x 2 needs even height and width, got {tuple(x.shape[2:])}")
    a, b, c, d = _corners(x)
    out = xp.maximum(xp.maximum(a, b), xp.maximum(c, d))                       # (N7) the window's maximum
    k = [xp.asarray(i, dtype=xp.int8) for i in range(4)]
    idx = xp.where(a == out, k[0], xp.where(b == out, k[1], xp.where(c == out, k[2], k[3])))   # (N7) first position
    return out, idx


def maxpool2_backward(dout, idx):
    """(N7): each window's gradient goes to its first maximum (written into the four strided views of the input)."""
    xp = array_namespace(dout)
    B, C, h, w = dout.shape
    dx = xp.zeros((B, C, 2 * h, 2 * w), dtype=dout.dtype)
    zero = xp.zeros((), dtype=dout.dtype)
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        dx[:, :, i::2, j::2] = xp.where(idx == k, dout, zero)                  # (N7)
    return dx


@dataclass(frozen=True)
class ConvNet:
    """Convolutions (3 x 3, padding 1, ReLU; each optionally followed by 2 x 2 max-pooling), then dense ReLU layers
    and a linear output: ``convs`` = ((out_channels, pool_after), ...), ``hidden`` = dense widths, ``classes``.
    Same interface as ``clara_ref.models.Model``: ``init``, ``loss_and_grad``, ``loss``, ``predict``,
    ``accuracy``, ``block_sizes``, ``n_params``; X holds one image per row (C H W values)."""

    in_shape: tuple
    convs: tuple
    hidden: tuple
    classes: int

    @cached_property
    def _spatial(self) -> tuple:
        C, H, W = self.in_shape
        for out, pool in self.convs:
            C = out
            if pool:
                H, W = H // 2, W // 2
        return C, H, W

    @cached_property
    def shapes(self) -> tuple:
        """Every tensor's shape, in the order of theta (torch's ``parameters()`` order)."""
        out, c = [], self.in_shape[0]
        for o, _ in self.convs:
            out += [(o, c, 3, 3), (o,)]
            c = o
        widths = [math.prod(self._spatial), *self.hidden, self.classes]
        for a, b in zip(widths[:-1], widths[1:]):
            out += [(a, b), (b,)]
        return tuple(out)

    @cached_property
    def block_sizes(self) -> tuple:
        """One block per tensor (the CLARA authors' per-tensor normalisation)."""
        return tuple(math.prod(s) for s in self.shapes)

    @property
    def n_params(self) -> int:
        return sum(self.block_sizes)

    @property
    def sizes(self) -> tuple:
        """(inputs, classes), as ``Model.sizes`` ends with the number of classes."""
        return (math.prod(self.in_shape), self.classes)

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """torch's default initialisation of Conv2d and Linear, drawn from ``rng`` (float64, NumPy)."""
        V.generator("rng", rng)
        parts = []
        for shape in self.shapes:
            if len(shape) == 4:
                fan_in = shape[1] * 9
            elif len(shape) == 2:
                fan_in = shape[0]
            # a bias takes the bound of the weight before it
            bound = 1.0 / math.sqrt(fan_in)
            parts.append(rng.uniform(-bound, bound, math.prod(shape)))
        return np.concatenate(parts)

    def _unpack(self, theta):
        if tuple(theta.shape) != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},) for this network, got {tuple(theta.shape)}")
        xp = array_namespace(theta)
        views, start = [], 0
        for shape in self.shapes:
            n = math.prod(shape)
            views.append(xp.reshape(theta[start:start + n], shape))
            start += n
        return views

    def _check_data(self, X, y=NO_LABELS):
        n_in = math.prod(self.in_shape)
        if len(X.shape) != 2 or X.shape[1] != n_in:
            raise ValueError(f"X must have shape (batch, {n_in}) (images of {self.in_shape}, flattened), got "
                             f"{tuple(X.shape)}")
        if not is_array(X) or not array_namespace(X).isdtype(X.dtype, "real floating"):
            raise ValueError(f"X must be a real floating array (float32 or float64), got "
                             f"{getattr(X, 'dtype', type(X).__name__)}")
        if y is not NO_LABELS:
            if not is_array(y):
                raise ValueError(f"y must be an array of integer labels of shape ({X.shape[0]},), got "
                                 f"{type(y).__name__}")
            check_labels(array_namespace(y), y, X.shape[0], self.classes)

    def _forward(self, theta, X):
        """Forward pass over rows X already checked by the public method that calls it."""
        xp = array_namespace(theta)
        params = self._unpack(theta)
        a = xp.reshape(xp.asarray(X, dtype=theta.dtype), (X.shape[0], *self.in_shape))
        tape = []
        for k, (_, pool) in enumerate(self.convs):
            weight, bias = params[2 * k], params[2 * k + 1]
            z, cols = conv3x3_forward(a, weight, bias)                             # (N1, N2)
            r = xp.maximum(z, 0.0)                                                 # (N6)
            entry = {"x_shape": tuple(a.shape), "cols": cols, "z": z}
            if pool:
                r, entry["idx"] = maxpool2_forward(r)                              # (N7)
            tape.append(entry)
            a = r
        h = xp.reshape(a, (a.shape[0], -1))                                        # flatten (C, H, W)
        dense = params[2 * len(self.convs):]
        return params, tape, dense_forward(xp, h, dense[0::2], dense[1::2])       # layers.py's M1

    #: rows per forward pass when evaluating a whole dataset: im2col makes C 9 copies of every activation, so
    #: CIFAR-10's 50,000 training images at once would take tens of GB
    EVAL_ROWS = 256

    def logits(self, theta, X):
        """Forward pass, in chunks of EVAL_ROWS rows."""
        xp = array_namespace(theta)
        self._check_data(X)
        parts = [self._forward(theta, X[a:a + self.EVAL_ROWS])[2][-1] for a in range(0, X.shape[0], self.EVAL_ROWS)]
        return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)

    def loss_and_grad(self, theta, X, y):
        """Mean softmax cross-entropy over the batch and its gradient wrt theta (N1-N7, M1-M5)."""
        xp = array_namespace(theta)
        self._check_data(X, y)
        params, tape, acts = self._forward(theta, X)
        loss, dz = _softmax_xent(xp, acts[-1], xp.asarray(y))                      # layers.py's M2, M3
        head = 2 * len(self.convs)
        grads = [None] * len(params)
        dWs, dbs, dz = dense_backward(xp, acts, params[head::2], dz, input_grad=True)   # layers.py's M4, M5
        grads[head::2], grads[head + 1::2] = dWs, dbs
        da = xp.reshape(dz, (dz.shape[0], *self._spatial))
        for k in range(len(self.convs) - 1, -1, -1):
            entry = tape[k]
            if "idx" in entry:
                da = maxpool2_backward(da, entry["idx"])                           # (N7)
            dz_conv = da * xp.astype(entry["z"] > 0, da.dtype)                     # (N6)
            da, dW, db = conv3x3_backward(dz_conv, entry["cols"], params[2 * k], entry["x_shape"],   # (N3-N5)
                                          input_grad=k > 0)
            grads[2 * k], grads[2 * k + 1] = dW, db
        return loss, xp.concat([xp.reshape(g, (-1,)) for g in grads])

    def loss(self, theta, X, y) -> float:
        """Mean softmax cross-entropy over all rows (forward passes only, in chunks)."""
        xp = array_namespace(theta)
        self._check_data(X, y)
        total = 0.0
        for a in range(0, X.shape[0], self.EVAL_ROWS):
            rows = X[a:a + self.EVAL_ROWS]
            logits = self._forward(theta, rows)[2][-1]
            total += rows.shape[0] * _softmax_xent(xp, logits, xp.asarray(y[a:a + self.EVAL_ROWS]), grad=False)[0]
        return total / X.shape[0]

    def predict(self, theta, X):
        xp = array_namespace(theta)
        return xp.argmax(self.logits(theta, X), axis=1)

    def accuracy(self, theta, X, y) -> float:
        xp = array_namespace(theta)
        self._check_data(X, y)
        return float(xp.mean(xp.astype(self.predict(theta, X) == xp.asarray(y), theta.dtype)))


def cnn(in_shape=(3, 32, 32), convs=((32, False), (64, True), (128, True)), hidden=(256,), classes: int = 10):
    """A ConvNet; the defaults are the CLARA paper's CIFAR-10 network (module box).

    >>> net = cnn(in_shape=(1, 4, 4), convs=((2, True),), hidden=(3,), classes=2)
    >>> net.shapes, net.n_params
    (((2, 1, 3, 3), (2,), (8, 3), (3,), (3, 2), (2,)), 55)
    """
    try:
        in_shape = tuple(V.integer("in_shape", s, lo=1) for s in in_shape)
        hidden = tuple(V.integer("hidden", h, lo=1) for h in hidden)
        convs = tuple(convs)
    except TypeError:
        raise ValueError("in_shape, convs and hidden must be tuples (convs: (out_channels, pool_after) pairs)") \
            from None
    if any(not isinstance(c, (tuple, list)) or len(c) != 2 for c in convs):
        raise ValueError(f"convs must be (out_channels, pool_after) pairs, got {convs!r}")
    convs = tuple((V.integer("convs", o, lo=1), V.flag("convs pool_after", p)) for o, p in convs)
    if len(in_shape) != 3:
        raise ValueError(f"in_shape must be (channels, height, width), got {in_shape}")
    if not convs:
        raise ValueError("convs must have at least one (out_channels, pool_after) pair")
    H, W = in_shape[1:]
    for _, pool in convs:
        if pool:
            if H % 2 or W % 2:
                raise ValueError(f"in_shape {in_shape}: a max-pool meets an odd size {H} x {W}")
            H, W = H // 2, W // 2
    return ConvNet(in_shape, convs, hidden, V.integer("classes", classes, lo=2))


def paper_cnn() -> ConvNet:
    """The CLARA paper's CIFAR-10 CNN (2,193,226 parameters).

    >>> paper_cnn().n_params
    2193226
    """
    return cnn()
